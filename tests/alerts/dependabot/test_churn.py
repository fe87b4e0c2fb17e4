"""The churn check over synthetic dependency files: an update changes only what its fixes
require (issue 15, cause 8).

Each case builds one dependency file before and after an update and asks which changed
packages no bump, no moved parent and nothing they depend on explains.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from agentd.alerts.dependabot import churn
from agentd.alerts.dependabot.plan import PackageKey, PackagePlan, UnitPlan
from agentd.ecosystems import PackageBump, UpdateResult, by_name
from agentd.profile import Target

Spec = dict[str, tuple[str, dict[str, str]]]  # name (or nested location) → (version, deps)


def drifts(path: str, before: str | bytes, after: str | bytes, wanted: list[str]) -> list[str]:
    old = before.encode() if isinstance(before, str) else before
    new = after.encode() if isinstance(after, str) else after
    found = churn.unrequired_changes([path], {path: old}.get, {path: new}.get, wanted)
    return [d.describe() for d in found]


# --- npm -----------------------------------------------------------------------------------


def npm_lock(spec: Spec, root_deps: dict[str, str] | None = None) -> str:
    packages: dict[str, Any] = {
        "": {"name": "app", "version": "1.0.0", "dependencies": root_deps or {}}
    }
    for location, (version, deps) in spec.items():
        key = location if "node_modules/" in location else f"node_modules/{location}"
        packages[key] = {"version": version, "dependencies": deps}
    return json.dumps({"name": "app", "lockfileVersion": 3, "packages": packages})


BASE: Spec = {
    "express": ("4.17.1", {"cookie": "0.4.0", "send": "0.17.1"}),
    "cookie": ("0.4.0", {}),
    "send": ("0.17.1", {"ms": "2.1.1", "old-child": "^1.0.0"}),
    "old-child": ("1.0.0", {}),
    "ms": ("2.1.1", {}),
    "braces": ("3.0.2", {"fill-range": "^7.0.1"}),
    "fill-range": ("7.0.1", {}),
    "lodash": ("4.17.15", {}),
}


def test_a_bump_and_what_it_depends_on_may_change() -> None:
    after = {**BASE, "braces": ("3.0.3", {"fill-range": "^7.1.1"}), "fill-range": ("7.1.1", {})}
    assert drifts("package-lock.json", npm_lock(BASE), npm_lock(after), ["braces"]) == []


def test_an_unrelated_package_that_moved_is_churn() -> None:
    after = {**BASE, "braces": ("3.0.3", {"fill-range": "^7.0.1"}), "lodash": ("4.17.21", {})}
    assert drifts("package-lock.json", npm_lock(BASE), npm_lock(after), ["braces"]) == [
        "lodash 4.17.15 → 4.17.21"
    ]


def test_a_parent_moved_on_purpose_brings_its_dependencies_along() -> None:
    after = {
        **BASE,
        "express": ("4.21.0", {"cookie": "0.7.1", "send": "0.19.0"}),
        "cookie": ("0.7.1", {}),
        "send": ("0.19.0", {"ms": "2.1.3", "encodeurl": "~2.0.0"}),
        "ms": ("2.1.3", {}),
        "encodeurl": ("2.0.0", {}),
    }
    del after["old-child"]  # only the old `send` needed it: reachable in the base's graph
    before, now = npm_lock(BASE), npm_lock(after)
    assert drifts("package-lock.json", before, now, ["cookie", "express"]) == []
    # Without the updater naming express as moved, its move is churn.
    assert drifts("package-lock.json", before, now, ["cookie"]) == [
        "encodeurl 2.0.0 (added)",
        "express 4.17.1 → 4.21.0",
        "ms 2.1.1 → 2.1.3",
        "old-child 1.0.0 (removed)",
        "send 0.17.1 → 0.19.0",
    ]


def test_unrelated_additions_and_removals_are_churn() -> None:
    after = {**BASE, "braces": ("3.0.3", {"fill-range": "^7.0.1"}), "left-pad": ("1.3.0", {})}
    del after["lodash"]
    assert drifts("package-lock.json", npm_lock(BASE), npm_lock(after), ["braces"]) == [
        "left-pad 1.3.0 (added)",
        "lodash 4.17.15 (removed)",
    ]


def test_only_the_copies_that_changed_are_named() -> None:
    before = {**BASE, "send/node_modules/ms": ("2.0.0", {}), "semver": ("7.5.1", {})}
    after = {**before, "semver": ("7.5.4", {})}
    del after["send/node_modules/ms"]
    assert drifts("package-lock.json", npm_lock(before), npm_lock(after), ["semver"]) == [
        "ms 2.0.0 (removed)"
    ]


def test_an_alias_counts_as_its_real_package() -> None:
    spec: Spec = {
        "wrapper": ("1.0.0", {"my-lodash": "npm:lodash@^4.17.0"}),
        "my-lodash": ("4.17.15", {}),
    }
    lock = json.loads(npm_lock(spec))
    lock["packages"]["node_modules/my-lodash"]["name"] = "lodash"
    after = json.loads(json.dumps(lock))
    after["packages"]["node_modules/wrapper"]["version"] = "1.1.0"
    after["packages"]["node_modules/my-lodash"]["version"] = "4.17.21"
    assert drifts("package-lock.json", json.dumps(lock), json.dumps(after), ["wrapper"]) == []


def test_npm_lockfile_v1_reads_requires() -> None:
    def v1(braces: str, lodash: str) -> str:
        dependencies = {
            "braces": {"version": braces, "requires": {"fill-range": "^7.0.1"}},
            "fill-range": {"version": "7.1.1" if braces == "3.0.3" else "7.0.1"},
            "lodash": {"version": lodash},
        }
        return json.dumps({"lockfileVersion": 1, "dependencies": dependencies})

    assert (
        drifts("package-lock.json", v1("3.0.2", "4.17.15"), v1("3.0.3", "4.17.15"), ["braces"])
        == []
    )
    assert drifts(
        "package-lock.json", v1("3.0.2", "4.17.15"), v1("3.0.3", "4.17.21"), ["braces"]
    ) == ["lodash 4.17.15 → 4.17.21"]


# --- yarn ----------------------------------------------------------------------------------


def yarn_classic(braces: str, fill_range: str, lodash: str) -> str:
    return f"""# yarn lockfile v1


