"""The Publisher seam: what consumes a finished day record. Each output is one publisher; the registered ones are
listed in publish.outputs, one line each, and a run hands every day to all of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import jinja2

from digest.core.config import Config
from digest.core.record import DayRecord
from digest.core.services import Services
from digest.core.store import RecordStore


@dataclass(frozen=True)
class Published:
    """Where a publisher put a day, and whether this run changed it."""

    path: Path | None
    changed: bool


@dataclass
class PublishContext:
    """Everything an output needs for one day: the record, the config, the services and the record store."""

    record: DayRecord
    cfg: Config
    services: Services  # clock, environment, reporter, HTTP clients
    store: RecordStore  # the only way to write the record back (e.g. what was sent)
    env: jinja2.Environment  # the compiled templates of the run
    notify: bool = True  # whether the run sends to the notify channels (backfill only with --notify)
    skipped: bool = False  # the day was complete and not run again: outputs that only render leave it alone


class Publisher(Protocol):
    """Turns a saved day record into one output; publishing an unchanged record changes nothing."""

    name: str

    def publish(self, ctx: PublishContext) -> Published:
        """Write (or send) this publisher's output for the day."""
        ...


class MarkdownPost:
    """The Jekyll post in posts_dir, rendered from the record (written only when its text changed)."""

    name = "post"

    def publish(self, ctx: PublishContext) -> Published:
        """Render and write the day's post (a skipped day's post stays as it is)."""
        from digest.publish.posts import write_post

        if ctx.skipped:
            return Published(None, False)
        path, changed = write_post(ctx.cfg, ctx.record, ctx.env)
        return Published(path, changed)


def publish_all(ctx: PublishContext, publishers: list[Publisher]) -> dict[str, Published]:
    """Hand a saved record to every publisher, in order; their results by name."""
    return {p.name: p.publish(ctx) for p in publishers}
