"""Efficacy on real repositories: `python bench/efficacy.py [case ...]` (`make efficacy`).

Runs the shared efficacy corpus (`../shared/efficacy-corpus`, or `EFFICACY_CORPUS`): real
repositories' dependency files, byte for byte, served as one organisation by agentd's
simulator and remediated by `agentd run` in auto_merge against the REAL registries (PyPI,
the npm registry). This is the only part of agentd's checks that talks to real registries;
`make test` never does. The corpus's own runner does the work; this script records its
per-case table and totals in the "Efficacy on real repositories" section of
docs/performance.md (the rest of that file is `bench/run.py`'s), and exits non-zero when
fewer than 90 % of the scored fixable alerts were closed or a protected manifest changed.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = "<!-- efficacy:start -->"
END = "<!-- efficacy:end -->"
TARGET_SHARE = 0.90
_TOTALS = re.compile(r"scored: fixable alerts closed (\d+)/(\d+)")


def corpus_dir() -> Path:
    return Path(os.environ.get("EFFICACY_CORPUS") or ROOT.parent / "shared" / "efficacy-corpus")


def run_corpus(cases: list[str]) -> tuple[str, int]:
    runner = corpus_dir() / "run.py"
    if not runner.is_file():
        raise SystemExit(f"efficacy: no corpus runner at {runner}; set EFFICACY_CORPUS")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.setdefault("EFFICACY_OUT", tempfile.mkdtemp(prefix="agentd-efficacy-"))
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(runner), str(ROOT), *cases],
        capture_output=True, text=True, env=env, timeout=3600, check=False,
    )  # fmt: skip
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr[-5000:])
    return proc.stdout, proc.returncode


def section(output: str, cases: list[str]) -> tuple[str, bool]:
    """The markdown section, and whether the target was met."""
    table = [line for line in output.splitlines() if line.startswith("|")]
    totals = _TOTALS.search(output)
    closed, fixable = (int(totals[1]), int(totals[2])) if totals else (0, 0)
    share = closed / fixable if fixable else 0.0
    protected = "PROTECTED MANIFESTS CHANGED" in output
    met = fixable > 0 and share >= TARGET_SHARE and not protected
    summary = [
        line
        for line in output.splitlines()
        if line.startswith(("scored:", "not scored", "wall time")) or re.match(r"^\d+ passed", line)
    ]
    lines = [
        START,
        "## Efficacy on real repositories",
        "",
        f"Date: {datetime.now(UTC):%Y-%m-%d}. Machine: {platform.machine()} "
        f"{platform.system()}, Python {platform.python_version()}, {os.cpu_count()} cores. "
        "Command: `make efficacy` (`python bench/efficacy.py"
        + (" " + " ".join(cases) if cases else "")
        + "`): the shared corpus's real dependency files, `agentd run` in auto_merge against "
        "the real registries, `forbid_manifest_changes` in every ecosystem rule.",
        "",
        *table,
        "",
        *[f"- {line}" for line in summary],
        f"- fixable alerts closed: {closed} of {fixable} ({share:.0%}); target ≥ "
        f"{TARGET_SHARE:.0%}: {'met' if met else 'NOT met'}"
        + ("; a protected manifest changed" if protected else ""),
        "",
        "A case passes when every fixable alert (lockfile-only or manifest-only) is closed on the "
        "default branch and no protected manifest changed; `manifest` alerts can only close "
        "through a manifest change, which these rules forbid, so they stay open with "
        "`manifest_change_required`.",
        END,
    ]
    return "\n".join(lines) + "\n", met


def record(text: str, path: Path) -> None:
    """Replace (or append) the efficacy section of docs/performance.md."""
    current = path.read_text(encoding="utf-8") if path.is_file() else "# Performance\n"
    if START in current and END in current:
        head, rest = current.split(START, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        updated = head + text + ("\n" + tail if tail else "")
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    path.write_text(updated, encoding="utf-8")


def main(argv: list[str]) -> int:
    output, _ = run_corpus(argv)
    text, met = section(output, argv)
    record(text, ROOT / "docs" / "performance.md")
    print(f"efficacy: recorded in docs/performance.md; target {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
