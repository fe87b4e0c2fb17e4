"""Repository config that would choose a program, a registry or a credential for a tool.

Package managers read config files from the project's directory and its parents, and a
repository can commit them. A key there can make the tool run a program the repository
ships (`.npmrc` `git=`, cargo's `[build] rustc`, a yarn release), send the operator's
registry token to a host the repository chose (`registry=` + `//host/:_authToken=${TOKEN}`),
or put the tool's files outside the worktree. Before its tool runs, each updater calls its
ecosystem's check here; the first such key found from the project directory up to the
repository root refuses the update (`policy_blocked`, one line naming the file and key,
never the value). Registries and credentials come only from the operator's environment
(the profile's `environment_allowlist`: `NPM_CONFIG_REGISTRY`, `PNPM_CONFIG_REGISTRY`,
`YARN_NPM_REGISTRY_SERVER`, `UV_DEFAULT_INDEX`/`UV_INDEX`, `POETRY_REPOSITORIES_<NAME>_URL`,
`CARGO_HOME`, `GOPROXY`, `PIP_INDEX_URL`, ...).

Refused keys (matched case-insensitively; a table refuses every key below it):
- `.npmrc` (npm, pnpm, yarn 1): `git`, `script-shell`, `shell`, `node-gyp`,
  `onload-script`, `editor`, `browser`, `viewer`, `init-module`; `registry`,
  `@scope:registry`; `_auth`, `_authToken`, `_password`, `username`, `certfile`, `keyfile`
  (bare or `//host/:`-scoped), `cert`, `key`, `ca`, `cafile`; `proxy`, `https-proxy`,
  `http-proxy`, `noproxy`, `strict-ssl`, `local-address`; `global`, `location`,
  `globalconfig`, `userconfig`; `prefix`, `cache`, `tmp` outside the worktree; any `${...}`.
- `.yarnrc` (yarn 1): the `.npmrc` list, `yarn-path`, `--` command-line lines (except
  network timeout/concurrency), `cache-folder`/`global-folder`/`yarn-offline-mirror`/
  `link-folder` outside the worktree.
- `.yarnrc.yml` (berry): `plugins`, `enableConstraintsChecks`, `npmRegistryServer`,
  `npmPublishRegistry`, `npmRegistries`, `npmScopes`, `npmAuthToken`, `npmAuthIdent`, TLS
  and proxy settings
  (`httpsCaFilePath`, `caFilePath`, `httpsCertFilePath`, `httpsKeyFilePath`, `httpProxy`,
  `httpsProxy`, `unsafeHttpWhitelist`, `enableStrictSsl`, `networkSettings`),
  `injectEnvironmentFiles`, folders outside the worktree, any `${...}`; `yarnPath` only
  inside the sandbox and inside the repository (the committed release is the tool itself).
  `.env.yarn` (berry 4 loads it into its environment): any variable.
- `pnpm-workspace.yaml`: registries, credentials, TLS and proxy settings as above,
  `pnprServer`, `pnpmfile`, `globalPnpmfile`, `configDependencies`, `cargo`, `python`,
  `scriptShell`, `nodeGypPath`, `executionEnv`, `useNodeVersion`, `globalDir`,
  `globalBinDir`, store/cache/state/modules/lockfile directories outside the worktree.
- `.cargo/config.toml`, `.cargo/config`: `build.rustc`, `build.rustc-wrapper`,
  `build.rustc-workspace-wrapper`, `build.rustdoc`, `target.*.runner`, `target.*.linker`,
  `target.*.ar`, `host.linker`, `host.*.linker`; `registry`, `registries`, `source`,
  `credential-alias` (credential providers included); `env`; `http.proxy`, `http.cainfo`,
  `http.proxy-cainfo`. `rust-toolchain.toml`/`rust-toolchain`: `toolchain.path`.
- uv (`uv.toml`, `[tool.uv]`): `index` unless the operator's `UV_INDEX`/`UV_DEFAULT_INDEX`/
  `UV_INDEX_URL`/`UV_EXTRA_INDEX_URL` declares the same URL (and name, where named),
  `index-url`, `extra-index-url`, `find-links`, `python-install-mirror`,
  `pypy-install-mirror`, `python-downloads-json-url`, `python-downloads` other than
  never/manual, `keyring-provider`, `allow-insecure-host`, `cache-dir` outside the worktree.
- poetry: `[[tool.poetry.source]]` unless `POETRY_REPOSITORIES_<NAME>_URL` in the operator's
  environment names the same URL (poetry cannot take an index from anywhere else);
  `poetry.toml` keys other than `virtualenvs.create`/`in-project`/`prefer-active-python`/
  `use-poetry-python`/`options.*`, `installer.*`, `solver.*`, `requests.*`,
  `keyring.enabled`, `system-git-client`.
- Outside the sandbox only (`sandbox: none`), what makes uv or poetry run code the
  repository chose while locking: `[build-system] backend-path` (an in-tree PEP 517
  backend), `[project] dynamic` (uv builds the project to read it), `path`/`git`/`url`
  sources and PEP 508 direct references (`name @ url`). Inside the sandbox they may run:
  there the code sees only the worktree, the unit's private home and the allowlisted
  values (the same as the target's verification commands), not agentd's environment,
  state, credentials or other clones, and nothing it starts outlives the tool. It does
  have the network (the registries need it), so the target's allowlisted values reach code
  the repository chose and could leave with it: allowlist only what the registries need.

pip's updater runs a tool only to regenerate a pip-compile / `uv pip compile` file: `uv pip
compile --no-config` (no `uv.toml` or `pip.conf` of the repository is read) with only the
header options `pip.compiled` allowlists, after the input files were checked for indexes and
(outside the sandbox) builds. go reads no configuration from the repository (GOFLAGS,
GOPROXY and friends come from the environment only; `GOTOOLCHAIN=local`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from agentd.ecosystems._shared.interface import UpdateContext
from agentd.ecosystems._shared.model import DepfileError, load_yaml
from agentd.ecosystems._shared.tooling import UpdateRefused
from agentd.errors import PathEscapeError
from agentd.paths import confine
from agentd.vocabulary import ReasonCode

PROGRAM = "names a program for the tool to run"
REGISTRY = "chooses a package registry"
CREDENTIAL = "sets or routes a registry credential"
TRANSPORT = "changes where the tool's traffic goes or how it is protected"
LOCATION = "moves the tool's files outside the worktree"
CODE = "loads code the repository chose into the tool"
ENVIRONMENT = "expands agentd's environment (`${...}`)"
ALLOWED = ""

Settings = list[tuple[str, Any]]  # (dotted key, value), in file order
Reader = Callable[[str, bytes], Settings]  # (display path, content)
Check = Callable[[UpdateContext, Path, str, Any], str]  # (context, folder, key, value) -> why


@dataclass(frozen=True)
class Rule:
    pattern: str  # fnmatch over the lowercased dotted key; also covers the keys below it
    why: str | Check  # why the key is refused ("" lets it through); a Check decides by value

    def matches(self, key: str) -> bool:
        return fnmatchcase(key, self.pattern) or fnmatchcase(key, self.pattern + ".*")

    def verdict(self, context: UpdateContext, folder: Path, key: str, value: Any) -> str:
        return self.why if isinstance(self.why, str) else self.why(context, folder, key, value)


@dataclass(frozen=True)
class ConfigFile:
    name: str  # below each directory checked, e.g. ".cargo/config.toml"
    read: Reader
    rules: tuple[Rule, ...]
    expands_env: bool = False  # the tool substitutes `${VAR}`: refuse any
    walk: bool = True  # every directory up to the repository root, else the project's only


# --- the check ------------------------------------------------------------------------------


def refuse(context: UpdateContext, path: Path, key: str, why: str) -> UpdateRefused:
    return UpdateRefused(
        ReasonCode.POLICY_BLOCKED,
        f"{_display(context, path)}: `{_printable(key)}` {why}; refused (registries, "
        "credentials and programs for agentd's tools come only from the operator's environment)",
    )


def _printable(text: str) -> str:
    """A repository-chosen key as it may appear in a report: printable and short."""
    return re.sub(r"[^\x20-\x7e]", "?", text)[:100]


def check_files(context: UpdateContext, directory: Path, files: Iterable[ConfigFile]) -> None:
    """Refuse the first setting any of `files` makes, from `directory` up to the root."""
    folders = list(_directories(context, directory))
    for config in files:
        for folder in folders if config.walk else folders[:1]:
            check_file(context, folder, config)


def check_file(context: UpdateContext, folder: Path, config: ConfigFile) -> None:
    path = folder / config.name
    if not path.is_file():
        return
    for key, value in _read(context, path, config):
        why = _why(context, folder, config, key, value)
        if why:
            raise refuse(context, path, key, why)


def _why(context: UpdateContext, folder: Path, config: ConfigFile, key: str, value: Any) -> str:
    if config.expands_env and "${" in f"{key}{value}":
        return ENVIRONMENT
    lowered = key.lower()
    for rule in config.rules:
        if rule.matches(lowered):
            return rule.verdict(context, folder, key, value)
    return ""


def _directories(context: UpdateContext, directory: Path) -> Iterator[Path]:
    """`directory` and each parent up to the worktree root."""
    root = context.worktree.resolve()
    try:
        relative = directory.resolve().relative_to(root)
    except ValueError:
        raise UpdateRefused(
            ReasonCode.POLICY_BLOCKED, f"{directory} is outside the worktree"
        ) from None
    for part in (relative, *relative.parents):
        yield root / part


def _read(context: UpdateContext, path: Path, config: ConfigFile) -> Settings:
    display = _display(context, path)
    try:
        return config.read(display, path.read_bytes())
    except (OSError, ValueError, DepfileError, RecursionError) as exc:  # TOML/Unicode errors too
        raise UpdateRefused(
            ReasonCode.POLICY_BLOCKED,
            f"{display} cannot be checked ({type(exc).__name__}); agentd runs no tool on "
            "repository config it cannot read",
        ) from None


def _display(context: UpdateContext, path: Path) -> str:
    try:
        return path.relative_to(context.worktree.resolve()).as_posix()
    except ValueError:
        return str(path)


# --- readers ----------------------------------------------------------------------------------


def flatten(data: Any, prefix: str = "") -> Settings:
    """Tables become dotted keys; everything else (lists included) is a value."""
    if isinstance(data, dict) and (data or not prefix):
        settings: Settings = []
        for key, value in data.items():
            settings += flatten(value, f"{prefix}{key}.")
        return settings
    return [(prefix.removesuffix("."), data)]


def read_toml(display: str, content: bytes) -> Settings:
    return flatten(tomllib.loads(content.decode("utf-8")))


def read_yaml(display: str, content: bytes) -> Settings:
    return flatten(load_yaml(display, content))


def read_ini(display: str, content: bytes) -> Settings:
    """`.npmrc`: `key=value` lines, `;`/`#` comments, `[section]` headers, `key[]` arrays."""
    settings: Settings = []
    section = ""
    for raw in content.decode("utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip() + "."
            continue
        key, _, value = line.partition("=")
        key = key.strip().strip("\"'").removesuffix("[]")
        settings.append((section + key, value.strip()))
    return settings


_YARNRC_LINE = re.compile(r'^(?:"(?P<quoted>[^"]*)"|(?P<bare>\S+?)):?(?:\s+(?P<value>.*))?$')


def read_yarnrc(display: str, content: bytes) -> Settings:
    """yarn 1's `.yarnrc`: `key value` lines (keys may be quoted), indented blocks nest."""
    settings: Settings = []
    parents: list[tuple[int, str]] = []
    for raw in content.decode("utf-8").splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _YARNRC_LINE.match(raw.strip())
        if match is None:
            raise ValueError(f"{display}: unreadable line")
        indent = len(raw) - len(raw.lstrip())
        while parents and parents[-1][0] >= indent:
            parents.pop()
        key = match["quoted"] if match["quoted"] is not None else match["bare"]
        value = (match["value"] or "").strip().strip('"')
        settings.append((".".join([p for _, p in parents] + [key]), value))
        if not value:
            parents.append((indent, key))
    return settings


