"""Branch protection and rulesets: what GitHub shows of them, and how it enforces them.

Classic protection is readable in full by an admin only; everyone else gets GitHub's 404
"Not Found" and the branch's protection summary (its required status checks). Rulesets are
readable by anyone through the rules endpoint. Enforcement follows GitHub: an admin token
bypasses classic protection unless `enforce_admins`; a ruleset binds everyone not on its
bypass list (`bypass`); a ruleset violation is answered as "Repository rule violations
found" followed by each violated rule's message. Auto-merge and the merge queue bypass
nothing.
"""

from __future__ import annotations

import fnmatch
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentd.simulator import gitstore, shapes
from agentd.simulator.scenario import Protection, Ruleset
from agentd.simulator.world import Pull, RepoState, Review, World

RULE_VIOLATIONS = "Repository rule violations found"
DOC_PROTECTION = "/branches/branch-protection#get-branch-protection"
_CODEOWNERS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


def classic(state: RepoState, branch: str) -> Protection | None:
    return state.config.protection if branch == state.config.default_branch else None


def rulesets(state: RepoState, branch: str) -> list[tuple[int, Ruleset]]:
    """The active rulesets that apply to `branch`, with their ids."""
    return [
        (i, r)
        for i, r in enumerate(state.config.rulesets, 1)
        if r.enforcement == "active" and targets(state, r, branch)
    ]


def targets(state: RepoState, ruleset: Ruleset, branch: str) -> bool:
    """Whether the ruleset's ref-name condition (include minus exclude) selects `branch`."""

    def selected(patterns: Sequence[str]) -> bool:
        return any(_ref_matches(state, pattern, branch) for pattern in patterns)

    return selected(ruleset.include) and not selected(ruleset.exclude)


def _ref_matches(state: RepoState, pattern: str, branch: str) -> bool:
    if pattern == "~ALL":
        return True
    if pattern == "~DEFAULT_BRANCH":
        return branch == state.config.default_branch
    return bool(_glob(pattern.removeprefix("refs/heads/")).match(branch))


