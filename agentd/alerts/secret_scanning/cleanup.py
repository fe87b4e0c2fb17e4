"""Replacing a committed secret with a placeholder or an environment-variable reference.

The replacement fits the file type: `.env` files get a placeholder, YAML/JSON/shell an
`${NAME}` reference, Python `os.environ["NAME"]`, JavaScript/TypeScript `process.env.NAME`.
Only a literal that is exactly the secret is replaced; a secret embedded in a larger value
is left for a person (the caller reports `policy_blocked`). The secret itself is never
returned, logged or stored by this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

PLACEHOLDER = "REPLACE_WITH_ROTATED_SECRET"


@dataclass(frozen=True)
class Cleanup:
    text: str | None
    reason: str  # what was done, or why not


def env_name_for(secret_type: str | None) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "_", secret_type or "secret").strip("_").upper()
    return name if name and not name[0].isdigit() else f"SECRET_{name}"


def file_kind(path: str, text: str) -> str | None:
    name = PurePosixPath(path).name.lower()
    suffix = PurePosixPath(name).suffix
    if name == ".env" or name.startswith(".env.") or suffix == ".env":
        return "dotenv"
    if suffix in (".yml", ".yaml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    if suffix == ".py":
        return "python"
    if suffix in (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx"):
        return "javascript"
    if suffix in (".sh", ".bash", ".zsh") or text.startswith(
        ("#!/bin/sh", "#!/bin/bash", "#!/usr/bin/env bash")
    ):
        return "shell"
    return None


def _quoted(secret: str, quotes: str) -> re.Pattern[str]:
    alternatives = "|".join(f"{re.escape(q)}{re.escape(secret)}{re.escape(q)}" for q in quotes)
    return re.compile(alternatives)


def _bare_value(secret: str) -> re.Pattern[str]:
    """The secret as a whole value: after `=` or `:`, alone up to the end or a comment."""
    return re.compile(
        rf"(?P<lead>[:=]\s*)(?P<q>['\"]?){re.escape(secret)}(?P=q)(?P<tail>\s*(#.*)?)$",
        re.MULTILINE,
    )


def _ensure_import_os(text: str, newline: str) -> str:
    if re.search(r"^import os\b|^from os import environ", text, re.MULTILINE):
        return text
    lines = text.splitlines(keepends=True)
    at = 0
    while at < len(lines) and (
        lines[at].startswith(("#!", "# -*-")) or (at == 0 and lines[at].startswith('"""'))
    ):
        at += 1
    return "".join([*lines[:at], f"import os{newline}", *lines[at:]])


def replace_secret(path: str, text: str, secret: str, secret_type: str | None) -> Cleanup:
    if secret not in text:
        return Cleanup(None, f"the secret is not in {path} on the base branch")
    kind = file_kind(path, text)
    if kind is None:
        return Cleanup(None, f"{path}: no safe replacement for this file type; clean it up by hand")
    name = env_name_for(secret_type)
    newline = "\r\n" if "\r\n" in text else "\n"
    if kind in ("dotenv", "yaml", "shell"):
        value = {"dotenv": PLACEHOLDER, "yaml": f'"${{{name}}}"', "shell": f'"${{{name}}}"'}[kind]
        new, count = _bare_value(secret).subn(
            lambda m: f"{m.group('lead')}{value}{m.group('tail')}", text
        )
    elif kind == "json":
        new, count = _quoted(secret, '"').subn(f'"${{{name}}}"', text)
    elif kind == "python":
        new, count = _quoted(secret, "\"'").subn(f'os.environ["{name}"]', text)
        if count:
            new = _ensure_import_os(new, newline)
    else:
        new, count = _quoted(secret, "\"'`").subn(f"process.env.{name}", text)
    if count == 0 or secret in new:
        return Cleanup(
            None, f"{path}: the secret is embedded in a larger value; clean it up by hand"
        )
    return Cleanup(
        new,
        f"{path}: replaced {count} occurrence(s) with {'a placeholder' if kind == 'dotenv' else name}",
    )