def read_dotenv(display: str, content: bytes) -> Settings:
    lines = content.decode("utf-8").splitlines()
    pairs = (line.strip().removeprefix("export ").partition("=") for line in lines)
    return [(key.strip(), value) for key, _, value in pairs if key.strip() and key[0] != "#"]


def read_rust_toolchain(display: str, content: bytes) -> Settings:
    """`rust-toolchain` may be TOML or, in the legacy form, just a channel name."""
    try:
        return read_toml(display, content)
    except tomllib.TOMLDecodeError:
        return [("toolchain.channel", content.decode("utf-8").strip())]


# --- value checks -----------------------------------------------------------------------------


def stays_inside(context: UpdateContext, folder: Path, value: Any) -> bool:
    """A relative path (from the config's folder) that stays in the worktree, symlinks
    resolved; anything else (absolute, `~`, `$VAR`, `..`) counts as outside."""
    if not isinstance(value, str) or not value or value.startswith(("/", "~", "$", "\\")):
        return False
    try:
        base = folder.resolve().relative_to(context.worktree.resolve())
        confine(context.worktree, (PurePosixPath(base.as_posix()) / value).as_posix())
    except (ValueError, PathEscapeError):
        return False
    return True


def outside(context: UpdateContext, folder: Path, key: str, value: Any) -> str:
    return ALLOWED if stays_inside(context, folder, value) else LOCATION


