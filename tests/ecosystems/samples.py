"""Realistic dependency files under `<ecosystem>/fixtures/`, and what the parsers make of them."""

from __future__ import annotations

from pathlib import Path

from agentd.ecosystems import Dependency, parse_dependency_file

ROOT = Path(__file__).parent

Row = tuple[str, str, str, str | None]  # name, version, relationship, scope


def dependency_file_samples() -> list[str]:
    """Every fixture dependency file, relative to this folder (`npm/fixtures/v3/package-lock.json`)."""
    return sorted(
        str(p.relative_to(ROOT))
        for p in ROOT.glob("*/fixtures/**/*")
        if p.is_file() and p.name != "go.sum"
    )


def rows(dependencies: list[Dependency]) -> set[Row]:
    return {(d.name, d.version, d.relationship, d.scope) for d in dependencies}


def versions(path: str, text: str) -> dict[str, tuple[str, str]]:
    """Name → (version, relationship) of what the file at `path` holding `text` pins."""
    return {d.name: (d.version, d.relationship) for d in parse_dependency_file(path, text.encode())}
