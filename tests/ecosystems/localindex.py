"""A PEP 503 simple index served over loopback from files the test writes."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def write_simple_index(root: Path, files: dict[str, bytes], with_fragments: bool = True) -> None:
    """`files` maps distribution file names (e.g. requests-2.32.4-py3-none-any.whl) to bytes."""
    projects: dict[str, list[str]] = {}
    (root / "files").mkdir(parents=True, exist_ok=True)
    for filename, content in files.items():
        (root / "files" / filename).write_bytes(content)
        project = filename.split("-")[0].lower().replace("_", "-")
        digest = hashlib.sha256(content).hexdigest()
        anchor = f"../../files/{filename}" + (f"#sha256={digest}" if with_fragments else "")
        projects.setdefault(project, []).append(f'<a href="{anchor}">{filename}</a><br/>')
    for project, links in projects.items():
        page = root / "simple" / project
        page.mkdir(parents=True, exist_ok=True)
        (page / "index.html").write_text("<html><body>\n" + "\n".join(links) + "\n</body></html>")


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
