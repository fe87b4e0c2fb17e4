"""`agentd daemon`: every profile on its `schedule`, never two runs of one profile at once.

APScheduler 3.x with one job per profile (cron trigger in the schedule's time zone, with its
jitter; `max_instances=1`, coalescing and a misfire grace time). Each profile's next run is
logged when the daemon starts or reloads and after each of its runs. A fire that finds the previous run still going is skipped and logged.
SIGHUP reloads the profiles: a profile that no longer validates is reported and its old
version kept. SIGTERM asks the run in hand to finish its current unit, write its report and
release its lock, then the daemon exits. With `NOTIFY_SOCKET` set it speaks sd_notify
(READY, STOPPING, WATCHDOG, STATUS).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler

from agentd.cron import cron_trigger
from agentd.engine.run import RunOptions, execute_run
from agentd.errors import AgentdError
from agentd.log import get_logger
from agentd.profile import LoadedProfile, load_profile
from agentd.progress import ProgressLog
from agentd.settings import Settings, discover_profiles
from agentd.shutdown import STOP

log = get_logger("daemon")
MISFIRE_GRACE_SECONDS = 300


class Notifier:
    """sd_notify without a dependency: one datagram per state change."""

    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = os.environ.get("WATCHDOG_USEC", "")
        self.watchdog_seconds = int(usec) / 1_000_000 if usec.isdigit() else 0.0

    def send(self, message: str) -> None:
        if not self.address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), self.address)
        except OSError as exc:
            log.warning("sd_notify failed", extra={"why": str(exc)})


@dataclass
class ProfileJob:
    path: Path
    loaded: LoadedProfile
    # APScheduler's job: its next_run_time is read without the scheduler's lock, which
    # `shutdown(wait=True)` holds while it waits for the run in hand to end.
    handle: Job | None = None


class Daemon:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.notifier = Notifier()
        self.jobs: dict[str, ProfileJob] = {}
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=8)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )
        self.scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES)
        self._wake = threading.Event()
        self._reload_requested = False

    # --- profiles ---------------------------------------------------------------------

    def load(self) -> None:
        """Load every profile with a schedule; keep the old version of one that broke."""
        seen: set[str] = set()
        for path in discover_profiles(self.settings.profiles_dir):
            try:
                loaded = load_profile(path)
            except AgentdError as exc:
                log.error(
                    "profile not loaded; keeping the previous version if any",
                    extra={"path": str(path), "why": str(exc)},
                )
                seen |= {pid for pid, job in self.jobs.items() if job.path == path}
                continue
            profile = loaded.profile
            if not profile.profile.schedule:
                log.info("profile has no schedule; not scheduled", extra={"profile": profile.id})
                continue
            seen.add(profile.id)
            self._schedule(ProfileJob(path, loaded))
        for profile_id in set(self.jobs) - seen:
            log.info("profile removed; unscheduled", extra={"profile": profile_id})
            self.scheduler.remove_job(profile_id)
            del self.jobs[profile_id]

    def _schedule(self, job: ProfileJob) -> None:
        profile = job.loaded.profile
        schedule = profile.profile.schedule
        assert schedule is not None  # noqa: S101 - checked by the caller
        trigger = cron_trigger(schedule.cron, schedule.timezone, schedule.jitter_seconds)
        if profile.id in self.jobs:
            self.scheduler.reschedule_job(profile.id, trigger=trigger)
            job.handle = self.scheduler.modify_job(profile.id, args=[profile.id])
        else:
            job.handle = self.scheduler.add_job(
                self._run,
                trigger,
                id=profile.id,
                name=profile.id,
                args=[profile.id],
                replace_existing=True,
            )
        self.jobs[profile.id] = job
        log.info(
            "profile scheduled",
            extra={
                "profile": profile.id,
                "schedule": schedule.cron,
                "timezone": schedule.timezone,
                "jitter_seconds": schedule.jitter_seconds,
            },
        )

    def announce(self, profile_id: str) -> None:
        """Log when the profile runs next (in its schedule's zone, and how soon)."""
        job = self.jobs.get(profile_id)
        handle = job.handle if job is not None else None
        when: datetime | None = getattr(handle, "next_run_time", None)
        now = datetime.now(UTC)
        if handle is not None and when is not None and when <= now:
            # The fire that started this run: the scheduler moves on once it is submitted.
            when = handle.trigger.get_next_fire_time(when, now)
        if when is None:
            return
        minutes = max(0, int((when - now).total_seconds() // 60))
        log.info(
            "next run",
            extra={
                "profile": profile_id,
                "next_run": when.isoformat(timespec="seconds"),
                "in": f"{minutes // 60}h{minutes % 60:02d}m",
            },
        )

    def announce_all(self) -> None:
        if not self.jobs:
            log.warning(
                "no profile has a schedule; the daemon has nothing to run",
                extra={"profiles_dir": str(self.settings.profiles_dir)},
            )
        for profile_id in sorted(self.jobs):
            self.announce(profile_id)

    # --- runs ---------------------------------------------------------------------------

    def _run(self, profile_id: str) -> None:
        job = self.jobs.get(profile_id)
        if job is None or STOP.requested:
            return
        self.notifier.send(f"STATUS=running {profile_id}")
        log.info("scheduled run starting", extra={"profile": profile_id})
        try:
            summary = execute_run(job.loaded, self.settings, RunOptions(), progress=ProgressLog())
            log.info(
                "scheduled run finished",
                extra={
                    "profile": profile_id,
                    "run_id": summary.run_id,
                    "outcomes": summary.outcome_counts(),
                    "report": summary.report_path,
                },
            )
        except AgentdError as exc:
            log.warning("scheduled run did not run", extra={"profile": profile_id, "why": str(exc)})
        except Exception:
            log.exception("scheduled run failed", extra={"profile": profile_id})
        finally:
            self.notifier.send("STATUS=idle")
            self.announce(profile_id)

    def _skipped(self, event: JobEvent) -> None:
        log.warning(
            "run skipped: the previous run of this profile is still going",
            extra={"profile": event.job_id},
        )

    # --- lifecycle ------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._reload_requested = True
        else:
            STOP.request(signum)
        self._wake.set()

    def serve(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        self.load()
        self.scheduler.start()
        self.notifier.send(
            "READY=1\nSTATUS=scheduled " + ", ".join(sorted(self.jobs))
            if self.jobs
            else "READY=1\nSTATUS=no scheduled profiles"
        )
        log.info("daemon ready", extra={"profiles": sorted(self.jobs)})
        self.announce_all()
        interval = self.notifier.watchdog_seconds / 2 if self.notifier.watchdog_seconds else 30.0
        while not STOP.requested:
            self._wake.wait(interval)
            self._wake.clear()
            if self.notifier.watchdog_seconds:
                self.notifier.send("WATCHDOG=1")
            if self._reload_requested:
                self._reload_requested = False
                log.info("SIGHUP: reloading profiles")
                self.load()
                self.notifier.send("STATUS=reloaded " + ", ".join(sorted(self.jobs)))
                self.announce_all()
        self.notifier.send("STOPPING=1")
        log.info("stopping: waiting for the run in hand to finish its unit")
        self.scheduler.shutdown(wait=True)
        log.info("daemon stopped")
        return 0


def run_daemon(settings: Settings) -> int:
    return Daemon(settings).serve()
