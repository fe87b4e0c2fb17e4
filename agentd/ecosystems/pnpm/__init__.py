"""pnpm: `pnpm-lock.yaml`, driven by the project's own pnpm release through corepack."""

from agentd.ecosystems._shared.interface import Ecosystem
from agentd.ecosystems.pnpm import parser
from agentd.ecosystems.pnpm.updater import PnpmUpdater

ECOSYSTEM = Ecosystem(
    name="pnpm",
    alert_ecosystem="npm",
    version_scheme="semver",
    dependabot_branch_slug="npm_and_yarn",
    dependency_files=("pnpm-lock.yaml",),
    manifests=("package.json", "pnpm-workspace.yaml"),
    parse=parser.parse,
    graph=parser.graph,
    updater=PnpmUpdater(),
    parent_updates=True,
)
