"""Config checks that need more than core: the notify channels' topics must be slugs of the taxonomy in use.

The config loader (core) cannot load the taxonomy (enrich); the commands call this right after loading, so a
misspelt topic still stops every command with one line naming the key and exit code 2.
"""

from __future__ import annotations

from digest.core.config import Config
from digest.core.config.notify import check_channel_topics
from digest.enrich.topics import load_taxonomy


def check_notify_topics(cfg: Config, source: str = "config.yaml") -> None:
    """Raise ConfigError naming notify.channels[i].topics when a channel filters on a topic the taxonomy lacks."""
    if any(ch.topics for ch in cfg.notify.channels):
        check_channel_topics(cfg.notify, list(load_taxonomy(cfg.topics_file).labels()), source)
