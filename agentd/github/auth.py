"""Token acquisition through the real `gh` CLI, PAT-only (SPEC §4.2).

The token is read from `gh auth token --hostname HOST` (which honours `GH_TOKEN` and
`GH_ENTERPRISE_TOKEN`), registered with the redactor at once, and wrapped so that it
never shows in a repr, a log line or an exception.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from agentd.errors import ContractError
from agentd.redaction import REDACTOR, redact

GH_TIMEOUT_SECONDS = 30

_REJECTED_PREFIXES = {
    "ghs_": "a GitHub App installation token (or an Actions GITHUB_TOKEN)",
    "ghu_": "a GitHub App user-to-server token",
    "gho_": "an OAuth app token",
    "ghr_": "a GitHub App refresh token",
}
_FIX = (
    "give gh a personal access token: classic (ghp_...) or fine-grained (github_pat_...), "
    "e.g. 'gh auth login --hostname HOST --with-token' or GH_TOKEN in agentd's environment"
)


class TokenKind(StrEnum):
    CLASSIC_PAT = "classic_pat"
    FINE_GRAINED_PAT = "fine_grained_pat"


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    _value: str = field(repr=False)

    def reveal(self) -> str:
        """The raw value, for the Authorization header and git's askpass helper only."""
        return self._value

    def __repr__(self) -> str:
        return f"Token({self.kind.value}, ***)"

    __str__ = __repr__


def classify_token(value: str) -> TokenKind:
    if value.startswith("ghp_"):
        return TokenKind.CLASSIC_PAT
    if value.startswith("github_pat_"):
        return TokenKind.FINE_GRAINED_PAT
    for prefix, what in _REJECTED_PREFIXES.items():
        if value.startswith(prefix):
            raise ContractError(
                f"the token gh returned is {what} ({prefix}...); agentd accepts only "
                "personal access tokens",
                _FIX,
            )
    raise ContractError("the token gh returned is not a recognisable GitHub token", _FIX)


def acquire_token(host: str, environ: Mapping[str, str] | None = None) -> Token:
    env = dict(os.environ if environ is None else environ)
    if env.get("GITHUB_ACTIONS") == "true" and not (
        env.get("GH_TOKEN") or env.get("GH_ENTERPRISE_TOKEN")
    ):
        raise ContractError(
            "agentd is running inside GitHub Actions with only its GITHUB_TOKEN; that "
            "execution mode is not supported",
            "run agentd on a host you control (systemd timer, cron) with a personal "
            "access token, or pass one to this job as GH_TOKEN",
        )
    gh = shutil.which("gh", path=env.get("PATH"))
    if gh is None:
        raise ContractError(
            "the gh CLI is not installed (agentd reads its token through gh)",
            "install gh (e.g. apt-get install gh) and run 'gh auth login'",
        )
    env.update({"GH_NO_UPDATE_NOTIFIER": "1", "GH_PROMPT_DISABLED": "1", "NO_COLOR": "1"})
    try:
        result = subprocess.run(
            [gh, "auth", "token", "--hostname", host],
            capture_output=True,
            text=True,
            env=env,
            timeout=GH_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ContractError(
            f"'gh auth token' did not answer within {GH_TIMEOUT_SECONDS}s", _FIX
        ) from None
    value = result.stdout.strip()
    REDACTOR.register(value)
    if result.returncode != 0 or not value:
        reason = redact(result.stderr.strip()) or f"exit status {result.returncode}"
        raise ContractError(f"gh has no token for {host}: {reason}", _FIX.replace("HOST", host))
    return Token(classify_token(value), value)
