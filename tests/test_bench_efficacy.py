"""`bench/efficacy.py` records the corpus run in its own section of docs/performance.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import efficacy, report

OUTPUT = """== npm-case ...
| case | alerts | fixable (lockfile-only) | closed fixable | closed lockfile-only | time | units | result |
| --- | --- | --- | --- | --- | --- | --- | --- |
| npm-case | 3 | 3 (3) | 3/3 | 3/3 | 9s | merged/- | pass |

scored: fixable alerts closed 44/47; lockfile-only-fixable alerts closed 44/45
not scored (registry unreachable): fixable alerts closed 0/2
wall time 300s (agentd run 298s)
10 passed, 1 failed
"""


def test_the_section_carries_the_table_the_totals_and_the_verdict() -> None:
    text, met = efficacy.section(OUTPUT, [])
    assert met
    assert "| npm-case | 3 |" in text
    assert "fixable alerts closed: 44 of 47 (94%)" in text
    below, met_below = efficacy.section(OUTPUT.replace("44/47", "40/47"), [])
    assert not met_below and "NOT met" in below
    _, protected = efficacy.section(
        OUTPUT + "  PROTECTED MANIFESTS CHANGED: ['package.json']\n", []
    )
    assert not protected


def test_the_section_is_replaced_in_place_and_survives_bench_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "performance.md"
    path.write_text("# Performance\n\n## Discovery\n\nfigures\n")
    efficacy.record(efficacy.section(OUTPUT, [])[0], path)
    efficacy.record(efficacy.section(OUTPUT.replace("44/47", "45/47"), [])[0], path)
    text = path.read_text()
    assert text.count(efficacy.START) == 1 and "45 of 47" in text and "44 of 47" not in text
    assert text.startswith("# Performance\n\n## Discovery\n\nfigures\n")
    # bench/run.py rewrites the file from its own results, keeping the efficacy section
    monkeypatch.setattr(report, "render", lambda results: "# Performance\n\nnew figures\n")
    report.write({}, path)
    assert "new figures" in path.read_text() and "45 of 47" in path.read_text()
