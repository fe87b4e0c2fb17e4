"""Version ordering, GitHub ranges and fix selection (SPEC §7), with the real advisories."""

from __future__ import annotations

import contextlib
import itertools
import os
from functools import cmp_to_key

import pytest
import semver
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from packaging.version import Version as Pep440Version

from agentd.osv import DEFAULT_ADVISORY_DIR, advisories_for, load_advisories
from agentd.versions import (
    AdvisoryRange,
    RangeError,
    UnsupportedEcosystem,
    Version,
    VersionError,
    VersionRange,
    is_vulnerable,
    parse_version,
    same_major_line,
    select_fix_version,
)

ADVISORIES = load_advisories(DEFAULT_ADVISORY_DIR)
EXAMPLES = int(os.environ.get("AGENTD_FUZZ_EXAMPLES", "300"))


def ranges(ecosystem: str, package: str) -> list[AdvisoryRange]:
    """Every range of every real advisory on the package, all major lines included."""
    return [
        AdvisoryRange(a.ghsa_id, v.vulnerable_version_range, v.first_patched_version)
        for a, v in advisories_for(ADVISORIES, ecosystem, package)
    ]


# --- selection with the real advisories ---------------------------------------------------


@pytest.mark.parametrize(
    ("ecosystem", "package", "current", "expected", "applicable"),
    [
        ("pip", "requests", "2.25.0", "2.32.4", {"GHSA-j8r2-6x86-q33q", "GHSA-9wx4-h78v-vm56", "GHSA-9hjg-9r4m-mvj7"}),
        ("pip", "requests", "2.2.0", "2.32.4", {"GHSA-9wx4-h78v-vm56", "GHSA-9hjg-9r4m-mvj7"}),
        ("pip", "requests", "2.31.0", "2.32.4", {"GHSA-9wx4-h78v-vm56", "GHSA-9hjg-9r4m-mvj7"}),
        # GitHub's range for GHSA-9wx4 is `< 2.32.0` (its last known affected range).
        ("pip", "requests", "2.32.1", "2.32.4", {"GHSA-9hjg-9r4m-mvj7"}),
        ("pip", "urllib3", "1.26.5", "1.26.19", {"GHSA-v845-jxx5-vc9f", "GHSA-g4mx-q9vg-27p4", "GHSA-34jh-p97f-mpxf"}),
        ("pip", "urllib3", "1.26.18", "1.26.19", {"GHSA-34jh-p97f-mpxf"}),
        ("pip", "urllib3", "2.0.3", "2.2.2", {"GHSA-v845-jxx5-vc9f", "GHSA-g4mx-q9vg-27p4", "GHSA-34jh-p97f-mpxf"}),
        ("pip", "urllib3", "2.0.6", "2.2.2", {"GHSA-g4mx-q9vg-27p4", "GHSA-34jh-p97f-mpxf"}),
        ("pip", "Jinja2", "3.1.2", "3.1.4", {"GHSA-h5c8-rqwp-cp95", "GHSA-h75v-3vvj-5mfj"}),
        ("pip", "jinja2", "3.1.3", "3.1.4", {"GHSA-h75v-3vvj-5mfj"}),
        ("npm", "lodash", "4.17.15", "4.17.21", {"GHSA-29mw-wpgm-hmr9", "GHSA-35jh-r3h4-6jhm", "GHSA-p6mc-m468-83gw"}),
        ("npm", "lodash", "4.17.20", "4.17.21", {"GHSA-29mw-wpgm-hmr9", "GHSA-35jh-r3h4-6jhm"}),
        ("npm", "cross-spawn", "6.0.5", "6.0.6", {"GHSA-3xgq-45jj-v275"}),
        ("npm", "cross-spawn", "7.0.3", "7.0.5", {"GHSA-3xgq-45jj-v275"}),
        ("npm", "semver", "5.7.1", "5.7.2", {"GHSA-c2qf-rxjj-qqgw"}),
        ("npm", "semver", "6.3.0", "6.3.1", {"GHSA-c2qf-rxjj-qqgw"}),
        ("npm", "semver", "7.5.1", "7.5.2", {"GHSA-c2qf-rxjj-qqgw"}),
        ("npm", "cookie", "0.6.0", "0.7.0", {"GHSA-pxg6-pf52-xh8x"}),
    ],
)  # fmt: skip
def test_smallest_fix_stays_in_the_current_line(
    ecosystem: str, package: str, current: str, expected: str, applicable: set[str]
) -> None:
    selection = select_fix_version(ecosystem, current, ranges(ecosystem, package))
    assert selection.version == expected
    assert set(selection.applicable) == applicable
    if package != "cookie":  # 0.6 → 0.7 is a new line under 0.x
        assert not selection.crosses_major


