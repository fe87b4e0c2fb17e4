"""The go updater against a file:// module proxy built here (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e import e2e
from support import require_tool

from agentd.ecosystems import PackageBump, parse_dependency_file, updater_for
from agentd.ecosystems.gomod.updater import GoModShape, GoModUpdater
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
from ecosystems.registries.goproxy import GoProxy, go_mod, go_source
from ecosystems.registries.npm import read_tree
from ecosystems.registries.osv import write_advisory
from ecosystems.registries.toolenv import (
    DIRECT,
    UNREACHABLE,
    offline_env,
    private_home,
    run,
    updater_context,
)

TEXT = "golang.org/x/text"
ADVISORY = "GHSA-69ch-w2m2-3vjp"
PRIVATE = "example.com,golang.org/x"  # test modules have no checksum-database entries


def proxy(root: Path) -> GoProxy:
    modules = GoProxy(root)
    modules.publish(TEXT, "v0.3.7")
    modules.publish("example.com/webkit", "v1.0.0", {TEXT: "v0.3.7"})
    return modules


def publish_fixes(modules: GoProxy) -> None:
    modules.publish(TEXT, "v0.3.8").publish(TEXT, "v0.3.9")


def module(directory: Path, modules: GoProxy, home: Path, imports: list[str]) -> Path:
    """A module importing `imports`, tidied against the proxy."""
    directory.mkdir(parents=True, exist_ok=True)
    requires = {"example.com/webkit": "v1.0.0"} if "example.com/webkit" in imports else {}
    if TEXT in imports:
        requires[TEXT] = "v0.3.7"
    (directory / "go.mod").write_text(go_mod("example.com/app", requires))
    (directory / "app.go").write_text(go_source("app", imports))
    run(["go", "mod", "tidy"], directory, offline_env(home, modules.env(PRIVATE)))
    return directory


def required(content: bytes, name: str = TEXT) -> list[str]:
    found = parse_dependency_file("go.mod", content)
    return sorted(d.version for d in found if d.name == name)


def _bump(new: str = "0.3.8") -> PackageBump:
    return PackageBump(TEXT, "go.mod", "v0.3.7", new, (ADVISORY,), "transitive")


@pytest.fixture
def modules(tmp_path: Path) -> GoProxy:
    require_tool("go")
    return proxy(tmp_path / "proxy")


def test_routing() -> None:
    assert isinstance(updater_for(["go"], "go", "svc/go.mod"), GoModUpdater)
    assert updater_for(["go"], "go", "go.sum") is None


def test_an_indirect_requirement_moves_without_a_manifest_change(
    tmp_path: Path, modules: GoProxy
) -> None:
    home = private_home(tmp_path)
    directory = module(tmp_path / "repo", modules, home, ["example.com/webkit"])
    publish_fixes(modules)

    result = GoModUpdater().apply(updater_context(directory, home, modules.env(PRIVATE)), [_bump()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.changed_files == ["go.mod", "go.sum"]
    assert result.manifest_files == []
    assert required((directory / "go.mod").read_bytes()) == ["v0.3.8"]  # not v0.3.9
    assert f"{TEXT} v0.3.8 h1:" in (directory / "go.sum").read_text()
    assert "// indirect" in (directory / "go.mod").read_text()


def test_a_direct_requirement_is_a_manifest_change(tmp_path: Path, modules: GoProxy) -> None:
    home = private_home(tmp_path)
    directory = module(tmp_path / "repo", modules, home, [TEXT])
    publish_fixes(modules)

    result = GoModUpdater().apply(updater_context(directory, home, modules.env(PRIVATE)), [_bump()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.manifest_files == ["go.mod"]
    assert required((directory / "go.mod").read_bytes()) == ["v0.3.8"]


def test_an_unavailable_version_is_refused_and_restored(tmp_path: Path, modules: GoProxy) -> None:
    home = private_home(tmp_path)
    directory = module(tmp_path / "repo", modules, home, ["example.com/webkit"])
    before = read_tree(directory)

    result = GoModUpdater().apply(updater_context(directory, home, modules.env(PRIVATE)), [_bump()])

    assert result.blocked is ReasonCode.VERIFICATION_FAILED
    assert "v0.3.8" in result.tool_output
    assert read_tree(directory) == before


def test_go_mod_shape_tells_indirect_moves_from_manifest_changes() -> None:
    before = GoModShape.parse(
        "module m\n\ngo 1.19\n\nrequire a v1.0.0\n\nrequire (\n\tb v1.0.0 // indirect\n)\n"
    )
    indirect = GoModShape.parse(
        "module m\n\ngo 1.19\n\nrequire a v1.0.0\n\nrequire (\n\tb v1.0.1 // indirect\n)\n"
    )
    direct = GoModShape.parse(
        "module m\n\ngo 1.19\n\nrequire a v1.0.1\n\nrequire b v1.0.0 // indirect\n"
    )
    toolchain = GoModShape.parse(
        "module m\n\ngo 1.21\n\nrequire a v1.0.0\nrequire b v1.0.0 // indirect\n"
    )
    assert not before.manifest_changed(indirect)
    assert before.manifest_changed(direct)
    assert before.manifest_changed(toolchain)


def test_e2e_indirect_merges_and_a_direct_bump_opens_a_pr(tmp_path: Path) -> None:
    require_tool("go")
    advisories = tmp_path / "advisories"
    write_advisory(
        advisories, ADVISORY, "Go", TEXT, [("0", "0.3.8")],
        "golang.org/x/text/language Denial of service via crafted Accept-Language header",
    )  # fmt: skip
    modules = proxy(tmp_path / "proxy")
    home = private_home(tmp_path)
    fixtures = {}
    for name, imports in {"app": ["example.com/webkit"], "direct": [TEXT]}.items():
        directory = module(tmp_path / "fixtures" / name, modules, home, imports)
        fixtures[name] = {p.name: p.read_text() for p in directory.iterdir() if p.is_file()}
    publish_fixes(modules)
    world = scenario(*(repo(n, f) for n, f in fixtures.items()), advisory_dirs=[advisories])
    with e2e(tmp_path, world, [{"repo": n, "targets": [target("go")]} for n in fixtures]) as env:
        configure(env, {"go": REVIEW_MANIFESTS_RULE}, modules.env(PRIVATE))
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        app = the_unit(env, summary, "app")
        assert app["outcome"] == "merged", explain(app)
        alerts = env.sim.admin.alerts("app", "dependabot")
        assert alerts and all(a["state"] == "fixed" for a in alerts)
        assert required(file_on_main(env, "app", "go.mod").encode()) == ["v0.3.8"]
        assert f"{TEXT} v0.3.8 h1:" in file_on_main(env, "app", "go.sum")
        direct = the_unit(env, summary, "direct")
        assert (direct["outcome"], direct["remaining_blocker"]) == (
            "opened_pr",
            "manifest_change_required",
        ), explain(direct)


@pytest.mark.parametrize("where", sorted(UNREACHABLE))
def test_an_unreachable_proxy_is_an_environment_problem(
    tmp_path: Path, modules: GoProxy, where: str
) -> None:
    """Issue 15, cause 7: `go get` with an unreachable proxy was `verification_failed`."""
    home = private_home(tmp_path)
    directory = module(tmp_path / "app", modules, home, ["example.com/webkit"])
    url, cause = UNREACHABLE[where]
    before = read_tree(directory)

    result = GoModUpdater().apply(
        updater_context(directory, home, {**modules.env(PRIVATE), "GOPROXY": url, **DIRECT}),
        [_bump()],
    )

    assert result.blocked is ReasonCode.VERIFICATION_UNAVAILABLE, result.blocked_detail
    assert result.blocked_detail.startswith(f"go {cause}"), result.blocked_detail
    assert read_tree(directory) == before