braces@^3.0.2:
  version "{braces}"
  resolved "https://registry.yarnpkg.com/braces/-/braces-{braces}.tgz"
  dependencies:
    fill-range "^7.0.1"

fill-range@^7.0.1:
  version "{fill_range}"

"lodash@^4.17.15":
  version "{lodash}"
"""


def test_yarn_classic() -> None:
    before = yarn_classic("3.0.2", "7.0.1", "4.17.15")
    assert drifts("yarn.lock", before, yarn_classic("3.0.3", "7.1.1", "4.17.15"), ["braces"]) == []
    assert drifts("yarn.lock", before, yarn_classic("3.0.3", "7.1.1", "4.17.21"), ["braces"]) == [
        "lodash 4.17.15 → 4.17.21"
    ]


def yarn_berry(braces: str, fill_range: str, lodash: str) -> str:
    return f"""__metadata:
  version: 8
  cacheKey: 10c0

"app@workspace:.":
  version: 0.0.0-use.local
  resolution: "app@workspace:."
  dependencies:
    braces: "npm:^3.0.2"
    lodash: "npm:^4.17.15"
  languageName: unknown
  linkType: soft

"braces@npm:^3.0.2":
  version: {braces}
  resolution: "braces@npm:{braces}"
  dependencies:
    fill-range: "npm:^7.0.1"
  languageName: node
  linkType: hard

"fill-range@npm:^7.0.1":
  version: {fill_range}
  resolution: "fill-range@npm:{fill_range}"
  languageName: node
  linkType: hard

"lodash@npm:^4.17.15":
  version: {lodash}
  resolution: "lodash@npm:{lodash}"
  languageName: node
  linkType: hard
"""


def test_yarn_berry() -> None:
    before = yarn_berry("3.0.2", "7.0.1", "4.17.15")
    assert drifts("yarn.lock", before, yarn_berry("3.0.3", "7.1.1", "4.17.15"), ["braces"]) == []
    assert drifts("yarn.lock", before, yarn_berry("3.0.3", "7.1.1", "4.17.21"), ["braces"]) == [
        "lodash 4.17.15 → 4.17.21"
    ]


# --- pnpm ----------------------------------------------------------------------------------


def pnpm(version: str, braces: str, fill_range: str, lodash: str) -> str:
    if version == "5.4":
        return f"""lockfileVersion: 5.4
dependencies:
  braces: {braces}
  lodash: {lodash}
packages:
  /braces/{braces}:
    dependencies:
      fill-range: {fill_range}
  /fill-range/{fill_range}:
    dev: false
  /lodash/{lodash}:
    dev: false
