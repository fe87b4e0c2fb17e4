"""poetry: `poetry.lock`, driven by `poetry lock`."""

from agentd.ecosystems._shared.interface import Ecosystem
from agentd.ecosystems.poetry import parser
from agentd.ecosystems.poetry.updater import PoetryUpdater

ECOSYSTEM = Ecosystem(
    name="poetry",
    alert_ecosystem="pip",
    version_scheme="pep440",
    dependabot_branch_slug="pip",
    dependency_files=("poetry.lock",),
    manifests=("pyproject.toml",),
    parse=parser.parse,
    graph=parser.graph,
    updater=PoetryUpdater(),
)
