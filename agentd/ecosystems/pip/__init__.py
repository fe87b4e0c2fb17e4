"""pip: fully pinned `requirements*.txt`, edited in place."""

from agentd.ecosystems._shared.interface import Ecosystem
from agentd.ecosystems.pip import parser
from agentd.ecosystems.pip.updater import PipUpdater

# A requirements file that is not fully pinned is reported as a manifest by the updater,
# which reads its content; by name alone it is the lockfile.
ECOSYSTEM = Ecosystem(
    name="pip",
    alert_ecosystem="pip",
    version_scheme="pep440",
    dependabot_branch_slug="pip",
    dependency_files=("requirements*.txt",),
    manifests=(),
    parse=parser.parse,
    graph=parser.graph,
    updater=PipUpdater(),
)
