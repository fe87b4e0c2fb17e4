"""`agentd init`: a profile, ready for review, for a directory of clones.

Every git repository directly under the clone root becomes one entry; every directory in it
that holds a dependency file (`agentd.ecosystems.for_file`; vendored and generated trees
skipped) becomes one target with the ecosystems its files show and proposed verification
commands. Nothing is trusted yet: the profile is `report_only`, every new entry
`manual_only` (its alerts are reported, nothing is changed), and every proposal carries a
`# REVIEW` marker. Proposals check that the dependency files resolve; they run no tests,
so `agentd validate` refuses an entry set `active` until its tests are added.

Run again on a grown clone root, it appends the new repositories and leaves the file as it
was up to there, byte for byte: reviewed entries are never rewritten.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from agentd.ecosystems import for_file
from agentd.errors import AgentdError, UsageError
from agentd.profile import ID_PATTERN, REPO_NAME_PATTERN, parse_profile

# Trees that hold installed, vendored or generated copies, not a project's own files.
SKIPPED_DIRECTORIES = frozenset(
    {"node_modules", "bower_components", "vendor", "venv", "site-packages", "__pycache__", "target"}
)
REVIEW = "# REVIEW"
NOT_REVIEWED = "agentd init: targets and verification commands not reviewed yet"
# Per ecosystem: a command that checks the dependency files resolve without running the
# repository's code (install scripts off). `{requirements}` is `-r FILE` per requirements file.
PROPOSED_COMMANDS: dict[str, str] = {
    "npm": "npm ci --ignore-scripts",
    "pnpm": "pnpm install --frozen-lockfile --ignore-scripts",
    "yarn": "yarn install --frozen-lockfile --ignore-scripts",
    "pip": "python3 -m pip install --dry-run --ignore-installed {requirements}",
    "uv": "uv sync --locked",
    "poetry": "poetry check --lock",
    "cargo": "cargo metadata --locked --format-version 1",
    "go": "go mod verify",
}


@dataclass
class ProposedTarget:
    path: str  # repo-relative, "." for the root
    files: list[str] = field(default_factory=list)

    @property
    def ecosystems(self) -> list[str]:
        found = {e.name for name in self.files if (e := for_file(name)) is not None}
        return sorted(found)

    def commands(self) -> list[str]:
        requirements = " ".join(
            f"-r {name}" for name in sorted(self.files) if for_file(name) and "requirements" in name
        )
        return [
            PROPOSED_COMMANDS[name].format(requirements=requirements)
            for name in self.ecosystems
            if name in PROPOSED_COMMANDS
        ]


@dataclass
class InitResult:
    path: Path
    added: list[str]
    kept: list[str]
    notes: list[str]

    def render(self) -> str:
        lines = [
            f"wrote {self.path}: {len(self.added)} repositories added"
            + (f", {len(self.kept)} already there left as they were" if self.kept else "")
        ]
        lines += [f"  note: {note}" for note in self.notes]
        if self.added:
            lines.append(
                "  next: review every entry marked REVIEW (add each target's test command, then "
                f"set automation_mode: active), then `agentd validate {self.path}` and "
                f"`agentd discover --profile {self.path}`"
            )
        return "\n".join(lines)


def find_clones(clone_root: Path) -> list[Path]:
    """Git repositories directly under the clone root (a `.git` directory or file)."""
    return sorted(p for p in clone_root.iterdir() if p.is_dir() and (p / ".git").exists())


def find_targets(clone: Path) -> list[ProposedTarget]:
    """One target per directory holding a dependency file, the root first."""
    found: dict[str, ProposedTarget] = {}
    for directory, subdirectories, files in os.walk(clone):
        subdirectories[:] = sorted(
            d for d in subdirectories if not d.startswith(".") and d not in SKIPPED_DIRECTORIES
        )
        dependency_files = sorted(name for name in files if for_file(name) is not None)
        if dependency_files:
            relative = Path(directory).relative_to(clone).as_posix()
            found[relative] = ProposedTarget(relative, dependency_files)
    return sorted(found.values(), key=lambda t: (t.path != ".", t.path))


def _target_id(path: str, taken: set[str]) -> str:
    base = "root" if path == "." else re.sub(r"[^a-z0-9._-]+", "-", path.lower()).strip("-._")
    base = base if base and ID_PATTERN.match(base) else "target"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    taken.add(candidate)
    return candidate


def _scalar(value: str) -> str:
    """A YAML scalar that reads back as exactly this string."""
    plain = re.fullmatch(r"[A-Za-z0-9_./][A-Za-z0-9_./ -]*", value) and not value.endswith(" ")
    if plain and yaml.safe_load(value) == value:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _flow(values: list[str]) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def repository_entry(clone: Path, indent: int) -> list[str]:
    """The YAML lines of one new entry; `indent` is the column of its `-`."""
    pad = " " * indent
    lines = [
        f"{pad}- repo: {_scalar(clone.name)}",
        f"{pad}  local_path: {_scalar(str(clone))}",
        f"{pad}  automation_mode: manual_only  {REVIEW}: set active once its targets are reviewed",
        f"{pad}  manual_only_reason: {_scalar(NOT_REVIEWED)}",
        f"{pad}  targets:",
    ]
    targets = find_targets(clone)
    if not targets or targets[0].path != ".":
        # Code- and secret-scanning findings anywhere in the repository need a target too.
        targets.insert(0, ProposedTarget("."))
    taken: set[str] = set()
    for target in targets:
        lines += [
            f"{pad}    - target_id: {_target_id(target.path, taken)}",
            f"{pad}      path: {_scalar(target.path)}",
        ]
        if not target.files:
            lines.append(f"{pad}      alert_classes: [code_scanning, secret_scanning]")
        lines += [
            f"{pad}      ecosystems: {_flow(target.ecosystems)}",
            f"{pad}      verification_workdir: {_scalar(target.path)}",
        ]
        commands = target.commands()
        lines.append(
            f"{pad}      verification_commands:  {REVIEW}: proposed from {', '.join(target.files)};"
            " add the target's test command"
            if commands
            else f"{pad}      verification_commands: []  {REVIEW}: add the repository's test command"
        )
        lines += [f"{pad}        - {_scalar(command)}  {REVIEW}" for command in commands]
    return lines


def _header(owner: str, owner_type: str, profile_id: str, clone_root: Path) -> list[str]:
    today = datetime.now(UTC).date().isoformat()
    return [
        f"# agentd profile for {owner}, written by `agentd init` on {today} from the clones in",
        f"# {clone_root}.",
        "#",
        f"# REVIEW the lines marked `{REVIEW}` before letting agentd change anything:",
        "#  - the profile is report_only and every repository manual_only: agentd reports the",
        "#    alerts and changes nothing;",
        "#  - the verification commands are proposals from the dependency files found: they check",
        "#    that the files resolve and run none of the repository's tests. Add each target's",
        "#    test command, then set the repository's automation_mode: active (`agentd validate`",
        "#    refuses an active repository whose commands only install);",
        "#  - `agentd init` again on this clone root appends new clones and leaves every entry",
        "#    already here as it is.",
        "# profiles/template/profile.yaml documents every key.",
        "profile:",
        f"  profile_id: {_scalar(profile_id)}",
        f"  owner: {_scalar(owner)}",
        f"  owner_type: {owner_type}  {REVIEW}: org (organisation endpoints) or user",
        "  runtime:",
        f"    local_clone_root: {_scalar(str(clone_root))}",
        "  defaults:",
        "    mutation_mode: report_only",
        "repositories:",
    ]


@dataclass(frozen=True)
class _Existing:
    repos: set[str]
    text: str
    insert_at: int  # line index where new entries go
    indent: int
    replace_line: str | None = None  # the `repositories:` line, when its value was `[]`/empty


def _read_existing(path: Path, owner: str, clone_root: Path) -> _Existing:
    text = path.read_text(encoding="utf-8")
    try:
        loaded = parse_profile(text, path).profile
    except AgentdError as exc:
        raise UsageError(
            f"{path} exists but is not a valid profile, so agentd init will not add to it",
            f"fix it (agentd validate {path}) or pass another --output\n{exc}",
        ) from None
    if loaded.profile.owner.lower() != owner.lower():
        raise UsageError(
            f"{path} is the profile of owner {loaded.profile.owner!r}, not {owner!r}",
            "pass the same --owner, or another --output for this owner",
        )
    if Path(loaded.profile.runtime.local_clone_root) != clone_root:
        raise UsageError(
            f"{path} is for clone root {loaded.profile.runtime.local_clone_root}, not {clone_root}",
            "pass the same --clone-root, or another --output",
        )
    if not text.endswith("\n"):
        text += "\n"
    repos = {r.repo for r in loaded.repositories}
    root = yaml.compose(text)
    lines = text.splitlines()
    for key, value in root.value if isinstance(root, yaml.MappingNode) else []:
        if key.value != "repositories":
            continue
        if isinstance(value, yaml.SequenceNode) and value.value:
            first = value.value[0].start_mark
            indent = lines[first.line].rfind("-", 0, first.column)
            end = value.value[-1].end_mark
            return _Existing(repos, text, end.line + (1 if end.column else 0), max(indent, 0))
        return _Existing(repos, text, key.start_mark.line + 1, 2, lines[key.start_mark.line])
    return _Existing(repos, text + "repositories:\n", len(lines) + 1, 2)


def _splice(existing: _Existing, entries: list[str]) -> str:
    lines = existing.text.splitlines()
    if existing.replace_line is not None:
        index = existing.insert_at - 1
        lines[index] = "repositories:"
    return "\n".join(lines[: existing.insert_at] + entries + lines[existing.insert_at :]) + "\n"


def _reviewed_notes(path: Path, clone_root: Path, clones: list[Path], kept: list[str]) -> list[str]:
    """What changed under entries already in the profile (reported, never edited)."""
    profile = parse_profile(path.read_text(encoding="utf-8"), path).profile
    present = {c.name for c in clones}
    notes = [
        f"{name}: no clone under {clone_root} any more; entry kept"
        for name in kept
        if name not in present
    ]
    for repo in profile.repositories:
        clone = clone_root / repo.repo
        if repo.repo not in present:
            continue
        have = {t.path.strip("/") or "." for t in repo.targets}
        for target in find_targets(clone):
            if target.path not in have:
                notes.append(
                    f"{repo.repo}: {target.path}/ holds {', '.join(target.files)} but no target "
                    "covers it; add one if its alerts should be remediated (entry left as it is)"
                )
    return notes


def init_profile(
    owner: str,
    clone_root: Path,
    output: Path,
    owner_type: str = "org",
    profile_id: str | None = None,
) -> InitResult:
    clone_root = clone_root.expanduser().absolute()
    if not clone_root.is_dir():
        raise UsageError(
            f"clone root {clone_root} is not a directory",
            "pass the directory that holds the clones (one git repository per sub-directory)",
        )
    profile_id = profile_id or owner.lower()
    if not ID_PATTERN.match(profile_id):
        raise UsageError(
            f"{profile_id!r} cannot be a profile id",
            "pass --profile-id with lowercase letters, digits, '.', '_' or '-'",
        )
    clones = find_clones(clone_root)
    skipped = [c.name for c in clones if not REPO_NAME_PATTERN.match(c.name)]
    clones = [c for c in clones if c.name not in skipped]
    notes = [f"{name}: not a GitHub repository name; left out" for name in skipped]
    if output.exists():
        existing = _read_existing(output, owner, clone_root)
    else:
        header = "\n".join(_header(owner, owner_type, profile_id, clone_root)) + "\n"
        existing = _Existing(set(), header, len(header.splitlines()), 2)
    new = [c for c in clones if c.name not in existing.repos]
    entries: list[str] = []
    for clone in new:
        entries += repository_entry(clone, existing.indent)
    text = _splice(existing, entries)
    _check(text, output)
    if output.exists():
        notes += _reviewed_notes(output, clone_root, clones, sorted(existing.repos))
    if not clones:
        notes.append(f"no git repositories directly under {clone_root}")
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(output)
    return InitResult(output, [c.name for c in new], sorted(existing.repos), notes)


def _check(text: str, output: Path) -> None:
    """What init writes must load: a defect here must not leave a broken profile behind."""
    try:
        parse_profile(text, output)
    except AgentdError as exc:  # pragma: no cover - a defect in agentd init
        raise AgentdError(
            f"agentd init built a profile that does not validate; nothing was written\n{exc}",
            "report this with the clone root's layout",
        ) from None
