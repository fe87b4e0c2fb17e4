"""go: `go.mod` (manifest and record of selected versions), driven by `go get`."""

from agentd.ecosystems._shared.interface import Ecosystem
from agentd.ecosystems.gomod import parser
from agentd.ecosystems.gomod.updater import GoModUpdater

# go.mod is read for installed versions and is the manifest: never a lockfile-only change.
ECOSYSTEM = Ecosystem(
    name="go",
    alert_ecosystem="go",
    version_scheme="semver",
    dependabot_branch_slug="go_modules",
    dependency_files=("go.mod",),
    manifests=("go.mod",),
    parse=parser.parse,
    minimum_version_selection=True,
    updater=GoModUpdater(),
)
