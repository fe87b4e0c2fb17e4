"""The pip updater: in-place edits that keep every other byte, and correct new hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agentd.ecosystems import PackageBump, UpdateContext
from agentd.ecosystems.pip.updater import PipUpdater, is_fully_pinned
from agentd.errors import PathEscapeError
from agentd.vocabulary import ReasonCode
from ecosystems.localindex import serve_directory, write_simple_index
from ecosystems.registries.tls import private_ca, serve_https


def _context(root: Path, env: dict[str, str] | None = None) -> UpdateContext:
    return UpdateContext(
        worktree=root, target_path=".", env=env or {}, home=root, timeout_seconds=60
    )


def _bump(name: str, old: str, new: str, manifest: str = "requirements.txt") -> PackageBump:
    return PackageBump(name, manifest, old, new, ("GHSA-9hjg-9r4m-mvj7",))


REQUIREMENTS = """\
# Pinned by hand; keep the comments.
-r requirements-base.txt
-c constraints.txt
Requests[socks]==2.25.0 ; python_version >= "3.8"  # http client
urllib3==1.26.5 \\
    # transitive, via requests
jinja2===3.1.2
flask>=2.0  # unpinned on purpose
"""


def test_in_place_edit_preserves_everything_else(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(REQUIREMENTS)
    result = PipUpdater().apply(
        _context(tmp_path),
        [
            _bump("requests", "2.25.0", "2.32.4"),
            _bump("urllib3", "1.26.5", "1.26.19"),
            _bump("Jinja2", "3.1.2", "3.1.4"),
        ],
    )
    assert result.blocked is None
    expected = (
        REQUIREMENTS.replace("==2.25.0", "==2.32.4")
        .replace("==1.26.5", "==1.26.19")
        .replace("===3.1.2", "===3.1.4")
    )
    assert (tmp_path / "requirements.txt").read_text() == expected
    assert result.changed_files == ["requirements.txt"]
    # flask>=2.0 makes this file a manifest, not a lockfile
    assert result.manifest_files == ["requirements.txt"]
    assert len(result.notes) == 3


def test_fully_pinned_file_is_lockfile_only(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "requirements-prod.txt").write_text("requests==2.25.0\nidna==2.10\n")
    result = PipUpdater().apply(
        _context(tmp_path), [_bump("requests", "2.25.0", "2.32.4", "sub/requirements-prod.txt")]
    )
    assert result.changed_files == ["sub/requirements-prod.txt"]
    assert result.manifest_files == []
    assert is_fully_pinned("a==1\nb[x]==2 ; python_version<'3.9'\n-r other.txt\n")
    assert not is_fully_pinned("a==1\nb>=2\n")


HASHED = """\
certifi==2024.2.2 \\
    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000001
requests==2.25.0 \\
    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111 \\
    --hash=sha256:2222222222222222222222222222222222222222222222222222222222222222
    # via -r requirements.in
