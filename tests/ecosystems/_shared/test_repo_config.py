"""Repository config checks: which keys refuse an update, where they are looked for, and
what the operator's environment allows. No tool runs here (see tests/security for that)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from agentd.ecosystems import UpdateContext
from agentd.ecosystems._shared.python_config import check_poetry, check_uv
from agentd.ecosystems._shared.repo_config import check_cargo, check_npm, check_pnpm, check_yarn
from agentd.ecosystems._shared.tooling import ToolRunner, UpdateRefused
from agentd.verify import Sandbox
from agentd.vocabulary import ReasonCode

Check = Callable[[UpdateContext, Iterable[str]], None]
SECRET = "s3cr3t-value-never-echoed"


def _context(root: Path, sandbox: str = "none", **env: str) -> UpdateContext:
    worktree = root / "repo"
    worktree.mkdir(parents=True, exist_ok=True)
    return UpdateContext(
        worktree=worktree,
        target_path=".",
        env={"PATH": "/usr/bin:/bin", **env},
        home=root,
        timeout_seconds=5,
        sandbox=Sandbox(sandbox, writable=(worktree, root), network=True),
    )


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _refusal(check: Check, context: UpdateContext, lockfile: str) -> str:
    with pytest.raises(UpdateRefused) as refused:
        check(context, [lockfile])
    assert refused.value.reason is ReasonCode.POLICY_BLOCKED
    assert SECRET not in refused.value.detail  # the key is named, never the value
    assert "\n" not in refused.value.detail
    return refused.value.detail


REFUSED: list[tuple[Check, str, dict[str, str], str]] = [
    # npm, and what every JS package manager reads from .npmrc
    (check_npm, "package-lock.json", {".npmrc": f"git=/tmp/{SECRET}\n"}, ".npmrc: `git`"),
    (check_npm, "package-lock.json", {".npmrc": "script-shell=./sh\n"}, ".npmrc: `script-shell`"),
    (check_npm, "package-lock.json", {".npmrc": "node-gyp=./gyp\n"}, ".npmrc: `node-gyp`"),
    (check_npm, "package-lock.json", {".npmrc": f"registry=https://{SECRET}/\n"}, ".npmrc: `registry`"),
    (check_npm, "package-lock.json", {".npmrc": "@acme:registry=https://x/\n"}, ".npmrc: `@acme:registry`"),
    (check_npm, "package-lock.json", {".npmrc": f"//x/:_authToken={SECRET}\n"}, ".npmrc: `//x/:_authToken`"),
    (check_npm, "package-lock.json", {".npmrc": "_auth=abc\n"}, ".npmrc: `_auth`"),
    (check_npm, "package-lock.json", {".npmrc": "//x/:_password=abc\n"}, ".npmrc: `//x/:_password`"),
    (check_npm, "package-lock.json", {".npmrc": "//x/:username=me\n"}, ".npmrc: `//x/:username`"),
    (check_npm, "package-lock.json", {".npmrc": "//x/:certfile=c.pem\n"}, ".npmrc: `//x/:certfile`"),
    (check_npm, "package-lock.json", {".npmrc": "https-proxy=http://p/\n"}, ".npmrc: `https-proxy`"),
    (check_npm, "package-lock.json", {".npmrc": "prefix=/usr/local\n"}, ".npmrc: `prefix`"),
    (check_npm, "package-lock.json", {".npmrc": "cache=../../elsewhere\n"}, ".npmrc: `cache`"),
    (check_npm, "package-lock.json", {".npmrc": "init-author-name=${NPM_TOKEN}\n"}, "expands agentd's environment"),
    (check_npm, "ui/package-lock.json", {".npmrc": "git=./g\n"}, ".npmrc: `git`"),  # a parent
    # yarn 1 and berry
    (check_yarn, "yarn.lock", {".yarnrc": 'yarn-path "./y.js"\n'}, ".yarnrc: `yarn-path`"),
    (check_yarn, "yarn.lock", {".yarnrc": 'registry "https://x/"\n'}, ".yarnrc: `registry`"),
    (check_yarn, "yarn.lock", {".yarnrc": '"@acme:registry" "https://x/"\n'}, ".yarnrc: `@acme:registry`"),
    (check_yarn, "yarn.lock", {".yarnrc": "--install.modules-folder /tmp/x\n"}, ".yarnrc: `--install.modules-folder`"),
    (check_yarn, "yarn.lock", {".npmrc": "registry=https://x/\n"}, ".npmrc: `registry`"),
    (check_yarn, "yarn.lock", {".yarnrc.yml": "yarnPath: .yarn/releases/y.cjs\n"}, ".yarnrc.yml: `yarnPath`"),
    (check_yarn, "yarn.lock", {".yarnrc.yml": "plugins:\n  - path: p.cjs\n"}, ".yarnrc.yml: `plugins`"),
    (check_yarn, "yarn.lock", {".yarnrc.yml": "npmRegistryServer: https://x\n"}, ".yarnrc.yml: `npmRegistryServer`"),
    (check_yarn, "yarn.lock", {".yarnrc.yml": f"npmAuthToken: {SECRET}\n"}, ".yarnrc.yml: `npmAuthToken`"),
    (check_yarn, "yarn.lock", {".yarnrc.yml": "npmScopes:\n  acme:\n    npmRegistryServer: https://x\n"}, ".yarnrc.yml: `npmScopes.acme.npmRegistryServer`"),
    (check_yarn, "yarn.lock", {".yarnrc.yml": "cacheFolder: /root/.ssh\n"}, ".yarnrc.yml: `cacheFolder`"),
    (check_yarn, "yarn.lock", {".yarnrc.yml": "injectEnvironmentFiles: [.env]\n"}, ".yarnrc.yml: `injectEnvironmentFiles`"),
    (check_yarn, "yarn.lock", {".env.yarn": "YARN_NPM_REGISTRY_SERVER=https://x\n"}, ".env.yarn: `YARN_NPM_REGISTRY_SERVER`"),
    # pnpm
    (check_pnpm, "pnpm-lock.yaml", {"pnpm-workspace.yaml": "registry: https://x/\n"}, "pnpm-workspace.yaml: `registry`"),
    (check_pnpm, "pnpm-lock.yaml", {"pnpm-workspace.yaml": "pnpmfile: hooks.cjs\n"}, "pnpm-workspace.yaml: `pnpmfile`"),
    (check_pnpm, "pnpm-lock.yaml", {"pnpm-workspace.yaml": "configDependencies:\n  x: 1.0.0\n"}, "pnpm-workspace.yaml: `configDependencies.x`"),
    (check_pnpm, "pnpm-lock.yaml", {"pnpm-workspace.yaml": "storeDir: /var/store\n"}, "pnpm-workspace.yaml: `storeDir`"),
    (check_pnpm, "pnpm-lock.yaml", {".npmrc": "//x/:_authToken=t\n"}, ".npmrc: `//x/:_authToken`"),
    # cargo
    (check_cargo, "Cargo.lock", {".cargo/config.toml": '[build]\nrustc = "./r"\n'}, ".cargo/config.toml: `build.rustc`"),
    (check_cargo, "Cargo.lock", {".cargo/config.toml": '[build]\nrustc-wrapper = "w"\n'}, ".cargo/config.toml: `build.rustc-wrapper`"),
    (check_cargo, "Cargo.lock", {".cargo/config": '[target.x86_64-unknown-linux-gnu]\nrunner = "r"\n'}, ".cargo/config: `target.x86_64-unknown-linux-gnu.runner`"),
    (check_cargo, "Cargo.lock", {".cargo/config.toml": "[target.'cfg(unix)']\nlinker = \"l\"\n"}, ".cargo/config.toml: `target.cfg(unix).linker`"),
    (check_cargo, "Cargo.lock", {".cargo/config.toml": '[source.crates-io]\nreplace-with = "m"\n'}, ".cargo/config.toml: `source.crates-io.replace-with`"),
    (check_cargo, "Cargo.lock", {".cargo/config.toml": '[registries.m]\nindex = "x"\n'}, ".cargo/config.toml: `registries.m.index`"),
    (check_cargo, "Cargo.lock", {".cargo/config.toml": '[registry]\nglobal-credential-providers = ["x"]\n'}, ".cargo/config.toml: `registry.global-credential-providers`"),
    (check_cargo, "Cargo.lock", {".cargo/config.toml": '[env]\nRUSTC = "r"\n'}, ".cargo/config.toml: `env.RUSTC`"),
    (check_cargo, "Cargo.lock", {"rust-toolchain.toml": '[toolchain]\npath = "/opt/t"\n'}, "rust-toolchain.toml: `toolchain.path`"),
    (check_cargo, "crates/app/Cargo.lock", {".cargo/config.toml": '[build]\nrustc = "r"\n'}, ".cargo/config.toml: `build.rustc`"),
    # uv and poetry
    (check_uv, "uv.lock", {"uv.toml": 'index-url = "https://x/"\n'}, "uv.toml: `index-url`"),
    (check_uv, "uv.lock", {"pyproject.toml": '[tool.uv]\nextra-index-url = ["https://x/"]\n'}, "pyproject.toml: `tool.uv.extra-index-url`"),
    (check_uv, "uv.lock", {"pyproject.toml": '[[tool.uv.index]]\nname = "corp"\nurl = "https://x/"\n'}, "pyproject.toml: `tool.uv.index`"),
    (check_uv, "uv.lock", {"uv.toml": 'python-install-mirror = "https://x/"\n'}, "uv.toml: `python-install-mirror`"),
    (check_uv, "uv.lock", {"uv.toml": 'python-downloads = "automatic"\n'}, "uv.toml: `python-downloads`"),
    (check_uv, "uv.lock", {"uv.toml": 'keyring-provider = "subprocess"\n'}, "uv.toml: `keyring-provider`"),
    (check_poetry, "poetry.lock", {"pyproject.toml": '[[tool.poetry.source]]\nname = "corp"\nurl = "https://x/"\n'}, "pyproject.toml: `tool.poetry.source`"),
    (check_poetry, "poetry.lock", {"poetry.toml": '[repositories.corp]\nurl = "https://x/"\n'}, "poetry.toml: `repositories.corp.url`"),
    (check_poetry, "poetry.lock", {"poetry.toml": f'[http-basic.corp]\npassword = "{SECRET}"\n'}, "poetry.toml: `http-basic.corp.password`"),
]  # fmt: skip


@pytest.mark.parametrize(("check", "lockfile", "files", "named"), REFUSED)
def test_a_key_that_chooses_a_program_registry_or_credential_is_refused(
    tmp_path: Path, check: Check, lockfile: str, files: dict[str, str], named: str
) -> None:
    context = _context(tmp_path)
    _write(context.worktree, files)
    assert named in _refusal(check, context, lockfile)


ALLOWED: list[tuple[Check, str, dict[str, str]]] = [
    (check_npm, "package-lock.json", {".npmrc": "save-exact=true\nengine-strict=true\ncache=.npm-cache\n"}),
    (check_yarn, "yarn.lock", {".yarnrc": "--install.network-timeout 600000\nsave-prefix \"~\"\n"}),
    (check_yarn, "yarn.lock", {".yarnrc.yml": "nodeLinker: node-modules\nenableTelemetry: false\ncacheFolder: ./.yarn/cache\n"}),
    (check_pnpm, "pnpm-lock.yaml", {"pnpm-workspace.yaml": "packages: ['apps/*']\noverrides:\n  a: 1.0.0\n"}),
    (check_cargo, "Cargo.lock", {".cargo/config.toml": "[net]\nretry = 3\n[alias]\nb = \"build\"\n", "rust-toolchain": "1.80.0\n"}),
    (check_uv, "uv.lock", {"pyproject.toml": '[project]\nname = "a"\nversion = "1"\n[tool.uv]\ndev-dependencies = ["pytest"]\n', "uv.toml": 'python-downloads = "never"\n'}),
    (check_poetry, "poetry.lock", {"poetry.toml": "[virtualenvs]\nin-project = true\n", "pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.11"\n'}),
]  # fmt: skip


@pytest.mark.parametrize(("check", "lockfile", "files"), ALLOWED)
def test_ordinary_project_settings_pass(
    tmp_path: Path, check: Check, lockfile: str, files: dict[str, str]
) -> None:
    context = _context(tmp_path)
    _write(context.worktree, files)
    check(context, [lockfile])


def test_config_above_the_repository_is_not_the_repositorys(tmp_path: Path) -> None:
    context = _context(tmp_path)
    (tmp_path / ".npmrc").write_text("registry=https://operator.example/\n")  # not in the repo
    check_npm(context, ["package-lock.json"])


def test_unreadable_config_is_refused_not_skipped(tmp_path: Path) -> None:
    context = _context(tmp_path)
    _write(context.worktree, {".cargo/config.toml": "[build\nrustc = 'x'\n"})
    assert "cannot be checked" in _refusal(check_cargo, context, "Cargo.lock")


@pytest.mark.parametrize("sandbox", ["bwrap", "auto"])
def test_a_berry_release_inside_the_repository_may_run_in_the_sandbox(
    tmp_path: Path, sandbox: str
) -> None:
    context = _context(tmp_path, sandbox)
    _write(context.worktree, {".yarnrc.yml": "yarnPath: .yarn/releases/yarn-4.cjs\n"})
    check_yarn(context, ["yarn.lock"])
    _write(context.worktree, {".yarnrc.yml": "yarnPath: /usr/lib/node_modules/x.cjs\n"})
    assert "from outside the repository" in _refusal(check_yarn, context, "yarn.lock")


BUILDS: list[tuple[Check, dict[str, str], str]] = [
    (check_uv, {"pyproject.toml": '[build-system]\nbackend-path = ["."]\n'}, "`build-system.backend-path`"),
    (check_uv, {"pyproject.toml": '[project]\nname = "a"\ndynamic = ["version"]\n'}, "`project.dynamic`"),
    (check_uv, {"pyproject.toml": '[tool.uv.sources]\nlib = { path = "../lib" }\n'}, "`tool.uv.sources.lib.path`"),
    (check_uv, {"pyproject.toml": '[tool.uv.sources]\nlib = [{ git = "https://x" }]\n'}, "`tool.uv.sources.lib`"),
    (check_uv, {"pyproject.toml": '[project]\nname = "a"\nversion = "1"\ndependencies = ["lib @ https://x/lib.tar.gz"]\n'}, "`project.dependencies`"),
    (check_uv, {"pyproject.toml": '[tool.uv.workspace]\nmembers = ["packages/*"]\n', "packages/m/pyproject.toml": '[project]\nname = "m"\ndynamic = ["version"]\n'}, "packages/m/pyproject.toml: `project.dynamic`"),
    (check_poetry, {"pyproject.toml": '[tool.poetry.dependencies]\nlib = { path = "../lib", develop = true }\n'}, "`tool.poetry.dependencies.lib.path`"),
    (check_poetry, {"pyproject.toml": '[tool.poetry.group.dev.dependencies]\nx = { git = "https://x" }\n'}, "`tool.poetry.group.dev.dependencies.x.git`"),
    (check_poetry, {"pyproject.toml": '[build-system]\nbackend-path = ["."]\n'}, "`build-system.backend-path`"),
]  # fmt: skip


@pytest.mark.parametrize(("check", "files", "named"), BUILDS)
def test_code_locking_would_build_runs_only_in_the_sandbox(
    tmp_path: Path, check: Check, files: dict[str, str], named: str
) -> None:
    lockfile = "uv.lock" if check is check_uv else "poetry.lock"
    outside = _context(tmp_path / "outside")  # sandbox: none
    _write(outside.worktree, files)
    assert named in _refusal(check, outside, lockfile)
    inside = _context(tmp_path / "inside", "bwrap")
    _write(inside.worktree, files)
    check(inside, [lockfile])


def test_an_index_the_operator_names_may_be_named_by_the_repository(tmp_path: Path) -> None:
    named = '[[tool.uv.index]]\nname = "corp"\nurl = "https://corp.example/simple/"\n'
    unnamed = '[[tool.uv.index]]\nurl = "https://mirror.example/simple"\n'
    context = _context(
        tmp_path,
        UV_INDEX="corp=https://corp.example/simple",
        UV_DEFAULT_INDEX="https://mirror.example/simple/",
    )
    for text in (named, unnamed):
        _write(context.worktree, {"pyproject.toml": text})
        check_uv(context, ["uv.lock"])
    # the same URL under another name would take another name's credentials there
    _write(context.worktree, {"pyproject.toml": named.replace('"corp"', '"other"')})
    assert "index other" in _refusal(check_uv, context, "uv.lock")


def test_a_poetry_source_needs_the_operators_url_for_its_name(tmp_path: Path) -> None:
    source = '[[tool.poetry.source]]\nname = "corp-pypi"\nurl = "https://corp.example/simple/"\n'
    context = _context(tmp_path, POETRY_REPOSITORIES_CORP_PYPI_URL="https://corp.example/simple")
    _write(context.worktree, {"pyproject.toml": source})
    check_poetry(context, ["poetry.lock"])
    elsewhere = _context(tmp_path, POETRY_REPOSITORIES_CORP_PYPI_URL="https://other.example/")
    assert "POETRY_REPOSITORIES_CORP_PYPI_URL" in _refusal(check_poetry, elsewhere, "poetry.lock")
    _write(context.worktree, {"pyproject.toml": '[[tool.poetry.source]]\nname = "PyPI"\n'})
    check_poetry(context, ["poetry.lock"])


def test_no_tool_runs_without_a_sandbox_decision(tmp_path: Path) -> None:
    context = UpdateContext(
        worktree=tmp_path, target_path=".", env={"PATH": "/usr/bin:/bin"}, home=tmp_path,
        timeout_seconds=5,
    )  # fmt: skip
    with pytest.raises(UpdateRefused) as refused:
        ToolRunner(context, "true").run([], tmp_path)
    assert refused.value.reason is ReasonCode.POLICY_BLOCKED
