"""Which repositories run code scanning's default setup through the organisation's code
security configurations: one organisation-level answer instead of one probe per repository.

The organisation's code-scanning alert stream lists only repositories with open alerts; a
repository absent from it is either set up with zero open alerts, or not set up at all
("no analysis", disabled), and neither the stream nor the repository listing tells which.
A repository attached (status `attached` or `enforced`) to a configuration whose
`code_scanning_default_setup` is `enabled` is set up: GitHub runs default setup there. (Until
default setup's first analysis lands, or where it finds no supported language, a probe would
say "no analysis"; the configuration is taken as the organisation's intent, and an alert,
once there, is in the stream whatever this module says.)

Reading the configurations needs an organisation owner or security manager (classic token:
`read:org`; fine-grained: the organisation's "Administration" permission, read). Any other
answer (403, 404, a malformed or refused listing) means "unknown": every repository is then
settled as before, by the listing, the coverage memory or its own probe. Read at most once per
run: the configurations, then the attached repositories of each configuration that enables
default setup, filtered by GitHub to those statuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentd.github.api import GitHubAPI
from agentd.github.client import GitHubError
from agentd.log import get_logger

log = get_logger("code_security")
APPLIED = (
    "attached",
    "enforced",
)  # the attachment statuses under which a configuration is in force


@dataclass(frozen=True)
class DefaultSetup:
    """A repository's code scanning default setup, applied by a configuration."""

    configuration_id: int
    configuration: str
    status: str

    @property
    def detail(self) -> str:
        return (
            f"code security configuration {self.configuration!r} ({self.status}) enables "
            "code scanning default setup; no open alerts in the organisation's stream"
        )


def default_setup_repositories(api: GitHubAPI) -> dict[str, DefaultSetup] | None:
    """Repositories (lower-case name) under a configuration that enables default setup, read
    once per run; None when the configurations cannot be read. RateLimitedError propagates."""
    return api.once("code_security.default_setup", lambda: _read(api))


def _read(api: GitHubAPI) -> dict[str, DefaultSetup] | None:
    if api.owner_type != "org":
        return None  # a user account has no code security configurations
    found: dict[str, DefaultSetup] = {}
    try:
        for configuration in list(api.code_security_configurations()):
            if configuration.code_scanning_default_setup != "enabled":
                continue
            for attached in api.configuration_repositories(configuration.id, APPLIED):
                if attached.status not in APPLIED or not _owned(api, attached.repository.full_name):
                    continue
                found[attached.repository.name.lower()] = DefaultSetup(
                    configuration.id, configuration.name, attached.status
                )
    except GitHubError as exc:
        log.info(
            "code security configurations unavailable; probing repositories instead",
            extra={"why": str(exc)},
        )
        return None
    return found


def _owned(api: GitHubAPI, full_name: str) -> bool:
    """The item is one of the organisation's repositories (an empty full name is trusted:
    the listing is the organisation's own)."""
    owner = full_name.partition("/")[0]
    return not full_name or owner.lower() == api.owner.lower()
