"""A child process for the CPU-heavy text steps (PDF extraction, trimming) of the full-text stage.

PyMuPDF must not run on several threads at once (its documentation says it may crash Python), and on the
event loop's process its work holds the GIL and delays every model call waiting to be sent. One child
process, one job at a time, fixes both; a PDF that crashes the library ends only that child, and that paper
gets a failure line while the next job starts a fresh child. Where processes cannot be started, the jobs run
on one thread instead.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")


class WorkerCrashed(Exception):
    """The child process died during a job (a crash in the PDF library, or it was killed)."""


class TextWorker:
    """Runs picklable functions in one spawned child process, one job at a time; start it lazily."""

    def __init__(self, context: Any = None) -> None:
        # spawn, not fork: this process has threads (the import warmer, asyncio's workers), and fork copies locks.
        self._context = context or multiprocessing.get_context("spawn")
        self._pool: Executor | None = None
        self._lock: asyncio.Lock | None = None
        self.started = 0  # child processes started, for tests and the benchmark
        self.in_thread = False  # True once processes proved unavailable here

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in the child; its exceptions come back as they are, a dead child as WorkerCrashed."""
        self._lock = self._lock or asyncio.Lock()
        # One job in the pool at a time: a crash then breaks only the job that caused it.
        async with self._lock:
            pool = self._pool or self._start()
            try:
                return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
            except BrokenProcessPool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
                raise WorkerCrashed() from None

    def _start(self) -> Executor:
        if not self.in_thread:
            try:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=self._context)
                self.started += 1
                return self._pool
            except (OSError, NotImplementedError):
                self.in_thread = True  # e.g. no /dev/shm for the queues' semaphores
        # Still one worker: PyMuPDF never runs on two threads at once, only the crash isolation is lost.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-text")
        return self._pool

    def close(self) -> None:
        """Stop the child (waits for a job in progress)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
