"""The dependency graph a `yarn.lock` records (classic and berry), and removing entries.

Each lockfile entry resolves one or more descriptors (classic `express@^4.17.1`, berry
`express@npm:^4.17.1`) to one version and lists its own dependencies as `name: range`
pairs; a dependency points at the entry whose descriptors include it. Walking those
pointers backwards gives a copy's dependents, level by level up to the project's own
manifests. Taking entries out of the lockfile and running `yarn install` makes yarn
re-resolve exactly those descriptors (to the newest version each range admits) and keep
every other entry: the targeted in-range update of a copy's dependents that removes it
without touching a manifest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from agentd.ecosystems._shared.model import as_dict, as_str, load_yaml

_CLASSIC_DEPENDENCY_SECTIONS = ("dependencies:", "optionalDependencies:")
_CLASSIC_VERSION = re.compile(r'^version:?\s+"?(?P<version>[^"\s]+)"?$')
_CLASSIC_PAIR = re.compile(r'^(?P<name>"[^"]+"|\S+)\s+(?P<range>"[^"]*"|.+)$')
_BERRY_NPM = re.compile(r"^(?P<name>@?[^@]+)@npm:(?P<version>[^\s]+)$")


@dataclass(frozen=True)
class LockEntry:
    """One lockfile entry: the descriptors it resolves, to which package and version."""

    specs: tuple[str, ...]
    name: str
    version: str
    dependencies: tuple[str, ...]  # descriptors of its dependencies, as the lockfile keys them
    lines: tuple[int, int]  # [first, last) line of the entry in the lockfile text
    workspace: bool = False  # a berry workspace: the project's own manifest, never removed

    def describe(self) -> str:
        return f"{self.name} {self.version}"


@dataclass
class LockGraph:
    text: str
    berry: bool
    entries: list[LockEntry]

    @classmethod
    def parse(cls, display: str, text: str, berry: bool) -> LockGraph:
        entries = _berry_entries(display, text) if berry else _classic_entries(text)
        return cls(text, berry, entries)

    def _by_spec(self) -> dict[str, LockEntry]:
        return {spec: entry for entry in self.entries for spec in entry.specs}

    def copies(self, name: str, version: str) -> list[LockEntry]:
        """The entries that lock this version of the package."""
        return [e for e in self.entries if e.name == name and e.version == version]

    def versions(self, name: str) -> set[str]:
        return {e.version for e in self.entries if e.name == name}

    def dependents(self, entry: LockEntry) -> list[LockEntry]:
        """Entries (workspaces included) that depend on this entry."""
        specs = set(entry.specs)
        return [e for e in self.entries if specs.intersection(e.dependencies)]

    def resolve(self, spec: str) -> LockEntry | None:
        return self._by_spec().get(spec)

    def ancestors(self, copies: Iterable[LockEntry], levels: int) -> list[LockEntry]:
        """Removable entries up to `levels` dependents above the copies (immediate first)."""
        found: list[LockEntry] = []
        frontier = list(copies)
        for _ in range(levels):
            above = []
            for entry in frontier:
                for dependent in self.dependents(entry):
                    if not dependent.workspace and dependent not in found:
                        found.append(dependent)
                        above.append(dependent)
            frontier = above
        return found

    def without(self, entries: Iterable[LockEntry]) -> str:
        """The lockfile text with these entries taken out (yarn re-resolves them)."""
        lines = self.text.split("\n")
        drop: set[int] = set()
        for entry in entries:
            first, last = entry.lines
            drop.update(range(first, last))
            # the blank line that separates the entry from the next one goes with it
            if last < len(lines) and not lines[last].strip():
                drop.add(last)
        return "\n".join(line for number, line in enumerate(lines) if number not in drop)


def _split_spec(spec: str) -> tuple[str, str] | None:
    """`@s/a@^1.0.0` → (`@s/a`, `^1.0.0`); an alias `x@npm:lodash@^4` → (`lodash`, `^4`)."""
    at = spec.find("@", 1)
    if at <= 0:
        return None
    name, spec_range = spec[:at], spec[at + 1 :]
    if spec_range.startswith("npm:") and spec_range.find("@", 5) > 0:
        return _split_spec(spec_range[4:])
    return name, spec_range.removeprefix("npm:")


def _unquote(text: str) -> str:
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


# --- classic ---------------------------------------------------------------------------------


@dataclass
class _ClassicBlock:
    first: int
    specs: tuple[str, ...]
    last: int = 0
    version: str = ""
    dependencies: list[str] | None = None


def _classic_entries(text: str) -> list[LockEntry]:
    blocks: list[_ClassicBlock] = []
    section = False
    for number, line in enumerate(text.split("\n")):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            header = line.rstrip().removesuffix(":")
            specs = tuple(_unquote(s) for s in header.split(","))
            blocks.append(_ClassicBlock(number, specs, number + 1, dependencies=[]))
            continue
        if not blocks:
            continue
        block = blocks[-1]
        block.last = number + 1
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        if indent == 2:
            section = stripped in _CLASSIC_DEPENDENCY_SECTIONS
            version = _CLASSIC_VERSION.match(stripped)
            if version:
                block.version = version["version"]
        elif indent == 4 and section:
            pair = _CLASSIC_PAIR.match(stripped)
            if pair and block.dependencies is not None:
                block.dependencies.append(f"{_unquote(pair['name'])}@{_unquote(pair['range'])}")
    entries = []
    for block in blocks:
        split = _split_spec(block.specs[0]) if block.specs else None
        name = split[0] if split else block.specs[0]
        entries.append(
            LockEntry(
                block.specs,
                name,
                block.version,
                tuple(block.dependencies or ()),
                (block.first, block.last),
            )
        )
    return entries


# --- berry -----------------------------------------------------------------------------------

_BERRY_KEY = re.compile(r"^(?P<key>[^\s#].*?):\s*$")


def _berry_spans(text: str) -> dict[str, tuple[int, int]]:
    """Top-level key (as YAML reads it) → its line span."""
    lines = text.split("\n")
    starts: list[tuple[int, str]] = []
    for number, line in enumerate(lines):
        match = _BERRY_KEY.match(line)
        if match:
            starts.append((number, _unquote(match["key"])))
    spans = {}
    for index, (number, key) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(lines)
        while end > number + 1 and not lines[end - 1].strip():
            end -= 1
        spans[key] = (number, end)
    return spans


def _berry_descriptor(name: str, spec: str) -> str:
    return f"{name}@{spec if ':' in spec else 'npm:' + spec}"


def _berry_entries(display: str, text: str) -> list[LockEntry]:
    data = load_yaml(display, text.encode("utf-8"))  # DepfileError when unreadable
    spans = _berry_spans(text)
    entries = []
    for key, value in data.items():
        entry = as_dict(value)
        if key == "__metadata" or not entry:
            continue
        resolution = as_str(entry.get("resolution")) or ""
        npm = _BERRY_NPM.match(resolution)
        name = npm["name"] if npm else resolution[: resolution.find("@", 1)]
        dependencies = tuple(
            _berry_descriptor(dep, str(spec))
            for dep, spec in as_dict(entry.get("dependencies")).items()
        )
        entries.append(
            LockEntry(
                tuple(s.strip() for s in str(key).split(",")),
                name,
                str(entry.get("version", "")),
                dependencies,
                spans.get(str(key), (0, 0)),
                workspace="@workspace:" in resolution,
            )
        )
    return entries
