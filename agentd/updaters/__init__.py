"""Updater plugins, one per ecosystem, behind the interface in `agentd.updaters.base`."""

from __future__ import annotations

from agentd.updaters.base import PackageBump, UpdateContext, Updater, UpdateResult
from agentd.updaters.cargo import CargoUpdater
from agentd.updaters.gomod import GoModUpdater
from agentd.updaters.npm import NpmUpdater
from agentd.updaters.pip import PipUpdater
from agentd.updaters.pnpm import PnpmUpdater
from agentd.updaters.poetry import PoetryUpdater
from agentd.updaters.uv import UvUpdater
from agentd.updaters.yarn import YarnUpdater

UPDATERS: dict[str, Updater] = {
    updater.name: updater
    for updater in (
        PipUpdater(),
        NpmUpdater(),
        PnpmUpdater(),
        YarnUpdater(),
        UvUpdater(),
        PoetryUpdater(),
        CargoUpdater(),
        GoModUpdater(),
    )
}


def updater_for(ecosystems: list[str], alert_ecosystem: str, manifest_path: str) -> Updater | None:
    """The updater among a target's ecosystems that handles this alert's dependency file."""
    for name in ecosystems:
        updater = UPDATERS.get(name)
        if (
            updater
            and updater.alert_ecosystem == alert_ecosystem
            and updater.handles(manifest_path)
        ):
            return updater
    return None


__all__ = ["UPDATERS", "PackageBump", "UpdateContext", "UpdateResult", "Updater", "updater_for"]
