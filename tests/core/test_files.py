"""Files the tool writes take the umask's mode, as a plain write would (a web server running as another user reads them)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from digest.core.files import atomic_write_bytes, atomic_write_text, current_umask
from digest.core.store import write_record
from helpers import make_entry, make_record


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_take_the_umask(tmp_path: Path, mask: int, expected: int) -> None:
    with umask(mask):
        assert current_umask() == mask
        atomic_write_text(tmp_path / "new.md", "new\n")
        old = tmp_path / "old.md"
        old.write_text("old\n", encoding="utf-8")
        os.chmod(old, 0o600)  # written by an earlier version: replaced with the umask's mode
        atomic_write_bytes(old, b"replaced\n")
    assert mode(tmp_path / "new.md") == expected
    assert mode(old) == expected and old.read_bytes() == b"replaced\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def _render_all(site: Path, mask: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "digest", "render", "--all"],
        cwd=site, capture_output=True, text=True, timeout=120, env=env, preexec_fn=lambda: os.umask(mask),
    )


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_render_all_leaves_posts_and_records_with_the_umask_mode(tmp_path: Path, mask: int, expected: int) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "config.yaml").write_text("site:\n  posts_dir: _posts\n", encoding="utf-8")
    records = site / "_data" / "digest"
    with umask(mask):
        write_record(records, make_record([make_entry("2601.00001v1"), make_entry("2601.00002v1")]))
    record = records / "2026-01-07.json"
    assert mode(record) == expected
    first = _render_all(site, mask)
    assert first.returncode == 0, first.stderr
    post = site / "_posts" / "2026-01-07-arxiv.md"
    assert mode(post) == expected
    # A second render rewrites the post in place: a 0644 post stays 0644 (it used to turn 0600).
    post.write_text(post.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    os.chmod(post, expected)
    again = _render_all(site, mask)
    assert again.returncode == 0, again.stderr
    assert mode(post) == expected and mode(record) == expected
    assert not post.read_text(encoding="utf-8").endswith("\n\n")  # it was rewritten, not skipped
