"""`digest check`: run the preflight checks (commands.check) and print their verdicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from digest.commands.check import run_checks
from digest.core.config import Config
from digest.core.services import Services


def check_command(load: Callable[[], Config], config_path: Path | None, services: Services,
                  echo: Callable[[str], object]) -> int:
    """Print each check (only failures with --quiet) and a closing line; exit 1 when any failed or was skipped."""
    rep = services.reporter
    name = str(config_path or "config.yaml")
    results = run_checks(load, services.environ, arxiv_http=services.arxiv_http, sleep=services.sleep,
                         config_name=name)
    for r in results:
        if r.ok and rep.quiet:
            continue  # --quiet (cron): only what needs fixing
        echo(r.render())
    failed = sum(1 for r in results if not r.ok and not r.skipped)
    skipped = sum(1 for r in results if r.skipped)
    if failed or skipped:
        also = f" ({skipped} skipped)" if skipped else ""
        rep.warn(f"{failed} of {len(results)} checks failed{also}; fix them before the first unattended run")
    else:
        rep.info(f"all {len(results)} checks passed")
    return 1 if failed or skipped else 0
