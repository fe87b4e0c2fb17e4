"""What the host must provide before `discover` or `run` touches anything (SPEC §3 `runtime`).

- `runtime.local_clone_root` exists and is a directory. It holds the clones, the lock and
  (by default) the state directory: a typo there must not start a new, empty history.
- every tool in `runtime.required_tools` is on agentd's PATH, and so are git and gh, which
  agentd itself runs whatever the list says (gh gives the token, git fetches and pushes).

Both are contract errors (exit 78) naming what is missing and the fix. A repository whose
own `local_path` is missing is not: its units are `skipped clone_missing` and the others run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agentd.errors import ContractError
from agentd.profile import Profile

AGENTD_TOOLS = ("git", "gh")


def required_tools(profile: Profile) -> list[str]:
    """agentd's own tools, then the profile's, each once."""
    return list(dict.fromkeys([*AGENTD_TOOLS, *profile.profile.runtime.required_tools]))


def missing_tools(profile: Profile) -> list[str]:
    return [tool for tool in required_tools(profile) if shutil.which(tool) is None]


def check_clone_root(profile: Profile, source: Path) -> None:
    root = Path(profile.profile.runtime.local_clone_root)
    if root.is_dir():
        return
    what = "is not a directory" if root.exists() else "does not exist"
    raise ContractError(
        f"runtime.local_clone_root {root} {what}",
        f"correct runtime.local_clone_root in {source}, or create {root} and clone the "
        "repositories under it (agentd never clones)",
    )


def check_tools(profile: Profile) -> None:
    missing = missing_tools(profile)
    if not missing:
        return
    listed = set(profile.profile.runtime.required_tools)
    own = [tool for tool in missing if tool in AGENTD_TOOLS and tool not in listed]
    why = (
        f" ({', '.join(own)}: agentd runs {'it' if len(own) == 1 else 'them'} itself)"
        if own
        else ""
    )
    raise ContractError(
        f"required tools not found on PATH: {', '.join(missing)}{why}",
        "install them on the host that runs agentd (or put them on its PATH), or remove "
        "them from runtime.required_tools",
    )


def check_runtime_contract(profile: Profile, source: Path) -> None:
    """The clone root, then the tools; raises ContractError (exit 78)."""
    check_clone_root(profile, source)
    check_tools(profile)