def test_urllib3_1x_never_takes_the_2x_fix() -> None:
    rs = ranges("pip", "urllib3")
    assert {r.first_patched_version for r in rs} >= {"1.26.19", "2.2.2"}
    selection = select_fix_version("pip", "1.26.5", rs)
    assert selection.version == "1.26.19"
    assert "2.2.2" not in selection.reason


def test_crossing_a_line_only_when_the_current_line_has_no_patch() -> None:
    selection = select_fix_version("npm", "4.3.2", ranges("npm", "semver"))  # `< 5.7.2`
    assert selection.version == "5.7.2"
    assert selection.crosses_major
    assert "no patch in the current line" in selection.reason
    assert select_fix_version("npm", "0.6.0", ranges("npm", "cookie")).crosses_major


@pytest.mark.parametrize(
    ("ecosystem", "package", "current"),
    [("pip", "ecdsa", "0.18.0"), ("pip", "ecdsa", "0.13"), ("npm", "request", "2.88.2"),
     ("npm", "@cypress/request", "2.88.10"), ("npm", "lodash.trim", "4.5.1")],
)  # fmt: skip
def test_no_patched_version(ecosystem: str, package: str, current: str) -> None:
    selection = select_fix_version(ecosystem, current, ranges(ecosystem, package))
    assert selection.version is None
    assert not selection.crosses_major
    assert "no patched version" in selection.reason
    assert selection.applicable


@pytest.mark.parametrize(
    ("ecosystem", "package", "current"),
    [("pip", "requests", "2.32.4"), ("pip", "urllib3", "1.26.19"), ("pip", "urllib3", "2.2.2"),
     ("pip", "ecdsa", "0.19.0"), ("npm", "request", "2.88.3"), ("npm", "semver", "6.3.1")],
)  # fmt: skip
def test_current_version_not_vulnerable(ecosystem: str, package: str, current: str) -> None:
    selection = select_fix_version(ecosystem, current, ranges(ecosystem, package))
    assert selection.version is None
    assert selection.applicable == ()
    assert selection.reason == "current version not vulnerable"


def test_is_vulnerable_with_real_ranges() -> None:
    rs = ranges("pip", "requests")
    assert is_vulnerable("pip", "2.25.0", rs) == sorted(
        ["GHSA-j8r2-6x86-q33q", "GHSA-9wx4-h78v-vm56", "GHSA-9hjg-9r4m-mvj7"]
    )
    assert is_vulnerable("pip", "2.2.0", rs) == ["GHSA-9hjg-9r4m-mvj7", "GHSA-9wx4-h78v-vm56"]
    assert is_vulnerable("pip", "2.32.4", rs) == []
    assert is_vulnerable("npm", "7.0.4", ranges("npm", "cross-spawn")) == ["GHSA-3xgq-45jj-v275"]
    assert is_vulnerable("npm", parse_version("npm", "7.0.5"), ranges("npm", "cross-spawn")) == []


# --- selection against a registry listing and synthetic ranges -----------------------------


def test_available_versions_pick_the_smallest_safe_release() -> None:
    rs = ranges("pip", "urllib3")
    available = ["1.26.17", "1.26.18", "1.26.20rc1", "1.26.20", "2.0.0", "2.2.2", "garbage!"]
    assert select_fix_version("pip", "1.26.5", rs, available=available).version == "1.26.20"
    requests = ranges("pip", "requests")
    listing = ["2.32.3", "2.32.5", "2.33.0rc1", "3.0.0"]
    assert select_fix_version("pip", "2.25.0", requests, available=listing).version == "2.32.5"


def test_nothing_safe_is_published() -> None:
    selection = select_fix_version(
        "npm", "6.0.5", ranges("npm", "cross-spawn"), available=["6.0.4", "6.0.5", "7.0.0"]
    )
    assert selection.version is None
    assert "no patched version" in selection.reason
    assert selection.applicable == ("GHSA-3xgq-45jj-v275",)


