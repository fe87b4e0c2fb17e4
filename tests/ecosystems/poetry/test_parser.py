"""poetry.lock, lock versions 1.x and 2.x."""

from __future__ import annotations

from collections.abc import Callable

from ecosystems.samples import versions

Rows = Callable[[str], set[tuple[str, str, str, str | None]]]


def test_poetry_1_8(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/1.8/poetry.lock") == {
        (name, version, "unknown", None)
        for name, version in [("certifi", "2024.8.30"), ("jinja2", "3.1.2"), ("markupsafe", "2.1.5"),
                              ("requests", "2.25.0"), ("urllib3", "1.26.5")]
    }  # fmt: skip  # directory and git packages are not registry releases


def test_poetry_2_groups(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/2/poetry.lock") == {
        ("jinja2", "3.1.2", "unknown", "runtime"),
        ("markupsafe", "2.1.5", "unknown", "runtime"),
        ("packaging", "24.1", "unknown", "runtime"),  # in main and dev
        ("pytest", "8.3.3", "unknown", "development"),
        ("colorama", "0.4.6", "unknown", "development"),
        ("iniconfig", "2.0.0", "unknown", "development"),
    }


def test_poetry_1_1_categories(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/1.1/poetry.lock") == {
        ("flask", "1.1.2", "unknown", "runtime"),
        ("Jinja2", "2.11.3", "unknown", "runtime"),
        ("pytest", "6.2.5", "unknown", "development"),
    }


def test_poetry_lock() -> None:
    text = '[[package]]\nname = "jinja2"\nversion = "3.1.2"\ndescription = ""\noptional = false\npython-versions = ">=3.7"\n\n[metadata]\nlock-version = "2.0"\n'
    assert versions("poetry.lock", text) == {"jinja2": ("3.1.2", "unknown")}