def _glob(pattern: str) -> re.Pattern[str]:
    """fnmatch with FNM_PATHNAME, as GitHub matches ref names: `*` stops at `/`, `**` does not."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        for token, regex in (("**/", "(?:.*/)?"), ("**", ".*"), ("*", "[^/]*"), ("?", "[^/]")):
            if pattern.startswith(token, index):
                parts.append(regex)
                index += len(token)
                break
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts) + r"\Z")


def user_id(login: str) -> int:
    return 2_000_000 + zlib.crc32(login.encode()) % 1_000_000


# --- JSON: the protection endpoint, the branch summary, the rules endpoint ----------------


def protection_json(world: World, state: RepoState, branch: str, rule: Protection) -> Any:
    url = f"{world.api_url}/repos/{world.full_name(state)}/branches/{branch}/protection"
    body: dict[str, Any] = {
        "url": url,
        "required_status_checks": {
            "url": f"{url}/required_status_checks",
            "strict": False,
            "contexts": sorted(rule.required_checks),
            "contexts_url": f"{url}/required_status_checks/contexts",
            "checks": [{"context": c, "app_id": None} for c in sorted(rule.required_checks)],
        },
        "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": rule.enforce_admins},
        "required_signatures": {
            "url": f"{url}/required_signatures",
            "enabled": rule.required_signatures,
        },
        "required_linear_history": {"enabled": rule.required_linear_history},
        "allow_force_pushes": {"enabled": False},
        "allow_deletions": {"enabled": False},
        "required_conversation_resolution": {"enabled": False},
    }
    reviews = rule.required_reviews
    if reviews is not None:
        body["required_pull_request_reviews"] = {
            "url": f"{url}/required_pull_request_reviews",
            "dismiss_stale_reviews": reviews.dismiss_stale,
            "require_code_owner_reviews": reviews.code_owners,
            "required_approving_review_count": reviews.count,
            "require_last_push_approval": reviews.last_push_approval,
        }
    return body


def summary_json(state: RepoState, branch: str) -> dict[str, Any]:
    """The `protection` of GET /branches/{branch}: readable with contents:read."""
    rule = classic(state, branch)
    if rule is not None and not rule.readable:
        return {"enabled": True}
    contexts = sorted(rule.required_checks) if rule else []
    level = "off" if rule is None else ("everyone" if rule.enforce_admins else "non_admins")
    return {
        "enabled": rule is not None,
        "required_status_checks": {
            "enforcement_level": level,
            "contexts": contexts,
            "checks": [{"context": c, "app_id": None} for c in contexts],
        },
    }


def rules_json(world: World, state: RepoState, branch: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for index, ruleset in rulesets(state, branch):
        info = {
            "ruleset_source_type": "Repository",
            "ruleset_source": world.full_name(state),
            "ruleset_id": index,
        }
        items += [{**rule, **info} for rule in _rules_of(state, ruleset)]
    return items


def _rules_of(state: RepoState, ruleset: Ruleset) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [{"type": "deletion"}]
    if ruleset.required_checks:
        rules.append(_required_checks_rule(ruleset.required_checks))
    if ruleset.pull_request is not None:
        parameters = ruleset.pull_request.model_dump(exclude_none=True)
        rules.append({"type": "pull_request", "parameters": parameters})
    if ruleset.merge_queue is not None:
        rules.append({"type": "merge_queue", "parameters": _queue_parameters(ruleset)})
    if ruleset.required_signatures:
        rules.append({"type": "required_signatures"})
    if ruleset.required_linear_history:
        rules.append({"type": "required_linear_history"})
    if ruleset.workflows:
        workflows = [
            {"path": path, "repository_id": state.rid, "ref": f"refs/heads/{state.config.default_branch}"}
            for path in ruleset.workflows
        ]  # fmt: skip
        parameters = {"do_not_enforce_on_create": False, "workflows": workflows}
        rules.append({"type": "workflows", "parameters": parameters})
    if ruleset.code_scanning_tools:
        tools = [
            {"tool": tool, "alerts_threshold": "errors", "security_alerts_threshold": "high_or_higher"}
            for tool in ruleset.code_scanning_tools
        ]  # fmt: skip
        rules.append({"type": "code_scanning", "parameters": {"code_scanning_tools": tools}})
    if ruleset.branch_name_pattern is not None:
        rules.append(
            {"type": "branch_name_pattern", "parameters": ruleset.branch_name_pattern.model_dump()}
        )
    return rules


def _required_checks_rule(names: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "required_status_checks",
        "parameters": {
            "strict_required_status_checks_policy": False,
            "do_not_enforce_on_create": False,
            "required_status_checks": [{"context": c} for c in names],
        },
    }


def _queue_parameters(ruleset: Ruleset) -> dict[str, Any]:
    assert ruleset.merge_queue is not None  # noqa: S101 - only called for a queue rule
    return {
        "check_response_timeout_minutes": 60,
        "grouping_strategy": ruleset.merge_queue.grouping_strategy,
        "max_entries_to_build": 5,
        "max_entries_to_merge": 5,
        "merge_method": ruleset.merge_queue.merge_method,
        "min_entries_to_merge": 1,
        "min_entries_to_merge_wait_minutes": 5,
    }


def queue_method(state: RepoState, branch: str) -> str | None:
    """The merge method of the merge queue `branch` requires, or None."""
    for _, ruleset in rulesets(state, branch):
        if ruleset.merge_queue is not None:
            return ruleset.merge_queue.merge_method.lower()
    return None


def review_json(world: World, state: RepoState, pull: Pull, review: Review) -> dict[str, Any]:
    full = world.full_name(state)
    html = f"{shapes.WEB}/{full}/pull/{pull.number}#pullrequestreview-{review.id}"
    api_url = f"{world.api_url}/repos/{full}/pulls/{pull.number}"
    return {
        "id": review.id, "node_id": shapes.node_id("review", review.id),
        "user": shapes.user(world.api_url, review.user[0], review.user[1]), "body": review.body,
        "state": review.state, "html_url": html, "pull_request_url": api_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": api_url}},
        "submitted_at": shapes.iso(review.submitted_at), "commit_id": review.commit_id,
        "author_association": "MEMBER",
    }  # fmt: skip


# --- enforcement ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirements:
    """What must hold for a merge; `violations` are GitHub's messages for what does not."""

    classic: list[str]
    ruleset: list[str]

    def message(self) -> str | None:
        if self.classic:
            return self.classic[0]
        if self.ruleset:
            return f"{RULE_VIOLATIONS}\n\n" + "\n\n".join(self.ruleset)
        return None


