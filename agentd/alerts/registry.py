"""The alert-class plug-ins, in the order SPEC §5 runs them."""

from __future__ import annotations

from collections.abc import Iterable

from agentd.alerts.code_scanning import CodeScanningPlugin
from agentd.alerts.dependabot.plugin import DependabotPlugin
from agentd.alerts.interface import AlertPlugin
from agentd.alerts.secret_scanning.plugin import SecretScanningPlugin
from agentd.vocabulary import AlertClass

PLUGINS: tuple[AlertPlugin, ...] = (
    DependabotPlugin(),
    CodeScanningPlugin(),
    SecretScanningPlugin(),
)


def plugins_for(classes: Iterable[AlertClass]) -> list[AlertPlugin]:
    """The plug-ins of the profile's supported classes, in SPEC order."""
    wanted = set(classes)
    return [plugin for plugin in PLUGINS if plugin.alert_class in wanted]


def plugin_for(alert_class: AlertClass) -> AlertPlugin:
    return next(plugin for plugin in PLUGINS if plugin.alert_class is alert_class)
