"""Typed GitHub operations for one owner, on top of `GitHubClient`.

Every answer is validated as if written by an attacker. A malformed item of a list is
logged and skipped, except in the lists a merge or a triage relies on being whole (check
runs, branch rules, PR files, secret locations): there one malformed item refuses the list.
A malformed single object raises MalformedResponseError, which stops only what needed it.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ValidationError

from agentd.github.client import (
    GitHubClient,
    GitHubError,
    GitHubHTTPError,
    MalformedResponseError,
)
from agentd.github.models import (
    Account,
    Branch,
    BranchProtection,
    BranchRule,
    CheckRun,
    CodeScanningAlert,
    CodeScanningRule,
    CodeSecurityConfiguration,
    CombinedStatus,
    Comment,
    ConfigurationRepository,
    DependabotAlert,
    Dependency,
    GitRef,
    GitTag,
    Label,
    PullCommit,
    PullFile,
    PullRequest,
    Repository,
    RepositoryRef,
    Review,
    SecretLocation,
    SecretScanningAlert,
    SecurityAdvisory,
    Tool,
    Vulnerability,
)
from agentd.log import get_logger
from agentd.redaction import redact

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
# The token's own repositories and those it collaborates on; filtered to the profile's owner.
USER_AFFILIATION = "owner,collaborator"
STATUS_PAGES = 10  # 1,000 commit statuses on one sha is beyond any real repository
log = get_logger("github.api")


def _q(segment: str) -> str:
    return quote(segment, safe="")


def _sha(data: Any) -> str:
    sha = data.get("sha") if isinstance(data, dict) else None
    if not isinstance(sha, str) or len(sha) != 40:
        raise MalformedResponseError("GitHub's git data answer carries no commit/tree/blob sha")
    return sha


def _why(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return redact(f"{first['msg']}{f' at {where}' if where else ''}"[:200])


def _parse(item: Any, model: type[M], what: str) -> M | None:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        number = item.get("number") if isinstance(item, dict) else None
        log.warning(
            "ignoring a malformed API item",
            extra={
                "what": what,
                "number": number if isinstance(number, int) else None,
                "why": _why(exc),
            },
        )
        return None


def _valid(items: Iterable[Any], model: type[M], what: str) -> Iterator[M]:
    """Validated items; a malformed (possibly hostile) item is logged and skipped."""
    for item in items:
        if (parsed := _parse(item, model, what)) is not None:
            yield parsed


# Nested objects that many alerts of one listing repeat (an advisory, the vulnerable package,
# the repository, a code-scanning rule): validated once per listing and shared by every
# alert that carries the same one, instead of one copy per alert — at 100,000 alerts the
# copies, not the alerts, were most of the memory. The models are frozen, so sharing is safe.
_SHARED: dict[str, type[BaseModel]] = {
    "security_advisory": SecurityAdvisory,
    "security_vulnerability": Vulnerability,
    "dependency": Dependency,
    "repository": RepositoryRef,
    "rule": CodeScanningRule,
    "tool": Tool,
}


class _Shared:
    """Replaces an alert's nested objects with the one validated instance of each value."""

    def __init__(self) -> None:
        self._seen: dict[str, BaseModel] = {}

    def __call__(self, item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        shared: dict[str, BaseModel] = {}
        for key, model in _SHARED.items():
            value = item.get(key)
            if isinstance(value, dict) and (found := self._one(key, model, value)) is not None:
                shared[key] = found
        return {**item, **shared} if shared else item

    def _one(self, key: str, model: type[BaseModel], value: dict[str, Any]) -> BaseModel | None:
        try:  # the whole value, so two differing objects are never taken for one
            identity = f"{key}:{json.dumps(value, sort_keys=True)}"
        except (TypeError, ValueError):
            return None
        found = self._seen.get(identity)
        if found is None:
            try:
                found = model.model_validate(value)
            except ValidationError:
                return None  # the alert's own validation reports (and skips) it
            self._seen[identity] = found
        return found


def _alerts(items: Iterable[Any], model: type[M], what: str) -> Iterator[M]:
    """Validated alerts of one listing, their nested objects shared (see `_SHARED`)."""
    return _valid(map(_Shared(), items), model, what)


def _complete(items: Iterable[Any], model: type[M], what: str) -> list[M]:
    """Every item, validated, or MalformedResponseError once each malformed one is logged:
    skipping a failing check run, a required-check rule or a changed file would let a
    merge through that the whole list forbids."""
    parsed = [_parse(item, model, what) for item in items]
    valid = [item for item in parsed if item is not None]
    if len(valid) < len(parsed):
        raise MalformedResponseError(
            f"{what}: {len(parsed) - len(valid)} of {len(parsed)} items are malformed; "
            "an incomplete list cannot be relied on"
        )
    return valid


def _one(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MalformedResponseError(f"{what}: the answer is malformed ({_why(exc)})") from None


def _labels_checked(pull: Any) -> Any:
    """A PR payload whose malformed labels are logged and dropped (a label decides nothing)."""
    labels = pull.get("labels") if isinstance(pull, dict) else None
    if not isinstance(labels, list):
        return pull
    return {**pull, "labels": list(_valid(labels, Label, "label"))}


def _mutation_payload(data: dict[str, Any], name: str) -> dict[str, Any]:
    payload = data.get(name)
    if not isinstance(payload, dict):
        raise MalformedResponseError(f"{name}: the GraphQL answer carries no payload")
    return payload


class GraphQLError(GitHubError):
    """A GraphQL answer (HTTP 200) that carries `errors` instead of the mutation's data."""

    def __init__(self, what: str, errors: list[Any]) -> None:
        found = [e for e in errors if isinstance(e, dict)] or [{}]
        self.error_type = str(found[0].get("type") or "")
        self.graphql_message = "; ".join(str(e.get("message", "")) for e in found)[:500]
        kind = self.error_type or "error"
        super().__init__(redact(f"{what}: GraphQL {kind}: {self.graphql_message}"))


_ENABLE_AUTO_MERGE = """
mutation($pr: ID!, $method: PullRequestMergeMethod!, $oid: GitObjectID!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pr, mergeMethod: $method, expectedHeadOid: $oid}) {
    pullRequest { number autoMergeRequest { mergeMethod enabledAt } }
  }
}
""".strip()

_ENQUEUE = """
mutation($pr: ID!, $oid: GitObjectID!) {
  enqueuePullRequest(input: {pullRequestId: $pr, expectedHeadOid: $oid}) {
    mergeQueueEntry { position state }
  }
}
""".strip()


@dataclass
class RepoListing:
    """The owner's repositories from one listing, by lower-case name (GitHub's names are
    case-insensitive). `malformed` holds the named items that failed validation, `error`
    why the listing itself could not be read (then `repos` is empty)."""

    repos: dict[str, Repository] = field(default_factory=dict)
    malformed: dict[str, str] = field(default_factory=dict)
    error: str = ""

    def get(self, name: str) -> Repository | None:
        return self.repos.get(name.lower())


class GitHubAPI:
    def __init__(self, client: GitHubClient, owner: str, owner_type: str) -> None:
        self.client = client
        self.owner = owner
        self.owner_type = owner_type
        self._listing: RepoListing | None = None
        self._full: dict[str, Repository] = {}
        self._listing_lock = threading.Lock()
        self._memo: dict[str, Any] = {}
        self._memo_lock = threading.Lock()

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()`, the first time `key` is asked for on this GitHubAPI (once per run);
        the remembered answer afterwards. An exception (a rate-limit stop) is not remembered."""
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = compute()
            result: T = self._memo[key]
            return result

    def _repo(self, repo: str) -> str:
        return f"/repos/{_q(self.owner)}/{_q(repo)}"

    # --- identity, limits, metadata -------------------------------------------------------

    def user(self) -> Account:
        return _one(Account, self.client.get_json("/user"), "the token's account")

    def token_owner(self) -> tuple[Account, Mapping[str, str]]:
        """The token's account and that answer's headers (a classic PAT's `X-OAuth-Scopes`)."""
        response = self.client.get("/user")
        return _one(Account, response.data, "the token's account"), response.headers

    def owner_account(self) -> Account:
        """The profile's owner, user or organisation (`type`: User | Organization)."""
        return _one(Account, self.client.get_json(f"/users/{_q(self.owner)}"), "the owner")

    def rate_limit(self) -> dict[str, Any]:
        data = self.client.get_json("/rate_limit")
        return dict(data) if isinstance(data, dict) else {}

    def repository(self, repo: str) -> Repository:
        """The full repository (its merge settings too, which no listing shows), read once
        per GitHubAPI — once per run — however many units ask; errors are not remembered."""
        key = repo.lower()
        with self._listing_lock:
            found = self._full.get(key)
        if found is None:
            data = self.client.get_json(self._repo(repo))
            found = _one(Repository, data, f"repository {repo}")
            with self._listing_lock:
                self._full[key] = found
        return found

    def repositories(self) -> RepoListing:
        """The owner's repositories (`archived`, `default_branch`, `permissions` and, where
        the token may see it, `security_and_analysis`), read once per GitHubAPI — that is,
        once per run: 100 per page instead of one `GET /repos/{o}/{r}` each. A listing that
        cannot be read is remembered as such (its callers read repositories one by one);
        RateLimitedError propagates and is not remembered."""
        with self._listing_lock:
            if self._listing is None:
                self._listing = self._read_listing()
            return self._listing

    def listed_repository(self, repo: str) -> Repository:
        """A repository from the run's listing; one absent from it (or every one, when the
        listing could not be read) is read on its own, once, and its errors are exactly
        that read's."""
        listing = self.repositories()
        key = repo.lower()
        with self._listing_lock:
            found = listing.repos.get(key)
            malformed = listing.malformed.get(key)
        if found is not None:
            return found
        if malformed is not None:
            raise MalformedResponseError(malformed)
        repository = self.repository(repo)
        with self._listing_lock:
            listing.repos[key] = repository
        return repository

    def _read_listing(self) -> RepoListing:
        if self.owner_type == "org":
            path, params = f"/orgs/{_q(self.owner)}/repos", {"type": "all"}
        else:
            path, params = "/user/repos", {"affiliation": USER_AFFILIATION}
        listing = RepoListing()
        try:
            for item in self.client.paginate(path, params):
                self._list_item(listing, item)
        except GitHubError as exc:
            log.info(
                "repository listing unavailable; reading repositories one by one",
                extra={"why": str(exc)},
            )
            return RepoListing(error=str(exc))
        return listing

    def _list_item(self, listing: RepoListing, item: Any) -> None:
        try:
            repository = Repository.model_validate(item)
        except ValidationError as exc:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str):
                listing.malformed[name.lower()] = (
                    f"repository {name}: the answer is malformed ({_why(exc)})"
                )
            log.warning("ignoring a malformed API item", extra={"what": "repository"})
            return
        # /user/repos lists every repository the token may see: keep the profile owner's.
        if repository.owner.login.lower() == self.owner.lower():
            listing.repos[repository.name.lower()] = repository

    def dependabot_alerts_enabled(self, repo: str) -> bool:
        try:
            self.client.get(f"{self._repo(repo)}/vulnerability-alerts")
        except GitHubHTTPError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- code security configurations (organisation owners and security managers) ---------

    def code_security_configurations(self) -> Iterator[CodeSecurityConfiguration]:
        """The organisation's configurations, its own and GitHub's global ones."""
        path = f"/orgs/{_q(self.owner)}/code-security/configurations"
        items = self.client.paginate(path, {"target_type": "all"})
        yield from _valid(items, CodeSecurityConfiguration, "code security configuration")

    def configuration_repositories(
        self, configuration_id: int, statuses: Sequence[str]
    ) -> Iterator[ConfigurationRepository]:
        """The repositories attached to a configuration with one of `statuses`."""
        path = (
            f"/orgs/{_q(self.owner)}/code-security/configurations/{configuration_id}/repositories"
        )
        items = self.client.paginate(path, {"status": ",".join(statuses)})
        yield from _valid(items, ConfigurationRepository, "configuration repository")

    # --- alerts ---------------------------------------------------------------------------

    def dependabot_alerts(
        self, repo: str | None = None, state: str = "open"
    ) -> Iterator[DependabotAlert]:
        path = (
            f"{self._repo(repo)}/dependabot/alerts"
            if repo
            else f"/orgs/{_q(self.owner)}/dependabot/alerts"
        )
        yield from _alerts(
            self.client.paginate(path, {"state": state}), DependabotAlert, "dependabot alert"
        )

    def dependabot_alert(self, repo: str, number: int) -> DependabotAlert:
        data = self.client.get_json(f"{self._repo(repo)}/dependabot/alerts/{number}")
        return _one(DependabotAlert, data, f"Dependabot alert {number} of {repo}")

    def code_scanning_alerts(
        self, repo: str | None = None, state: str = "open", ref: str | None = None
    ) -> Iterator[CodeScanningAlert]:
        path = (
            f"{self._repo(repo)}/code-scanning/alerts"
            if repo
            else f"/orgs/{_q(self.owner)}/code-scanning/alerts"
        )
        params = {"state": state, "ref": ref}
        yield from _alerts(
            self.client.paginate(path, params), CodeScanningAlert, "code-scanning alert"
        )

    def code_scanning_alert(self, repo: str, number: int) -> CodeScanningAlert:
        data = self.client.get_json(f"{self._repo(repo)}/code-scanning/alerts/{number}")
        return _one(CodeScanningAlert, data, f"code-scanning alert {number} of {repo}")

    def secret_scanning_alerts(
        self, repo: str | None = None, state: str = "open", hide_secret: bool = True
    ) -> Iterator[SecretScanningAlert]:
        path = (
            f"{self._repo(repo)}/secret-scanning/alerts"
            if repo
            else f"/orgs/{_q(self.owner)}/secret-scanning/alerts"
        )
        params = {"state": state, "hide_secret": "true" if hide_secret else None}
        yield from _alerts(
            self.client.paginate(path, params), SecretScanningAlert, "secret-scanning alert"
        )

    def secret_scanning_alert(self, repo: str, number: int) -> SecretScanningAlert:
        """One alert with its secret value (registered with the redactor on arrival)."""
        data = self.client.get_json(f"{self._repo(repo)}/secret-scanning/alerts/{number}")
        return _one(SecretScanningAlert, data, f"secret-scanning alert {number} of {repo}")

    def secret_locations(self, repo: str, number: int) -> list[SecretLocation]:
        path = f"{self._repo(repo)}/secret-scanning/alerts/{number}/locations"
        what = f"locations of secret-scanning alert {number} of {repo}"
        return _complete(self.client.paginate(path), SecretLocation, what)

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
        items = map(_labels_checked, self.client.paginate(f"{self._repo(repo)}/pulls", params))
        return list(_valid(items, PullRequest, f"pull request of {repo}"))

    def pull(self, repo: str, number: int) -> PullRequest:
        data = self.client.get_json(f"{self._repo(repo)}/pulls/{number}")
        return _one(PullRequest, _labels_checked(data), f"PR #{number} of {repo}")

    def pull_files(self, repo: str, number: int) -> list[PullFile]:
        path = f"{self._repo(repo)}/pulls/{number}/files"
        return _complete(self.client.paginate(path), PullFile, f"files of PR #{number} of {repo}")

    # --- git data writes (`commit_via: api`: GitHub creates and signs the commit) ------------

    def create_blob(self, repo: str, content: bytes) -> str:
        payload = {"content": base64.b64encode(content).decode(), "encoding": "base64"}
        return _sha(self.client.post(f"{self._repo(repo)}/git/blobs", payload, "create blob").data)

    def create_tree(self, repo: str, base_tree: str, entries: list[dict[str, Any]]) -> str:
        payload = {"base_tree": base_tree, "tree": entries}
        return _sha(self.client.post(f"{self._repo(repo)}/git/trees", payload, "create tree").data)

    def create_commit(self, repo: str, message: str, tree: str, parents: list[str]) -> str:
        payload = {"message": message, "tree": tree, "parents": parents}
        return _sha(
            self.client.post(f"{self._repo(repo)}/git/commits", payload, "create commit").data
        )

    def create_branch_ref(self, repo: str, branch: str, sha: str) -> None:
        payload = {"ref": f"refs/heads/{branch}", "sha": sha}
        self.client.post(f"{self._repo(repo)}/git/refs", payload, f"create branch {branch}")

    def move_branch_ref(self, repo: str, branch: str, sha: str) -> None:
        path = f"{self._repo(repo)}/git/refs/{_q('heads/' + branch)}"
        self.client.patch(path, {"sha": sha, "force": True}, f"move branch {branch}")

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
        return _one(PullRequest, _labels_checked(response.data), f"new PR {head} of {repo}")

    def update_pull(self, repo: str, number: int, **fields: str) -> PullRequest:
        response = self.client.patch(
            f"{self._repo(repo)}/pulls/{number}", fields, f"update PR #{number}"
        )
        return _one(PullRequest, _labels_checked(response.data), f"PR #{number} of {repo}")

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

    def reviews(self, repo: str, number: int) -> list[Review]:
        """Every review of a PR, in chronological order (the gate needs the whole list)."""
        path = f"{self._repo(repo)}/pulls/{number}/reviews"
        return _complete(self.client.paginate(path), Review, f"reviews of PR #{number} of {repo}")

    def pull_commits(self, repo: str, number: int) -> list[PullCommit]:
        path = f"{self._repo(repo)}/pulls/{number}/commits"
        what = f"commits of PR #{number} of {repo}"
        return _complete(self.client.paginate(path), PullCommit, what)

    def graphql(self, query: str, variables: dict[str, Any], what: str) -> dict[str, Any]:
        """One GraphQL mutation, through the mutation policy like every other change
        (`POST /graphql` is a merge-class mutation); GitHub's `errors` raise GraphQLError."""
        # The client's scope knows the endpoint: /graphql, or /api/graphql beside GHES's /api/v3.
        url = urlsplit(self.client.base_url)._replace(path=self.client.scope.graphql).geturl()
        response = self.client.request("POST", url, {"query": query, "variables": variables}, what)
        data = response.data if isinstance(response.data, dict) else {}
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            raise GraphQLError(what, errors)
        result = data.get("data")
        if not isinstance(result, dict):
            raise MalformedResponseError(f"{what}: the GraphQL answer has no data")
        return result

    def enable_auto_merge(self, node_id: str, method: str, expected_head: str) -> dict[str, Any]:
        """GitHub's native auto-merge, pinned: GitHub refuses it if the head is not
        `expected_head`."""
        variables = {"pr": node_id, "method": method.upper(), "oid": expected_head}
        data = self.graphql(_ENABLE_AUTO_MERGE, variables, "enable auto-merge")
        return _mutation_payload(data, "enablePullRequestAutoMerge")

    def enqueue_pull(self, node_id: str, expected_head: str) -> dict[str, Any]:
        """Add a PR to its base's merge queue, pinned to `expected_head`."""
        variables = {"pr": node_id, "oid": expected_head}
        data = self.graphql(_ENQUEUE, variables, "enqueue in the merge queue")
        return _mutation_payload(data, "enqueuePullRequest")

    def comments(self, repo: str, number: int) -> list[Comment]:
        path = f"{self._repo(repo)}/issues/{number}/comments"
        return list(_valid(self.client.paginate(path), Comment, f"comment on #{number} of {repo}"))

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        response = self.client.post(
            f"{self._repo(repo)}/issues/{number}/comments", {"body": body}, f"comment on #{number}"
        )
        return _one(Comment, response.data, f"new comment on #{number} of {repo}")

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> list[Label]:
        response = self.client.post(
            f"{self._repo(repo)}/issues/{number}/labels",
            {"labels": list(labels)},
            f"label #{number}",
        )
        if not isinstance(response.data, list):
            raise MalformedResponseError(f"labels of #{number} of {repo}: the answer is no list")
        return list(_valid(response.data, Label, f"label of #{number} of {repo}"))

    # --- branches and checks --------------------------------------------------------------

    def branch(self, repo: str, name: str) -> Branch:
        data = self.client.get_json(f"{self._repo(repo)}/branches/{_q(name)}")
        return _one(Branch, data, f"branch {name} of {repo}")

    def branch_protection(self, repo: str, name: str) -> BranchProtection | None:
        """Classic protection; None when the branch is not protected. 403/404 on a
        protected branch propagate: the caller decides it is unreadable."""
        data = self.client.get_json(f"{self._repo(repo)}/branches/{_q(name)}/protection")
        return _one(BranchProtection, data, f"protection of {name} of {repo}")

    def branch_rules(self, repo: str, name: str) -> list[BranchRule]:
        path = f"{self._repo(repo)}/rules/branches/{_q(name)}"
        return _complete(self.client.paginate(path), BranchRule, f"rules of {name} of {repo}")

    def check_runs(self, repo: str, ref: str) -> list[CheckRun]:
        path = f"{self._repo(repo)}/commits/{_q(ref)}/check-runs"
        items = self.client.paginate(path, items_key="check_runs")
        return _complete(items, CheckRun, f"check runs of {ref} in {repo}")

    def combined_status(self, repo: str, ref: str) -> CombinedStatus:
        # One malformed status refuses the whole answer (the error names its index), as
        # for check runs: a missing failing status would let the gate pass.
        path = f"{self._repo(repo)}/commits/{_q(ref)}/status"
        what = f"commit statuses of {ref} in {repo}"
        combined = _one(CombinedStatus, self.client.get_json(path, {"per_page": 100}), what)
        # GitHub pages the statuses (30 by default, 100 at most): read every page.
        for page in range(2, STATUS_PAGES + 1):
            if len(combined.statuses) >= combined.total_count:
                break
            more = _one(
                CombinedStatus, self.client.get_json(path, {"per_page": 100, "page": page}), what
            )
            if not more.statuses:
                break
            combined.statuses.extend(more.statuses)
        return combined

    # --- git data (pinning actions) --------------------------------------------------------

    def tag_ref(self, full_repo: str, tag: str) -> GitRef:
        owner, name = full_repo.split("/", 1)
        data = self.client.get_json(f"/repos/{_q(owner)}/{_q(name)}/git/ref/tags/{_q(tag)}")
        return _one(GitRef, data, f"tag {tag} of {full_repo}")

    def tag_object(self, full_repo: str, sha: str) -> GitTag:
        owner, name = full_repo.split("/", 1)
        data = self.client.get_json(f"/repos/{_q(owner)}/{_q(name)}/git/tags/{_q(sha)}")
        return _one(GitTag, data, f"tag object {sha} of {full_repo}")
