"""Pushes GitHub refused for good, remembered so that the same change is not pushed again.

A refusal that belongs to the change (a workflow file without the `workflow` scope, a branch
rule, push protection, an archived repository) is recorded per remediation key with the tree
agentd tried to push and a fingerprint of the profile. A later run proposing the same tree
under the same profile reports the same outcome without pushing; a different change (another
tree) or a changed profile tries again. Delete `{state_dir}/refused/` to retry sooner (e.g.
after granting the token a scope). Written atomically, like the push ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentd.errors import UnitError
from agentd.gitops import PushRefusedError
from agentd.profile import Profile
from agentd.units import key_short
from agentd.vocabulary import Outcome, ReasonCode

_LOCK = threading.Lock()


class RememberedRefusalError(UnitError):
    """GitHub refused this very change before: reported again, not pushed again."""


def profile_fingerprint(profile: Profile) -> str:
    return hashlib.sha256(profile.model_dump_json().encode()).hexdigest()


class RefusalMemory:
    """The remembered refusal of one change: a remediation key, the tree pushed, the profile."""

    def __init__(self, state_dir: Path, key: str, tree: str, profile: str) -> None:
        self.file = state_dir / "refused" / f"{key_short(key)}.json"
        self.key, self.tree, self.profile = key, tree, profile

    def check(self) -> None:
        """Raise the refusal GitHub gave this change under this profile, if it did."""
        record = self._read()
        if record is None or not self._same_change(record):
            return
        try:
            outcome, reason = Outcome(record["outcome"]), ReasonCode(record["reason"])
        except (KeyError, ValueError):
            return
        detail = (
            f"{record.get('detail', '')}; rejected by GitHub on {record.get('date', '?')}; "
            "not retried until the change or the profile changes"
        )
        raise RememberedRefusalError(reason, detail, outcome)

    def remember(self, refused: PushRefusedError) -> None:
        """Record a refusal that belongs to the change (not one about the token)."""
        if not refused.remembered:
            return
        record = {
            "key": self.key,
            "tree": self.tree,
            "profile": self.profile,
            "outcome": refused.outcome.value,
            "reason": refused.reason.value,
            "detail": refused.detail,
            "date": datetime.now(UTC).date().isoformat(),
        }
        with _LOCK:
            self.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, self.file)

    def forget(self) -> None:
        """The change reached GitHub: nothing refused is remembered for the key any more."""
        self.file.unlink(missing_ok=True)

    def _same_change(self, record: dict[str, Any]) -> bool:
        return record.get("tree") == self.tree and record.get("profile") == self.profile

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("key") == self.key else None
