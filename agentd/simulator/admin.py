"""The admin API under `/_sim/` and its Python twin: observe and steer the simulator.

Not rate-limited and not logged as API traffic. Tests use it to read the request log,
inject faults, script checks, move branch heads, dismiss alerts and inspect PRs.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

from agentd.simulator import automerge, gitstore, protection
from agentd.simulator.http import (
    Fault,
    GitRequest,
    HttpError,
    LoggedRequest,
    Request,
    Response,
    Traffic,
)
from agentd.simulator.world import Review, World

# GitHub's dismissal vocabulary per alert class (default first); a reason from another
# class's vocabulary becomes the default, so every alert answers in its own schema's terms.
DISMISS_REASONS = {
    "dependabot": ("tolerable_risk", "fix_started", "inaccurate", "no_bandwidth", "not_used"),
    "code_scanning": ("won't fix", "false positive", "used in tests"),
    "secret_scanning": (
        "wont_fix", "false_positive", "revoked", "used_in_tests", "pattern_deleted", "pattern_edited",
    ),
}  # fmt: skip


def dismiss_reason(alert_class: str, reason: str | None) -> str | None:
    known = DISMISS_REASONS.get(alert_class)
    if not known:
        return reason
    spelled = (reason or "").replace("_", " ") if alert_class == "code_scanning" else reason
    return spelled if spelled in known else known[0]


class Admin:
    def __init__(self, world: World, traffic: Traffic) -> None:
        self.world = world
        self.traffic = traffic

    # --- Python API -----------------------------------------------------------------------

    def requests(self) -> list[LoggedRequest]:
        with self.traffic.lock:
            return list(self.traffic.log)

    def mutating_requests(self) -> list[LoggedRequest]:
        return [r for r in self.requests() if r.mutating]

    def git_requests(self) -> list[GitRequest]:
        """git's smart-HTTP requests (ref advertisements, fetches, pushes), in order."""
        with self.traffic.lock:
            return list(self.traffic.git_log)

    def pushes(self, repo: str | None = None) -> list[GitRequest]:
        """The pushes that asked to move refs (accepted or refused), optionally of one repository."""
        return [g for g in self.git_requests() if g.is_push and repo in (None, g.repo)]

    def counts(self) -> dict[str, int]:
        with self.traffic.lock:
            return dict(self.traffic.counts)

    def reset(self) -> None:
        with self.traffic.lock:
            self.traffic.log.clear()
            self.traffic.counts.clear()
            self.traffic.git_log.clear()

    def inject(self, kind: str, count: int = 1, **options: Any) -> None:
        with self.traffic.lock:
            self.traffic.faults.append(Fault(kind=kind, count=count, **options))

    def clear_faults(self) -> None:
        with self.traffic.lock:
            self.traffic.faults.clear()

    def set_latency(self, milliseconds: int) -> None:
        self.traffic.latency_ms = milliseconds

    def keep_responses(self, keep: bool = True) -> None:
        """Log each API response's JSON body too (`LoggedRequest.response_body`)."""
        self.traffic.keep_responses = keep

    def set_check(self, repo: str, name: str, outcome: str, sha: str | None = None) -> None:
        state = self._repo(repo)
        with self.world.lock:
            state.check_overrides.setdefault(sha or "*", {})[name] = outcome
        self.advance()

    def ci_elapse(self, repo: str, seconds: float) -> None:
        """Let `seconds` pass for the CI of `repo`: every run started that much earlier
        (queued → in progress → completed without waiting), then GitHub acts on it."""
        state = self._repo(repo)
        with self.world.lock:
            for sha, started in state.ci_started.items():
                state.ci_started[sha] = started - seconds
        self.advance()

    def advance(self) -> None:
        """Let auto-merge and the merge queues act now (they also act on every API request)."""
        automerge.advance(self.world)

    def review(
        self,
        repo: str,
        number: int,
        user: str,
        state: str = "APPROVED",
        commit_id: str | None = None,
        body: str = "",
    ) -> int:
        """A person reviews PR `number` (of its current head unless `commit_id`)."""
        repo_state = self._repo(repo)
        with self.world.lock:
            pull = repo_state.pulls[number]
            head = commit_id or self.world.head_sha(repo_state, pull) or ""
            review = Review(
                self.world.new_id(),
                (user, protection.user_id(user)),
                state,
                head,
                time.time(),
                body,
            )
            pull.reviews.append(review)
        self.advance()
        return review.id

    def dismiss_review(self, repo: str, number: int, review_id: int) -> None:
        with self.world.lock:
            pull = self._repo(repo).pulls[number]
            next(r for r in pull.reviews if r.id == review_id).state = "DISMISSED"

    def push(
        self, repo: str, branch: str, files: dict[str, str], message: str = "more work"
    ) -> str:
        return self.world.push_commit(self._repo(repo), branch, files, message)

    def dismiss_alert(
        self,
        repo: str,
        alert_class: str,
        number: int,
        reason: str | None = None,  # None: the class's usual ("tolerable_risk", "won't fix", …)
        comment: str = "",
    ) -> None:
        state = self._repo(repo)
        self.world.refresh(state)
        alert = self._alert(repo, alert_class, number)
        reason = dismiss_reason(alert_class, reason)
        with self.world.lock:
            now = time.time()
            if alert_class == "secret_scanning":
                alert.state, alert.resolution = "resolved", reason
            else:
                alert.state, alert.dismissed_at, alert.dismissed_reason, alert.dismissed_comment = (
                    "dismissed",
                    now,
                    reason,
                    comment or None,
                )
            alert.updated_at = now
            self.world.alerts_changed()

    def withdraw_alert(self, repo: str, number: int) -> None:
        """Withdraw a Dependabot alert's advisory: GitHub removes the alert from every listing
        and answers 410 Gone for it (`auto_dismissed` is auto-triage, not withdrawal)."""
        alert = self._alert(repo, "dependabot", number)
        with self.world.lock:
            alert.withdrawn, alert.updated_at = True, time.time()
            self.world.alerts_changed()

    def reopen_alert(self, repo: str, alert_class: str, number: int) -> None:
        alert = self._alert(repo, alert_class, number)
        with self.world.lock:
            alert.state, alert.dismissed_at, alert.dismissed_reason, alert.resolution = (
                "open",
                None,
                None,
                None,
            )
            alert.updated_at = time.time()
            self.world.alerts_changed()

    def alerts(self, repo: str, alert_class: str) -> list[dict[str, Any]]:
        state = self._repo(repo)
        self.world.refresh(state)
        return [
            {
                "number": a.number,
                "state": a.state,
                "identity": [str(i) for i in a.identity],
                "fixed_at": a.fixed_at,
            }
            for a in sorted(state.alerts[alert_class].values(), key=lambda a: a.number)
        ]

    def pulls(self, repo: str) -> list[dict[str, Any]]:
        self.advance()
        state = self._repo(repo)
        result = []
        for pull in sorted(state.pulls.values(), key=lambda p: p.number):
            data = dataclasses.asdict(pull)
            data["head_sha"] = self.world.head_sha(state, pull)
            data["merged"] = pull.merged_at is not None
            data["comments"] = [c.body for c in state.comments if c.issue == pull.number]
            result.append(data)
        return result

    def branches(self, repo: str) -> dict[str, str]:
        return gitstore.refs(self._repo(repo).path)

    def rate_limit(self, token: str) -> dict[str, int]:
        bucket = self.traffic.bucket(token)
        return {"limit": bucket.limit, "used": bucket.used, "remaining": bucket.remaining}

    def set_rate_limit(
        self, token: str, *, used: int | None = None, limit: int | None = None
    ) -> None:
        bucket = self.traffic.bucket(token)
        if limit is not None:
            bucket.limit = limit
        if used is not None:
            bucket.used = used

    def _repo(self, name: str) -> Any:
        state = self.world.repos.get(name)
        if state is None:
            raise KeyError(f"no repository {name!r} in the scenario")
        return state

    def _alert(self, repo: str, alert_class: str, number: int) -> Any:
        state = self._repo(repo)
        self.world.refresh(state)
        alert = next((a for a in state.alerts[alert_class].values() if a.number == number), None)
        if alert is None:
            raise KeyError(f"no {alert_class} alert #{number} in {repo}")
        return alert

    # --- HTTP twin ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            return self._route(request)
        except (KeyError, TypeError, ValueError) as exc:
            return Response(400, {"message": str(exc)})
        except HttpError as exc:
            return Response(exc.status, exc.body)

    def _route(self, request: Request) -> Response:
        path, method = request.path.removeprefix("/_sim"), request.method
        body = request.body if isinstance(request.body, dict) else {}
        if method == "GET" and path == "/requests":
            return Response(200, [dataclasses.asdict(r) for r in self.requests()])
        if method == "GET" and path == "/git":
            return Response(200, [dataclasses.asdict(g) for g in self.git_requests()])
        if method == "GET" and path == "/counts":
            return Response(200, self.counts())
        if method == "POST" and path == "/reset":
            self.reset()
            return Response(204)
        if method == "POST" and path == "/faults":
            self.inject(**body)
            return Response(201, {"ok": True})
        if method == "POST" and path == "/checks":
            self.set_check(body["repo"], body["name"], body["outcome"], body.get("sha"))
            return Response(201, {"ok": True})
        if method == "POST" and path == "/ci/elapse":
            self.ci_elapse(body["repo"], float(body["seconds"]))
            return Response(204)
        if method == "POST" and path == "/reviews":
            review_id = self.review(
                body["repo"], int(body["number"]), body["user"],
                body.get("state", "APPROVED"), body.get("commit_id"), body.get("body", ""),
            )  # fmt: skip
            return Response(201, {"id": review_id})
        if method == "POST" and path == "/push":
            return Response(
                201,
                {
                    "sha": self.push(
                        body["repo"],
                        body["branch"],
                        body["files"],
                        body.get("message", "more work"),
                    )
                },
            )
        match = re.match(r"^/alerts/([^/]+)/([a-z_]+)/(\d+)/(dismiss|reopen)$", path)
        if method == "POST" and match:
            repo, alert_class, number, action = match.groups()
            if action == "dismiss":
                self.dismiss_alert(repo, alert_class, int(number), body.get("reason"))
            else:
                self.reopen_alert(repo, alert_class, int(number))
            return Response(204)
        match = re.match(r"^/pulls/([^/]+)$", path)
        if method == "GET" and match:
            return Response(200, self.pulls(match.group(1)))
        if path == "/rate_limit" and method == "POST":
            self.set_rate_limit(body["token"], used=body.get("used"), limit=body.get("limit"))
            return Response(204)
        return Response(404, {"message": f"no admin route {method} {path}"})
