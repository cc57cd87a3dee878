"""The Task seam: a named model task is a prompt template, an answer check and the key its result is kept under.

Every module in this package that defines `TASK` is a task (translate and deep_read today). The record, the
entry status, the results cache, reruns and the failure summary iterate `all_tasks()`, so a new task is one
module here and one template under templates/prompts; `register()` adds one from elsewhere (tests, plugins).
A task may also define `verify` (see Verification): the deep read checks its figures against the paper with it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from digest.core.record import Entry


class Task(Protocol):
    """One model task run per paper."""

    name: str  # key of its result in Entry.results and in the results cache
    template: str  # prompt template (blocks "system" and "user"), relative to the templates folder
    needs_fulltext: bool  # the paper's text is fetched (PDF, else HTML) and passed to prompt_values
    required: bool  # a paper is pending until this task has a result

    def prompt_values(self, entry: Entry, fulltext: str | None) -> dict[str, str] | None:
        """The template's variables for this paper; None when there is nothing to ask (no result is kept)."""
        ...

    def check(self, text: str, entry: Entry) -> str | None:
        """Why a cleaned answer is unusable (plain Chinese, told to the model on the second ask), or None."""
        ...


@dataclass(frozen=True)
class Verification:
    """What a task's optional `verify` hook found in a well-formed answer, checked against the paper's text.

    A task may define `verify(text, entry, fulltext, others) -> Verification`; TaskRunner.run calls it after
    `check` passes. Anything not clean is asked again once with `reask`; still unsupported claims are kept
    as `marked`, a fault marking cannot fix (`problem`) fails the result.
    """

    unverified: tuple[str, ...] = ()  # claims the paper's text does not support, as written in the answer
    reask: str = ""  # the instruction for the second ask, naming them
    marked: str = ""  # the answer with every unverified claim marked
    problem: str = ""  # a fault marking cannot fix, e.g. another paper's title as the subject

    @property
    def clean(self) -> bool:
        """True when there is nothing to ask again about."""
        return not self.unverified and not self.problem


def verifier(task: Task) -> VerifyHook | None:
    """The task's optional verify hook, or None for a task without one."""
    hook = getattr(task, "verify", None)
    return hook if callable(hook) else None


class VerifyHook(Protocol):
    def __call__(self, text: str, entry: Entry, fulltext: str | None, others: Sequence[str]) -> Verification: ...


_registry: dict[str, Task] = {}


def _discover() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            task = getattr(module, "TASK", None)
            if task is not None:
                _registry.setdefault(task.name, task)


def all_tasks() -> list[Task]:
    """Every registered task, in registration order."""
    if not _registry:
        _discover()
    return list(_registry.values())


def get(name: str) -> Task:
    """The task of that name; KeyError when none is registered."""
    all_tasks()
    return _registry[name]


def register(task: Task) -> None:
    """Add (or replace) a task for every later run in this process."""
    all_tasks()
    _registry[task.name] = task


def unregister(name: str) -> None:
    """Remove a task (tests restore the registry with it)."""
    all_tasks()
    _registry.pop(name, None)