def requirements(
    world: World, state: RepoState, pull: Pull, head: str, method: str, *, rest: bool
) -> Requirements:
    """Every unmet requirement of merging `head` of `pull` by `method`. `rest`: the token
    merges through the REST API, where its bypasses apply (an admin passes classic
    protection unless enforce_admins; a ruleset's bypass list); otherwise GitHub's own
    machinery (auto-merge, the merge queue) merges, bypasses nothing, and a merge-queue
    rule is what it satisfies."""
    dismiss_stale(state, pull, head)
    admin = state.config.permissions.admin
    rule = classic(state, pull.base)
    classic_problems: list[str] = []
    if rule is not None and not (rest and admin and not rule.enforce_admins):
        classic_problems = _classic_problems(world, state, pull, head, method, rule)
    ruleset_problems: list[str] = []
    for _, ruleset in rulesets(state, pull.base):
        if not (rest and ruleset.bypass):
            ruleset_problems += _ruleset_problems(world, state, pull, head, method, ruleset, rest)
    return Requirements(classic_problems, ruleset_problems)


def _classic_problems(
    world: World, state: RepoState, pull: Pull, head: str, method: str, rule: Protection
) -> list[str]:
    problems: list[str] = []
    if rule.required_reviews is not None:
        reviews = rule.required_reviews
        problems += review_problems(
            world, state, pull, head,
            count=reviews.count, code_owners=reviews.code_owners,
            fresh_only=reviews.last_push_approval or reviews.dismiss_stale,
            last_push=reviews.last_push_approval,
        )  # fmt: skip
    problems += check_problems(world, state, head, rule.required_checks)
    if rule.required_linear_history and method == "merge":
        problems.append("Merge commits are not allowed on this repository.")
    if rule.required_signatures and not all_signed(state, pull, head):
        problems.append("Commits must have verified signatures.")
    return problems


def _ruleset_problems(
    world: World,
    state: RepoState,
    pull: Pull,
    head: str,
    method: str,
    ruleset: Ruleset,
    rest: bool,
) -> list[str]:
    problems: list[str] = []
    if ruleset.merge_queue is not None and rest:
        problems.append("Changes must be made through the merge queue")
    rule = ruleset.pull_request
    if rule is not None:
        problems += review_problems(
            world, state, pull, head,
            count=rule.required_approving_review_count, code_owners=rule.require_code_owner_review,
            fresh_only=rule.require_last_push_approval or rule.dismiss_stale_reviews_on_push,
            last_push=rule.require_last_push_approval,
        )  # fmt: skip
        if rule.allowed_merge_methods is not None and method not in rule.allowed_merge_methods:
            problems.append(f"Merge method {method} is not allowed.")
    problems += check_problems(world, state, head, ruleset.required_checks)
    if ruleset.required_linear_history and method == "merge":
        problems.append("This branch must not contain merge commits.")
    if ruleset.required_signatures and not all_signed(state, pull, head):
        problems.append("Commits must have verified signatures.")
    return problems


def all_signed(state: RepoState, pull: Pull, head: str) -> bool:
    """Whether every commit the PR brings is verified: signed by a registered key (the
    scenario's `verified_commits`) or created and signed by GitHub through the API."""
    if state.config.verified_commits:
        return True
    base = gitstore.branch_sha(state.path, pull.base) or ""
    commits = gitstore.rev_list(state.path, f"{base}..{head}")
    return bool(commits) and all(sha in state.signed for sha in commits)


