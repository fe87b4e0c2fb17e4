"""Secret triage: where a secret still is, and what that allows (SPEC §9).

Before `triage.py`, the plug-in's `_present_on_base` looked only at commit paths and only
with the secret's value; anything it could not find there became `historical` and
`blocked history_rewrite_required`. The tests marked "old:" say what that code did.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from gitrepos import git, make_remote_and_clone

from agentd.alerts.secret_scanning.triage import (
    FOLLOW_UP,
    HISTORY_FOLLOW_UP,
    GitBaseReader,
    SecretWhere,
    Triage,
    cleanup_decision,
    follow_up,
    triage,
)
from agentd.github.models import SecretLocation, SecretScanningAlert
from agentd.gitops import Git, GitEnvironment
from agentd.vocabulary import Outcome, ReasonCode, TriageState

SECRET = "ghp_" + "TriageCanary" + "z" * 24
API = "https://api.github.com/repos/acme/api"


def blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()  # noqa: S324


class FakeBase:
    """The base branch as a dict of files; records every path it is asked about."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = files or {}
        self.asked: list[str] = []

    def read(self, path: str) -> bytes | None:
        self.asked.append(path)
        return self.files.get(path)

    def blob_sha(self, path: str) -> str | None:
        self.asked.append(path)
        content = self.files.get(path)
        return None if content is None else blob_id(content)


def alert(secret: str | None = SECRET, **fields: Any) -> SecretScanningAlert:
    return SecretScanningAlert.model_validate({"number": 7, "secret": secret, **fields})


def commit(path: str, content: bytes | None = None, **details: Any) -> SecretLocation:
    found = {"path": path, "commit_sha": "c" * 40, **details}
    if content is not None:
        found["blob_sha"] = blob_id(content)
    return SecretLocation(type="commit", details=found)


def other(kind: str, **details: Any) -> SecretLocation:
    return SecretLocation(type=kind, details=details)


WITH_SECRET = f'TOKEN = "{SECRET}"\n'.encode()
EDITED = b'TOKEN = os.environ["TOKEN"]\n'


def assert_secret_free(result: Triage) -> None:
    texts = [result.detail, *result.present_paths, *result.outside_locations, *follow_up(result)]
    decision = cleanup_decision(result)
    texts.append(decision.detail if decision else "")
    assert not any(SECRET in text for text in texts), texts


# --- found outside the code -------------------------------------------------------------


def test_a_secret_only_in_an_issue_body_is_active_outside_the_code() -> None:
    # old: no commit location → no paths → _present_on_base returned [] → `historical`,
    # `blocked history_rewrite_required`, though the secret was never committed.
    base = FakeBase()
    result = triage(alert(), [other("issue_body", issue_body_url=f"{API}/issues/12")], base)

    assert (result.state, result.where) == (TriageState.ACTIVE, SecretWhere.OUTSIDE_CODE)
    assert result.outside_locations == ["issue #12 body"]
    assert result.present_paths == [] and base.asked == []
    decision = cleanup_decision(result)
    assert decision is not None and decision.outcome is Outcome.BLOCKED
    assert decision.reason is ReasonCode.POLICY_BLOCKED
    assert "issue #12 body" in decision.detail and "edit or delete" in decision.detail
    assert "rotate" in decision.detail
    assert follow_up(result)[: len(FOLLOW_UP)] == list(FOLLOW_UP)
    assert HISTORY_FOLLOW_UP not in follow_up(result)
    assert any(a.startswith("remove it from issue #12 body") for a in follow_up(result))
    assert_secret_free(result)


@pytest.mark.parametrize(
    ("kind", "details", "described"),
    [
        ("issue_title", {"issue_title_url": f"{API}/issues/1347"}, "issue #1347 title"),
        ("issue_comment", {"issue_comment_url": f"{API}/issues/comments/99"}, "issue comment 99"),
        ("pull_request_title", {"pull_request_title_url": f"{API}/pulls/3"}, "PR #3 title"),
        ("pull_request_body", {"pull_request_body_url": f"{API}/pull/2846"}, "PR #2846 body"),
        ("pull_request_comment", {"pull_request_comment_url": f"{API}/issues/comments/5"}, "PR comment 5"),
        ("pull_request_review", {"pull_request_review_url": f"{API}/pulls/3/reviews/80"}, "PR #3 review 80"),
        ("pull_request_review_comment", {"pull_request_review_comment_url": f"{API}/pulls/comments/12"}, "PR review comment 12"),
        ("discussion_title", {"discussion_title_url": "https://github.com/acme/api/discussions/4"}, "discussion #4 title"),
        ("discussion_body", {"discussion_body_url": "https://github.com/acme/api/discussions/4#discussion-45"}, "discussion #4 body"),
        ("discussion_comment", {"discussion_comment_url": "https://github.com/acme/api/discussions/4#discussioncomment-415"}, "discussion #4 comment 415"),
        ("wiki_commit", {"path": "Home.md", "commit_sha": "0123456789ab" + "f" * 28}, "wiki (commit 0123456789ab)"),
        ("issue_body", {}, "an issue body"),
        ("pull_request_body", {"pull_request_body_url": f"https://evil.example/{SECRET}"}, "a PR body"),
        ("issue_body", {"issue_body_url": f"{API}/issues/12?{SECRET}"}, "issue #12 body"),
    ],
)  # fmt: skip
def test_outside_locations_are_described_by_their_numbers_only(
    kind: str, details: dict[str, Any], described: str
) -> None:
    result = triage(alert(), [other(kind, **details)], FakeBase())

    assert result.where is SecretWhere.OUTSIDE_CODE
    assert result.outside_locations == [described]
    assert_secret_free(result)


