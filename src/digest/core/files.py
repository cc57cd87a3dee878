"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from pathlib import Path

from digest.core.errors import DigestError

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the system tells it (Linux), else set and restored."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        status = ""
    m = re.search(r"^Umask:\s*([0-7]+)", status, re.M)
    if m:
        return int(m.group(1), 8)
    # os.umask can only be read by setting it; the lock keeps our own threads from seeing the interim value.
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode a plain open() gives a new file: 0666 less the umask (0644 under 022)."""
    return 0o666 & ~current_umask()


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write to a temp file in the same folder, fsync (unless `durable` is off), then rename over the target.

    The file gets the umask's mode, as a plain write would; mkstemp's private 0600 is only for the temp file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), new_file_mode())
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
    """atomic_write_bytes of the text as UTF-8."""
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
