"""pip: fully pinned `requirements*.txt`, edited in place.

Only the version of the pinned requirement changes; comments, extras, environment markers,
`-r`/`-c` includes, options and line continuations stay byte for byte. A requirement with
`--hash` options gets the new version's hashes from the configured index (`PIP_INDEX_URL`
when allowlisted, else PyPI's simple index); if they cannot be obtained the update is
refused — a stale hash is never written.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import urldefrag, urljoin

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from agentd.ecosystems._shared.interface import PackageBump, UpdateContext, UpdateResult
from agentd.redaction import redact
from agentd.vocabulary import ReasonCode

DEFAULT_INDEX = "https://pypi.org/simple/"
INDEX_TIMEOUT_SECONDS = 30.0
_PINNED = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*===?\s*[^\s;#\\]+")
_HASH = re.compile(r"\s*--hash[= ]\s*(sha256|sha384|sha512):[0-9a-fA-F]+")


@dataclass
class LogicalLine:
    start: int  # index of its first physical line
    lines: list[str]  # physical lines, each with its newline

    @property
    def text(self) -> str:
        return "".join(line.rstrip("\r\n").removesuffix("\\") for line in self.lines)


def logical_lines(text: str) -> list[LogicalLine]:
    physical = text.splitlines(keepends=True)
    result: list[LogicalLine] = []
    index = 0
    while index < len(physical):
        start = index
        chunk = [physical[index]]
        while chunk[-1].rstrip("\r\n").endswith("\\") and index + 1 < len(physical):
            index += 1
            chunk.append(physical[index])
        result.append(LogicalLine(start, chunk))
        index += 1
    return result


def _requirement_part(text: str) -> str:
    """The requirement itself: before options (`--hash`) and comments."""
    text = re.split(r"(?:^|\s)#", text, maxsplit=1)[0]
    return re.split(r"\s--?[a-zA-Z]", " " + text, maxsplit=1)[0].strip()


def _name_pattern(name: str) -> str:
    parts = re.split(r"[-_.]+", canonicalize_name(name))
    return r"[-_.]+".join(re.escape(p) for p in parts)


def is_fully_pinned(text: str) -> bool:
    """True when every requirement in the file is pinned with `==` (a lockfile in effect)."""
    for line in logical_lines(text):
        requirement = _requirement_part(line.text)
        if not requirement or requirement.startswith("-"):
            continue
        if not _PINNED.match(requirement) or re.search(r"[<>!~*,]", requirement.split(";")[0]):
            return False
    return True


def _find_pin(lines: list[LogicalLine], name: str) -> tuple[LogicalLine, re.Match[str]] | None:
    pattern = re.compile(
        rf"^(?P<lead>\s*{_name_pattern(name)}\s*(\[[^\]]*\])?\s*===?\s*)(?P<version>[^\s;#\\]+)",
        re.IGNORECASE,
    )
    for line in lines:
        match = pattern.match(line.lines[0])
        if match:
            return line, match
    return None


def _rewrite(
    line: LogicalLine, match: re.Match[str], version: str, hashes: list[str] | None
) -> list[str]:
    first = (
        line.lines[0][: match.start("version")] + version + line.lines[0][match.end("version") :]
    )
    new = [first, *line.lines[1:]]
    if hashes is None:
        return new
    return _replace_hashes(new, hashes)


def _replace_hashes(lines: list[str], hashes: list[str]) -> list[str]:
    """Swap every `--hash` option for the new ones, keeping the file's layout."""
    tokens = [f"--hash=sha256:{h}" for h in hashes]
    continuation = [i for i, line in enumerate(lines) if line.lstrip().startswith("--hash")]
    if continuation:
        indent = re.match(r"\s*", lines[continuation[0]]).group(0)  # type: ignore[union-attr]
        newline = "\r\n" if lines[continuation[0]].endswith("\r\n") else "\n"
        keep = [line for i, line in enumerate(lines) if i not in continuation]
        tail_has_more = continuation[-1] != len(lines) - 1
        hash_lines = [f"{indent}{token} \\{newline}" for token in tokens]
        if not tail_has_more:
            hash_lines[-1] = f"{indent}{tokens[-1]}{newline}"
        insert_at = continuation[0] - (len(lines) - len(keep) - len(continuation))
        return keep[:insert_at] + hash_lines + keep[insert_at:]
    first = lines[0]
    end = len(first.rstrip("\r\n"))
    body, newline = first[:end], first[end:]
    stripped = _HASH.sub("", body)
    return [f"{stripped} {' '.join(tokens)}{newline}", *lines[1:]]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links.append((self._href, data.strip()))
            self._href = None


