"""A child process for the CPU-heavy text steps (PDF extraction, trimming) of the full-text stage.

PyMuPDF must not run on several threads at once (its documentation says it may crash Python), and on the
event loop's process its work holds the GIL and delays every model call waiting to be sent. One child
process, one job at a time, fixes both. A PDF that crashes the library ends only that child, and one that
makes it spin is stopped after a time limit; either way that paper gets a failure line and the next job
starts a fresh child. Where processes cannot be started, the jobs run on one thread instead.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, TypeVar, cast

T = TypeVar("T")

# A 200-page paper takes about half a second; a job still running after this is stuck, not slow.
JOB_TIMEOUT_SECONDS = 120.0
# A fresh child imports Python, then the job's modules (PyMuPDF) before the job can start; on a loaded
# machine that alone can take seconds. It has its own generous limit so the job's limit times only the job.
START_TIMEOUT_SECONDS = 120.0

_STARTED = "started"
_POLL_SLICE_SECONDS = 0.2


class WorkerCrashed(Exception):
    """The child process died during a job (a crash in the PDF library, or it was killed)."""


class WorkerTimedOut(WorkerCrashed):
    """A job ran past the time limit; its child was killed."""


def _serve(conn: Connection) -> None:
    """The child's loop: for each (fn, args) say ("started", None), run it, answer ("ok", value) or ("error", exc)."""
    while True:
        try:
            fn, args = conn.recv()  # unpickling imports fn's module: part of start-up, not of the job
        except (EOFError, OSError):
            return  # the parent is gone or closed the pipe
        try:
            conn.send((_STARTED, None))
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("ok", fn(*args))
        except Exception as exc:  # noqa: BLE001 - sent back to be raised in the parent
            answer = ("error", exc)
        try:
            conn.send(answer)
        except (EOFError, OSError):
            return  # the parent stopped waiting
        except Exception as exc:  # noqa: BLE001 - an answer that does not pickle (nothing was written)
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class TextWorker:
    """Runs picklable functions in one spawned child process, one job at a time; started on first use."""

    def __init__(self, context: Any = None, *, timeout: float = JOB_TIMEOUT_SECONDS) -> None:
        # spawn, not fork: this process has threads (the import warmer, asyncio's workers), and fork copies locks.
        self._context = context or multiprocessing.get_context("spawn")
        self.timeout = timeout
        self._proc: Any = None
        self._conn: Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._lock: asyncio.Lock | None = None
        self._stopping = threading.Lock()
        self.started = 0  # child processes started, for tests and the benchmark
        self.in_thread = False  # True once processes proved unavailable here

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in the child; its exceptions come back as they are, a dead or stuck child as WorkerCrashed."""
        self._lock = self._lock or asyncio.Lock()
        loop = asyncio.get_running_loop()
        async with self._lock:
            conn = self._conn or self._start()
            if conn is None:
                # Still one worker: PyMuPDF never runs on two threads at once; isolation and time limit are lost.
                self._thread = self._thread or ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-text")
                return await loop.run_in_executor(self._thread, fn, *args)
            try:
                # A PDF of megabytes fills the pipe faster than the child drains it: send off the loop.
                await loop.run_in_executor(None, conn.send, (fn, args))
                # Readable once the child has the job in hand (or at EOF when it died starting up).
                if not await loop.run_in_executor(None, self._wait, conn, START_TIMEOUT_SECONDS):
                    self._stop(kill=True)
                    raise WorkerCrashed()
                status, value = conn.recv()
                if status == _STARTED:
                    # Only now does the job's own limit start: a slow spawn must not eat into it.
                    if not await loop.run_in_executor(None, self._wait, conn, self.timeout):
                        self._stop(kill=True)
                        raise WorkerTimedOut()
                    status, value = conn.recv()
            except (EOFError, OSError):
                self._stop(kill=True)
                raise WorkerCrashed() from None
            except asyncio.CancelledError:
                self._stop(kill=True)  # its late answer must not be taken for the next job's
                raise
        if status == "error":
            raise value
        return cast(T, value)  # what fn returned, through the pipe

    @property
    def running(self) -> bool:
        """Whether a child process is up."""
        return self._proc is not None and self._proc.is_alive()

    def _start(self) -> Connection | None:
        if self.in_thread:
            return None
        try:
            parent, child = self._context.Pipe()
            proc = self._context.Process(target=_serve, args=(child,), daemon=True, name="digest-text")
            proc.start()
        except (OSError, NotImplementedError):
            self.in_thread = True  # no process support here (sandboxes without /dev/shm, process limits)
            return None
        child.close()
        self._proc, self._conn = proc, parent
        self.started += 1
        return parent

    def _wait(self, conn: Connection, seconds: float) -> bool:
        """conn.poll(seconds) in short slices, ending with EOFError once the worker is stopped meanwhile.

        A stop may come from another thread (close() at the end of a day) while this thread waits: one long
        poll on a pipe that was closed (its number perhaps reused) would keep the thread, and the exit of the
        event loop that waits for it, for the whole time limit.
        """
        deadline = time.monotonic() + seconds
        while self._conn is conn:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if conn.poll(min(left, _POLL_SLICE_SECONDS)):
                return True
        raise EOFError("the worker was stopped")

    def _stop(self, *, kill: bool) -> None:
        with self._stopping:  # close() may run on a thread while a cancelled job stops the child on the loop
            proc, conn = self._proc, self._conn
            self._proc = self._conn = None
        if proc is not None and kill:
            # Killed before the pipe is closed: a thread still polling it then sees EOF, not a closed handle.
            proc.kill()
            proc.join()
        if conn is not None:
            conn.close()  # an idle child reads EOF and returns
        if proc is not None and not kill:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()

    def close(self) -> None:
        """Stop the child (an idle one exits at once); safe to call more than once."""
        self._stop(kill=False)
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