"""
    if version == "6.0":
        return f"""lockfileVersion: '6.0'
dependencies:
  braces:
    specifier: ^3.0.2
    version: {braces}
  lodash:
    specifier: ^4.17.15
    version: {lodash}
packages:
  /braces@{braces}:
    dependencies:
      fill-range: {fill_range}
  /fill-range@{fill_range}:
    dev: false
  /lodash@{lodash}:
    dev: false
"""
    return f"""lockfileVersion: '9.0'
importers:
  .:
    dependencies:
      braces:
        specifier: ^3.0.2
        version: {braces}
      lodash:
        specifier: ^4.17.15
        version: {lodash}
packages:
  braces@{braces}:
    resolution: {{integrity: sha512-x}}
  fill-range@{fill_range}:
    resolution: {{integrity: sha512-y}}
  lodash@{lodash}:
    resolution: {{integrity: sha512-z}}
snapshots:
  braces@{braces}:
    dependencies:
      fill-range: {fill_range}
  fill-range@{fill_range}: {{}}
  lodash@{lodash}: {{}}
"""


@pytest.mark.parametrize("version", ["5.4", "6.0", "9.0"])
def test_pnpm(version: str) -> None:
    before = pnpm(version, "3.0.2", "7.0.1", "4.17.15")
    fixed = pnpm(version, "3.0.3", "7.1.1", "4.17.15")
    churned = pnpm(version, "3.0.3", "7.1.1", "4.17.21")
    assert drifts("pnpm-lock.yaml", before, fixed, ["braces"]) == []
    assert drifts("pnpm-lock.yaml", before, churned, ["braces"]) == ["lodash 4.17.15 → 4.17.21"]


# --- Python --------------------------------------------------------------------------------


def poetry(jinja2: str, markupsafe: str, click: str) -> str:
    return f"""[[package]]
name = "jinja2"
version = "{jinja2}"

[package.dependencies]
MarkupSafe = ">=2.0"

[[package]]
name = "markupsafe"
version = "{markupsafe}"

[[package]]
name = "click"
version = "{click}"
"""


def test_poetry_normalizes_names() -> None:
    before = poetry("3.1.2", "2.1.3", "8.1.3")
    assert drifts("poetry.lock", before, poetry("3.1.6", "2.1.5", "8.1.3"), ["Jinja2"]) == []
    assert drifts("poetry.lock", before, poetry("3.1.6", "2.1.5", "8.1.7"), ["Jinja2"]) == [
        "click 8.1.3 → 8.1.7"
    ]


def uv(jinja2: str, markupsafe: str, click: str) -> str:
    return f"""version = 1

[[package]]
name = "app"
version = "0.1.0"
source = {{ editable = "." }}
dependencies = [{{ name = "click" }}, {{ name = "jinja2" }}]

[[package]]
name = "click"
version = "{click}"
source = {{ registry = "https://pypi.org/simple" }}

[[package]]
name = "jinja2"
version = "{jinja2}"
source = {{ registry = "https://pypi.org/simple" }}
dependencies = [{{ name = "markupsafe" }}]

[[package]]
name = "markupsafe"
version = "{markupsafe}"
source = {{ registry = "https://pypi.org/simple" }}
"""


def test_uv() -> None:
    before = uv("3.1.2", "2.1.3", "8.1.3")
    assert drifts("uv.lock", before, uv("3.1.6", "2.1.5", "8.1.3"), ["jinja2"]) == []
    assert drifts("uv.lock", before, uv("3.1.6", "2.1.5", "8.1.7"), ["jinja2"]) == [
        "click 8.1.3 → 8.1.7"
    ]


COMPILED = """#
# This file is autogenerated by pip-compile with Python 3.11
#
#    pip-compile --generate-hashes requirements.in
#
certifi=={certifi} \\
    --hash=sha256:aaa
    # via requests
idna=={idna}
    # via
    #   requests
    #   yarl
jinja2=={jinja2}
    # via -r requirements.in
requests=={requests}
    # via -r requirements.in
