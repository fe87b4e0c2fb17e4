"""The ecosystem registry: one `Ecosystem` record per sub-package, and the lookups over them.

Each sub-package (`pip`, `npm`, `gomod`, ...) holds one ecosystem's dependency-file parser,
its updater and the record that ties them to GitHub's alert ecosystem, the version scheme,
the files it reads and Dependabot's branch slug; this module finds the sub-packages itself,
so adding an ecosystem adds a sub-package and touches nothing here (a new profile name
also goes into the `ProfileEcosystem` literal of `agentd.profile`, which a test checks).

The parsers serve the simulator (to derive Dependabot alerts the way GitHub does) and the
engine (to prove after an update that no vulnerable version survives, direct or
transitive). Every parser refuses malformed input with `DepfileError` and never executes
anything.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from types import MappingProxyType

from packaging.utils import canonicalize_name

from agentd.ecosystems._shared.interface import (
    Ecosystem,
    Graph,
    GraphReader,
    PackageBump,
    Parser,
    UnfixedBump,
    UpdateContext,
    Updater,
    UpdateResult,
    VersionScheme,
)
from agentd.ecosystems._shared.model import Dependency, DepfileError

# Profile ecosystem names agentd accepts without an updater, and their GitHub alert
# ecosystem: their alerts are reported `skipped unsupported_ecosystem`.
UNSUPPORTED_ECOSYSTEMS: Mapping[str, str] = MappingProxyType(
    {
        "maven": "maven",
        "gradle": "maven",
        "bundler": "rubygems",
        "composer": "composer",
        "nuget": "nuget",
        "pub": "pub",
        "swift": "swift",
        "hex": "erlang",
        "actions": "actions",
    }
)

_WILDCARD = re.compile(r"[*?\[]")


def _discover() -> tuple[Ecosystem, ...]:
    """The `ECOSYSTEM` of every public sub-package, in package-name order."""
    found: list[Ecosystem] = []
    for module in pkgutil.iter_modules(__path__):
        if not module.ispkg or module.name.startswith("_"):
            continue
        record = importlib.import_module(f"{__name__}.{module.name}").ECOSYSTEM
        if not isinstance(record, Ecosystem):
            raise TypeError(f"{__name__}.{module.name}.ECOSYSTEM is not an Ecosystem")
        found.append(record)
    return tuple(found)


ECOSYSTEMS: tuple[Ecosystem, ...] = _discover()
_BY_NAME: Mapping[str, Ecosystem] = MappingProxyType({e.name: e for e in ECOSYSTEMS})
# `for_file` runs for every file of a repository tree: exact names are one dict lookup.
_BY_FILE_NAME: Mapping[str, Ecosystem] = MappingProxyType(
    {p: e for e in ECOSYSTEMS for p in e.dependency_files if not _WILDCARD.search(p)}
)
_BY_FILE_PATTERN = tuple(
    (p, e) for e in ECOSYSTEMS for p in e.dependency_files if _WILDCARD.search(p)
)
# Every name a profile accepts, and the GitHub alert ecosystem it maps to (`uv` → `pip`).
PROFILE_ECOSYSTEMS: Mapping[str, str] = MappingProxyType(
    {**{e.name: e.alert_ecosystem for e in ECOSYSTEMS}, **UNSUPPORTED_ECOSYSTEMS}
)


def by_name(name: str) -> Ecosystem | None:
    """The ecosystem a profile names (`go`), None for one without an updater."""
    return _BY_NAME.get(name)


def for_file(path: str) -> Ecosystem | None:
    """The ecosystem whose parser reads this repo-relative file, by its name."""
    name = PurePosixPath(path).name
    found = _BY_FILE_NAME.get(name)
    if found is None:
        found = next((e for p, e in _BY_FILE_PATTERN if fnmatchcase(name, p)), None)
    return found


def for_alert_ecosystem(alert_ecosystem: str) -> tuple[Ecosystem, ...]:
    """Every ecosystem that fixes alerts of this GitHub ecosystem (`npm` → npm, pnpm, yarn)."""
    return tuple(e for e in ECOSYSTEMS if e.alert_ecosystem == alert_ecosystem)


def ecosystem_for(
    ecosystems: Iterable[str], alert_ecosystem: str, manifest_path: str
) -> Ecosystem | None:
    """The ecosystem among a target's that handles this alert's dependency file."""
    for name in ecosystems:
        ecosystem = _BY_NAME.get(name)
        if (
            ecosystem
            and ecosystem.alert_ecosystem == alert_ecosystem
            and ecosystem.reads(manifest_path)
        ):
            return ecosystem
    return None


def updater_for(
    ecosystems: Iterable[str], alert_ecosystem: str, manifest_path: str
) -> Updater | None:
    """The updater among a target's ecosystems that handles this alert's dependency file."""
    found = ecosystem_for(ecosystems, alert_ecosystem, manifest_path)
    return found.updater if found else None


def file_kind(path: str) -> str | None:
    """The name of the ecosystem that reads this file (`pnpm` for `pnpm-lock.yaml`), or None."""
    ecosystem = for_file(path)
    return ecosystem.name if ecosystem else None


def is_dependency_file(path: str) -> bool:
    return for_file(path) is not None


def is_lockfile(path: str) -> bool:
    """Whether a change to this file is lockfile-only: a dependency file that is no manifest.

    Anything else (a manifest such as `package.json` or `go.mod`, or any other file) is not.
    """
    ecosystem = for_file(path)
    return ecosystem is not None and ecosystem.is_lockfile(path)


def branch_slug(alert_ecosystem: str) -> str | None:
    """Dependabot's package-manager segment of head branches for this alert ecosystem."""
    return next((e.dependabot_branch_slug for e in for_alert_ecosystem(alert_ecosystem)), None)


