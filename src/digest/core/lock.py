"""One lock per site, so two runs never write the same post or record at once."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from digest.core.errors import DigestError, LockedError
from digest.core.files import file_in_the_way


@contextmanager
def site_lock(
    path: Path,
    command: str,
    *,
    wait_seconds: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] | None = None,
) -> Iterator[None]:
    """Hold an exclusive lock on `path`; wait up to `wait_seconds`, then fail naming the holder."""
    blocker = file_in_the_way(path.parent)
    if blocker is not None:
        raise DigestError(
            f"cannot create the site lock in {path.parent}: {blocker} is a file, not a folder; "
            "set site.records_dir in the config to a folder"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DigestError(
            f"cannot create the site lock in {path.parent}: {exc.strerror or exc.__class__.__name__}; "
            "check that site.records_dir is a folder you can write"
        ) from None
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockedError(
                        f"another digest run holds the site lock {path} ({_holder(path)}); "
                        "wait for it to finish, or raise site.lock_timeout_seconds to wait longer"
                    ) from None
                sleep(0.2)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": (clock() if clock else datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock; the file stays so the next holder reuses it


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    return f"pid {info.get('pid')} on {info.get('host')}: `{info.get('command')}` since {info.get('since')}"
