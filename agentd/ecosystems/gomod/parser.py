"""`go.mod`: `require` lines and blocks, with `replace` and `exclude` honoured.

`// indirect` marks a transitive requirement. `replace old [v] => new v2` makes the build
use module `new` at `v2`, so that is what is reported; a replacement by a local directory
is not a module release and is skipped, as is a requirement of an excluded version (the
go command would pick another version this file does not name). `go.sum` is not read:
GitHub reports Go dependencies against `go.mod`.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentd.ecosystems._shared.model import Dependency, DepfileError, text_of, unique

_DIRECTIVES = frozenset(
    {
        "module",
        "go",
        "toolchain",
        "godebug",
        "require",
        "replace",
        "exclude",
        "retract",
        "tool",
        "ignore",
    }
)


@dataclass(frozen=True)
class _Statement:
    directive: str
    text: str
    comment: str
    line: int


def _statements(path: str, text: str) -> list[_Statement]:
    statements: list[_Statement] = []
    block: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        code, _, comment = raw.partition("//")
        code, comment = code.strip(), comment.strip()
        if block is not None:
            if code == ")":
                block = None
            elif code:
                statements.append(_Statement(block, code, comment, number))
            continue
        if not code:
            continue
        directive, _, rest = code.replace("\t", " ").partition(" ")
        rest = rest.strip()
        if directive not in _DIRECTIVES:
            raise DepfileError(f"{path}:{number}: unknown directive {directive[:40]!r}")
        if rest == "(":
            block = directive
        elif rest.startswith("(") and rest.endswith(")"):
            if rest[1:-1].strip():
                statements.append(_Statement(directive, rest[1:-1].strip(), comment, number))
        else:
            statements.append(_Statement(directive, rest, comment, number))
    if block is not None:
        raise DepfileError(f"{path}: unterminated {block} block")
    return statements


def _tokens(text: str) -> list[str]:
    return [token.strip('"`') for token in text.split()]


def _module_version(path: str, statement: _Statement) -> tuple[str, str]:
    tokens = _tokens(statement.text)
    if len(tokens) != 2 or not tokens[1].startswith("v"):
        raise DepfileError(
            f"{path}:{statement.line}: expected 'module/path vX.Y.Z' in {statement.directive}"
        )
    return tokens[0], tokens[1]


Replacements = dict[tuple[str, str | None], tuple[str, str] | None]


def _replacements(path: str, statements: list[_Statement]) -> Replacements:
    """(old module, old version or None) → (new module, new version), or None for a directory."""
    replaced: Replacements = {}
    for statement in (s for s in statements if s.directive == "replace"):
        old_text, arrow, new_text = statement.text.partition("=>")
        old, new = _tokens(old_text), _tokens(new_text)
        if not arrow or len(old) not in (1, 2) or len(new) not in (1, 2):
            raise DepfileError(f"{path}:{statement.line}: malformed replace directive")
        key = (old[0], old[1] if len(old) == 2 else None)
        replaced[key] = (new[0], new[1]) if len(new) == 2 else None
    return replaced


def parse(path: str, content: bytes) -> list[Dependency]:
    statements = _statements(path, text_of(path, content))
    if not any(s.directive == "module" for s in statements):
        raise DepfileError(f"{path}: no module directive")
    replaced = _replacements(path, statements)
    excluded = {_module_version(path, s) for s in statements if s.directive == "exclude"}
    found = []
    for statement in (s for s in statements if s.directive == "require"):
        module, version = _module_version(path, statement)
        if (module, version) in excluded:
            continue
        key = (module, version) if (module, version) in replaced else (module, None)
        if key in replaced:
            target = replaced[key]
            if target is None:
                continue  # replaced by a local directory
            module, version = target
        indirect = statement.comment.split(";", 1)[0].strip() == "indirect"
        relationship = "transitive" if indirect else "direct"
        found.append(Dependency("go", module, version, path, relationship, "runtime"))
    return unique(found)