yarl==1.9.4  # via -r requirements.in
"""


def compiled(requests: str, idna: str, jinja2: str, certifi: str = "2024.8.30") -> str:
    return COMPILED.format(requests=requests, idna=idna, jinja2=jinja2, certifi=certifi)


def test_pip_compile_annotations_are_the_graph() -> None:
    before = compiled("2.25.0", "2.10", "3.1.2")
    fixed = compiled("2.32.4", "3.7", "3.1.2").replace(
        "jinja2==", "charset-normalizer==3.4.0\n    # via requests\njinja2=="
    )
    assert drifts("requirements.txt", before, fixed, ["requests"]) == []
    assert drifts("requirements.txt", before, compiled("2.32.4", "3.7", "3.1.6"), ["requests"]) == [
        "jinja2 3.1.2 → 3.1.6"
    ]
    # a new direct requirement is no transitive dependency of the fix
    added = compiled("2.32.4", "2.10", "3.1.2") + "flask==3.0.0\n    # via -r requirements.in\n"
    assert drifts("requirements.txt", before, added, ["requests"]) == ["flask 3.0.0 (added)"]


def test_a_plain_requirements_file_lets_only_the_bumped_pins_move() -> None:
    before = "requests==2.25.0\nidna==2.10\nJinja2==3.1.2\n"
    fixed = "requests==2.32.4\ncharset-normalizer==3.4.0\nidna==2.10\nJinja2==3.1.2\n"
    assert drifts("requirements.txt", before, fixed, ["requests", "jinja2"]) == []
    churned = "requests==2.32.4\nidna==3.7\njinja2==3.1.2\n"
    assert drifts("requirements.txt", before, churned, ["Requests"]) == ["idna 2.10 → 3.7"]


def cargo(regex: str, syntax: str, memchr: str) -> str:
    return f"""version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["memchr", "regex"]

[[package]]
name = "memchr"
version = "{memchr}"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "regex"
version = "{regex}"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = ["regex-syntax 0.8.4"]

