"""Typed GitHub operations for one owner, on top of `GitHubClient`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from agentd.github.client import GitHubClient, GitHubHTTPError
from agentd.github.models import (
    Account,
    Branch,
    BranchProtection,
    BranchRule,
    CheckRun,
    CodeScanningAlert,
    CombinedStatus,
    Comment,
    DependabotAlert,
    GitRef,
    GitTag,
    Label,
    PullFile,
    PullRequest,
    Repository,
    SecretLocation,
    SecretScanningAlert,
)
from agentd.log import get_logger

M = TypeVar("M", bound=BaseModel)
log = get_logger("github.api")


def _q(segment: str) -> str:
    return quote(segment, safe="")


def _valid(items: Iterator[Any], model: type[M], what: str) -> Iterator[M]:
    """Validated items; a malformed (possibly hostile) payload is logged and skipped."""
    for item in items:
        try:
            yield model.model_validate(item)
        except ValidationError as exc:
            number = item.get("number") if isinstance(item, dict) else None
            log.warning(
                "ignoring a malformed API item",
                extra={"what": what, "number": number, "why": str(exc.errors()[0]["msg"])[:200]},
            )


class GitHubAPI:
    def __init__(self, client: GitHubClient, owner: str, owner_type: str) -> None:
        self.client = client
        self.owner = owner
        self.owner_type = owner_type

    def _repo(self, repo: str) -> str:
        return f"/repos/{_q(self.owner)}/{_q(repo)}"

    # --- identity, limits, metadata -------------------------------------------------------

    def user(self) -> Account:
        return Account.model_validate(self.client.get_json("/user"))

    def rate_limit(self) -> dict[str, Any]:
        data = self.client.get_json("/rate_limit")
        return dict(data) if isinstance(data, dict) else {}

    def repository(self, repo: str) -> Repository:
        return Repository.model_validate(self.client.get_json(self._repo(repo)))

    def dependabot_alerts_enabled(self, repo: str) -> bool:
        try:
            self.client.get(f"{self._repo(repo)}/vulnerability-alerts")
        except GitHubHTTPError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- alerts ---------------------------------------------------------------------------

    def dependabot_alerts(
        self, repo: str | None = None, state: str = "open"
    ) -> Iterator[DependabotAlert]:
        path = (
            f"{self._repo(repo)}/dependabot/alerts"
            if repo
            else f"/orgs/{_q(self.owner)}/dependabot/alerts"
        )
        yield from _valid(
            self.client.paginate(path, {"state": state}), DependabotAlert, "dependabot alert"
        )

    def dependabot_alert(self, repo: str, number: int) -> DependabotAlert:
        data = self.client.get_json(f"{self._repo(repo)}/dependabot/alerts/{number}")
        return DependabotAlert.model_validate(data)

    def code_scanning_alerts(
        self, repo: str | None = None, state: str = "open"
    ) -> Iterator[CodeScanningAlert]:
        path = (
            f"{self._repo(repo)}/code-scanning/alerts"
            if repo
            else f"/orgs/{_q(self.owner)}/code-scanning/alerts"
        )
        yield from _valid(
            self.client.paginate(path, {"state": state}), CodeScanningAlert, "code-scanning alert"
        )

    def code_scanning_alert(self, repo: str, number: int) -> CodeScanningAlert:
        data = self.client.get_json(f"{self._repo(repo)}/code-scanning/alerts/{number}")
        return CodeScanningAlert.model_validate(data)

    def secret_scanning_alerts(
        self, repo: str | None = None, state: str = "open", hide_secret: bool = True
    ) -> Iterator[SecretScanningAlert]:
        path = (
            f"{self._repo(repo)}/secret-scanning/alerts"
            if repo
            else f"/orgs/{_q(self.owner)}/secret-scanning/alerts"
        )
        params = {"state": state, "hide_secret": "true" if hide_secret else None}
        yield from _valid(
            self.client.paginate(path, params), SecretScanningAlert, "secret-scanning alert"
        )

    def secret_scanning_alert(self, repo: str, number: int) -> SecretScanningAlert:
        """One alert with its secret value (registered with the redactor on arrival)."""
        data = self.client.get_json(f"{self._repo(repo)}/secret-scanning/alerts/{number}")
        return SecretScanningAlert.model_validate(data)

    def secret_locations(self, repo: str, number: int) -> list[SecretLocation]:
        path = f"{self._repo(repo)}/secret-scanning/alerts/{number}/locations"
        return [SecretLocation.model_validate(item) for item in self.client.paginate(path)]

    # --- pull requests --------------------------------------------------------------------

    def pulls(
        self,
        repo: str,
        head_branch: str | None = None,
        base: str | None = None,
        state: str = "open",
    ) -> list[PullRequest]:
        params = {
            "state": state,
            "base": base,
            "head": f"{self.owner}:{head_branch}" if head_branch else None,
        }
        return [
            PullRequest.model_validate(i)
            for i in self.client.paginate(f"{self._repo(repo)}/pulls", params)
        ]

    def pull(self, repo: str, number: int) -> PullRequest:
        return PullRequest.model_validate(
            self.client.get_json(f"{self._repo(repo)}/pulls/{number}")
        )

    def pull_files(self, repo: str, number: int) -> list[PullFile]:
        path = f"{self._repo(repo)}/pulls/{number}/files"
        return [PullFile.model_validate(item) for item in self.client.paginate(path)]

    def create_pull(self, repo: str, head: str, base: str, title: str, body: str) -> PullRequest:
        payload = {
            "head": head,
            "base": base,
            "title": title,
            "body": body,
            "maintainer_can_modify": False,
        }
        response = self.client.post(
            f"{self._repo(repo)}/pulls", payload, f"open PR {head} → {base}"
        )
        return PullRequest.model_validate(response.data)

    def update_pull(self, repo: str, number: int, **fields: str) -> PullRequest:
        response = self.client.patch(
            f"{self._repo(repo)}/pulls/{number}", fields, f"update PR #{number}"
        )
        return PullRequest.model_validate(response.data)

    def merge_pull(
        self, repo: str, number: int, *, sha: str, method: str, title: str, message: str = ""
    ) -> dict[str, Any]:
        payload = {
            "sha": sha,
            "merge_method": method,
            "commit_title": title,
            "commit_message": message,
        }
        response = self.client.put(
            f"{self._repo(repo)}/pulls/{number}/merge", payload, f"merge PR #{number}"
        )
        return dict(response.data) if isinstance(response.data, dict) else {}

    def comments(self, repo: str, number: int) -> list[Comment]:
        path = f"{self._repo(repo)}/issues/{number}/comments"
        return [Comment.model_validate(item) for item in self.client.paginate(path)]

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        response = self.client.post(
            f"{self._repo(repo)}/issues/{number}/comments", {"body": body}, f"comment on #{number}"
        )
        return Comment.model_validate(response.data)

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> list[Label]:
        response = self.client.post(
            f"{self._repo(repo)}/issues/{number}/labels",
            {"labels": list(labels)},
            f"label #{number}",
        )
        return [Label.model_validate(item) for item in response.data or []]

    # --- branches and checks --------------------------------------------------------------

    def branch(self, repo: str, name: str) -> Branch:
        return Branch.model_validate(
            self.client.get_json(f"{self._repo(repo)}/branches/{_q(name)}")
        )

    def branch_protection(self, repo: str, name: str) -> BranchProtection | None:
        """Classic protection; None when the branch is not protected. 403/404 on a
        protected branch propagate: the caller decides it is unreadable."""
        data = self.client.get_json(f"{self._repo(repo)}/branches/{_q(name)}/protection")
        return BranchProtection.model_validate(data)

    def branch_rules(self, repo: str, name: str) -> list[BranchRule]:
        path = f"{self._repo(repo)}/rules/branches/{_q(name)}"
        return [BranchRule.model_validate(item) for item in self.client.paginate(path)]

    def check_runs(self, repo: str, ref: str) -> list[CheckRun]:
        path = f"{self._repo(repo)}/commits/{_q(ref)}/check-runs"
        return [
            CheckRun.model_validate(item)
            for item in self.client.paginate(path, items_key="check_runs")
        ]

    def combined_status(self, repo: str, ref: str) -> CombinedStatus:
        return CombinedStatus.model_validate(
            self.client.get_json(f"{self._repo(repo)}/commits/{_q(ref)}/status")
        )

    # --- git data (pinning actions) --------------------------------------------------------

    def tag_ref(self, full_repo: str, tag: str) -> GitRef:
        owner, name = full_repo.split("/", 1)
        return GitRef.model_validate(
            self.client.get_json(f"/repos/{_q(owner)}/{_q(name)}/git/ref/tags/{_q(tag)}")
        )

    def tag_object(self, full_repo: str, sha: str) -> GitTag:
        owner, name = full_repo.split("/", 1)
        return GitTag.model_validate(
            self.client.get_json(f"/repos/{_q(owner)}/{_q(name)}/git/tags/{_q(sha)}")
        )
