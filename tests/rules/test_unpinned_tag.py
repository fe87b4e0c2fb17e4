"""`actions/unpinned-tag`: pin only the alerted `uses:` lines, keep the tag as a comment."""

from __future__ import annotations

import pytest

from agentd.rules.base import Environment, Finding
from agentd.rules.unpinned_tag import RULE, pin_line

PINNED = """\
jobs:
  build:
    steps:
      - uses: actions/checkout@v4
      - uses: third-party-org/setup-thing@v1.2.0 # setup
      - uses: "other/action/sub@main"
"""
SHA = "a" * 40
PATH = ".github/workflows/ci.yml"


def test_pins_only_the_alerted_line() -> None:
    pin = pin_line(
        PINNED,
        5,
        lambda action, tag: (
            SHA if (action, tag) == ("third-party-org/setup-thing", "v1.2.0") else None
        ),
        pin_first_party=False,
    )
    assert pin.text == PINNED.replace(
        "third-party-org/setup-thing@v1.2.0 # setup",
        f"third-party-org/setup-thing@{SHA} # v1.2.0 setup",
    )


def test_quoted_and_sub_path_actions() -> None:
    pin = pin_line(PINNED, 6, lambda action, tag: SHA, pin_first_party=False)
    assert pin.text is not None
    assert f'- uses: "other/action/sub@{SHA}" # main' in pin.text


def test_first_party_needs_the_profile_choice() -> None:
    assert pin_line(PINNED, 4, lambda a, t: SHA, pin_first_party=False).text is None
    pinned = pin_line(PINNED, 4, lambda a, t: SHA, pin_first_party=True)
    assert pinned.text is not None and f"actions/checkout@{SHA} # v4" in pinned.text


def test_unresolvable_tag_is_refused() -> None:
    pin = pin_line(PINNED, 5, lambda a, t: None, pin_first_party=False)
    assert pin.text is None and "not a tag" in pin.reason


def findings(*lines: int) -> list[Finding]:
    return [Finding(n, PATH, line, "") for n, line in enumerate(lines, 1)]


def test_fix_file_pins_every_alerted_line_and_keeps_crlf() -> None:
    text = PINNED.replace("\n", "\r\n")
    tags: list[tuple[str, str]] = []

    def resolve(action: str, tag: str) -> str:
        tags.append((action, tag))
        return SHA

    env = Environment(resolver=resolve)
    fix = RULE.fix_file(PATH, text, findings(5, 6, 5), env)
    assert fix.text == text.replace(
        "setup-thing@v1.2.0 # setup", f"setup-thing@{SHA} # v1.2.0 setup"
    ).replace('"other/action/sub@main"', f'"other/action/sub@{SHA}" # main')
    assert tags == [("other/action", "main"), ("third-party-org/setup-thing", "v1.2.0")]
    assert fix.review == [] and not fix.refused
    assert fix.notes[0] == f"{PATH}:6: pinned other/action@main to {SHA}"


def test_fix_file_pins_first_party_only_when_asked() -> None:
    held = RULE.fix_file(PATH, PINNED, findings(4), Environment(resolver=lambda a, t: SHA))
    assert held.text is None and held.refused and "first-party" in held.review[0]
    pinned = RULE.fix_file(
        PATH, PINNED, findings(4), Environment(pin_first_party=True, resolver=lambda a, t: SHA)
    )
    assert pinned.text is not None and pinned.review == []


def test_partial_fix_names_what_a_person_must_look_at() -> None:
    env = Environment(resolver=lambda a, t: SHA if a == "other/action" else None)
    fix = RULE.fix_file(PATH, PINNED, findings(5, 6), env)
    assert fix.text is not None and not fix.refused
    assert fix.review == [
        f"{PATH}:5: third-party-org/setup-thing@v1.2.0 is not a tag that resolves to a commit"
    ]


def test_already_pinned_is_nothing_to_do() -> None:
    text = PINNED.replace("@v1.2.0", f"@{SHA}")
    fix = RULE.fix_file(PATH, text, findings(5), Environment(resolver=lambda a, t: SHA))
    assert fix.text is None and not fix.refused and not fix.review


FIXED = PINNED.replace("setup-thing@v1.2.0 # setup", f"setup-thing@{SHA} # v1.2.0 setup")


def test_check_accepts_the_real_fix() -> None:
    assert RULE.check(PATH, PINNED, FIXED) is None


@pytest.mark.parametrize(
    "after",
    [
        FIXED.replace("  build:", "  build: "),  # same YAML, another byte
        FIXED.replace(" # v1.2.0 setup", " # setup"),  # tag comment dropped
        FIXED.replace(SHA, "b" * 39),  # not a full SHA
        FIXED.replace("third-party-org/setup-thing@", "evil/setup-thing@"),
        FIXED.replace("checkout@v4", "checkout@v5"),  # another uses: line changed
        FIXED.replace("\n", "\r\n"),
        FIXED + "      - run: make\n",
        PINNED,
    ],
)
def test_check_rejects_any_other_change(after: str) -> None:
    assert RULE.check(PATH, PINNED, after) is not None
