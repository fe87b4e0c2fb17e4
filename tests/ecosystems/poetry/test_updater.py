"""The poetry updater against a local Python index built from wheels made here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e import e2e

from agentd.ecosystems import PackageBump, UpdateContext, parse_dependency_file, updater_for
from agentd.ecosystems.poetry.updater import PoetryUpdater, bump_poetry_pins
from agentd.vocabulary import ReasonCode
from ecosystems.registries.e2etools import (
    LOCKFILE_RULE,
    configure,
    explain,
    file_on_main,
    repo,
    scenario,
    target,
    the_unit,
)
from ecosystems.registries.npm import read_tree
from ecosystems.registries.pypi import (
    PythonIndex,
    http_world,
    index_env,
    publish_http_fixes,
    pyproject,
)
from ecosystems.registries.tls import private_ca, serve_https
from ecosystems.registries.toolenv import (
    DIRECT,
    UNREACHABLE,
    offline_env,
    private_home,
    python_tool,
    run,
    updater_context,
)

LOCK = "poetry.lock"
POETRY_ENV = {"POETRY_KEYRING_ENABLED": "false", "POETRY_NO_INTERACTION": "1"}


def poetry_lock(directory: Path, home: Path) -> None:
    run([python_tool("poetry"), "lock"], directory, offline_env(home, POETRY_ENV))


def locked(content: bytes, name: str) -> list[str]:
    found = parse_dependency_file(LOCK, content)
    return sorted({d.version for d in found if d.name == name})


@dataclass
class Project:
    index: PythonIndex
    url: str
    root: Path
    home: Path

    def context(self) -> UpdateContext:
        return updater_context(self.root, self.home, index_env(self.url))

    def create(self, dependencies: list[str]) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "pyproject.toml").write_text(pyproject(self.url, dependencies, "poetry"))
        poetry_lock(self.root, self.home)
        return self.root

    def versions(self, name: str) -> list[str]:
        return locked((self.root / LOCK).read_bytes(), name)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    python_tool("poetry")
    index = http_world(PythonIndex(tmp_path / "index"))
    with index.serve() as url:
        yield Project(index, url, tmp_path / "repo", private_home(tmp_path))


def _bump(name: str, old: str, new: str) -> PackageBump:
    return PackageBump(name, LOCK, old, new, ("GHSA-34jh-p97f-mpxf",), "unknown")


def test_routing() -> None:
    assert isinstance(updater_for(["poetry"], "pip", "svc/poetry.lock"), PoetryUpdater)
    assert updater_for(["poetry"], "pip", "uv.lock") is None


def test_transitive_bump_is_lockfile_only_exact_and_keeps_the_content_hash(
    project: Project,
) -> None:
    project.create(["httpclient>=1.0"])
    publish_http_fixes(project.index)  # 1.26.20, 2.2.2 and 2.3.0 are admitted too
    manifest = (project.root / "pyproject.toml").read_bytes()
    content_hash = _content_hash(project.root / LOCK)

    result = PoetryUpdater().apply(project.context(), [_bump("urllib3", "1.26.5", "1.26.19")])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.changed_files == [LOCK] and result.manifest_files == []
    assert project.versions("urllib3") == ["1.26.19"]  # exact, and in its own major line
    assert (project.root / "pyproject.toml").read_bytes() == manifest
    assert _content_hash(project.root / LOCK) == content_hash
    assert "agentd-fix" not in (project.root / LOCK).read_text()


def _content_hash(lockfile: Path) -> str:
    import tomllib

    return str(tomllib.loads(lockfile.read_text())["metadata"]["content-hash"])


def test_a_direct_pin_is_rewritten_in_pyproject(project: Project) -> None:
    project.create(["requests==2.25.0"])
    publish_http_fixes(project.index)

    result = PoetryUpdater().apply(project.context(), [_bump("requests", "2.25.0", "2.32.4")])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.manifest_files == ["pyproject.toml"]
    assert '"requests==2.32.4"' in (project.root / "pyproject.toml").read_text()
    assert project.versions("requests") == ["2.32.4"]


def test_a_dependency_pinning_the_old_version_is_refused_and_restored(project: Project) -> None:
    project.create(["pinned-client>=1.0"])
    publish_http_fixes(project.index)
    before = read_tree(project.root)

    result = PoetryUpdater().apply(project.context(), [_bump("urllib3", "1.26.5", "1.26.19")])

    assert result.blocked is ReasonCode.MANIFEST_CHANGE_REQUIRED, result.blocked_detail
    assert "pinned-client" in result.tool_output
    assert read_tree(project.root) == before


def test_poetry_table_pins_move_and_ranges_stay(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[tool.poetry.dependencies]\npython = "^3.8"\nRequests = "2.25.0"  # pinned\n'
        'jinja2 = {version = "==3.1.2", extras = ["i18n"]}\nurllib3 = "^1.26"\n'
    )
    changes = bump_poetry_pins(
        path,
        [
            _bump("requests", "2.25.0", "2.32.4"),
            _bump("Jinja2", "3.1.2", "3.1.4"),
            _bump("urllib3", "1.26.5", "1.26.19"),
        ],
    )
    assert len(changes) == 2
    assert path.read_text() == (
        '[tool.poetry.dependencies]\npython = "^3.8"\nRequests = "2.32.4"  # pinned\n'
        'jinja2 = {version = "==3.1.4", extras = ["i18n"]}\nurllib3 = "^1.26"\n'
    )


def test_e2e_lockfile_only_merges_and_a_forbidden_manifest_change_blocks(tmp_path: Path) -> None:
    python_tool("poetry")
    index = http_world(PythonIndex(tmp_path / "index"))
    with index.serve() as url:
        fixtures = {}
        for name, dependencies in {
            "app": ["httpclient>=1.0"],
            "pinned": ["requests==2.25.0"],
        }.items():
            directory = tmp_path / "fixtures" / name
            directory.mkdir(parents=True)
            (directory / "pyproject.toml").write_text(pyproject(url, dependencies, "poetry"))
            poetry_lock(directory, private_home(tmp_path / "homes" / name))
            fixtures[name] = {p.name: p.read_text() for p in directory.iterdir() if p.is_file()}
        publish_http_fixes(index)
        world = scenario(*(repo(name, files) for name, files in fixtures.items()))
        with e2e(
            tmp_path, world, [{"repo": n, "targets": [target("poetry")]} for n in fixtures]
        ) as env:
            configure(env, {"poetry": LOCKFILE_RULE}, index_env(url))
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-3000:]
            app = the_unit(env, summary, "app")
            assert app["outcome"] == "merged", explain(app)
            alerts = env.sim.admin.alerts("app", "dependabot")
            assert alerts and all(a["state"] == "fixed" for a in alerts)
            assert locked(file_on_main(env, "app", LOCK).encode(), "urllib3") == ["1.26.19"]
            # The project pins requests itself: that fix needs a manifest change the rule
            # forbids, so it stays open with that reason; the lockfile-only fixes beside it
            # are delivered (before: one refusal threw every other fix away).
            pinned = the_unit(env, summary, "pinned")
            states = {a["package"]: a for a in pinned["alerts"]}
            assert states["requests"]["fixed"] is False
            assert states["requests"]["reason"] == "manifest_change_required"
            assert pinned["outcome"] == "merged", explain(pinned)
            assert {a["package"] for a in pinned["alerts"] if a["fixed"]} == {"urllib3"}
            assert "requests==2.25.0" in file_on_main(env, "pinned", "pyproject.toml")


def _point_at(project: Project, url: str) -> UpdateContext:
    """The project's only source, and the operator's matching setting, moved to `url`."""
    (project.root / "pyproject.toml").write_text(pyproject(url, ["httpclient>=1.0"], "poetry"))
    return updater_context(project.root, project.home, {**index_env(url), **DIRECT})


@pytest.mark.parametrize("where", sorted(UNREACHABLE))
def test_an_unreachable_source_is_an_environment_problem(project: Project, where: str) -> None:
    """Issue 15, cause 7: not a failed fix, nor a requirement that excludes it."""
    project.create(["httpclient>=1.0"])
    url, cause = UNREACHABLE[where]
    context = _point_at(project, f"{url}/simple/")
    before = read_tree(project.root)

    result = PoetryUpdater().apply(context, [_bump("urllib3", "1.26.5", "1.26.19")])

    assert result.blocked is ReasonCode.VERIFICATION_UNAVAILABLE, result.blocked_detail
    assert result.blocked_detail.startswith(f"poetry {cause}"), result.blocked_detail
    assert read_tree(project.root) == before


def test_a_source_behind_a_private_ca_needs_its_bundle(project: Project, tmp_path: Path) -> None:
    """The TLS failure poetry hides unless verbose is named, and the CA bundle fixes it."""
    project.create(["httpclient>=1.0"])
    publish_http_fixes(project.index)
    ca = private_ca(tmp_path / "ca")
    with serve_https(project.index.root, ca) as base:
        context = _point_at(project, f"{base}/simple/")
        bump = [_bump("urllib3", "1.26.5", "1.26.19")]

        untrusted = PoetryUpdater().apply(context, bump)
        assert untrusted.blocked is ReasonCode.VERIFICATION_UNAVAILABLE
        host = base.removeprefix("https://")
        assert untrusted.blocked_detail.startswith(
            f"poetry cannot reach {host}: the TLS certificate is not trusted"
        ), untrusted.blocked_detail

        context.env["REQUESTS_CA_BUNDLE"] = str(ca.bundle)
        trusted = PoetryUpdater().apply(context, bump)
        assert trusted.blocked is None, (trusted.blocked_detail, trusted.tool_output)
        assert project.versions("urllib3") == ["1.26.19"]
