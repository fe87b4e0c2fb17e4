"""The uv updater against a local Python index built from wheels made here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e import e2e

from agentd.ecosystems import PackageBump, UpdateContext, parse_dependency_file, updater_for
from agentd.ecosystems.uv.updater import UvUpdater
from agentd.vocabulary import ReasonCode
from ecosystems.registries.e2etools import (
    REVIEW_MANIFESTS_RULE,
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

LOCK = "uv.lock"
UV_ENV = {"UV_PYTHON_DOWNLOADS": "never"}


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
        (self.root / "pyproject.toml").write_text(pyproject(self.url, dependencies, "uv"))
        env = offline_env(self.home, {**UV_ENV, **index_env(self.url)})
        run([python_tool("uv"), "lock"], self.root, env)
        return self.root

    def versions(self, name: str) -> list[str]:
        return locked(self.root / LOCK, name)


def locked(lockfile: Path, name: str) -> list[str]:
    found = parse_dependency_file(LOCK, lockfile.read_bytes())
    return sorted({d.version for d in found if d.name == name})


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    python_tool("uv")
    index = http_world(PythonIndex(tmp_path / "index"))
    with index.serve() as url:
        yield Project(index, url, tmp_path / "repo", private_home(tmp_path))


def _bump(name: str, old: str, new: str) -> PackageBump:
    return PackageBump(name, LOCK, old, new, ("GHSA-34jh-p97f-mpxf",), "transitive")


def test_routing() -> None:
    assert isinstance(updater_for(["uv"], "pip", "svc/uv.lock"), UvUpdater)
    assert updater_for(["uv"], "pip", "requirements.txt") is None


def test_transitive_bump_is_lockfile_only_exact_and_stays_in_its_major_line(
    project: Project,
) -> None:
    project.create(["httpclient>=1.0"])
    publish_http_fixes(project.index)  # 1.26.20, 2.2.2 and 2.3.0 are admitted too
    manifest = (project.root / "pyproject.toml").read_bytes()

    result = UvUpdater().apply(project.context(), [_bump("urllib3", "1.26.5", "1.26.19")])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.changed_files == [LOCK] and result.manifest_files == []
    assert project.versions("urllib3") == ["1.26.19"]
    assert project.versions("httpclient") == ["1.0.0"]
    assert (project.root / "pyproject.toml").read_bytes() == manifest
    assert not (project.root / ".venv").exists()


def test_a_direct_pin_is_rewritten_in_pyproject(project: Project) -> None:
    project.create(["requests[socks]==2.25.0 ; python_version >= '3.8'", "httpclient>=1.0"])
    publish_http_fixes(project.index)

    result = UvUpdater().apply(project.context(), [_bump("requests", "2.25.0", "2.32.4")])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.changed_files == ["pyproject.toml", LOCK]
    assert result.manifest_files == ["pyproject.toml"]
    text = (project.root / "pyproject.toml").read_text()
    assert '"requests[socks]==2.32.4 ; python_version >= \'3.8\'", "httpclient>=1.0"' in text
    assert project.versions("requests") == ["2.32.4"]


def test_a_dependency_pinning_the_old_version_is_refused_and_restored(project: Project) -> None:
    project.create(["pinned-client>=1.0"])
    publish_http_fixes(project.index)
    before = read_tree(project.root)

    result = UvUpdater().apply(project.context(), [_bump("urllib3", "1.26.5", "1.26.19")])

    assert result.blocked is ReasonCode.MANIFEST_CHANGE_REQUIRED, result.blocked_detail
    assert "pinned-client" in result.tool_output  # uv's own explanation
    assert read_tree(project.root) == before


def test_e2e_two_major_lines_merge_lockfile_only_and_a_pin_opens_a_pr(tmp_path: Path) -> None:
    python_tool("uv")
    index = http_world(PythonIndex(tmp_path / "index"))
    home = private_home(tmp_path)
    with index.serve() as url:
        fixtures = {}
        for name, dependencies in {
            "one": ["httpclient>=1.0"],  # urllib3 1.26.5 (the 1.x line)
            "pinned": ["requests==2.25.0"],
            "two": ["httpclient>=1.0"],  # locked after 2.0.4 appears: the 2.x line
        }.items():
            if name == "two":
                index.publish("urllib3", "2.0.4")
            directory = tmp_path / "fixtures" / name
            directory.mkdir(parents=True)
            (directory / "pyproject.toml").write_text(pyproject(url, dependencies, "uv"))
            env = offline_env(home, {**UV_ENV, **index_env(url)})
            run([python_tool("uv"), "lock", "--refresh"], directory, env)
            fixtures[name] = {p.name: p.read_text() for p in directory.iterdir() if p.is_file()}
        assert locked(tmp_path / "fixtures" / "two" / LOCK, "urllib3") == ["2.0.4"]
        publish_http_fixes(index)
        world = scenario(*(repo(name, files) for name, files in fixtures.items()))
        with e2e(
            tmp_path, world, [{"repo": n, "targets": [target("uv")]} for n in fixtures]
        ) as env:
            configure(env, {"uv": REVIEW_MANIFESTS_RULE}, index_env(url))
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-3000:]
            expected = {"one": "1.26.19", "two": "2.2.2"}  # each stays in its own major line
            for name, version in expected.items():
                unit = the_unit(env, summary, name)
                assert unit["outcome"] == "merged", (name, explain(unit))
                alerts = env.sim.admin.alerts(name, "dependabot")
                assert alerts and all(a["state"] == "fixed" for a in alerts)
                main = tmp_path / f"{name}-main.lock"
                main.write_text(file_on_main(env, name, LOCK))
                assert locked(main, "urllib3") == [version]
            pinned = the_unit(env, summary, "pinned")
            assert (pinned["outcome"], pinned["remaining_blocker"]) == (
                "opened_pr",
                "manifest_change_required",
            ), explain(pinned)


@pytest.mark.parametrize("where", sorted(UNREACHABLE))
def test_an_unreachable_index_is_an_environment_problem(project: Project, where: str) -> None:
    """Issue 15, cause 7: not a failed fix, nor a requirement that excludes it."""
    project.create(["httpclient>=1.0"])
    url, cause = UNREACHABLE[where]
    before = read_tree(project.root)
    allowed = {**index_env(f"{url}/simple/"), **DIRECT, "UV_HTTP_RETRIES": "0"}

    result = UvUpdater().apply(
        updater_context(project.root, project.home, allowed),
        [_bump("urllib3", "1.26.5", "1.26.19")],
    )

    assert result.blocked is ReasonCode.VERIFICATION_UNAVAILABLE, result.blocked_detail
    assert result.blocked_detail.startswith(f"uv {cause}"), result.blocked_detail
    assert read_tree(project.root) == before


def test_an_index_behind_a_private_ca_needs_its_bundle(project: Project, tmp_path: Path) -> None:
    project.create(["httpclient>=1.0"])
    publish_http_fixes(project.index)
    ca = private_ca(tmp_path / "ca")
    with serve_https(project.index.root, ca) as base:
        allowed = {**index_env(f"{base}/simple/"), "UV_HTTP_RETRIES": "0"}
        bump = [_bump("urllib3", "1.26.5", "1.26.19")]

        untrusted = UvUpdater().apply(updater_context(project.root, project.home, allowed), bump)
        assert untrusted.blocked is ReasonCode.VERIFICATION_UNAVAILABLE
        host = base.removeprefix("https://")
        assert untrusted.blocked_detail.startswith(
            f"uv cannot reach {host}: the TLS certificate is not trusted"
        ), untrusted.blocked_detail

        allowed["SSL_CERT_FILE"] = str(ca.bundle)
        trusted = UvUpdater().apply(updater_context(project.root, project.home, allowed), bump)
        assert trusted.blocked is None, (trusted.blocked_detail, trusted.tool_output)
        assert project.versions("urllib3") == ["1.26.19"]
