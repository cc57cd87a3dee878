"""A toy output for the publisher seam: one JSON file per day (id, title, status of each paper) beside the posts.

It needs nothing the seam does not carry: the record, the config (where to write), the services (the clock for
its timestamp) and the record store (the day's post path, to link to). Registered by tests in one line.
"""

from __future__ import annotations

import json

from digest.publish.base import PublishContext, Published


class DayJson:
    """Writes {posts_dir}/../_data/days/<date>.json when its text changed."""

    name = "day-json"

    def publish(self, ctx: PublishContext) -> Published:
        """Write the day's summary file; a skipped (already complete) day is left as it is."""
        if ctx.skipped:
            return Published(None, False)
        path = ctx.cfg.posts_dir.parent / "_data" / "days" / f"{ctx.record.date}.json"
        data = {
            "date": ctx.record.date,
            "post": ctx.store.post_path(ctx.record.date).name,
            "written_at": ctx.record.stats.finished_at or ctx.services.now_iso(),
            "papers": [{"id": e.id, "title": e.title, "status": e.status} for e in ctx.record.papers],
        }
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return Published(path, False)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return Published(path, True)
