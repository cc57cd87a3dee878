"""`digest demo`: the bundled sample day replayed offline (see digest.demo)."""

from __future__ import annotations

from pathlib import Path

from digest.core.report import Reporter
from digest.demo import run_demo


def demo_command(out: Path, reporter: Reporter, *, force: bool = False, serve: bool = False) -> int:
    """Write the sample post and site into `out` (and with `serve`, keep the stand-ins up until stopped)."""
    run_demo(out, reporter, force=force, serve=serve)
    return 0
