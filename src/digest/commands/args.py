"""Reading the command line's dates and arXiv ids: a bad value is a UsageError naming the fix."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

from digest.core.config import Config
from digest.core.errors import UsageError
from digest.core.record import split_id
from digest.core.services import Services

_URL_ID = re.compile(r"^https?://(www\.|export\.)?arxiv\.org/(abs|pdf|html)/(?P<id>[^?#]+?)(\.pdf)?/?$")


def parse_day(value: str, what: str = "--date") -> date:
    """A YYYY-MM-DD date given for `what`."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{what}: expected an existing date YYYY-MM-DD, got {value!r}") from None


def not_future(d: date, cfg: Config, services: Services, what: str = "--date") -> date:
    """A day more than one day past today (in the window's time zone) has no arXiv mailing yet: a usage error."""
    today = services.clock().astimezone(ZoneInfo(cfg.window.timezone)).date()
    if (d - today).days > 1:
        also = ", or leave --date out for the latest post" if what == "--date" else ""
        raise UsageError(
            f"{what}: {d.isoformat()} is in the future (today is {today.isoformat()}) and arXiv has listed nothing "
            f"for it yet; give a date up to tomorrow{also}"
        )
    return d


def normalise_arxiv_id(value: str) -> str:
    """Accept 2601.20573, 2601.20573v2, arXiv:2601.20573 or an abs/pdf URL; reject anything else."""
    raw = value.strip()
    m = _URL_ID.match(raw)
    if m:
        raw = m.group("id")
    raw = re.sub(r"^arxiv:", "", raw, flags=re.IGNORECASE)
    try:
        split_id(raw)
    except ValueError:
        raise UsageError(
            f"not an arXiv id: {value!r} (expected e.g. 2601.20573, 2601.20573v2 or https://arxiv.org/abs/2601.20573)"
        ) from None
    return raw
