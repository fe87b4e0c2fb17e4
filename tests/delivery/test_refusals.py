"""A push GitHub refused for good is remembered per key, tree and profile (not per token)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentd.delivery.refusals import RefusalMemory, RememberedRefusalError
from agentd.gitops import PushRefusedError, refusal

KEY = "acme-org/api:code_scanning:main:root:actions/missing-workflow-permissions"
WORKFLOW = (
    " ! [remote rejected] b -> b (refusing to allow a Personal Access Token to create or update "
    "workflow `.github/workflows/ci.yml` without `workflow` scope)\n"
)
BAD_TOKEN = "remote: Invalid username or token.\nfatal: Authentication failed for 'https://x/'\n"


def refused(stderr: str) -> PushRefusedError:
    error = refusal(["push", "b"], 1, stderr)
    assert isinstance(error, PushRefusedError)
    return error


def test_the_same_change_under_the_same_profile_is_refused_again(tmp_path: Path) -> None:
    RefusalMemory(tmp_path, KEY, "tree-1", "profile-1").remember(refused(WORKFLOW))
    with pytest.raises(RememberedRefusalError) as raised:
        RefusalMemory(tmp_path, KEY, "tree-1", "profile-1").check()
    result = raised.value.unit_result()
    assert (result.outcome.value, result.reason and result.reason.value) == (
        "blocked",
        "auth_insufficient",
    )
    assert result.detail.startswith("GitHub refused the push: refusing to allow")
    assert "; rejected by GitHub on 20" in result.detail
    assert result.detail.endswith("not retried until the change or the profile changes")


def test_another_change_another_profile_or_another_key_tries_again(tmp_path: Path) -> None:
    RefusalMemory(tmp_path, KEY, "tree-1", "profile-1").remember(refused(WORKFLOW))
    RefusalMemory(tmp_path, KEY, "tree-2", "profile-1").check()
    RefusalMemory(tmp_path, KEY, "tree-1", "profile-2").check()
    RefusalMemory(tmp_path, KEY + "-other", "tree-1", "profile-1").check()


def test_a_token_problem_is_not_remembered_and_a_landed_push_forgets(tmp_path: Path) -> None:
    RefusalMemory(tmp_path, KEY, "tree-1", "profile-1").remember(refused(BAD_TOKEN))
    RefusalMemory(tmp_path, KEY, "tree-1", "profile-1").check()  # retried: the token may change
    memory = RefusalMemory(tmp_path, KEY, "tree-1", "profile-1")
    memory.remember(refused(WORKFLOW))
    memory.forget()
    memory.check()
    assert list((tmp_path / "refused").iterdir()) == []


def test_a_damaged_record_is_ignored(tmp_path: Path) -> None:
    memory = RefusalMemory(tmp_path, KEY, "tree-1", "profile-1")
    memory.remember(refused(WORKFLOW))
    memory.file.write_text("{not json")
    memory.check()