def sandbox_only(why: str) -> Check:
    def check(context: UpdateContext, folder: Path, key: str, value: Any) -> str:
        return ALLOWED if context.sandboxed or not value else why

    return check


def yarn_release(context: UpdateContext, folder: Path, key: str, value: Any) -> str:
    """Berry's committed release is the tool itself: only in the sandbox, only from the repo."""
    if not context.sandboxed:
        return "runs the yarn release the repository ships, allowed only inside the sandbox"
    if not stays_inside(context, folder, value):
        return "runs a yarn release from outside the repository"
    return ALLOWED


# --- rule tables ------------------------------------------------------------------------------

NPM_CREDENTIALS = tuple(
    Rule(pattern, CREDENTIAL)
    for pattern in (
        "*_auth", "*_authtoken", "*_password", "*username", "*certfile", "*keyfile",
        "cert", "key",
    )
)  # fmt: skip
NPM_TRANSPORT = tuple(
    Rule(pattern, TRANSPORT)
    for pattern in (
        "ca", "cafile", "proxy", "https-proxy", "http-proxy", "noproxy", "no-proxy",
        "strict-ssl", "local-address",
    )
)  # fmt: skip
NPMRC_RULES = (
    *(
        Rule(name, PROGRAM)
        for name in (
            "git", "script-shell", "shell", "node-gyp", "onload-script", "editor", "browser",
            "viewer", "init-module",
        )
    ),
    Rule("registry", REGISTRY),
    Rule("*:registry", REGISTRY),
    *NPM_CREDENTIALS,
    *NPM_TRANSPORT,
    *(Rule(name, LOCATION) for name in ("global", "location", "globalconfig", "userconfig")),
    *(Rule(name, outside) for name in ("prefix", "cache", "tmp")),
)  # fmt: skip
NPMRC = ConfigFile(".npmrc", read_ini, NPMRC_RULES, expands_env=True)