def test_available_crossing_is_reported() -> None:
    selection = select_fix_version(
        "npm", "6.0.5", ranges("npm", "cross-spawn"), available=["6.0.5", "7.0.5"]
    )
    assert selection.version == "7.0.5"
    assert selection.crosses_major


def test_pre_releases_only_for_a_pre_release_current() -> None:
    rs = [AdvisoryRange("A", "< 2.0.0-rc.2", "2.0.0-rc.2")]
    listing = ["2.0.0-rc.2", "2.0.0-rc.3", "2.0.0"]
    assert select_fix_version("npm", "2.0.0-rc.1", rs, available=listing).version == "2.0.0-rc.2"
    assert select_fix_version("npm", "1.9.0", rs, available=listing).version == "2.0.0"
    computed = select_fix_version("npm", "1.9.0", rs)
    assert computed.version is None and "pre-release" in computed.reason
    assert select_fix_version("npm", "2.0.0-rc.1", rs).version == "2.0.0-rc.2"


def test_a_fix_inside_another_range_steps_past_it() -> None:
    rs = [
        AdvisoryRange("A", "< 1.2.0", "1.2.0"),
        AdvisoryRange("B", ">= 1.2.0, < 1.2.3", "1.2.3"),
        AdvisoryRange("C", "= 1.2.3", "1.2.4"),
        AdvisoryRange("D", ">= 2.0.0, < 2.1.0", "2.1.0"),
    ]
    selection = select_fix_version("rust", "1.1.0", rs)
    assert selection.version == "1.2.4"
    assert selection.applicable == ("A",)
    assert not selection.crosses_major


def test_a_fix_inside_an_unpatched_range_is_no_fix() -> None:
    rs = [AdvisoryRange("A", "< 1.2.0", "1.2.0"), AdvisoryRange("B", ">= 1.2.0", None)]
    selection = select_fix_version("npm", "1.0.0", rs)
    assert selection.version is None
    assert "no patched version" in selection.reason and "B" in selection.reason


def test_go_pseudo_versions_and_advisory_versions_without_v() -> None:
    rs = [AdvisoryRange("GHSA-go", "< 0.17.0", "0.17.0")]
    selection = select_fix_version("go", "v0.0.0-20210226172049-e18ecbb05110", rs)
    assert selection.version == "0.17.0"
    assert not selection.crosses_major  # Go: v0 minors share one module path (issue 15)
    assert is_vulnerable("go", "v0.16.0", rs) == ["GHSA-go"]
    assert is_vulnerable("go", "v0.17.0", rs) == []


def test_unsupported_ecosystems_are_refused() -> None:
    with pytest.raises(UnsupportedEcosystem):
        parse_version("maven", "1.0")
    with pytest.raises(UnsupportedEcosystem):
        VersionRange.parse("rubygems", "< 1.0")
    with pytest.raises(UnsupportedEcosystem):
        select_fix_version("composer", "1.0.0", [AdvisoryRange("A", "< 2.0", "2.0")])


