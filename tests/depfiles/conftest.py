"""Shared helpers for the dependency-file parser tests: realistic lockfiles under fixtures/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agentd.depfiles import Dependency, parse_dependency_file

FIXTURES = Path(__file__).parent / "fixtures"

Row = tuple[str, str, str, str | None]  # name, version, relationship, scope


def rows(dependencies: list[Dependency]) -> set[Row]:
    return {(d.name, d.version, d.relationship, d.scope) for d in dependencies}


@pytest.fixture
def parse_fixture() -> Callable[[str], list[Dependency]]:
    """Parse `fixtures/<relative>` as if it were that repo-relative path."""

    def parse(relative: str) -> list[Dependency]:
        return parse_dependency_file(relative, (FIXTURES / relative).read_bytes())

    return parse


@pytest.fixture
def fixture_rows(parse_fixture: Callable[[str], list[Dependency]]) -> Callable[[str], set[Row]]:
    return lambda relative: rows(parse_fixture(relative))
