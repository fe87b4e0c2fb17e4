"""The ecosystem registry: complete records, file lookups, and the fixtures against the real advisories."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

import pytest

from agentd import versions
from agentd.ecosystems import (
    ECOSYSTEMS,
    PROFILE_ECOSYSTEMS,
    UNSUPPORTED_ECOSYSTEMS,
    Dependency,
    DepfileError,
    Ecosystem,
    VersionScheme,
    branch_slug,
    by_name,
    file_kind,
    for_alert_ecosystem,
    for_file,
    is_dependency_file,
    is_lockfile,
    normalize_name,
    parse_dependency_file,
    updater_for,
)
from agentd.ecosystems.cargo.updater import CargoUpdater
from agentd.ecosystems.gomod.updater import GoModUpdater
from agentd.ecosystems.npm.updater import NpmUpdater
from agentd.ecosystems.pip.updater import PipUpdater
from agentd.ecosystems.uv.updater import UvUpdater
from agentd.osv import DEFAULT_ADVISORY_DIR, advisories_for, load_advisories
from agentd.profile import ProfileEcosystem
from agentd.versions import VersionRange, parse_version
from ecosystems.samples import dependency_file_samples

SAMPLES = dependency_file_samples()
# Dependabot's package-manager segments of `dependabot/<segment>/...` head branches.
DEPENDABOT_SLUGS = {"pip", "npm_and_yarn", "cargo", "go_modules", "bundler", "composer", "maven"}
# The smallest file of every dependency-file kind, and one (name, version) it pins.
MINIMAL: dict[str, tuple[bytes, tuple[str, str]]] = {
    "requirements-dev.txt": (b"requests==2.25.0\n", ("requests", "2.25.0")),
    "package-lock.json": (
        b'{"lockfileVersion": 3, "packages": {"node_modules/lodash": {"version": "4.17.15"}}}',
        ("lodash", "4.17.15"),
    ),
    "npm-shrinkwrap.json": (
        b'{"lockfileVersion": 3, "packages": {"node_modules/lodash": {"version": "4.17.15"}}}',
        ("lodash", "4.17.15"),
    ),
    "pnpm-lock.yaml": (
        b"lockfileVersion: '9.0'\npackages:\n  lodash@4.17.15:\n    resolution: {integrity: x}\n",
        ("lodash", "4.17.15"),
    ),
    "yarn.lock": (b'lodash@^4.17.0:\n  version "4.17.15"\n', ("lodash", "4.17.15")),
    "uv.lock": (
        b'version = 1\n[[package]]\nname = "urllib3"\nversion = "1.26.5"\n'
        b'source = { registry = "https://pypi.org/simple" }\n',
        ("urllib3", "1.26.5"),
    ),
    "poetry.lock": (b'[[package]]\nname = "jinja2"\nversion = "3.1.2"\n', ("jinja2", "3.1.2")),
    "Cargo.lock": (
        b'version = 3\n[[package]]\nname = "smallvec"\nversion = "1.6.0"\n'
        b'source = "registry+https://github.com/rust-lang/crates.io-index"\n',
        ("smallvec", "1.6.0"),
    ),
    "go.mod": (b"module x\n\nrequire golang.org/x/net v0.17.0\n", ("golang.org/x/net", "v0.17.0")),
}
NAMES = [e.name for e in ECOSYSTEMS]


# --- the records ------------------------------------------------------------------------------


@pytest.mark.parametrize("ecosystem", ECOSYSTEMS, ids=NAMES)
def test_every_record_is_complete(ecosystem: Ecosystem) -> None:
    assert ecosystem.updater.name == ecosystem.name
    assert ecosystem.alert_ecosystem in versions.SUPPORTED_ECOSYSTEMS
    assert ecosystem.version_scheme in get_args(VersionScheme)
    assert ecosystem.dependabot_branch_slug in DEPENDABOT_SLUGS
    assert branch_slug(ecosystem.alert_ecosystem) == ecosystem.dependabot_branch_slug
    assert ecosystem.dependency_files
    assert by_name(ecosystem.name) is ecosystem


@pytest.mark.parametrize("ecosystem", ECOSYSTEMS, ids=NAMES)
def test_the_version_scheme_is_the_one_agentd_versions_orders_by(ecosystem: Ecosystem) -> None:
    schemes = {"pep440": versions.PEP440_ECOSYSTEMS, "semver": versions.SEMVER_ECOSYSTEMS}
    assert ecosystem.alert_ecosystem in schemes[ecosystem.version_scheme]


@pytest.mark.parametrize("ecosystem", ECOSYSTEMS, ids=NAMES)
def test_the_parser_reads_a_minimal_file_of_each_kind(ecosystem: Ecosystem) -> None:
    names = [name for name in MINIMAL if ecosystem.reads(name)]
    assert len(names) == len(ecosystem.dependency_files), "add a MINIMAL file of each kind"
    for name in names:
        content, pinned = MINIMAL[name]
        path = f"sub/{name}"
        for parsed in (ecosystem.parse(path, content), parse_dependency_file(path, content)):
            assert pinned in {(d.name, d.version) for d in parsed}
            assert {(d.ecosystem, d.manifest_path) for d in parsed} == {
                (ecosystem.alert_ecosystem, path)
            }


def test_names_are_unique_and_every_file_has_one_reader() -> None:
    names = [e.name for e in ECOSYSTEMS]
    assert len(set(names)) == len(names)
    assert not set(names) & set(UNSUPPORTED_ECOSYSTEMS)
    for name in MINIMAL:
        assert [e for e in ECOSYSTEMS if e.reads(name)] == [for_file(f"a/{name}")], name


def test_ecosystems_of_one_alert_ecosystem_share_its_branch_slug() -> None:
    assert {e.alert_ecosystem: branch_slug(e.alert_ecosystem) for e in ECOSYSTEMS} == {
        "pip": "pip",
        "npm": "npm_and_yarn",
        "rust": "cargo",
        "go": "go_modules",
    }
    for ecosystem in ECOSYSTEMS:
        assert ecosystem in for_alert_ecosystem(ecosystem.alert_ecosystem)
    assert [e.name for e in for_alert_ecosystem("npm")] == ["npm", "pnpm", "yarn"]
    assert branch_slug("maven") is None
    assert for_alert_ecosystem("maven") == ()


# --- profile names ----------------------------------------------------------------------------


def test_the_profile_literal_lists_exactly_the_registry_names() -> None:
    assert sorted(get_args(ProfileEcosystem)) == sorted(PROFILE_ECOSYSTEMS)


def test_every_profile_name_maps_to_an_alert_ecosystem() -> None:
    for name, alert_ecosystem in PROFILE_ECOSYSTEMS.items():
        ecosystem = by_name(name)
        if ecosystem is None:
            assert UNSUPPORTED_ECOSYSTEMS[name] == alert_ecosystem
        else:
            assert ecosystem.alert_ecosystem == alert_ecosystem
    assert PROFILE_ECOSYSTEMS["uv"] == "pip"
    assert PROFILE_ECOSYSTEMS["gradle"] == "maven"
    assert PROFILE_ECOSYSTEMS["hex"] == "erlang"


# --- lookups ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ecosystems", "alert_ecosystem", "path", "expected"),
    [
        (["pip"], "pip", "deploy/requirements-prod.txt", PipUpdater),
        (["pip", "uv"], "pip", "svc/uv.lock", UvUpdater),  # the one that reads the file
        (["uv"], "pip", "requirements.txt", None),
        (["npm"], "npm", "npm-shrinkwrap.json", NpmUpdater),
        (["npm"], "npm", "ui/yarn.lock", None),
        (["npm"], "pip", "package-lock.json", None),  # the alert's ecosystem must match
        (["cargo"], "rust", "svc/Cargo.lock", CargoUpdater),
        (["cargo"], "rust", "Cargo.toml", None),
        (["go"], "go", "svc/go.mod", GoModUpdater),
        (["go"], "go", "go.sum", None),
        (["maven"], "maven", "pom.xml", None),  # accepted by profiles, no updater
        ([], "npm", "package-lock.json", None),
    ],
)
def test_updater_for(
    ecosystems: list[str], alert_ecosystem: str, path: str, expected: type | None
) -> None:
    updater = updater_for(ecosystems, alert_ecosystem, path)
    if expected is None:
        assert updater is None
    else:
        assert isinstance(updater, expected)


@pytest.mark.parametrize(
    ("path", "lockfile"),
    [
        ("ui/package-lock.json", True),
        ("npm-shrinkwrap.json", True),
        ("yarn.lock", True),
        ("pnpm-lock.yaml", True),
        ("uv.lock", True),
        ("svc/poetry.lock", True),
        ("Cargo.lock", True),
        ("requirements.txt", True),  # agentd reads and edits only fully pinned ones
        ("deploy/requirements-prod.txt", True),
        ("package.json", False),
        ("pyproject.toml", False),
        ("Cargo.toml", False),
        ("go.mod", False),  # parsed for versions, and the manifest all the same
        ("go.sum", False),
        ("pnpm-workspace.yaml", False),
        ("README.md", False),
    ],
)
def test_is_lockfile(path: str, lockfile: bool) -> None:
    assert is_lockfile(path) is lockfile


@pytest.mark.parametrize("path", ["package.json", "pyproject.toml", "Cargo.toml", "go.mod"])
def test_manifests_are_declared(path: str) -> None:
    assert any(path in e.manifests for e in ECOSYSTEMS)


@pytest.mark.parametrize(
    ("path", "kind", "alert_ecosystem"),
    [
        ("requirements.txt", "pip", "pip"),
        ("deploy/requirements-prod.txt", "pip", "pip"),
        ("requirements/requirements_test.txt", "pip", "pip"),
        ("ui/package-lock.json", "npm", "npm"),
        ("npm-shrinkwrap.json", "npm", "npm"),
        ("pnpm-lock.yaml", "pnpm", "npm"),
        ("a/b/yarn.lock", "yarn", "npm"),
        ("uv.lock", "uv", "pip"),
        ("svc/poetry.lock", "poetry", "pip"),
        ("Cargo.lock", "cargo", "rust"),
        ("cmd/tool/go.mod", "go", "go"),
    ],
)
def test_file_kinds(path: str, kind: str, alert_ecosystem: str) -> None:
    assert file_kind(path) == kind
    ecosystem = for_file(path)
    assert ecosystem is not None
    assert ecosystem.alert_ecosystem == alert_ecosystem
    assert is_dependency_file(path)


@pytest.mark.parametrize(
    "path",
    ["go.sum", "package.json", "requirements.in", "dev-requirements.txt", "requirements.txt.bak",
     "cargo.lock", "Pipfile.lock", "pnpm-lock.yml", "yarn.lock/README", "README.md", ""],
)  # fmt: skip
def test_other_files(path: str) -> None:
    assert file_kind(path) is None
    assert for_file(path) is None
    assert not is_dependency_file(path)
    with pytest.raises(DepfileError):
        parse_dependency_file(path, b"")


def test_normalize_name() -> None:
    assert normalize_name("pip", "Jinja2") == normalize_name("pip", "jinja2") == "jinja2"
    assert normalize_name("pip", "Foo__Bar.baz") == "foo-bar-baz"
    assert normalize_name("npm", "@Scope/Pkg") == "@Scope/Pkg"
    assert normalize_name("go", "github.com/Foo/Bar") == "github.com/Foo/Bar"


def test_content_must_be_bytes() -> None:
    with pytest.raises(DepfileError):
        parse_dependency_file("go.mod", "module x\n")  # type: ignore[arg-type]


# --- the fixtures -----------------------------------------------------------------------------


@pytest.mark.parametrize("relative", SAMPLES)
def test_every_fixture_dependency_is_well_formed(
    relative: str, parse_fixture: Callable[[str], list[Dependency]]
) -> None:
    dependencies = parse_fixture(relative)
    assert dependencies, relative
    ecosystem = for_file(relative)
    assert ecosystem is not None
    for dependency in dependencies:
        assert dependency.ecosystem == ecosystem.alert_ecosystem
        assert dependency.manifest_path == relative
        assert dependency.relationship in ("direct", "transitive", "unknown")
        assert dependency.scope in ("runtime", "development", None)
        parse_version(dependency.ecosystem, dependency.version)  # every version orders
    assert len(set(dependencies)) == len(dependencies)


def test_fixtures_against_the_real_advisories(
    parse_fixture: Callable[[str], list[Dependency]],
) -> None:
    advisories = load_advisories(DEFAULT_ADVISORY_DIR)
    found = set()
    for relative in SAMPLES:
        for dependency in parse_fixture(relative):
            for advisory, vulnerability in advisories_for(
                advisories, dependency.ecosystem, dependency.name
            ):
                vulnerable = VersionRange.parse(
                    dependency.ecosystem, vulnerability.vulnerable_version_range
                )
                if vulnerable.contains(dependency.version):
                    found.add((relative, dependency.name, dependency.version, advisory.ghsa_id))
    by_file = {(relative, name) for relative, name, _, _ in found}
    assert ("pip/fixtures/requirements.txt", "requests") in by_file
    assert ("uv/fixtures/uv.lock", "urllib3") in by_file
    assert ("poetry/fixtures/2/poetry.lock", "jinja2") in by_file
    assert ("npm/fixtures/v3/package-lock.json", "semver") in by_file  # transitive, runtime
    assert ("pnpm/fixtures/v9/pnpm-lock.yaml", "semver") in by_file  # through an npm alias
    assert ("yarn/fixtures/berry/yarn.lock", "micromatch") in by_file
    assert ("pip/fixtures/requirements-dev.txt", "ecdsa") in by_file  # no patched version exists
    assert (
        "npm/fixtures/v3/package-lock.json",
        "lodash",
        "4.17.21",
        "GHSA-35jh-r3h4-6jhm",
    ) not in found
    requests = {
        ghsa
        for relative, name, _, ghsa in found
        if (relative, name) == ("pip/fixtures/requirements.txt", "requests")
    }
    assert requests == {"GHSA-j8r2-6x86-q33q", "GHSA-9wx4-h78v-vm56", "GHSA-9hjg-9r4m-mvj7"}
