"""`actions/missing-workflow-permissions`: byte-preserving, and fail closed on write needs."""

from __future__ import annotations

import pytest

from agentd.rules.base import Environment, FileFix, Finding
from agentd.rules.missing_permissions import RULE, proposed_permissions

PATH = ".github/workflows/ci.yml"
# CodeQL proposes this even for workflows that need write scopes: it is no proof.
MESSAGE = (
    "Actions job or workflow does not limit the permissions of the GITHUB_TOKEN. Consider "
    "setting an explicit permissions block, using the following as a minimal starting point: "
    "{contents: read}"
)
BLOCK = "permissions:\n  contents: read\n\n"

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


def fix(text: str, *messages: str) -> FileFix:
    findings = [Finding(n, PATH, 8, m) for n, m in enumerate(messages or (MESSAGE,), 1)]
    return RULE.fix_file(PATH, text, findings, Environment())


def workflow(steps: str, on: str = "push", job: str = "") -> str:
    return (
        f"name: w\non: {on}\njobs:\n  build:\n    runs-on: ubuntu-latest\n{job}"
        f"    steps:\n      - uses: actions/checkout@v4\n{steps}"
    )


def assert_not_unattended(result: FileFix) -> None:
    assert result.refused or result.review, result


def test_inserts_read_only_block_before_jobs_and_nothing_else() -> None:
    result = fix(BUILD)
    assert result.text == BUILD.replace("jobs:\n", BLOCK + "jobs:\n")
    assert result.notes == [f"{PATH}: added top-level permissions {{contents: read}}"]


def test_plain_ci_workflow_may_merge_unattended() -> None:
    text = workflow(
        "      - uses: actions/setup-python@v5\n        with:\n          python-version: '3.11'\n"
        "      - run: python -m pytest -q\n",
        on="[push, pull_request]",
    )
    result = fix(text)
    assert result.text is not None and not result.refused
    assert result.review == []


def test_keeps_crlf_and_four_space_indentation() -> None:
    text = BUILD.replace("  ", "    ").replace("\n", "\r\n")
    result = fix(text)
    assert result.text is not None
    assert "permissions:\r\n    contents: read\r\n\r\njobs:" in result.text
    assert result.text.replace("permissions:\r\n    contents: read\r\n\r\n", "") == text


# The four workflows the old rule auto-merged `contents: read` onto, breaking them.


@pytest.mark.parametrize(
    "login",
    [
        "aws-actions/configure-aws-credentials@v4\n        with:\n"
        "          role-to-assume: arn:aws:iam::123456789012:role/deploy\n"
        "          aws-region: eu-west-1\n",
        "google-github-actions/auth@v2\n        with:\n"
        "          workload_identity_provider: projects/1/locations/global/workloadIdentityPools/p/providers/gh\n"
        "          service_account: deploy@acme.iam.gserviceaccount.com\n",
        "azure/login@v2\n        with:\n          client-id: ${{ vars.AZURE_CLIENT_ID }}\n"
        "          tenant-id: ${{ vars.AZURE_TENANT_ID }}\n"
        "          subscription-id: ${{ vars.AZURE_SUBSCRIPTION_ID }}\n",
    ],
)
def test_cloud_login_with_oidc_is_refused(login: str) -> None:
    text = workflow(f"      - uses: {login}      - run: ./deploy.sh\n")
    result = fix(text)
    assert result.text is None and result.refused
    assert "id-token: write" in result.review[0]


def test_commenting_on_a_pull_request_with_gh_api_is_refused() -> None:
    text = workflow(
        "      - run: |\n"
        "          gh api repos/${{ github.repository }}/issues/${{ github.event.number }}/comments \\\n"
        '            -f body="Preview is ready"\n'
        "        env:\n          GH_TOKEN: ${{ github.token }}\n",
        on="pull_request",
    )
    result = fix(text)
    assert result.text is None and result.refused
    assert "gh api" in result.review[0]


def test_calling_the_api_with_curl_and_the_token_needs_a_person() -> None:
    text = workflow(
        "      - run: >\n          curl -sS -X POST"
        ' -H "Authorization: Bearer ${{ secrets.GITHUB_TOKEN }}"'
        " https://api.github.com/repos/acme-org/api/statuses/${{ github.sha }} -d '{}'\n"
    )
    result = fix(text)
    assert_not_unattended(result)
    assert any("job build, step 2" in line for line in result.review)


