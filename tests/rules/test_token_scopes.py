"""Fail-closed judgement of what a workflow needs from its GITHUB_TOKEN."""

from __future__ import annotations

import pytest
import yaml

from agentd.rules.token_scopes import Assessment, assess


def judge(steps: str, on: str = "push", job: str = "", top: str = "") -> Assessment:
    text = (
        f"on: {on}\n{top}jobs:\n  build:\n    runs-on: ubuntu-latest\n{job}"
        f"    steps:\n      - uses: actions/checkout@v4\n{steps}"
    )
    return assess(yaml.safe_load(text))


@pytest.mark.parametrize(
    "step",
    [
        "      - uses: Actions/Setup-Node@main\n",
        "      - uses: actions/cache/restore@0123456789abcdef0123456789abcdef01234567\n",
        "      - uses: actions/upload-artifact@v4\n        with:\n          path: dist\n",
        "      - run: cargo build --release && ./target/release/app --help\n",
        "      - run: cmake -DCMAKE_BUILD_TYPE=Release .\n",
        "      - run: python -m pytest -q\n        env:\n          CI: 'true'\n",
    ],
)
def test_known_read_only_steps(step: str) -> None:
    assert judge(step) == Assessment(jobs_checked=1)


@pytest.mark.parametrize(
    ("step", "why"),
    [
        ("      - uses: third-party-org/setup-thing@v1\n", "not on the read-only allowlist"),
        ("      - uses: ./.github/actions/build\n", "cannot inspect"),
        ("      - uses: docker://alpine:3\n", "cannot inspect"),
        (
            "      - uses: actions/download-artifact@v4\n        with:\n          run-id: 1\n",
            "actions: read",
        ),
        ("      - run: gh pr view 1\n", "`gh pr view 1`"),
        ("      - run: gh release download v1\n", "`gh release download v1`"),
        ("      - run: make release\n", "`make release`"),
        ("      - run: ./scripts/deploy.sh prod\n", "`./scripts/deploy.sh prod`"),
        ("      - run: ./test.sh\n        env:\n          T: ${{ github.token }}\n", "token"),
        ("      - run: curl -fsS $GITHUB_API_URL/repos/acme-org/api\n", "GITHUB_API_URL"),
        ("      - name: Nothing\n", "neither uses an action nor runs"),
    ],
)
def test_steps_that_cannot_be_ruled_out_are_named(step: str, why: str) -> None:
    assessment = judge(step)
    assert assessment.needs_write == []
    [line] = assessment.unknown
    assert line.startswith("job build, step 2") and why in line


@pytest.mark.parametrize(
    ("step", "why"),
    [
        ("      - run: git push origin HEAD:main\n", "git push"),
        ("      - run: gh api -X PATCH repos/acme-org/api -f private=true\n", "gh api"),
        ("      - run: twine upload dist/*\n", "twine upload"),
        ("      - uses: actions/deploy-pages@v4\n", "pages: write"),
        (
            "      - uses: docker/login-action@v3\n        with:\n          registry: ghcr.io\n",
            "packages",
        ),
        (
            "      - uses: some/action@v1\n        with:\n          role-to-assume: arn\n",
            "id-token",
        ),
    ],
)
def test_steps_known_to_need_write(step: str, why: str) -> None:
    [line] = judge(step).needs_write
    assert line.startswith("job build, step 2") and why in line


def test_token_exposed_to_a_whole_job_cannot_be_ruled_out() -> None:
    assessment = judge(
        "      - run: make test\n", job="    env:\n      GH_TOKEN: ${{ github.token }}\n"
    )
    assert assessment.unknown == [
        "job build passes the token outside its steps (env, container, ...)"
    ]


def test_deploy_action_in_an_environment_needs_write() -> None:
    step = "      - uses: acme/deploy-action@v1\n"
    assessment = judge(step, job="    environment: production\n")
    assert assessment.needs_write == [
        "job build, step 2 uses acme/deploy-action, which needs deployments: write"
    ]
    assert "job build deploys to an environment" in assessment.unknown


def test_jobs_with_their_own_permissions_are_not_judged() -> None:
    assessment = judge("      - run: git push\n", job="    permissions:\n      contents: write\n")
    assert assessment == Assessment(jobs_checked=0)
