"""The Publisher seam: what consumes a finished day record. The Markdown post is the first; others join PUBLISHERS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import jinja2

from digest.core.config import Config
from digest.core.record import DayRecord


@dataclass(frozen=True)
class Published:
    """Where a publisher put a day, and whether this run changed it."""

    path: Path | None
    changed: bool


class Publisher(Protocol):
    """Turns a saved day record into one output; publishing an unchanged record changes nothing."""

    name: str

    def publish(self, cfg: Config, record: DayRecord, env: jinja2.Environment) -> Published:
        """Write this publisher's output for the day."""
        ...


class MarkdownPost:
    """The Jekyll post in posts_dir, rendered from the record (written only when its text changed)."""

    name = "post"

    def publish(self, cfg: Config, record: DayRecord, env: jinja2.Environment) -> Published:
        """Render and write the day's post."""
        from digest.publish.posts import write_post

        path, changed = write_post(cfg, record, env)
        return Published(path, changed)


# Every publisher a run feeds, in order. Notifications, feeds and the like are added here.
PUBLISHERS: list[Publisher] = [MarkdownPost()]


def publish_record(
    cfg: Config, record: DayRecord, env: jinja2.Environment, publishers: list[Publisher] | None = None
) -> dict[str, Published]:
    """Hand a finished record to every publisher; their results by name."""
    return {p.name: p.publish(cfg, record, env) for p in (PUBLISHERS if publishers is None else publishers)}