def check_problems(world: World, state: RepoState, head: str, names: Sequence[str]) -> list[str]:
    outcomes = {c.name: o for c, o in world.checks_for(state, head, count_poll=False)}
    return [f'Required status check "{n}" is expected.' for n in sorted(names) if outcomes.get(n) != "success"]  # fmt: skip


def latest_reviews(pull: Pull) -> dict[str, Review]:
    """Each reviewer's latest decisive review (COMMENTED changes nothing); the author's own
    reviews never count."""
    latest: dict[str, Review] = {}
    for review in pull.reviews:
        if review.user[0] != pull.author[0] and review.state != "COMMENTED":
            latest[review.user[0]] = review
    return latest


def review_problems(
    world: World,
    state: RepoState,
    pull: Pull,
    head: str,
    *,
    count: int,
    code_owners: bool,
    fresh_only: bool,
    last_push: bool,
) -> list[str]:
    latest = latest_reviews(pull)
    changes = [r for r in latest.values() if r.state == "CHANGES_REQUESTED"]
    if changes:
        s = "s" if len(changes) > 1 else ""
        return [f"{len(changes)} review{s} requesting changes by reviewers with write access."]
    approvals = [r for r in latest.values() if r.state == "APPROVED"]
    fresh = {r.user[0] for r in approvals if not fresh_only or r.commit_id == head}
    if len(fresh) < count:
        if last_push and len(approvals) > len(fresh):
            pusher = pull.author[0]
            return [
                f"New changes require approval from someone other than {pusher} because they "
                "were the last pusher."
            ]
        are = "review is" if count == 1 else "reviews are"
        return [f"At least {count} approving {are} required by reviewers with write access."]
    if code_owners:
        missing = _owners_missing(state, pull, head, fresh)
        if missing:
            return [f"Waiting on code owner review from {', '.join(sorted(missing))}."]
    return []


def _owners_missing(state: RepoState, pull: Pull, head: str, approvers: set[str]) -> set[str]:
    """The owners of changed files none of whose owners approved (from CODEOWNERS on the
    base: `pattern @login ...`, the last matching line wins)."""
    base = gitstore.branch_sha(state.path, pull.base) or ""
    rules = _codeowners(state, base)
    since = gitstore.merge_base(state.path, base, head) or base
    missing: set[str] = set()
    for _code, path, *_rest in gitstore.diff_files(state.path, since, head):
        owners = next((o for pattern, o in reversed(rules) if _matches(pattern, path)), [])
        if owners and not {o.lstrip("@") for o in owners} & approvers:
            missing |= set(owners)
    return missing


def _codeowners(state: RepoState, sha: str) -> list[tuple[str, list[str]]]:
    for path in _CODEOWNERS:
        content = gitstore.read_file(state.path, sha, path)
        if content is not None:
            lines = content.decode("utf-8", "replace").splitlines()
            return [
                (parts[0], parts[1:])
                for parts in (line.split() for line in lines if line.strip() and not line.startswith("#"))
                if len(parts) > 1
            ]  # fmt: skip
    return []


def _matches(pattern: str, path: str) -> bool:
    pattern = pattern.lstrip("/")
    if pattern in ("*", "**"):
        return True
    if pattern.endswith("/"):
        return path.startswith(pattern)
    return fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], pattern)


def dismiss_stale(state: RepoState, pull: Pull, head: str) -> None:
    """GitHub dismisses approvals of an older head when the base asks it to."""
    wanted = False
    rule = classic(state, pull.base)
    if rule is not None and rule.required_reviews is not None:
        wanted = rule.required_reviews.dismiss_stale
    for _, ruleset in rulesets(state, pull.base):
        if ruleset.pull_request is not None and ruleset.pull_request.dismiss_stale_reviews_on_push:
            wanted = True
    if not wanted:
        return
    for review in pull.reviews:
        if review.state == "APPROVED" and review.commit_id != head:
            review.state = "DISMISSED"


def protected(state: RepoState, branch: str) -> bool:
    """Whether anything (classic protection or an active ruleset) governs merges into `branch`."""
    return classic(state, branch) is not None or bool(rulesets(state, branch))
