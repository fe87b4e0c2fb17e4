"""The PR stamp of SPEC §6: one HTML comment holding one JSON object.

`<!-- agentd:remediation {...} -->` identifies an agentd-managed (or adopted) PR. It is
advisory: parsed strictly, never trusted over live state. A body with two stamps, a
malformed one, or one with unknown or missing fields is a `StampError`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agentd.vocabulary import AlertClass

SCHEMA_VERSION = 1
MAX_BODY_CHARS = 262_144
_MARKER = "agentd:remediation"
_STAMP = re.compile(r"<!--\s*agentd:remediation\b(.*?)-->", re.DOTALL)
_GHSA = re.compile(r"^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$")


class StampError(ValueError):
    pass


class Stamp(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = Field(default=SCHEMA_VERSION)
    remediation_key: str = Field(min_length=3, max_length=512)
    alert_class: AlertClass
    target_id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)
    base_branch: str = Field(min_length=1, max_length=255)
    advisory_ids: list[str] | None = None
    alert_number: int | None = Field(default=None, ge=1)
    secret_type: str | None = Field(default=None, max_length=200)
    agent_version: str = Field(max_length=50)
    last_pass_at: str

    @field_validator("schema_version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"unsupported stamp schema_version {value}")
        return value

    @field_validator("advisory_ids")
    @classmethod
    def _advisories(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if value != sorted(set(value)):
            raise ValueError("advisory_ids must be sorted and unique")
        bad = [v for v in value if not _GHSA.match(v)]
        if bad:
            raise ValueError(f"not GHSA ids: {bad[:3]}")
        return value

    @field_validator("last_pass_at")
    @classmethod
    def _timestamp(cls, value: str) -> str:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("last_pass_at must be an ISO 8601 timestamp") from None
        return value

    @model_validator(mode="after")
    def _fields_per_class(self) -> Stamp:
        is_dependabot = self.alert_class is AlertClass.DEPENDABOT
        if is_dependabot and not self.advisory_ids:
            raise ValueError("a dependabot stamp needs advisory_ids")
        if not is_dependabot and self.alert_number is None:
            raise ValueError(f"a {self.alert_class.value} stamp needs alert_number")
        if not is_dependabot and self.advisory_ids is not None:
            raise ValueError("advisory_ids belong to dependabot stamps only")
        if (self.secret_type is not None) != (self.alert_class is AlertClass.SECRET_SCANNING):
            raise ValueError("secret_type is required for, and only for, secret_scanning stamps")
        if not self.remediation_key.split(":")[1:2] == [self.alert_class.value]:
            raise ValueError("remediation_key does not match alert_class")
        return self


def render_stamp(stamp: Stamp) -> str:
    payload = json.dumps(stamp.model_dump(exclude_none=True), sort_keys=True, separators=(",", ":"))
    # Keep the JSON inert inside an HTML comment.
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"<!-- {_MARKER} {payload} -->"


def parse_stamp(body: str | None) -> Stamp | None:
    """The stamp in a PR body; None when there is none; StampError when it is not valid."""
    if not body or _MARKER not in body:
        return None
    if len(body) > MAX_BODY_CHARS:
        raise StampError("PR body too large to hold a valid stamp")
    matches = _STAMP.findall(body)
    if len(matches) != 1 or body.count(_MARKER) != 1:
        raise StampError(f"expected exactly one stamp, found {body.count(_MARKER)}")
    try:
        data = json.loads(matches[0].strip())
    except ValueError as exc:
        raise StampError(f"stamp is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StampError("stamp is not a JSON object")
    try:
        return Stamp.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "stamp"
        raise StampError(f"invalid stamp ({where}: {first['msg']})") from None


def same_visible_content(old: str | None, new: str) -> bool:
    """Whether two PR bodies differ only by the stamp's `last_pass_at` (no update needed)."""
    if old is None:
        return False
    try:
        before, after = parse_stamp(old), parse_stamp(new)
    except StampError:
        return False
    if before is None or after is None:
        return old == new
    text_before, text_after = _STAMP.sub("", old).strip(), _STAMP.sub("", new).strip()
    timeless = {"last_pass_at"}
    return text_before == text_after and before.model_dump(exclude=timeless) == after.model_dump(
        exclude=timeless
    )


GITHUB_BODY_LIMIT = 65536
SHORTENED = (
    "\n\n… (shortened: GitHub limits a pull request body to 65,536 characters; the run report "
    "has everything)"
)


def stamped_body(body: str, stamp: Stamp, limit: int = GITHUB_BODY_LIMIT) -> str:
    """`body` with `stamp`, shortened to fit GitHub's limit; the stamp always survives."""
    whole = replace_stamp(body, stamp)
    if len(whole) <= limit:
        return whole
    room = limit - len(replace_stamp("", stamp)) - len(SHORTENED)
    return replace_stamp(body[: max(0, room)].rstrip() + SHORTENED, stamp)


def replace_stamp(body: str, stamp: Stamp) -> str:
    """The body with every existing stamp removed and `stamp` appended once."""
    cleaned = _STAMP.sub("", body).replace(_MARKER, "agentd-remediation").rstrip()
    return f"{cleaned}\n\n{render_stamp(stamp)}\n"
