"""uv and poetry: the indexes a repository may name, and the code locking would run.

The rules (listed in `repo_config`) use its engine; what is special here:
- a repository may name an index only when the operator's environment names the same
  URL: uv's `UV_INDEX` (`name=url`, for a named index with that name),
  `UV_DEFAULT_INDEX`, `UV_INDEX_URL`, `UV_EXTRA_INDEX_URL`; poetry's
  `POETRY_REPOSITORIES_<NAME>_URL`, because poetry reads sources from pyproject.toml only.
  Credentials are bound to index names (`UV_INDEX_<NAME>_PASSWORD`,
  `POETRY_HTTP_BASIC_<NAME>_PASSWORD`), so a name can never move them to another host.
- outside the sandbox, anything that makes the tool build code the repository chose is
  refused: an in-tree build backend (`backend-path`), dynamic project metadata (uv builds
  the project, and each workspace member, to read it), `path`/`git`/`url` sources and
  PEP 508 direct references.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agentd.ecosystems._shared.interface import UpdateContext
from agentd.ecosystems._shared.repo_config import (
    ALLOWED,
    CREDENTIAL,
    REGISTRY,
    TRANSPORT,
    ConfigFile,
    Rule,
    check_file,
    check_projects,
    outside,
    read_toml,
    sandbox_only,
    stays_inside,
)

_DIRECT = {"git", "path", "url"}
_DIRECT_REFERENCE = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")
_UV_URL_VARIABLES = ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL")
IN_TREE_BACKEND = "names an in-tree PEP 517 build backend, which runs only inside the sandbox"
DYNAMIC = "makes uv run the project's build backend to read its metadata (only in the sandbox)"
DIRECT = "builds a dependency from a source the repository chose (only inside the sandbox)"


def _url(value: Any) -> str:
    return str(value or "").strip().rstrip("/")


def _label(value: Any) -> str:
    return re.sub(r"[^\w.-]", "?", str(value))[:60]


def _entries(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


# --- indexes ----------------------------------------------------------------------------------


def operator_uv_indexes(env: dict[str, str]) -> set[tuple[str | None, str]]:
    """(name or None, url) of every index the operator's environment gives uv."""
    found: set[tuple[str | None, str]] = set()
    for item in env.get("UV_INDEX", "").split():
        name, sep, url = item.partition("=")
        found.add((name, _url(url)) if sep and "://" not in name else (None, _url(item)))
    for variable in _UV_URL_VARIABLES:
        found.update((None, _url(url)) for url in env.get(variable, "").split())
    return found


def uv_index(context: UpdateContext, folder: Path, key: str, value: Any) -> str:
    operator = operator_uv_indexes(context.env)
    urls = {url for _, url in operator}
    for entry in _entries(value):
        name, url = entry.get("name"), _url(entry.get("url"))
        if (name, url) in operator or (name is None and url in urls):
            continue
        return (
            f"{REGISTRY} (index {_label(name or url)}); allowed only when the operator's "
            "UV_INDEX declares the same name=url"
        )
    return ALLOWED


def poetry_source(context: UpdateContext, folder: Path, key: str, value: Any) -> str:
    for entry in _entries(value):
        name = str(entry.get("name", ""))
        if "url" not in entry and name.lower() == "pypi":
            continue
        variable = "POETRY_REPOSITORIES_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_URL"
        if _url(context.env.get(variable)) != _url(entry.get("url")) or not entry.get("url"):
            return (
                f"{REGISTRY} (source {_label(name)}); allowed only when the operator's "
                f"{_label(variable)} names the same URL"
            )
    return ALLOWED


def python_downloads(context: UpdateContext, folder: Path, key: str, value: Any) -> str:
    return ALLOWED if str(value).lower() in ("never", "manual") else "lets uv download a Python"


# --- builds -----------------------------------------------------------------------------------


def direct_source(context: UpdateContext, folder: Path, key: str, value: Any) -> str:
    """A `path`/`git`/`url` source (uv `[tool.uv.sources]`, poetry dependency tables)."""
    if context.sandboxed:
        return ALLOWED
    field = key.rsplit(".", 1)[-1].lower()
    if field in _DIRECT or any(_DIRECT & set(entry) for entry in _entries(value)):
        return DIRECT
    return ALLOWED


