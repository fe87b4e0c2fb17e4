"""Shared fixtures for the ecosystem tests: realistic dependency files under `*/fixtures/`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentd.ecosystems import Dependency, parse_dependency_file
from ecosystems.samples import Row, rows


@pytest.fixture
def parse_fixture(request: pytest.FixtureRequest) -> Callable[[str], list[Dependency]]:
    """Parse a file relative to the requesting test's folder, as if it were that repo path."""
    folder = request.path.parent

    def parse(relative: str) -> list[Dependency]:
        return parse_dependency_file(relative, (folder / relative).read_bytes())

    return parse


@pytest.fixture
def fixture_rows(parse_fixture: Callable[[str], list[Dependency]]) -> Callable[[str], set[Row]]:
    return lambda relative: rows(parse_fixture(relative))
