"""The public interface of agentd.depfiles, and the fixtures against the real advisories."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agentd.depfiles import (
    Dependency,
    DepfileError,
    ecosystem_of_file,
    file_kind,
    is_dependency_file,
    normalize_name,
    parse_dependency_file,
)
from agentd.osv import DEFAULT_ADVISORY_DIR, advisories_for, load_advisories
from agentd.versions import VersionRange, parse_version

FIXTURES = Path(__file__).parent / "fixtures"
LOCKFILES = sorted(
    str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*") if p.is_file() and p.name != "go.sum"
)


@pytest.mark.parametrize(
    ("path", "kind", "ecosystem"),
    [
        ("requirements.txt", "requirements", "pip"),
        ("deploy/requirements-prod.txt", "requirements", "pip"),
        ("requirements/requirements_test.txt", "requirements", "pip"),
        ("ui/package-lock.json", "package-lock", "npm"),
        ("npm-shrinkwrap.json", "package-lock", "npm"),
        ("pnpm-lock.yaml", "pnpm-lock", "npm"),
        ("a/b/yarn.lock", "yarn-lock", "npm"),
        ("uv.lock", "uv-lock", "pip"),
        ("svc/poetry.lock", "poetry-lock", "pip"),
        ("Cargo.lock", "cargo-lock", "rust"),
        ("cmd/tool/go.mod", "go-mod", "go"),
    ],
)
def test_file_kinds(path: str, kind: str, ecosystem: str) -> None:
    assert file_kind(path) == kind
    assert ecosystem_of_file(path) == ecosystem
    assert is_dependency_file(path)


@pytest.mark.parametrize(
    "path",
    ["go.sum", "package.json", "requirements.in", "dev-requirements.txt", "requirements.txt.bak",
     "cargo.lock", "Pipfile.lock", "pnpm-lock.yml", "yarn.lock/README", "README.md", ""],
)  # fmt: skip
def test_other_files(path: str) -> None:
    assert file_kind(path) is None
    assert ecosystem_of_file(path) is None
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


@pytest.mark.parametrize("relative", LOCKFILES)
def test_every_fixture_dependency_is_well_formed(
    relative: str, parse_fixture: Callable[[str], list[Dependency]]
) -> None:
    dependencies = parse_fixture(relative)
    assert dependencies, relative
    ecosystem = ecosystem_of_file(relative)
    assert ecosystem is not None
    for dependency in dependencies:
        assert dependency.ecosystem == ecosystem
        assert dependency.manifest_path == relative
        assert dependency.relationship in ("direct", "transitive", "unknown")
        assert dependency.scope in ("runtime", "development", None)
        parse_version(ecosystem, dependency.version)  # every version orders in its ecosystem
    assert len(set(dependencies)) == len(dependencies)


def test_fixtures_against_the_real_advisories(
    parse_fixture: Callable[[str], list[Dependency]],
) -> None:
    advisories = load_advisories(DEFAULT_ADVISORY_DIR)
    found = set()
    for relative in LOCKFILES:
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
    assert ("requirements.txt", "requests") in by_file
    assert ("uv/uv.lock", "urllib3") in by_file
    assert ("poetry-2/poetry.lock", "jinja2") in by_file
    assert ("npm-v3/package-lock.json", "semver") in by_file  # transitive, runtime
    assert ("pnpm-v9/pnpm-lock.yaml", "semver") in by_file  # through an npm alias
    assert ("yarn-berry/yarn.lock", "micromatch") in by_file
    assert ("requirements-dev.txt", "ecdsa") in by_file  # no patched version exists
    assert ("npm-v3/package-lock.json", "lodash", "4.17.21", "GHSA-35jh-r3h4-6jhm") not in found
    requests = {
        ghsa
        for relative, name, _, ghsa in found
        if (relative, name) == ("requirements.txt", "requests")
    }
    assert requests == {"GHSA-j8r2-6x86-q33q", "GHSA-9wx4-h78v-vm56", "GHSA-9hjg-9r4m-mvj7"}