def test_pushing_an_image_to_ghcr_is_refused() -> None:
    text = workflow(
        '      - run: echo "${{ secrets.GITHUB_TOKEN }}" | docker login ghcr.io -u x --password-stdin\n'
        "      - uses: docker/build-push-action@v6\n"
        "        with:\n          push: true\n          tags: ghcr.io/acme-org/api:latest\n"
    )
    result = fix(text)
    assert result.text is None and result.refused
    assert "packages: write" in result.review[0]


@pytest.mark.parametrize(
    "called", ["./.github/workflows/publish.yml", "acme-org/shared/.github/workflows/x.yml@v1"]
)
def test_calling_a_reusable_workflow_needs_a_person(called: str) -> None:
    text = workflow("      - run: make test\n") + (
        f"  publish:\n    needs: build\n    uses: {called}\n    secrets: inherit\n"
    )
    result = fix(text)
    assert result.text is not None  # the block is proposed, for a person to judge
    assert result.review == [
        f"{PATH}: cannot rule out write needs: job publish calls the reusable workflow "
        f"{called}, whose needs are unknown"
    ]


@pytest.mark.parametrize(
    ("snippet", "why"),
    [
        ("      - uses: softprops/action-gh-release@v2\n", "action-gh-release"),
        ("      - run: gh release create v1\n", "gh release"),
        ("      - run: npm publish\n", "npm publish"),
        ("      - uses: actions/github-script@v7\n", "github-script"),
        ("      - run: gh pr comment 1 --body hi\n", "gh pr comment"),
        ("      - run: git tag v1 && git push origin v1\n", "git push"),
    ],
)
def test_write_scope_workflows_are_refused(snippet: str, why: str) -> None:
    result = fix(BUILD + snippet)
    assert result.text is None and result.refused
    assert why in result.review[0]


@pytest.mark.parametrize("trigger", ["pull_request_target", "workflow_run"])
def test_bot_triggers_need_a_person(trigger: str) -> None:
    result = fix(BUILD.replace("  pull_request:", f"  {trigger}:"))
    assert_not_unattended(result)
    assert any(trigger in line for line in result.review)


def test_a_job_with_its_own_permissions_is_left_to_them() -> None:
    text = BUILD + (
        "  release:\n    runs-on: ubuntu-latest\n    permissions:\n      contents: write\n"
        "    steps:\n      - run: gh release create v1\n"
    )
    result = fix(text)
    assert result.text == text.replace("jobs:\n", BLOCK + "jobs:\n")
    assert result.review == []


def test_every_job_with_its_own_permissions_means_nothing_to_do() -> None:
    text = BUILD.replace("    runs-on:", "    permissions: {}\n    runs-on:")
    result = fix(text)
    assert result.text is None and not result.refused and not result.review


def test_existing_block_means_nothing_to_do() -> None:
    result = fix("permissions: {}\n" + BUILD)
    assert result.text is None and not result.refused


def test_unparseable_workflow_is_refused_with_the_reason() -> None:
    result = fix(BUILD + "  bad: [unclosed\n")
    assert result.text is None and result.refused
    assert "cannot be parsed" in result.review[0]


def test_proposal_from_the_alert_message() -> None:
    message = "Consider setting an explicit permissions block, using the following as a minimal starting point: {contents: read, issues: read}"
    assert proposed_permissions(message) == {"contents": "read", "issues": "read"}


def test_block_is_the_union_of_the_alerts_proposals() -> None:
    result = fix(BUILD, MESSAGE, "starting point: {actions: read, contents: none}", "no proposal")
    assert result.text is not None
    assert "permissions:\n  contents: read\n  actions: read\n\njobs:" in result.text


def test_a_proposed_write_scope_is_refused() -> None:
    result = fix(BUILD, "starting point: {contents: read, pull-requests: write}")
    assert result.text is None and result.refused
    assert "pull-requests: write" in result.review[0]


FIXED = BUILD.replace("jobs:\n", BLOCK + "jobs:\n")


def test_check_accepts_the_real_fix() -> None:
    assert RULE.check(PATH, BUILD, FIXED) is None


@pytest.mark.parametrize(
    "after",
    [
        FIXED.replace("# build and test", "# build and tests"),  # same YAML, another byte
        FIXED.replace("pytest -q", "pytest"),
        FIXED.replace("\n", "\r\n"),
        FIXED.replace("contents: read", "contents: write"),
        BUILD.replace("jobs:\n", "permissions:\n  contents: read\njobs:\n").replace(
            "name: ci", "name: ci  "
        ),
        BUILD,
        FIXED + "  bad: [unclosed\n",
    ],
)
def test_check_rejects_any_other_change(after: str) -> None:
    assert RULE.check(PATH, BUILD, after) is not None