# --- ordering ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ecosystem", "ordered"),
    [
        ("pip", ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0+local.1", "1.0.post1", "1.0.1", "1.10", "1!0.1"]),
        ("npm", ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                 "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "v1.2.3", "1.10.0", "2.0.0"]),
        ("go", ["v0.0.0-20210101000000-abcdef123456", "v0.0.0-20220101000000-0123456789ab", "v0.1.0",
                "v1.2.3", "v1.2.4-0.20230101000000-abcdefabcdef", "v1.2.4", "v2.0.0+incompatible", "v2.0.1"]),
        ("rust", ["0.9.9", "0.10.0", "1.0.0-rc.1", "1.0.0", "1.2.0"]),
    ],
)  # fmt: skip
def test_ordering(ecosystem: str, ordered: list[str]) -> None:
    versions = [parse_version(ecosystem, text) for text in ordered]
    for smaller, larger in itertools.pairwise(versions):
        assert smaller < larger, (smaller.text, larger.text)
        assert larger > smaller and smaller != larger
    assert [v.text for v in sorted(reversed(versions))] == ordered


@pytest.mark.parametrize(
    ("ecosystem", "a", "b"),
    [
        ("npm", "v1.2.3", "1.2.3"), ("npm", "=1.2.3", "1.2.3"), ("npm", "1.2", "1.2.0"),
        ("rust", "1", "1.0.0"), ("go", "1.2.3", "v1.2.3"), ("go", "v2.0.0+incompatible", "v2.0.0"),
        ("npm", "1.0.0+build.1", "1.0.0+build.2"), ("pip", "1.0", "1.0.0"), ("pip", "1.0.post0", "1.0-0"),
    ],
)  # fmt: skip
def test_equal_spellings(ecosystem: str, a: str, b: str) -> None:
    left, right = parse_version(ecosystem, a), parse_version(ecosystem, b)
    assert left == right and hash(left) == hash(right)
    assert left.text == a  # the text as written is kept


def test_versions_of_different_ecosystems_do_not_compare() -> None:
    pip, npm = parse_version("pip", "1.0.0"), parse_version("npm", "1.0.0")
    assert pip != npm
    with pytest.raises(TypeError):
        _ = pip < npm
    with pytest.raises(VersionError):
        VersionRange.parse("npm", "< 2.0.0").contains(pip)


def test_prerelease_flag() -> None:
    assert parse_version("pip", "1.0rc1").is_prerelease
    assert parse_version("pip", "1.0.dev3").is_prerelease
    assert not parse_version("pip", "1.0.post1").is_prerelease
    assert parse_version("go", "v0.0.0-20210101000000-abcdef123456").is_prerelease
    assert not parse_version("go", "v2.0.0+incompatible").is_prerelease


def test_lines() -> None:
    assert same_major_line("pip", "1.26.5", "1.26.19")
    assert not same_major_line("pip", "1.26.5", "2.0.0")
    assert same_major_line("pip", "0.18.0", "0.19.1")  # PEP 440: the first release number
    assert not same_major_line("pip", "1.0", "1!1.0")  # a new epoch is a new line
    assert same_major_line("npm", "6.0.5", "6.0.6")
    assert not same_major_line("npm", "0.6.0", "0.7.0")  # 0.x: the minor is the line
    assert same_major_line("rust", "0.6.0", "0.6.9")
    assert same_major_line("go", "v1.2.3", "1.9.0")
    assert not same_major_line("go", "v1.2.3", "v2.0.0+incompatible")
    # Go: one module path for every v0 minor (issue 15: golang.org/x/net v0.12.0 → v0.17.0)
    assert same_major_line("go", "v0.12.0", "v0.17.0")


@pytest.mark.parametrize(
    ("ecosystem", "text"),
    [("pip", "1.0-beta-x"), ("pip", "latest"), ("npm", "01.2.3"), ("npm", "1.2.3.4"),
     ("npm", "^1.2.3"), ("go", "vv1.2.3"), ("rust", "1.2.3-"), ("npm", ""), ("pip", "1.0\x00"),
     ("npm", "1." * 200), ("go", "--upgrade"), ("npm", "1.2.3\n")],
)  # fmt: skip
def test_malformed_versions_are_refused(ecosystem: str, text: str) -> None:
    with pytest.raises(VersionError):
        parse_version(ecosystem, text)


def test_non_string_versions_are_refused() -> None:
    with pytest.raises(VersionError):
        parse_version("npm", 123)  # type: ignore[arg-type]
    with pytest.raises(RangeError):
        VersionRange.parse("npm", None)  # type: ignore[arg-type]


# --- GitHub's range syntax ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical", "inside", "outside"),
    [
        ("= 0.2.0", "= 0.2.0", ["0.2.0"], ["0.2.1", "0.1.9"]),
        ("== 0.2.0", "= 0.2.0", ["0.2.0"], ["0.2.1"]),
        ("<= 1.0.8", "<= 1.0.8", ["1.0.8", "0.0.1", "1.0.8-rc.1"], ["1.0.9"]),
        ("< 0.1.11", "< 0.1.11", ["0.1.10", "0.1.11-beta"], ["0.1.11", "0.2.0"]),
        (">= 4.3.0, < 4.3.5", ">= 4.3.0, < 4.3.5", ["4.3.0", "4.3.4"], ["4.2.9", "4.3.5"]),
        (">= 0.0.1", ">= 0.0.1", ["0.0.1", "99.0.0"], ["0.0.0"]),
        (">1.0.0,<=2.0.0", "> 1.0.0, <= 2.0.0", ["1.0.1", "2.0.0"], ["1.0.0", "2.0.1"]),
        ("  >=  1.0.0 ,  != 1.5.0 ,< 2 ", ">= 1.0.0, != 1.5.0, < 2", ["1.4.0"], ["1.5.0", "2.0.0"]),
    ],
)  # fmt: skip
def test_ranges(text: str, canonical: str, inside: list[str], outside: list[str]) -> None:
    parsed = VersionRange.parse("npm", text)
    assert str(parsed) == canonical
    assert VersionRange.parse("npm", str(parsed)) == parsed
    assert all(parsed.contains(v) for v in inside)
    assert not any(parsed.contains(v) for v in outside)