YARNRC = ConfigFile(
    ".yarnrc",
    read_yarnrc,
    (
        Rule("--*network-timeout", ALLOWED),
        Rule("--*network-concurrency", ALLOWED),
        Rule("--*", "adds command-line options to every yarn command"),
        Rule("yarn-path", PROGRAM),
        *NPMRC_RULES,
        *(
            Rule(name, outside)
            for name in ("cache-folder", "global-folder", "yarn-offline-mirror", "link-folder")
        ),
    ),
    expands_env=True,
)

YARNRC_YML = ConfigFile(
    ".yarnrc.yml",
    read_yaml,
    (
        Rule("yarnpath", yarn_release),
        Rule("plugins", CODE),
        Rule("enableconstraintschecks", CODE),  # runs the repository's yarn.config.cjs
        *(
            Rule(name, REGISTRY)
            for name in ("npmregistryserver", "npmpublishregistry", "npmregistries", "npmscopes")
        ),
        *(
            Rule(name, CREDENTIAL)
            for name in ("npmauthtoken", "npmauthident", "httpscertfilepath", "httpskeyfilepath")
        ),
        *(
            Rule(name, TRANSPORT)
            for name in (
                "httpscafilepath", "cafilepath", "httpproxy", "httpsproxy",
                "unsafehttpwhitelist", "enablestrictssl", "networksettings",
            )
        ),
        Rule("injectenvironmentfiles", "loads environment files into the tool"),
        *(
            Rule(name, outside)
            for name in (
                "cachefolder", "globalfolder", "installstatepath", "lockfilefilename",
                "pnpdatapath", "pnpunpluggedfolder", "virtualfolder", "patchfolder",
                "deferredversionfolder",
            )
        ),
    ),
    expands_env=True,
)  # fmt: skip
YARN_ENV_FILE = ConfigFile(
    ".env.yarn", read_dotenv, (Rule("*", "sets environment variables for yarn"),), walk=False
)

