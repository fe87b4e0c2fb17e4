"""Version selection with the real advisories (SPEC §7)."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentd.osv import DEFAULT_ADVISORY_DIR, advisories_for, load_advisories
from agentd.versions import (
    AdvisoryRange,
    RangeError,
    VersionError,
    VersionRange,
    parse_version,
    same_major_line,
    select_fix_version,
)

ADVISORIES = load_advisories(DEFAULT_ADVISORY_DIR)
EXAMPLES = int(os.environ.get("AGENTD_FUZZ_EXAMPLES", "1000"))


def ranges(ecosystem: str, package: str) -> list[AdvisoryRange]:
    return [
        AdvisoryRange(a.ghsa_id, v.vulnerable_version_range, v.first_patched_version)
        for a, v in advisories_for(ADVISORIES, ecosystem, package)
    ]


@pytest.mark.parametrize(
    ("ecosystem", "package", "current", "expected"),
    [
        ("pip", "requests", "2.25.0", "2.32.4"),  # three advisories on one package
        ("pip", "requests", "2.2.0", "2.32.4"),
        ("pip", "urllib3", "1.26.5", "1.26.19"),  # two major lines: stay in 1.x
        ("pip", "urllib3", "2.0.3", "2.2.2"),
        ("pip", "Jinja2", "3.1.2", "3.1.4"),  # both spellings of the name
        ("npm", "lodash", "4.17.15", "4.17.21"),
        ("npm", "cross-spawn", "6.0.5", "6.0.6"),
        ("npm", "cross-spawn", "7.0.3", "7.0.5"),
        ("npm", "semver", "5.7.1", "5.7.2"),
        ("npm", "semver", "6.3.0", "6.3.1"),
        ("npm", "semver", "7.5.1", "7.5.2"),
    ],
)
def test_smallest_fix_in_the_current_line(
    ecosystem: str, package: str, current: str, expected: str
) -> None:
    selection = select_fix_version(ecosystem, current, ranges(ecosystem, package))
    assert selection.version == expected
    assert not selection.crosses_major


@pytest.mark.parametrize(
    ("ecosystem", "package", "current"), [("pip", "ecdsa", "0.18.0"), ("npm", "request", "2.88.2")]
)
def test_no_patched_version(ecosystem: str, package: str, current: str) -> None:
    selection = select_fix_version(ecosystem, current, ranges(ecosystem, package))
    assert selection.version is None
    assert "no patched version" in selection.reason
    assert selection.applicable


def test_not_vulnerable() -> None:
    selection = select_fix_version("pip", "2.32.4", ranges("pip", "requests"))
    assert selection.version is None and not selection.applicable


def test_available_versions_pick_the_smallest_published() -> None:
    selection = select_fix_version(
        "pip",
        "2.25.0",
        ranges("pip", "requests"),
        available=["2.32.3", "2.32.5", "2.33.0rc1", "3.0.0"],
    )
    assert selection.version == "2.32.5"


def test_a_fix_inside_another_range_steps_past_it() -> None:
    rs = [AdvisoryRange("A", "< 1.2.0", "1.2.0"), AdvisoryRange("B", ">= 1.2.0, < 1.2.3", "1.2.3")]
    assert select_fix_version("npm", "1.1.0", rs).version == "1.2.3"


@pytest.mark.parametrize(
    ("ecosystem", "smaller", "larger"),
    [
        ("pip", "1.0.dev1", "1.0"),
        ("pip", "1.0", "1.0.post1"),
        ("pip", "1.0rc1", "1.0"),
        ("npm", "1.0.0-beta.2", "1.0.0"),
        ("npm", "v1.2.3", "1.10.0"),
        ("go", "v0.0.0-20210101000000-abcdef123456", "v0.1.0"),
        ("go", "v2.0.0+incompatible", "v2.0.1"),
        ("rust", "0.9.9", "0.10.0"),
    ],
)
def test_ordering(ecosystem: str, smaller: str, larger: str) -> None:
    assert parse_version(ecosystem, smaller) < parse_version(ecosystem, larger)


def test_lines() -> None:
    assert same_major_line("pip", "1.26.5", "1.26.19")
    assert not same_major_line("pip", "1.26.5", "2.0.0")
    assert not same_major_line("npm", "0.6.0", "0.7.0")  # 0.x: the minor is the line


@pytest.mark.parametrize(
    "text",
    ["", ">", ">= ", "1.0", ">= 1.0.0 <2", "== x.y", "<" + "9" * 300, ">= 1\x00", "--upgrade"],
)
def test_malformed_ranges_are_refused(text: str) -> None:
    with pytest.raises(RangeError):
        VersionRange.parse("npm", text)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=60))
def test_fuzzed_ranges_refuse_cleanly(text: str) -> None:
    for ecosystem in ("pip", "npm"):
        with contextlib.suppress(RangeError):
            VersionRange.parse(ecosystem, text)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=40))
def test_fuzzed_versions_refuse_cleanly(text: str) -> None:
    for ecosystem in ("pip", "npm", "go"):
        with contextlib.suppress(VersionError):
            parse_version(ecosystem, text)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    major=st.integers(0, 3), minor=st.integers(0, 30), patch=st.integers(0, 30),
    package=st.sampled_from([("pip", "requests"), ("pip", "urllib3"), ("npm", "semver"), ("npm", "lodash"), ("npm", "cross-spawn")]),
)  # fmt: skip
def test_selected_version_is_never_vulnerable(
    major: int, minor: int, patch: int, package: tuple[str, str]
) -> None:
    ecosystem, name = package
    rs = ranges(ecosystem, name)
    current = f"{major}.{minor}.{patch}"
    selection = select_fix_version(ecosystem, current, rs)
    if selection.version is not None:
        assert not any(
            VersionRange.parse(ecosystem, r.vulnerable_version_range).contains(selection.version)
            for r in rs
        )
        assert parse_version(ecosystem, selection.version) > parse_version(ecosystem, current)
