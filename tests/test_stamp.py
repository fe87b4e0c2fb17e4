"""The PR stamp: rendered once, parsed strictly, never trusted blindly."""

from __future__ import annotations

import contextlib
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentd.stamp import Stamp, StampError, parse_stamp, render_stamp, replace_stamp
from agentd.units import branch_name, key_short, remediation_key
from agentd.vocabulary import AlertClass

EXAMPLES = int(os.environ.get("AGENTD_FUZZ_EXAMPLES", "1000"))


def _stamp(**overrides: object) -> Stamp:
    fields: dict[str, object] = {
        "remediation_key": "acme/api:dependabot:main:root",
        "alert_class": "dependabot",
        "target_id": "root",
        "base_branch": "main",
        "advisory_ids": ["GHSA-9hjg-9r4m-mvj7", "GHSA-j8r2-6x86-q33q"],
        "agent_version": "0.1.0",
        "last_pass_at": "2026-11-22T10:00:00+00:00",
    }
    fields.update(overrides)
    return Stamp.model_validate(fields)


def test_round_trip() -> None:
    stamp = _stamp()
    body = replace_stamp("Bumps requests.\n", stamp)
    assert parse_stamp(body) == stamp
    assert body.count("agentd:remediation") == 1


def test_replace_keeps_exactly_one_stamp() -> None:
    body = replace_stamp(replace_stamp("text", _stamp()), _stamp(target_id="ui"))
    parsed = parse_stamp(body)
    assert parsed is not None
    assert parsed.target_id == "ui"


def test_no_stamp_is_none() -> None:
    assert parse_stamp("Bumps lodash from 4.17.20 to 4.17.21.") is None
    assert parse_stamp(None) is None


@pytest.mark.parametrize(
    "body",
    [
        "<!-- agentd:remediation {not json} -->",
        "<!-- agentd:remediation [1,2] -->",
        "<!-- agentd:remediation {} -->",
        render_stamp(_stamp()) + render_stamp(_stamp()),
        render_stamp(_stamp()).replace('"schema_version":1', '"schema_version":2'),
        render_stamp(_stamp()).replace("}", ',"extra":1}'),
        render_stamp(_stamp()).replace("GHSA-9hjg-9r4m-mvj7", "CVE-2024-1"),
        render_stamp(_stamp()).replace(
            '"alert_class":"dependabot"', '"alert_class":"secret_scanning"'
        ),
        "agentd:remediation mentioned without a comment",
    ],
)
def test_malformed_stamps_are_refused(body: str) -> None:
    with pytest.raises(StampError):
        parse_stamp(body)


def test_per_class_fields_are_enforced() -> None:
    with pytest.raises(ValueError, match="alert_number"):
        _stamp(
            remediation_key="acme/api:secret_scanning:main:root:3",
            alert_class="secret_scanning",
            advisory_ids=None,
            secret_type="aws_access_key_id",
        )
    ok = _stamp(
        remediation_key="acme/api:secret_scanning:main:root:3",
        alert_class="secret_scanning",
        advisory_ids=None,
        alert_number=3,
        secret_type="aws_access_key_id",
    )
    assert parse_stamp(render_stamp(ok)) == ok


def test_rendered_json_cannot_close_the_comment() -> None:
    stamp = _stamp(base_branch="release-->x<!--")
    rendered = render_stamp(stamp)
    assert rendered.count("-->") == 1
    assert parse_stamp(rendered) == stamp


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=400))
def test_fuzzed_bodies_parse_or_refuse_cleanly(body: str) -> None:
    with contextlib.suppress(StampError):
        parse_stamp(body)


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(
    st.dictionaries(st.sampled_from(list(Stamp.model_fields)), st.from_type(object), max_size=12)
)
def test_fuzzed_stamp_objects_parse_or_refuse_cleanly(data: dict[str, object]) -> None:
    try:
        body = f"<!-- agentd:remediation {json.dumps(data, default=str)} -->"
    except ValueError:
        return
    with contextlib.suppress(StampError):
        parse_stamp(body)


def test_keys_and_branches() -> None:
    key = remediation_key("acme", "api", AlertClass.DEPENDABOT, "main", "root")
    assert key == "acme/api:dependabot:main:root"
    cs = remediation_key(
        "acme", "api", AlertClass.CODE_SCANNING, "main", "root",
        qualifier="Actions/Missing-Workflow-Permissions",
    )  # fmt: skip
    assert cs.endswith(":code_scanning:main:root:actions/missing-workflow-permissions")
    ss = remediation_key("acme", "api", AlertClass.SECRET_SCANNING, "main", "root", qualifier=7)
    assert ss.endswith(":7")
    assert len(key_short(key)) == 12
    template = "security/{alert_class}/{target_id}/{remediation_key_short}"
    assert branch_name(template, AlertClass.DEPENDABOT, "root", key, "api") == (
        f"security/dependabot/root/{key_short(key)}"
    )


def test_a_body_over_githubs_limit_is_shortened_and_keeps_its_stamp() -> None:
    from agentd.stamp import GITHUB_BODY_LIMIT, parse_stamp, stamped_body
    from agentd.vocabulary import AlertClass

    stamp = Stamp(
        remediation_key="acme-org/api:dependabot:main:root",
        alert_class=AlertClass.DEPENDABOT,
        target_id="root",
        base_branch="main",
        advisory_ids=["GHSA-9hjg-9r4m-mvj7"],
        agent_version="0.1.0",
        last_pass_at="2026-12-01T00:00:00+00:00",
    )
    body = stamped_body("| row |\n" * 20_000, stamp)
    assert len(body) <= GITHUB_BODY_LIMIT and "shortened" in body
    assert parse_stamp(body) == stamp
    assert stamped_body("short", stamp).startswith("short")
