"""Hand-written OSV advisories for ecosystems the packaged advisory set does not cover."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def write_advisory(
    directory: Path,
    ghsa: str,
    ecosystem: str,  # OSV spelling: "crates.io", "Go"
    package: str,
    ranges: Sequence[tuple[str, str]],  # (introduced, fixed) per affected line
    summary: str,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    advisory = {
        "schema_version": "1.4.0",
        "id": ghsa,
        "modified": "2024-01-01T00:00:00Z",
        "published": "2024-01-01T00:00:00Z",
        "aliases": [],
        "summary": summary,
        "details": summary,
        "severity": [],
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": package},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": introduced}, {"fixed": fixed}],
                    }
                    for introduced, fixed in ranges
                ],
            }
        ],
        "references": [],
        "database_specific": {"severity": "HIGH", "github_reviewed": True},
    }
    path = directory / f"{ghsa}.json"
    path.write_text(json.dumps(advisory, indent=2))
    return path