def test_pep440_ranges() -> None:
    parsed = VersionRange.parse("pip", ">= 2.0.0, <= 2.0.6")
    assert parsed.contains("2.0.6") and parsed.contains("2.0.6.post1") is False
    assert parsed.contains("2.0.0") and not parsed.contains("2.0.0rc1")
    assert VersionRange.parse("pip", "< 1!0.1").contains("5.0")


@pytest.mark.parametrize(
    "text",
    ["", "   ", ">", ">= ", "1.0", ">= 1.0.0 <2", "== x.y", "<" + "9" * 600, ">= 1\x00",
     "--upgrade", "-r /etc/passwd", ">= 1.0.0,", ",< 2.0.0", "=> 1.0.0", "~> 1.0", "^1.2.3",
     "< 1.0.0 || > 2.0.0", "<< 1.0.0", ", ".join(["< 1.0.0"] * 20), "< 1.0.0\n", "\u202e< 1.0"],
)  # fmt: skip
def test_malformed_ranges_are_refused(text: str) -> None:
    with pytest.raises(RangeError):
        VersionRange.parse("npm", text)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.text(max_size=80)
    | st.from_regex(r"[<>=!]{1,2} ?[0-9v.=a-z+-]{0,12}(, ?[<>=!]{1,2} ?[0-9.a-z-]{0,8})?")
)
def test_fuzzed_ranges_parse_or_refuse_cleanly(text: str) -> None:
    for ecosystem in ("pip", "npm", "go", "rust"):
        with contextlib.suppress(RangeError):
            parsed = VersionRange.parse(ecosystem, text)
            assert VersionRange.parse(ecosystem, str(parsed)) == parsed


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.text(max_size=40)
    | st.from_regex(r"[v=]?[0-9]{1,3}(\.[0-9]{1,3}){0,3}([-+.][0-9a-z.]{0,8})?")
)
def test_fuzzed_versions_parse_or_refuse_cleanly(text: str) -> None:
    for ecosystem in ("pip", "npm", "go", "rust"):
        with contextlib.suppress(VersionError):
            parse_version(ecosystem, text)


# --- properties --------------------------------------------------------------------------

_IDENT = st.sampled_from(["alpha", "beta", "rc", "0", "1", "2", "11", "x-y", "20210101000000-abc"])
SEMVER_TEXT = st.builds(
    lambda core, pre, build: (
        ".".join(map(str, core))
        + (f"-{'.'.join(pre)}" if pre else "")
        + (f"+{build}" if build else "")
    ),
    st.tuples(st.integers(0, 3), st.integers(0, 12), st.integers(0, 12)),
    st.lists(_IDENT, max_size=3),
    st.sampled_from(["", "", "incompatible", "build.7"]),
)
PEP440_TEXT = st.builds(
    lambda release, pre, post, dev, local: ".".join(map(str, release)) + pre + post + dev + local,
    st.lists(st.integers(0, 12), min_size=1, max_size=4),
    st.sampled_from(["", "", "a1", "b2", "rc1", "rc10"]),
    st.sampled_from(["", "", ".post1", ".post2"]),
    st.sampled_from(["", "", ".dev0", ".dev3"]),
    st.sampled_from(["", "", "+local.1", "+ubuntu"]),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(SEMVER_TEXT, min_size=2, max_size=8))
