"""npm: `package-lock.json` / `npm-shrinkwrap.json`, driven by npm."""

from agentd.ecosystems._shared.interface import Ecosystem
from agentd.ecosystems.npm import parser
from agentd.ecosystems.npm.updater import NpmUpdater

ECOSYSTEM = Ecosystem(
    name="npm",
    alert_ecosystem="npm",
    version_scheme="semver",
    dependabot_branch_slug="npm_and_yarn",
    dependency_files=("package-lock.json", "npm-shrinkwrap.json"),
    manifests=("package.json",),
    parse=parser.parse,
    graph=parser.graph,
    updater=NpmUpdater(),
    parent_updates=True,
)
