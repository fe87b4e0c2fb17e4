"""cargo: `Cargo.lock`, driven by `cargo update --precise`."""

from agentd.ecosystems._shared.interface import Ecosystem
from agentd.ecosystems.cargo import parser
from agentd.ecosystems.cargo.updater import CargoUpdater

ECOSYSTEM = Ecosystem(
    name="cargo",
    alert_ecosystem="rust",
    version_scheme="semver",
    dependabot_branch_slug="cargo",
    dependency_files=("Cargo.lock",),
    manifests=("Cargo.toml",),
    parse=parser.parse,
    graph=parser.graph,
    updater=CargoUpdater(),
)