def test_semver_order_matches_the_semver_package(texts: list[str]) -> None:
    for a in texts:
        for b in texts:
            va, vb = parse_version("npm", a), parse_version("npm", b)
            expected = semver.Version.parse(a).compare(b)
            assert (va < vb, va == vb, va > vb) == (expected < 0, expected == 0, expected > 0)
            assert (va == vb) <= (hash(va) == hash(vb))
    ordered = sorted(parse_version("npm", t) for t in texts)
    reference = sorted(texts, key=cmp_to_key(lambda a, b: semver.Version.parse(a).compare(b)))
    assert ordered == [parse_version("npm", t) for t in reference]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(PEP440_TEXT, min_size=2, max_size=8))
def test_pep440_order_is_packaging_order(texts: list[str]) -> None:
    for a in texts:
        for b in texts:
            va, vb = parse_version("pip", a), parse_version("pip", b)
            pa, pb = Pep440Version(a), Pep440Version(b)
            assert (va < vb, va == vb, va > vb) == (pa < pb, pa == pb, pa > pb)
            assert (va == vb) <= (hash(va) == hash(vb))


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    current=SEMVER_TEXT,
    bounds=st.lists(st.tuples(SEMVER_TEXT, SEMVER_TEXT, st.booleans()), min_size=1, max_size=4),
    available=st.none() | st.lists(SEMVER_TEXT, max_size=12),
)
def test_selection_is_never_vulnerable_and_is_the_smallest(
    current: str, bounds: list[tuple[str, str, bool]], available: list[str] | None
) -> None:
    rs = []
    for index, (a, b, patched) in enumerate(bounds):
        low, high = sorted([a, b], key=lambda t: parse_version("npm", t))
        assume(parse_version("npm", low) < parse_version("npm", high))
        rs.append(AdvisoryRange(f"A{index}", f">= {low}, < {high}", high if patched else None))
    selection = select_fix_version("npm", current, rs, available=available)
    now = parse_version("npm", current)
    applicable = [
        r for r in rs if VersionRange.parse("npm", r.vulnerable_version_range).contains(now)
    ]
    assert set(selection.applicable) == {r.advisory_id for r in applicable}
    if selection.version is None:
        return
    chosen = parse_version("npm", selection.version)
    assert is_vulnerable("npm", chosen, rs) == []
    assert chosen > now
    assert all(chosen >= parse_version("npm", r.first_patched_version or "") for r in applicable)
    assert selection.crosses_major == (chosen.line != now.line)
    if available is not None:
        assert selection.version in available
        eligible = [
            v for v in map(lambda t: parse_version("npm", t), available)
            if v > now and (now.is_prerelease or not v.is_prerelease) and not is_vulnerable("npm", v, rs)
            and all(v >= parse_version("npm", r.first_patched_version or "") for r in applicable)
        ]  # fmt: skip
        assert chosen == min(eligible)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    release=st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(0, 30)),
    package=st.sampled_from(
        [("pip", "requests"), ("pip", "urllib3"), ("pip", "jinja2"), ("npm", "semver"),
         ("npm", "lodash"), ("npm", "cross-spawn"), ("npm", "braces")]
    ),
)  # fmt: skip
def test_real_advisories_never_select_a_vulnerable_version(
    release: tuple[int, int, int], package: tuple[str, str]
) -> None:
    ecosystem, name = package
    rs = ranges(ecosystem, name)
    current = ".".join(map(str, release))
    selection = select_fix_version(ecosystem, current, rs)
    if selection.applicable:
        assert selection.version is not None  # every range of these packages has a fix
        assert is_vulnerable(ecosystem, selection.version, rs) == []
        assert parse_version(ecosystem, selection.version) > parse_version(ecosystem, current)
        fixes_in_line = [
            r.first_patched_version for r in rs
            if r.first_patched_version and same_major_line(ecosystem, r.first_patched_version, current)
        ]  # fmt: skip
        if any(
            parse_version(ecosystem, f) > parse_version(ecosystem, current)
            and not is_vulnerable(ecosystem, f, rs)
            for f in fixes_in_line
        ):
            assert not selection.crosses_major
    else:
        assert selection.version is None


def test_version_is_an_opaque_value() -> None:
    version = parse_version("npm", "1.2.3")
    assert isinstance(version, Version)
    assert str(version) == "1.2.3"
    with pytest.raises(AttributeError):
        version.text = "9.9.9"  # type: ignore[misc]
