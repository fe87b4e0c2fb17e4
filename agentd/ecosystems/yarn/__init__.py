"""yarn: `yarn.lock` (classic and berry), driven by yarn."""

from agentd.ecosystems._shared.interface import Ecosystem
from agentd.ecosystems.yarn import parser
from agentd.ecosystems.yarn.updater import YarnUpdater

ECOSYSTEM = Ecosystem(
    name="yarn",
    alert_ecosystem="npm",
    version_scheme="semver",
    dependabot_branch_slug="npm_and_yarn",
    dependency_files=("yarn.lock",),
    manifests=("package.json",),
    parse=parser.parse,
    graph=parser.graph,
    updater=YarnUpdater(),
    parent_updates=True,
)