urllib3==1.26.5 --hash=sha256:3333333333333333333333333333333333333333333333333333333333333333
"""


@pytest.mark.parametrize("with_fragments", [True, False])
def test_hashed_requirements_get_the_new_versions_hashes(
    tmp_path: Path, with_fragments: bool
) -> None:
    wheel, sdist, other = b"wheel-bytes", b"sdist-bytes", b"old-version"
    index_root = tmp_path / "index"
    write_simple_index(
        index_root,
        {
            "requests-2.32.4-py3-none-any.whl": wheel,
            "requests-2.32.4.tar.gz": sdist,
            "requests-2.31.0-py3-none-any.whl": other,
            "urllib3-1.26.19-py2.py3-none-any.whl": b"u3",
        },
        with_fragments=with_fragments,
    )
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text(HASHED)
    with serve_directory(index_root) as url:
        result = PipUpdater().apply(
            _context(repo, {"PIP_INDEX_URL": f"{url}/simple/"}),
            [_bump("requests", "2.25.0", "2.32.4"), _bump("urllib3", "1.26.5", "1.26.19")],
        )
    assert result.blocked is None, result.blocked_detail
    text = (repo / "requirements.txt").read_text()
    new = sorted(hashlib.sha256(b).hexdigest() for b in (wheel, sdist))
    assert text == (
        "certifi==2024.2.2 \\\n"
        "    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000001\n"
        "requests==2.32.4 \\\n"
        f"    --hash=sha256:{new[0]} \\\n"
        f"    --hash=sha256:{new[1]}\n"
        "    # via -r requirements.in\n"
        f"urllib3==1.26.19 --hash=sha256:{hashlib.sha256(b'u3').hexdigest()}\n"
    )


def test_missing_hashes_block_and_leave_the_file_alone(tmp_path: Path) -> None:
    index_root = tmp_path / "index"
    write_simple_index(index_root, {"requests-2.31.0-py3-none-any.whl": b"x"})
    (tmp_path / "requirements.txt").write_text(HASHED)
    with serve_directory(index_root) as url:
        result = PipUpdater().apply(
            _context(tmp_path, {"PIP_INDEX_URL": f"{url}/simple/"}),
            [_bump("requests", "2.25.0", "2.32.4")],
        )
    assert result.blocked is ReasonCode.VERIFICATION_FAILED
    assert "no stale hash was written" in result.blocked_detail
    assert (tmp_path / "requirements.txt").read_text() == HASHED


def test_unreachable_index_is_an_environment_problem(tmp_path: Path) -> None:
    """Issue 15 cause 7: a registry that cannot be reached is not a failed fix."""
    (tmp_path / "requirements.txt").write_text(HASHED)
    result = PipUpdater().apply(
        _context(tmp_path, {"PIP_INDEX_URL": "http://127.0.0.1:9/simple/"}),
        [_bump("requests", "2.25.0", "2.32.4")],
    )
    assert result.blocked is ReasonCode.VERIFICATION_UNAVAILABLE
    assert result.blocked_detail.startswith("cannot reach 127.0.0.1:9: connection refused")
    assert (tmp_path / "requirements.txt").read_text() == HASHED


def test_removed_dependency_is_reported(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("idna==3.7\n")
    result = PipUpdater().apply(_context(tmp_path), [_bump("requests", "2.25.0", "2.32.4")])
    assert result.blocked is ReasonCode.DEPENDENCY_REMOVED


@pytest.mark.parametrize("line", ["requests>=2.0", "requests ~= 2.25", "Requests[socks]"])
def test_a_requirement_without_an_exact_pin_needs_a_manifest_change(
    tmp_path: Path, line: str
) -> None:
    """The dependency is still there, only not pinned: reporting it removed (the old answer)
    told the operator there was nothing to do."""
    (tmp_path / "requirements.txt").write_text(f"idna==3.7\n{line}  # keep\n")
    result = PipUpdater().apply(_context(tmp_path), [_bump("requests", "2.25.0", "2.32.4")])
    assert result.blocked is ReasonCode.MANIFEST_CHANGE_REQUIRED, result.blocked_detail
    assert line in result.blocked_detail
    assert (tmp_path / "requirements.txt").read_text() == f"idna==3.7\n{line}  # keep\n"


@pytest.mark.parametrize("manifest", ["../outside/requirements.txt", "/etc/requirements.txt"])
def test_paths_outside_the_worktree_are_refused(tmp_path: Path, manifest: str) -> None:
    with pytest.raises(PathEscapeError):
        PipUpdater().apply(_context(tmp_path), [_bump("requests", "2.25.0", "2.32.4", manifest)])


def test_symlink_out_of_the_worktree_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "requirements.txt").write_text("requests==2.25.0\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").symlink_to(outside / "requirements.txt")
    with pytest.raises(PathEscapeError):
        PipUpdater().apply(_context(repo), [_bump("requests", "2.25.0", "2.32.4")])
    assert (outside / "requirements.txt").read_text() == "requests==2.25.0\n"


def test_repository_pip_conf_is_never_consulted(tmp_path: Path) -> None:
    index_root = tmp_path / "index"
    write_simple_index(index_root, {"requests-2.32.4-py3-none-any.whl": b"good"})
    repo = tmp_path / "repo"
    (repo / ".pip").mkdir(parents=True)
    hostile = "[global]\nindex-url = http://127.0.0.1:9/evil/simple\n"
    (repo / "pip.conf").write_text(hostile)
    (repo / ".pip" / "pip.conf").write_text(hostile)
    (repo / "requirements.txt").write_text("requests==2.25.0 --hash=sha256:" + "1" * 64 + "\n")
    with serve_directory(index_root) as url:
        result = PipUpdater().apply(
            _context(repo, {"PIP_INDEX_URL": f"{url}/simple/"}),
            [_bump("requests", "2.25.0", "2.32.4")],
        )
    assert result.blocked is None, result.blocked_detail
    assert hashlib.sha256(b"good").hexdigest() in (repo / "requirements.txt").read_text()


@pytest.mark.parametrize("setting", ["PIP_CERT", "SSL_CERT_FILE"])
def test_hashes_come_from_an_index_behind_the_operator_s_ca(tmp_path: Path, setting: str) -> None:
    """The hash lookup is agentd's own request: it ignored PIP_CERT/SSL_CERT_FILE given to
    the tools, so an index behind a corporate CA failed 'certificate not trusted'."""
    wheel = b"wheel-bytes"
    index_root = tmp_path / "index"
    write_simple_index(index_root, {"requests-2.32.4-py3-none-any.whl": wheel})
    ca = private_ca(tmp_path / "ca")
    (tmp_path / "requirements.txt").write_text("requests==2.25.0 --hash=sha256:" + "0" * 64 + "\n")
    with serve_https(index_root, ca) as url:
        result = PipUpdater().apply(
            _context(tmp_path, {"PIP_INDEX_URL": f"{url}/simple/", setting: str(ca.bundle)}),
            [_bump("requests", "2.25.0", "2.32.4")],
        )
    assert result.blocked is None, result.blocked_detail
    digest = hashlib.sha256(wheel).hexdigest()
    assert (
        tmp_path / "requirements.txt"
    ).read_text() == f"requests==2.32.4 --hash=sha256:{digest}\n"


def test_an_unusable_ca_bundle_is_an_environment_problem(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(HASHED)
    missing = tmp_path / "nowhere.pem"
    result = PipUpdater().apply(
        _context(tmp_path, {"PIP_CERT": str(missing)}), [_bump("requests", "2.25.0", "2.32.4")]
    )
    assert result.blocked is ReasonCode.VERIFICATION_UNAVAILABLE
    assert result.blocked_detail.startswith(f"cannot load the CA bundle PIP_CERT={missing}")
    assert (tmp_path / "requirements.txt").read_text() == HASHED