PNPM_WORKSPACE = ConfigFile(
    "pnpm-workspace.yaml",
    read_yaml,
    (
        *(Rule(n, REGISTRY) for n in ("registry", "registries", "*:registry", "pnprserver")),
        *NPM_CREDENTIALS,
        *(
            Rule(name, TRANSPORT)
            for name in (
                "ca", "cafile", "proxy", "httpproxy", "httpsproxy", "noproxy", "strictssl",
                "localaddress",
            )
        ),
        *(Rule(n, CODE) for n in ("pnpmfile", "globalpnpmfile", "configdependencies")),
        *(Rule(n, "makes pnpm drive another ecosystem's tools") for n in ("cargo", "python")),
        *(
            Rule(name, PROGRAM)
            for name in ("scriptshell", "nodegyppath", "executionenv", "usenodeversion")
        ),
        *(Rule(name, LOCATION) for name in ("globaldir", "globalbindir")),
        *(
            Rule(name, outside)
            for name in (
                "storedir", "virtualstoredir", "cachedir", "statedir", "modulesdir", "lockfiledir",
            )
        ),
    ),
    expands_env=True,
)  # fmt: skip

CARGO_RULES = (
    *(
        Rule(name, PROGRAM)
        for name in (
            "build.rustc", "build.rustc-wrapper", "build.rustc-workspace-wrapper",
            "build.rustdoc", "target.*.runner", "target.*.linker", "target.*.ar",
            "host.linker", "host.*.linker",
        )
    ),
    *(Rule(name, REGISTRY) for name in ("registry", "registries", "source")),
    Rule("credential-alias", CREDENTIAL),
    Rule("env", "sets environment variables for cargo and the programs it runs"),
    *(Rule(name, TRANSPORT) for name in ("http.proxy", "http.cainfo", "http.proxy-cainfo")),
)  # fmt: skip
CARGO_FILES = (
    ConfigFile(".cargo/config.toml", read_toml, CARGO_RULES),
    ConfigFile(".cargo/config", read_toml, CARGO_RULES),
    ConfigFile("rust-toolchain.toml", read_rust_toolchain, (Rule("toolchain.path", PROGRAM),)),
    ConfigFile("rust-toolchain", read_rust_toolchain, (Rule("toolchain.path", PROGRAM),)),
)


# --- one check per ecosystem ------------------------------------------------------------------


def check_projects(
    context: UpdateContext, dependency_files: Iterable[str], files: Iterable[ConfigFile]
) -> None:
    """Check the config `files` for the project of every dependency file, before any tool."""
    directories = dict.fromkeys(context.file(name).parent for name in dependency_files)
    for directory in directories:
        check_files(context, directory, files)


def check_npm(context: UpdateContext, dependency_files: Iterable[str]) -> None:
    check_projects(context, dependency_files, (NPMRC,))


def check_pnpm(context: UpdateContext, dependency_files: Iterable[str]) -> None:
    check_projects(context, dependency_files, (NPMRC, PNPM_WORKSPACE))


def check_yarn(context: UpdateContext, dependency_files: Iterable[str]) -> None:
    check_projects(context, dependency_files, (NPMRC, YARNRC, YARNRC_YML, YARN_ENV_FILE))


def check_cargo(context: UpdateContext, dependency_files: Iterable[str]) -> None:
    check_projects(context, dependency_files, CARGO_FILES)