class IndexLookupError(Exception):
    pass


def _file_version(filename: str) -> tuple[str, Version] | None:
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return name, version


def index_hashes(index_url: str, name: str, version: str, client: httpx.Client) -> list[str]:
    """sha256 of every distribution file of name==version on a PEP 503 simple index."""
    page_url = urljoin(index_url.rstrip("/") + "/", f"{canonicalize_name(name)}/")
    response = client.get(page_url, headers={"Accept": "text/html"})
    if response.status_code != 200:
        raise IndexLookupError(
            f"index answered {response.status_code} for {canonicalize_name(name)}"
        )
    parser = _Links()
    parser.feed(response.text)
    wanted = Version(version)
    hashes: set[str] = set()
    for href, text in parser.links:
        url, fragment = urldefrag(urljoin(page_url, href))
        parsed = _file_version(text or PurePosixPath(url).name)
        if parsed is None or parsed[0] != canonicalize_name(name) or parsed[1] != wanted:
            continue
        if fragment.startswith("sha256="):
            hashes.add(fragment.removeprefix("sha256=").lower())
            continue
        download = client.get(url)
        if download.status_code != 200:
            raise IndexLookupError(f"could not download {PurePosixPath(url).name} to hash it")
        hashes.add(hashlib.sha256(download.content).hexdigest())
    if not hashes:
        raise IndexLookupError(f"{name}=={version} is not on the index")
    return sorted(hashes)


class PipUpdater:
    name = "pip"

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        result = UpdateResult()
        by_file: dict[str, list[PackageBump]] = {}
        for bump in bumps:
            by_file.setdefault(bump.manifest_path, []).append(bump)
        index_url = context.env.get("PIP_INDEX_URL", DEFAULT_INDEX)
        with httpx.Client(timeout=INDEX_TIMEOUT_SECONDS, follow_redirects=True) as client:
            for manifest, file_bumps in sorted(by_file.items()):
                refusal = self._update_file(
                    context, manifest, file_bumps, index_url=index_url, client=client, result=result
                )
                if refusal is not None:
                    return refusal
        return result

    def _update_file(
        self,
        context: UpdateContext,
        manifest: str,
        bumps: list[PackageBump],
        *,
        index_url: str,
        client: httpx.Client,
        result: UpdateResult,
    ) -> UpdateResult | None:
        path = context.file(manifest)
        try:
            original = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return UpdateResult.refuse(
                ReasonCode.VERIFICATION_FAILED, f"cannot read {manifest}: {exc}"
            )
        text = original
        for bump in bumps:
            lines = logical_lines(text)
            found = _find_pin(lines, bump.name)
            if found is None:
                return UpdateResult.refuse(
                    ReasonCode.DEPENDENCY_REMOVED, f"{bump.name} is no longer pinned in {manifest}"
                )
            line, match = found
            hashes = None
            if "--hash" in line.text:
                try:
                    hashes = index_hashes(index_url, bump.name, bump.target_version, client)
                except (IndexLookupError, httpx.HTTPError) as exc:
                    where = redact(index_url)
                    return UpdateResult.refuse(
                        ReasonCode.VERIFICATION_FAILED,
                        f"{manifest} pins {bump.name} with hashes, and the hashes of "
                        f"{bump.target_version} could not be obtained from {where}: "
                        f"{redact(str(exc))}; no stale hash was written",
                    )
            physical = text.splitlines(keepends=True)
            physical[line.start : line.start + len(line.lines)] = _rewrite(
                line, match, bump.target_version, hashes
            )
            text = "".join(physical)
            result.notes.append(
                f"{bump.name} {bump.current_version} → {bump.target_version} in {manifest}"
                + (" (hashes updated)" if hashes else "")
            )
        if text != original:
            path.write_text(text, encoding="utf-8")
            result.changed_files.append(manifest)
            if not is_fully_pinned(text):
                result.manifest_files.append(manifest)
        return None