def test_a_secret_in_code_and_in_a_pr_comment_is_cleaned_and_the_comment_listed() -> None:
    locations = [
        commit("app/settings.py", WITH_SECRET),
        other("pull_request_comment", pull_request_comment_url=f"{API}/issues/comments/5"),
        other("pull_request_comment", pull_request_comment_url=f"{API}/issues/comments/5"),
    ]
    result = triage(alert(), locations, FakeBase({"app/settings.py": WITH_SECRET}))

    assert (result.where, result.replaceable) == (SecretWhere.ON_BASE, True)
    assert result.outside_locations == ["PR comment 5"]
    assert cleanup_decision(result) is None
    assert any(a.startswith("remove it from PR comment 5") for a in follow_up(result))


# --- value not returned -----------------------------------------------------------------


def test_a_value_not_returned_but_still_on_the_base_is_on_base_and_left_to_a_person() -> None:
    # old: `_present_on_base` returned [] whenever `secret` was null → `historical`,
    # `blocked history_rewrite_required`, while the file on the base still held it.
    base = FakeBase({"app/settings.py": WITH_SECRET})
    result = triage(alert(None), [commit("app/settings.py", WITH_SECRET)], base)

    assert (result.state, result.where) == (TriageState.ACTIVE, SecretWhere.ON_BASE)
    assert result.present_paths == ["app/settings.py"]
    assert result.replaceable is False
    assert "did not return" in result.detail
    decision = cleanup_decision(result)
    assert decision is not None and decision.reason is ReasonCode.POLICY_BLOCKED
    assert "by hand" in decision.detail
    assert "remove it by hand from app/settings.py" in follow_up(result)


def test_a_value_not_returned_in_a_changed_file_is_unknown_not_history() -> None:
    # old: `historical` / `history_rewrite_required`; the edit may have kept the secret.
    base = FakeBase({"app/settings.py": WITH_SECRET + b"DEBUG = 1\n"})
    result = triage(alert(None), [commit("app/settings.py", WITH_SECRET)], base)

    assert (result.state, result.where) == (TriageState.ACTIVE, SecretWhere.UNKNOWN)
    assert "app/settings.py has changed" in result.detail
    decision = cleanup_decision(result)
    assert decision is not None and decision.reason is ReasonCode.POLICY_BLOCKED
    assert decision.detail.startswith("cannot tell whether") and "check by hand" in decision.detail


def test_a_value_not_returned_without_a_blob_id_is_unknown() -> None:
    base = FakeBase({"app/settings.py": WITH_SECRET})
    result = triage(alert(None), [commit("app/settings.py", blob_sha="not-a-sha")], base)

    assert result.where is SecretWhere.UNKNOWN
    assert "no blob id" in result.detail


def test_a_value_not_returned_whose_every_file_is_gone_is_history_only() -> None:
    locations = [commit("old.sh", b"x"), commit("config/old.env", b"y")]
    result = triage(alert(None), locations, FakeBase({"README.md": b"hi"}))

    assert (result.state, result.where) == (TriageState.HISTORICAL, SecretWhere.HISTORY_ONLY)
    decision = cleanup_decision(result)
    assert decision is not None and decision.reason is ReasonCode.HISTORY_REWRITE_REQUIRED
    assert HISTORY_FOLLOW_UP in follow_up(result)


def test_a_value_not_returned_one_file_gone_and_one_changed_is_unknown() -> None:
    locations = [commit("old.sh", b"x"), commit("app/settings.py", WITH_SECRET)]
    result = triage(alert(None), locations, FakeBase({"app/settings.py": EDITED}))

    assert result.where is SecretWhere.UNKNOWN


def test_a_value_not_returned_found_again_after_an_edit_is_on_base() -> None:
    both = WITH_SECRET + b"DEBUG = 1\n"
    locations = [commit("app/settings.py", WITH_SECRET), commit("app/settings.py", both)]
    result = triage(alert(None), locations, FakeBase({"app/settings.py": both}))

    assert result.where is SecretWhere.ON_BASE and result.present_paths == ["app/settings.py"]


# --- value known (today's rule) --------------------------------------------------------


