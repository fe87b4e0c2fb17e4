"""Deterministic code-scanning fixes: byte-preserving, minimal, refusing what needs review."""

from __future__ import annotations

import pytest

from agentd.rules.missing_permissions import fix_missing_permissions, proposed_permissions
from agentd.rules.unpinned_tag import pin_line

BUILD = """\
name: ci
on:
  push:
  pull_request:

# build and test
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: python -m pytest -q
"""


def test_inserts_read_only_block_before_jobs_and_nothing_else() -> None:
    fix = fix_missing_permissions(BUILD)
    assert fix.text == BUILD.replace("jobs:\n", "permissions:\n  contents: read\n\njobs:\n")


def test_keeps_crlf_and_four_space_indentation() -> None:
    text = BUILD.replace("  ", "    ").replace("\n", "\r\n")
    fix = fix_missing_permissions(text)
    assert fix.text is not None
    assert "permissions:\r\n    contents: read\r\n\r\njobs:" in fix.text
    assert fix.text.replace("permissions:\r\n    contents: read\r\n\r\n", "") == text


@pytest.mark.parametrize(
    ("snippet", "why"),
    [
        ("      - uses: softprops/action-gh-release@v2\n", "action-gh-release"),
        ("      - run: gh release create v1\n", "gh release"),
        ("      - run: npm publish\n", "npm publish"),
        ("      - uses: actions/github-script@v7\n", "github-script"),
        ("      - run: gh pr comment 1 --body hi\n", "gh pr comment"),
    ],
)
def test_write_scope_workflows_are_refused(snippet: str, why: str) -> None:
    fix = fix_missing_permissions(BUILD + snippet)
    assert fix.text is None and fix.needs_review
    assert why in fix.reason


def test_pull_request_target_is_refused() -> None:
    fix = fix_missing_permissions(BUILD.replace("  pull_request:", "  pull_request_target:"))
    assert fix.text is None and "pull_request_target" in fix.reason


def test_existing_block_means_nothing_to_do() -> None:
    assert fix_missing_permissions("permissions: {}\n" + BUILD).text is None


def test_proposal_from_the_alert_message() -> None:
    message = "Consider setting an explicit permissions block, using the following as a minimal starting point: {contents: read, issues: read}"
    assert proposed_permissions(message) == {"contents": "read", "issues": "read"}


PINNED = """\
jobs:
  build:
    steps:
      - uses: actions/checkout@v4
      - uses: third-party-org/setup-thing@v1.2.0 # setup
      - uses: "other/action/sub@main"
"""
SHA = "a" * 40


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


AWS = "AKIAIOSFODNN7CANARY1"
GHP = "ghp_" + "C" * 36


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        (".env", f"DEBUG=1\nAWS_KEY={AWS}\n", "DEBUG=1\nAWS_KEY=REPLACE_WITH_ROTATED_SECRET\n"),
        (
            "config/.env.production",
            f'AWS_KEY="{AWS}"  # prod\n',
            "AWS_KEY=REPLACE_WITH_ROTATED_SECRET  # prod\n",
        ),
        ("settings.yaml", f"aws:\n  key: {AWS}\n", 'aws:\n  key: "${AWS_ACCESS_KEY_ID}"\n'),
        ("creds.json", f'{{"key": "{AWS}"}}\n', '{"key": "${AWS_ACCESS_KEY_ID}"}\n'),
        (
            "app/settings.py",
            f'"""Settings."""\nKEY = "{AWS}"\n',
            '"""Settings."""\nimport os\nKEY = os.environ["AWS_ACCESS_KEY_ID"]\n',
        ),
        (
            "src/client.ts",
            f"const key = '{AWS}';\n",
            "const key = process.env.AWS_ACCESS_KEY_ID;\n",
        ),
        (
            "deploy.sh",
            f"#!/bin/sh\nexport KEY={AWS}\n",
            '#!/bin/sh\nexport KEY="${AWS_ACCESS_KEY_ID}"\n',
        ),
    ],
)
def test_secret_replacement_per_file_type(path: str, text: str, expected: str) -> None:
    from agentd.alerts.secret_scanning.cleanup import replace_secret

    cleanup = replace_secret(path, text, AWS, "aws_access_key_id")
    assert cleanup.text == expected
    assert AWS not in cleanup.reason


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("notes.txt", f"key {AWS}\n"),
        ("app.py", f'URL = "https://x:{AWS}@host"\n'),
        ("README.md", f"{GHP}\n"),
    ],
)
def test_unsafe_shapes_are_left_for_a_person(path: str, text: str) -> None:
    from agentd.alerts.secret_scanning.cleanup import replace_secret

    cleanup = replace_secret(path, text, AWS if AWS in text else GHP, "aws_access_key_id")
    assert cleanup.text is None
    assert AWS not in cleanup.reason and GHP not in cleanup.reason
