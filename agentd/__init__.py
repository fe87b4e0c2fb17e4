"""agentd: drains GitHub security alerts across pre-cloned repositories."""

__version__ = "0.1.0"