[[package]]
name = "regex-syntax"
version = "{syntax}"
source = "registry+https://github.com/rust-lang/crates.io-index"
"""


def test_cargo() -> None:
    before = cargo("1.5.4", "0.6.25", "2.5.0")
    assert drifts("Cargo.lock", before, cargo("1.5.5", "0.6.29", "2.5.0"), ["regex"]) == []
    assert drifts("Cargo.lock", before, cargo("1.5.5", "0.6.29", "2.7.4"), ["regex"]) == [
        "memchr 2.5.0 → 2.7.4"
    ]


# --- Go ------------------------------------------------------------------------------------


def gomod(direct: dict[str, str], indirect: dict[str, str]) -> str:
    lines = ["module example.com/app", "", "go 1.21", "", "require ("]
    lines += [f"\t{m} {v}" for m, v in direct.items()]
    lines += [f"\t{m} {v} // indirect" for m, v in indirect.items()]
    return "\n".join([*lines, ")", ""])


GO_DIRECT = {"golang.org/x/net": "v0.17.0", "github.com/gin-gonic/gin": "v1.9.1"}
GO_INDIRECT = {"golang.org/x/text": "v0.13.0", "golang.org/x/sys": "v0.13.0"}


def test_go_minimum_version_selection_raises_and_tidies() -> None:
    before = gomod(GO_DIRECT, GO_INDIRECT)
    bumped = {**GO_DIRECT, "golang.org/x/net": "v0.23.0"}
    raised = gomod(bumped, {"golang.org/x/text": "v0.14.0", "golang.org/x/crypto": "v0.21.0"})
    assert drifts("go.mod", before, raised, ["golang.org/x/net"]) == []  # sys dropped by tidy


def test_go_lowered_versions_and_dropped_direct_requirements_are_churn() -> None:
    before = gomod(GO_DIRECT, GO_INDIRECT)
    lowered = gomod(
        {"golang.org/x/net": "v0.23.0"}, {**GO_INDIRECT, "golang.org/x/text": "v0.12.0"}
    )
    assert drifts("go.mod", before, lowered, ["golang.org/x/net"]) == [
        "github.com/gin-gonic/gin v1.9.1 (removed)",
        "golang.org/x/text v0.13.0 → v0.12.0",
    ]


# --- what is compared, and how it reads -------------------------------------------------


def test_files_without_two_sides_or_unread_by_agentd_are_not_compared() -> None:
    lock = npm_lock(BASE).encode()
    other = npm_lock({**BASE, "lodash": ("4.17.21", {})}).encode()
    before = {"package.json": b"{}", "gone/package-lock.json": lock, "same/package-lock.json": lock}
    after = {
        "package.json": b'{"x": 1}',
        "new/package-lock.json": other,
        "same/package-lock.json": lock,
    }
    files = [*before, *after]
    assert churn.unrequired_changes(files, before.get, after.get, []) == []


def test_the_detail_names_at_most_ten_and_every_file_when_several() -> None:
    before = npm_lock({f"p{i}": ("1.0.0", {}) for i in range(12)}).encode()
    after = npm_lock({f"p{i}": ("2.0.0", {}) for i in range(12)}).encode()
    lock = "package-lock.json"
    found = churn.unrequired_changes([lock], {lock: before}.get, {lock: after}.get, [])
    text = churn.describe(found)
    assert text.startswith("the update also changed p0 1.0.0 → 2.0.0, p1 1.0.0 → 2.0.0")
    assert text.endswith("and 2 more in package-lock.json, which no fix requires")
    assert text.count("→") == 10

    npm_after = npm_lock({**BASE, "lodash": ("4.17.21", {})})
    yarn_before = yarn_classic("3.0.2", "7.0.1", "4.17.15")
    two = {
        "a/package-lock.json": (npm_lock(BASE), npm_after),
        "b/yarn.lock": (yarn_before, yarn_classic("3.0.2", "7.0.1", "4.17.20")),
    }
    text = (
        churn.problem(two, lambda p: two[p][0].encode(), lambda p: two[p][1].encode(), ["braces"])
        or ""
    )
    assert text == (
        "the update also changed lodash 4.17.15 → 4.17.21 in a/package-lock.json, "
        "lodash 4.17.15 → 4.17.20 in b/yarn.lock, which no fix requires"
    )


def test_an_unreadable_file_after_the_update_is_a_problem_not_a_crash() -> None:
    lock = "package-lock.json"
    before, after = {lock: npm_lock(BASE).encode()}, {lock: b"{not json"}
    text = churn.problem([lock], before.get, after.get, ["braces"])
    assert text is not None and text.startswith(
        "cannot compare the dependency files before and after the update: package-lock.json"
    )


def test_a_units_bumps_and_its_updaters_moved_parents_are_what_may_change() -> None:
    ecosystem = by_name("npm")
    bump = PackageBump("cookie", "package-lock.json", "0.4.0", "0.7.1", ("GHSA-pxg6-pf52-xh8x",))
    package = PackagePlan(PackageKey("npm", "cookie", "package-lock.json"), "cookie", [], [bump])
    plan = UnitPlan(Target(target_id="root"), [], [package], ecosystem)
    after = {**BASE, "express": ("4.21.0", {"cookie": "0.7.1"}), "cookie": ("0.7.1", {})}
    before_reader = {"package-lock.json": npm_lock(BASE).encode()}.get
    after_reader = {"package-lock.json": npm_lock(after).encode()}.get
    files = ["package-lock.json"]
    moved = UpdateResult(changed_files=files, moved=["express"])
    assert churn.of_update(plan, moved, files, before_reader, after_reader) is None
    # npm removes copies by updating their dependents in range: those may move unnamed...
    assert (
        churn.of_update(plan, UpdateResult(changed_files=files), files, before_reader, after_reader)
        is None
    )
    # ...but nothing unrelated to the vulnerable copy may
    lodash = {**after, "lodash": ("4.17.21", {})}
    drift = churn.of_update(
        plan, UpdateResult(changed_files=files), files, before_reader,
        {"package-lock.json": npm_lock(lodash).encode()}.get,
    )  # fmt: skip
    assert drift is not None and "lodash 4.17.15 → 4.17.21" in drift
    # an ecosystem that does not update parents must name what it moved
    assert ecosystem is not None
    plan.ecosystem = replace(ecosystem, parent_updates=False)
    alone = churn.of_update(
        plan, UpdateResult(changed_files=files), files, before_reader, after_reader
    )
    assert alone is not None and "express 4.17.1 → 4.21.0" in alone


def test_an_unreadable_base_file_is_a_problem_even_where_parents_may_move() -> None:
    """npm updates parents in range, so the base graph is read for them first; a base
    lockfile that does not parse is reported, not an internal error."""
    bump = PackageBump("cookie", "package-lock.json", "0.4.0", "0.7.1", ("GHSA-pxg6-pf52-xh8x",))
    package = PackagePlan(PackageKey("npm", "cookie", "package-lock.json"), "cookie", [], [bump])
    plan = UnitPlan(Target(target_id="root"), [], [package], by_name("npm"))
    lock = "package-lock.json"
    before, after = {lock: b"{not json"}, {lock: npm_lock(BASE).encode()}
    text = churn.of_update(plan, UpdateResult(changed_files=[lock]), [lock], before.get, after.get)
    assert text is not None and text.startswith("cannot compare the dependency files")