def direct_reference(context: UpdateContext, folder: Path, key: str, value: Any) -> str:
    """PEP 508 `name @ url` requirements."""
    requirements = value if isinstance(value, list) else [value]
    if context.sandboxed or not any(
        isinstance(r, str) and _DIRECT_REFERENCE.match(r) for r in requirements
    ):
        return ALLOWED
    return DIRECT


def uv_members(context: UpdateContext, folder: Path, key: str, value: Any) -> str:
    """uv builds a workspace member with dynamic metadata too: check each one."""
    if context.sandboxed:
        return ALLOWED
    for pattern in (str(p) for p in value) if isinstance(value, list) else ():
        if not pattern or not stays_inside(context, folder, pattern.split("*", 1)[0] or "."):
            continue  # uv refuses members outside the workspace itself
        for member in sorted(folder.glob(pattern)):
            if member.is_dir() and stays_inside(context, folder, str(member.relative_to(folder))):
                check_file(context, member, UV_MEMBER)
    return ALLOWED


def _under(prefix: str, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    return tuple(Rule(prefix + rule.pattern, rule.why) for rule in rules)


_BUILDS = (
    Rule("build-system.backend-path", sandbox_only(IN_TREE_BACKEND)),
    *(
        Rule(pattern, direct_reference)
        for pattern in (
            "project.dependencies",
            "project.optional-dependencies.*",
            "dependency-groups.*",
        )
    ),
)
_UV_BUILDS: tuple[Rule, ...] = (
    Rule("project.dynamic", sandbox_only(DYNAMIC)),
    Rule("tool.uv.sources.*", direct_source),
    *_BUILDS,
)
UV_SETTINGS = (
    Rule("index", uv_index),
    *(Rule(name, REGISTRY) for name in ("index-url", "extra-index-url", "find-links")),
    *(
        Rule(name, "lets uv download a Python from where the repository chose")
        for name in ("python-install-mirror", "pypy-install-mirror", "python-downloads-json-url")
    ),
    Rule("python-downloads", python_downloads),
    Rule("keyring-provider", CREDENTIAL),
    Rule("allow-insecure-host", TRANSPORT),
    Rule("cache-dir", outside),
)
UV_TOML = ConfigFile("uv.toml", read_toml, (*UV_SETTINGS, Rule("sources.*", direct_source)))
UV_MEMBER = ConfigFile("pyproject.toml", read_toml, _UV_BUILDS, walk=False)
UV_PYPROJECT = ConfigFile(
    "pyproject.toml",
    read_toml,
    (
        *_under("tool.uv.", UV_SETTINGS),
        Rule("tool.uv.workspace.members", uv_members),
        *_UV_BUILDS,
    ),
)

_POETRY_SETTINGS_ALLOWED = (
    "virtualenvs.create", "virtualenvs.in-project", "virtualenvs.prefer-active-python",
    "virtualenvs.use-poetry-python", "virtualenvs.options", "installer", "solver", "requests",
    "keyring.enabled", "system-git-client",
)  # fmt: skip
POETRY_TOML = ConfigFile(
    "poetry.toml",
    read_toml,
    (
        *(Rule(name, ALLOWED) for name in _POETRY_SETTINGS_ALLOWED),
        Rule("*", "is a poetry setting a repository may not choose (repositories, "
                  "credentials, certificates, paths)"),
    ),
    walk=False,
)  # fmt: skip
POETRY_PYPROJECT = ConfigFile(
    "pyproject.toml",
    read_toml,
    (
        Rule("tool.poetry.source", poetry_source),
        *(
            Rule(pattern, direct_source)
            for pattern in (
                "tool.poetry.dependencies.*",
                "tool.poetry.dev-dependencies.*",
                "tool.poetry.group.*.dependencies.*",
            )
        ),
        *_BUILDS,
    ),
    walk=False,
)


def check_uv(context: UpdateContext, dependency_files: Iterable[str]) -> None:
    check_projects(context, dependency_files, (UV_TOML, UV_PYPROJECT))


def check_poetry(context: UpdateContext, dependency_files: Iterable[str]) -> None:
    check_projects(context, dependency_files, (POETRY_TOML, POETRY_PYPROJECT))