def normalize_name(ecosystem: str, name: str) -> str:
    """Package identity: PEP 503 for pip (`Jinja2` == `jinja2`), exact elsewhere."""
    return canonicalize_name(name) if ecosystem == "pip" else name


def parse_dependency_file(path: str, content: bytes) -> list[Dependency]:
    """Every (package, version) the file pins; `path` is repo-relative and posix."""
    ecosystem = for_file(path)
    if ecosystem is None:
        raise DepfileError(f"{path}: not a dependency file agentd reads")
    if not isinstance(content, bytes):
        raise DepfileError(f"{path}: content must be bytes")
    try:
        return ecosystem.parse(path, content)
    except DepfileError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        # A safety net: the parsers check shapes themselves, so this means a shape they
        # did not expect; the file is still refused rather than crashing the caller.
        raise DepfileError(f"{path}: malformed ({type(exc).__name__}: {str(exc)[:200]})") from None


def dependency_graph(path: str, content: bytes) -> Graph | None:
    """The dependency graph the file records (name → names it depends on), None without one."""
    ecosystem = for_file(path)
    if ecosystem is None:
        raise DepfileError(f"{path}: not a dependency file agentd reads")
    if ecosystem.graph is None:
        return None
    try:
        return ecosystem.graph(path, content)
    except DepfileError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        raise DepfileError(f"{path}: malformed ({type(exc).__name__}: {str(exc)[:200]})") from None


__all__ = [
    "ECOSYSTEMS",
    "PROFILE_ECOSYSTEMS",
    "UNSUPPORTED_ECOSYSTEMS",
    "Dependency",
    "DepfileError",
    "Ecosystem",
    "Graph",
    "GraphReader",
    "PackageBump",
    "Parser",
    "UnfixedBump",
    "UpdateContext",
    "UpdateResult",
    "Updater",
    "VersionScheme",
    "branch_slug",
    "by_name",
    "dependency_graph",
    "ecosystem_for",
    "file_kind",
    "for_alert_ecosystem",
    "for_file",
    "is_dependency_file",
    "is_lockfile",
    "normalize_name",
    "parse_dependency_file",
    "updater_for",
]
