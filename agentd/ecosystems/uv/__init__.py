"""uv: `uv.lock`, driven by `uv lock`."""

from agentd.ecosystems._shared.interface import Ecosystem
from agentd.ecosystems.uv import parser
from agentd.ecosystems.uv.updater import UvUpdater

ECOSYSTEM = Ecosystem(
    name="uv",
    alert_ecosystem="pip",
    version_scheme="pep440",
    dependabot_branch_slug="pip",
    dependency_files=("uv.lock",),
    manifests=("pyproject.toml",),
    parse=parser.parse,
    graph=parser.graph,
    updater=UvUpdater(),
)
