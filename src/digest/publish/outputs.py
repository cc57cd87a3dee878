"""The outputs every run feeds, in order: one line each. A new output is a Publisher (publish.base) added here."""

from __future__ import annotations

from digest.publish.base import MarkdownPost, Publisher
from digest.publish.notify.hook import Notifications

PUBLISHERS: list[Publisher] = [
    MarkdownPost(),
    Notifications(),
]


def registered() -> list[Publisher]:
    """The publishers registered now (read at call time, so a test can add one)."""
    return list(PUBLISHERS)
