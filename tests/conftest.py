"""Shared fixtures for agentd's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentd.redaction import REDACTOR


@pytest.fixture(autouse=True)
def _fresh_redactor() -> Iterator[None]:
    REDACTOR.reset()
    yield
    REDACTOR.reset()