def test_a_known_value_still_in_a_file_is_on_base_and_may_be_cleaned() -> None:
    locations = [commit("app/settings.py", WITH_SECRET), commit("old.sh", b"x")]
    base = FakeBase({"app/settings.py": WITH_SECRET + b"DEBUG = 1\n"})
    result = triage(alert(), locations, base)

    assert (result.state, result.where) == (TriageState.ACTIVE, SecretWhere.ON_BASE)
    assert result.present_paths == ["app/settings.py"] and result.replaceable
    assert cleanup_decision(result) is None
    assert follow_up(result) == list(FOLLOW_UP)
    assert_secret_free(result)


@pytest.mark.parametrize("files", [{}, {"app/settings.py": EDITED}], ids=["deleted", "edited"])
def test_a_known_value_no_longer_in_its_files_is_history_only(files: dict[str, bytes]) -> None:
    result = triage(alert(), [commit("app/settings.py", WITH_SECRET)], FakeBase(files))

    assert (result.state, result.where) == (TriageState.HISTORICAL, SecretWhere.HISTORY_ONLY)
    decision = cleanup_decision(result)
    assert decision is not None and decision.reason is ReasonCode.HISTORY_REWRITE_REQUIRED
    assert follow_up(result) == [*FOLLOW_UP, HISTORY_FOLLOW_UP]


def test_a_known_value_in_an_unchanged_blob_but_not_literally_is_not_history() -> None:
    # e.g. stored base64-encoded: the blob GitHub found it in is still there.
    encoded = b"VE9LRU49Z2hwXw==\n"
    result = triage(alert(), [commit("blob.b64", encoded)], FakeBase({"blob.b64": encoded}))

    assert (result.where, result.replaceable) == (SecretWhere.ON_BASE, False)
    decision = cleanup_decision(result)
    assert decision is not None and decision.reason is ReasonCode.POLICY_BLOCKED


# --- untrusted paths, unknown kinds, nothing listed ------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../outside", "a/../../b", "a\\b", "a\x00b", "a\nb", "a\x7fb", "", ".", 7],
)
def test_unconfined_paths_are_never_read_and_never_called_history(path: Any) -> None:
    base = FakeBase({"etc/passwd": WITH_SECRET})
    result = triage(alert(), [commit("old.sh", b"x"), commit(path, WITH_SECRET)], base)

    assert base.asked == ["old.sh"]
    assert result.where is SecretWhere.UNKNOWN
    assert "refused" in result.detail


def test_an_unknown_location_kind_is_never_called_history_or_outside() -> None:
    only = triage(alert(), [other("gist_file", url="x")], FakeBase())
    with_gone_commit = triage(alert(), [commit("old.sh", b"x"), other("gist_file")], FakeBase())

    assert only.where is SecretWhere.UNKNOWN and only.outside_locations == []
    assert with_gone_commit.where is SecretWhere.UNKNOWN
    assert "gist_file" in only.detail


def test_without_a_clone_commit_locations_are_unknown_not_history() -> None:
    # old: no clone → _present_on_base returned [] → `historical`.
    result = triage(alert(), [commit("app/settings.py", WITH_SECRET)], None)

    assert (result.state, result.where) == (TriageState.ACTIVE, SecretWhere.UNKNOWN)
    assert "no clone to read app/settings.py" in result.detail


def test_no_locations_is_unknown() -> None:
    result = triage(alert(), [], FakeBase())

    assert (result.state, result.where) == (TriageState.ACTIVE, SecretWhere.UNKNOWN)
    decision = cleanup_decision(result)
    assert decision is not None and decision.reason is ReasonCode.POLICY_BLOCKED
    assert "check by hand whether the base branch still holds it" in follow_up(result)


# --- state -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"resolution": "false_positive"}, TriageState.FALSE_POSITIVE),
        ({"resolution": "used_in_tests", "validity": "inactive"}, TriageState.FALSE_POSITIVE),
        ({"resolution": "revoked"}, TriageState.REVOKED),
        ({"validity": "inactive"}, TriageState.REVOKED),
        ({"validity": "active"}, TriageState.ACTIVE),
    ],
)
def test_resolution_and_validity_decide_the_state_first(
    fields: dict[str, str], state: TriageState
) -> None:
    result = triage(alert(**fields), [other("issue_body")], FakeBase())

    assert result.state is state and result.where is SecretWhere.OUTSIDE_CODE
    assert (follow_up(result) == []) is (state is TriageState.FALSE_POSITIVE)


# --- the git reader ---------------------------------------------------------------------


def test_git_base_reader_reads_files_and_blob_ids_at_the_ref(tmp_path: Path) -> None:
    _, clone = make_remote_and_clone(tmp_path, {"app/settings.py": "x = 1\n"})
    reader = GitBaseReader(Git(clone, GitEnvironment.create(tmp_path / "state")), "origin/main")

    assert reader.read("app/settings.py") == b"x = 1\n"
    assert reader.blob_sha("app/settings.py") == blob_id(b"x = 1\n")
    assert reader.blob_sha("app/settings.py") == git(
        clone, "rev-parse", "origin/main:app/settings.py"
    )
    assert reader.read("missing") is None and reader.blob_sha("missing") is None
    assert reader.blob_sha("app") is None  # a directory is no file
