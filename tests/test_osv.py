"""OSV advisories → GitHub Dependabot shapes, with the real advisory files."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from githubkit_schemas.v2022_11_28.models import DependabotAlertSecurityAdvisory
from hypothesis import given, settings
from hypothesis import strategies as st

from agentd.osv import (
    DEFAULT_ADVISORY_DIR,
    OSV_TO_GITHUB,
    AdvisoryError,
    advisories_for,
    cvss3_base_score,
    cvss3_score_or_zero,
    events_to_ranges,
    load_advisories,
    parse_advisory,
)
from agentd.versions import VersionRange

ADVISORIES = {a.ghsa_id: a for a in load_advisories(DEFAULT_ADVISORY_DIR)}
EXAMPLES = int(os.environ.get("AGENTD_FUZZ_EXAMPLES", "300"))


def osv(**overrides: Any) -> dict[str, Any]:
    """A minimal OSV advisory in the shape the GitHub Advisory Database writes."""
    data: dict[str, Any] = {
        "schema_version": "1.4.0",
        "id": "GHSA-2222-3333-4444",
        "modified": "2024-02-02T00:00:00Z",
        "published": "2024-01-01T00:00:00Z",
        "aliases": ["CVE-2024-0001"],
        "summary": "Something bad",
        "details": "Details.",
        "severity": [],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}
                ],
            }
        ],
        "references": [{"type": "WEB", "url": "https://example.com/a"}],
        "database_specific": {"cwe_ids": [], "severity": "HIGH", "github_reviewed": True},
    }
    data.update(overrides)
    return data


# --- loading the real files --------------------------------------------------------------


def test_every_bundled_advisory_loads() -> None:
    assert len(ADVISORIES) == 19
    assert all(a.ghsa_id.startswith("GHSA-") and a.vulnerabilities for a in ADVISORIES.values())
    requests = ADVISORIES["GHSA-j8r2-6x86-q33q"]
    assert requests.cve_id == "CVE-2023-32681"
    assert requests.severity == "medium"  # MODERATE
    assert requests.cwe_ids == ("CWE-200",)
    assert "→" in requests.description  # UTF-8 survives
    assert requests.published_at == "2023-05-22T20:36:32Z"
    assert requests.withdrawn_at is None
    assert ADVISORIES["GHSA-pxg6-pf52-xh8x"].severity == "low"
    assert ADVISORIES["GHSA-wj6h-64fc-37mp"].severity == "high"


def test_non_advisory_files_are_skipped(tmp_path: Path) -> None:
    shutil.copy(DEFAULT_ADVISORY_DIR / "GHSA-9hjg-9r4m-mvj7.json", tmp_path)
    (tmp_path / "INDEX.md").write_text("# index\n")
    (tmp_path / "notes.json").write_text("not json at all")
    nested = tmp_path / "github-reviewed" / "2024" / "05"
    nested.mkdir(parents=True)
    shutil.copy(DEFAULT_ADVISORY_DIR / "GHSA-9wx4-h78v-vm56.json", nested)
    loaded = load_advisories(tmp_path)
    assert [a.ghsa_id for a in loaded] == ["GHSA-9hjg-9r4m-mvj7", "GHSA-9wx4-h78v-vm56"]


@pytest.mark.parametrize(
    "content",
    [
        "{ not json",
        "[1, 2]",
        '"just a string"',
        json.dumps(osv(affected="nope")),
        json.dumps(osv(affected=[{"package": {"ecosystem": "npm", "name": 7}}])),
        json.dumps(osv(id=None)),
        json.dumps(osv(references=[{"url": ["x"]}])),
        json.dumps(osv(aliases="CVE-1")),
    ],
)
def test_malformed_files_name_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "GHSA-bad0-bad0-bad0.json"
    path.write_text(content)
    with pytest.raises(AdvisoryError, match=r"GHSA-bad0-bad0-bad0\.json"):
        load_advisories(tmp_path)


def test_undecodable_file_and_missing_directory(tmp_path: Path) -> None:
    (tmp_path / "GHSA-bad1-bad1-bad1.json").write_bytes(b'{"id": "\xff"}')
    with pytest.raises(AdvisoryError, match="GHSA-bad1"):
        load_advisories(tmp_path)
    with pytest.raises(AdvisoryError, match="does not exist"):
        load_advisories(tmp_path / "absent")


# --- ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([{"introduced": "0"}, {"fixed": "2.32.4"}], [("< 2.32.4", "2.32.4")]),
        ([{"introduced": "2.3.0"}, {"fixed": "2.31.0"}], [(">= 2.3.0, < 2.31.0", "2.31.0")]),
        ([{"introduced": "0"}, {"last_affected": "0.18.0"}], [("<= 0.18.0", None)]),
        ([{"introduced": "1.0"}, {"last_affected": "1.4"}], [(">= 1.0, <= 1.4", None)]),
        ([{"introduced": "3.1.0"}], [(">= 3.1.0", None)]),
        ([{"introduced": "0"}], [(">= 0", None)]),
        (
            [
                {"introduced": "0"},
                {"fixed": "1.26.17"},
                {"introduced": "2.0.0"},
                {"fixed": "2.0.6"},
            ],
            [("< 1.26.17", "1.26.17"), (">= 2.0.0, < 2.0.6", "2.0.6")],
        ),
        (
            [{"introduced": "1.0"}, {"introduced": "2.0"}, {"fixed": "2.1"}],
            [(">= 1.0", None), (">= 2.0, < 2.1", "2.1")],
        ),
        ([{"fixed": "1.0"}], []),
        ([], []),
    ],
)
def test_events_to_ranges(
    events: list[dict[str, str]], expected: list[tuple[str, str | None]]
) -> None:
    assert events_to_ranges(events) == expected


def ranges_of(ghsa: str, package: str) -> set[tuple[str, str | None]]:
    return {
        (v.vulnerable_version_range, v.first_patched_version)
        for v in ADVISORIES[ghsa].vulnerabilities
        if v.package == package
    }


def test_real_advisories_become_github_ranges() -> None:
    assert ranges_of("GHSA-c2qf-rxjj-qqgw", "semver") == {
        (">= 7.0.0, < 7.5.2", "7.5.2"), (">= 6.0.0, < 6.3.1", "6.3.1"), ("< 5.7.2", "5.7.2"),
    }  # fmt: skip
    assert ranges_of("GHSA-3xgq-45jj-v275", "cross-spawn") == {
        (">= 7.0.0, < 7.0.5", "7.0.5"), ("< 6.0.6", "6.0.6"),
    }  # fmt: skip
    assert ranges_of("GHSA-p8p7-x288-28g6", "request") == {("<= 2.88.2", None)}
    assert ranges_of("GHSA-29mw-wpgm-hmr9", "lodash.trim") == {("<= 4.5.1", None)}
    assert ranges_of("GHSA-29mw-wpgm-hmr9", "lodash") == {("< 4.17.21", "4.17.21")}
    assert ranges_of("GHSA-wj6h-64fc-37mp", "ecdsa") == {("<= 0.18.0", None)}


def test_last_known_affected_range_is_githubs_range() -> None:
    # GitHub keeps the first patched version and states the range it actually published.
    assert ranges_of("GHSA-9wx4-h78v-vm56", "requests") == {("< 2.32.0", "2.32.2")}
    assert ranges_of("GHSA-g4mx-q9vg-27p4", "urllib3") == {
        (">= 2.0.0, <= 2.0.6", "2.0.7"), ("<= 1.26.17", "1.26.18"),
    }  # fmt: skip
    exact = osv(affected=[{
        "package": {"ecosystem": "RubyGems", "name": "spree_auth_devise"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "4.1.0"}, {"fixed": "4.1.1"}]}],
        "database_specific": {"last_known_affected_version_range": "= 4.1.0"},
    }])  # fmt: skip
    (vulnerability,) = parse_advisory(exact, "test").vulnerabilities
    assert (vulnerability.vulnerable_version_range, vulnerability.first_patched_version) == (
        "= 4.1.0",
        "4.1.1",
    )


def test_every_real_range_parses_in_its_ecosystem() -> None:
    for advisory in ADVISORIES.values():
        for v in advisory.vulnerabilities:
            parsed = VersionRange.parse(v.ecosystem, v.vulnerable_version_range)
            if v.first_patched_version:
                assert not parsed.contains(v.first_patched_version)


def test_git_ranges_are_skipped_and_version_lists_become_exact_ranges() -> None:
    data = osv(affected=[
        {"package": {"ecosystem": "npm", "name": "a"},
         "ranges": [{"type": "GIT", "repo": "https://x", "events": [{"introduced": "abc"}, {"fixed": "def"}]},
                    {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}]},
        {"package": {"ecosystem": "npm", "name": "b"}, "versions": ["2.0.0", "2.0.1"]},
    ])  # fmt: skip
    got = [
        (v.package, v.vulnerable_version_range) for v in parse_advisory(data, "t").vulnerabilities
    ]
    assert got == [("a", "< 1.0.1"), ("b", "= 2.0.0"), ("b", "= 2.0.1")]


@pytest.mark.parametrize(("osv_name", "github"), sorted(OSV_TO_GITHUB.items()))
def test_ecosystem_names(osv_name: str, github: str) -> None:
    data = osv(affected=[{"package": {"ecosystem": osv_name, "name": "p"}, "ranges": []}])
    data["affected"][0]["versions"] = ["1.0.0"]
    (vulnerability,) = parse_advisory(data, "t").vulnerabilities
    assert vulnerability.ecosystem == github


def test_ecosystem_table_matches_the_brief() -> None:
    assert OSV_TO_GITHUB == {
        "PyPI": "pip", "npm": "npm", "crates.io": "rust", "Go": "go", "Maven": "maven",
        "RubyGems": "rubygems", "NuGet": "nuget", "Packagist": "composer", "Pub": "pub",
        "Hex": "erlang", "GitHub Actions": "actions", "SwiftURL": "swift",
    }  # fmt: skip


# --- lookup ------------------------------------------------------------------------------


def test_pip_names_are_pep503_normalized() -> None:
    for spelling in ("jinja2", "Jinja2", "JINJA2"):
        found = {a.ghsa_id for a, _ in advisories_for(ADVISORIES.values(), "pip", spelling)}
        assert found == {"GHSA-h5c8-rqwp-cp95", "GHSA-h75v-3vvj-5mfj"}
    assert len(advisories_for(ADVISORIES.values(), "pip", "URLLIB3")) == 6


def test_other_ecosystems_match_exactly() -> None:
    assert len(advisories_for(ADVISORIES.values(), "npm", "lodash")) == 3
    assert advisories_for(ADVISORIES.values(), "npm", "Lodash") == []
    assert advisories_for(ADVISORIES.values(), "pip", "lodash") == []
    scoped = advisories_for(ADVISORIES.values(), "npm", "@cypress/request")
    assert [(a.ghsa_id, v.vulnerable_version_range) for a, v in scoped] == [
        ("GHSA-p8p7-x288-28g6", "<= 2.88.11")
    ]


# --- the GitHub security_advisory object --------------------------------------------------


@pytest.mark.parametrize("ghsa", sorted(ADVISORIES))
def test_security_advisory_matches_githubs_schema(ghsa: str) -> None:
    body = ADVISORIES[ghsa].to_github_security_advisory()
    model = DependabotAlertSecurityAdvisory.model_validate(body)
    assert model.ghsa_id == ghsa
    assert json.loads(json.dumps(body)) == body  # plain JSON values only


def test_security_advisory_fields() -> None:
    body = ADVISORIES["GHSA-34jh-p97f-mpxf"].to_github_security_advisory()
    assert body["identifiers"] == [
        {"type": "GHSA", "value": "GHSA-34jh-p97f-mpxf"},
        {"type": "CVE", "value": "CVE-2024-37891"},
    ]
    assert body["summary"].endswith(" ")  # kept exactly as published
    assert body["severity"] == "medium"
    assert body["cvss"] == {
        "vector_string": "CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N",
        "score": 4.4,
    }
    assert body["cvss_severities"]["cvss_v3"] == body["cvss"]
    assert body["cvss_severities"]["cvss_v4"] == {"vector_string": None, "score": 0.0}
    assert body["cwes"] == [
        {"cwe_id": "CWE-669", "name": "Incorrect Resource Transfer Between Spheres"}
    ]
    assert body["vulnerabilities"] == [
        {"package": {"ecosystem": "pip", "name": "urllib3"}, "severity": "medium",
         "vulnerable_version_range": "< 1.26.19", "first_patched_version": {"identifier": "1.26.19"}},
        {"package": {"ecosystem": "pip", "name": "urllib3"}, "severity": "medium",
         "vulnerable_version_range": ">= 2.0.0, < 2.2.2", "first_patched_version": {"identifier": "2.2.2"}},
    ]  # fmt: skip
    assert {"url": "https://nvd.nist.gov/vuln/detail/CVE-2024-37891"} in body["references"]
    assert body["withdrawn_at"] is None
    assert "epss" not in body or body["epss"] in (None, [])


def test_unpatched_and_vectorless_advisories() -> None:
    ecdsa = ADVISORIES["GHSA-wj6h-64fc-37mp"].to_github_security_advisory()
    assert ecdsa["vulnerabilities"][0]["first_patched_version"] is None
    micromatch = ADVISORIES["GHSA-952p-6rrq-rcjv"].to_github_security_advisory()
    assert micromatch["cvss"] == {"vector_string": None, "score": 0.0}
    assert micromatch["severity"] == "medium"


def test_withdrawn_no_cve_and_severity_from_cvss() -> None:
    data = osv(
        aliases=[],
        withdrawn="2024-03-03T00:00:00Z",
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        database_specific={"cwe_ids": ["CWE-99999"]},
    )
    advisory = parse_advisory(data, "t")
    body = advisory.to_github_security_advisory()
    assert body["cve_id"] is None and body["identifiers"] == [
        {"type": "GHSA", "value": "GHSA-2222-3333-4444"}
    ]
    assert body["withdrawn_at"] == "2024-03-03T00:00:00Z"
    assert body["severity"] == "critical"  # 9.8 with no qualitative severity given
    assert body["cwes"] == [{"cwe_id": "CWE-99999", "name": "CWE-99999"}]
    assert body["updated_at"] == "2024-02-02T00:00:00Z"
    DependabotAlertSecurityAdvisory.model_validate(body)


# --- CVSS 3 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        # Scores as GitHub and NVD publish them for the bundled advisories.
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3),
        ("CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N", 4.4),
        ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N", 5.3),
        ("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N", 5.6),
        ("CVSS:3.1/AV:A/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N", 4.2),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", 5.4),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", 6.1),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", 7.4),
        ("CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:H/A:N", 5.9),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8),
        ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O", 9.8),
    ],
)
def test_cvss3_base_score(vector: str, score: float) -> None:
    assert cvss3_base_score(vector) == score


@pytest.mark.parametrize(
    "vector",
    ["", "CVSS:2.0/AV:N", "CVSS:3.1/AV:N/AC:L", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
     "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "garbage"],
)  # fmt: skip
def test_invalid_cvss_vectors(vector: str) -> None:
    with pytest.raises(ValueError, match="CVSS"):
        cvss3_base_score(vector)
    assert cvss3_score_or_zero(vector) == 0.0


# --- hostile input -----------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = ["id", "aliases", "summary", "details", "severity", "affected", "references",
          "database_specific", "published", "modified", "withdrawn"]  # fmt: skip


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.sampled_from(FIELDS), JSON, st.sampled_from(["top", "affected", "package", "ranges"]))
def test_corrupted_advisories_load_or_refuse_cleanly(field: str, value: Any, where: str) -> None:
    data = copy.deepcopy(osv())
    target: dict[str, Any] = data
    if where == "affected":
        target = data["affected"][0]
    elif where == "package":
        target = data["affected"][0]["package"]
    elif where == "ranges":
        target = data["affected"][0]["ranges"][0]
    target[field if where == "top" else ("events" if where == "ranges" else field)] = value
    try:
        advisory = parse_advisory(data, "fuzz")
    except AdvisoryError as exc:
        assert "fuzz" in str(exc)
        return
    advisory.to_github_security_advisory()
