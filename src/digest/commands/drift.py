"""Drift between posts, records and the built site, reported one line each (nothing is changed to hide it)."""

from __future__ import annotations

from pathlib import Path

from digest.core.report import Reporter

IMPORT_HINT = "`digest import <post>` restores a day's record from its post"


def report_drift(rep: Reporter, orphans: list[Path], removed: list[Path] | None = None) -> None:
    """Warn about each post without a record and each page a build removed, then the hint once."""
    for post in orphans:
        rep.warn(f"{post}: post without a record, so the site does not show it")
    for page in removed or []:
        rep.warn(f"{page}: removed (an earlier build wrote it; no record shows it now)")
    if orphans or removed:
        rep.warn(f"{len(orphans)} post(s) without a record, {len(removed or [])} page(s) removed; {IMPORT_HINT}")
