"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from digest.core.errors import DigestError


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write to a temp file in the same folder, fsync (unless `durable` is off), then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def file_in_the_way(folder: Path) -> Path | None:
    """The file standing where `folder` or one of its parents should be a folder, or None."""
    for p in (folder, *folder.parents):
        if p.exists():
            return p if not p.is_dir() else None
    return None


def write_or_fail(path: Path, text: str, what: str, *, durable: bool = True) -> None:
    """Atomic write that turns an OS error into one clear message (the old file stays).

    `durable=False` skips the fsync: for files rebuilt from others (site pages), where a crash costs a rebuild.
    """
    try:
        atomic_write_text(path, text, durable=durable)
    except OSError as exc:
        blocker = file_in_the_way(path.parent)
        if blocker is not None:
            key = {"post": "site.posts_dir", "record": "site.records_dir"}.get(what, "the folder")
            raise DigestError(
                f"cannot write {what} {path}: {blocker} is a file, not a folder; set {key} in the config to a folder"
            ) from None
        reason = exc.strerror or exc.__class__.__name__
        raise DigestError(
            f"cannot write {what} {path}: {reason}; the previous file is unchanged "
            "(check the folder's permissions and free space)"
        ) from None


def safe_file_name(paper_id: str) -> str:
    """A file name for a paper id: old-style ids (cs/0112017v2) carry a slash."""
    return paper_id.replace("/", "_")
