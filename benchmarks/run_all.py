"""Every benchmark at its default sizes: one combined table, and benchmarks/results.json.

    /work/venv/bin/python benchmarks/run_all.py [--out benchmarks/results.json] [--skip-200-pages]

Exit code 0 when every target was met, 1 otherwise (the table's `ok` column says which).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_backfill  # noqa: E402
import bench_day  # noqa: E402
import bench_fulltext  # noqa: E402
import bench_rerun  # noqa: E402
from common import Report, print_table  # noqa: E402


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "results.json", help="where to write the JSON results")
    ap.add_argument("--skip-200-pages", action="store_true",
                    help="full text on 8 and 30 pages only (generating the 200-page PDF takes ~45 s the first time)")
    args = ap.parse_args(argv)

    started = datetime.now(UTC)
    reports: list[Report] = []
    steps = [
        ("day, 20 papers", lambda: [bench_day.run(papers=20)]),
        ("day, 60 papers", lambda: [bench_day.run(papers=60)]),
        ("rerun", lambda: [bench_rerun.run()]),
        ("backfill, 30 days", lambda: [bench_backfill.run()]),
        ("full text", lambda: bench_fulltext.run([8, 30] if args.skip_200_pages else [8, 30, 200])),
    ]
    for label, step in steps:
        print(f"running {label} ...", file=sys.stderr, flush=True)
        reports.extend(step())

    print_table(reports)
    results = {
        "measured_at": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "passed": all(r.passed for r in reports),
        "benchmarks": [r.as_dict() for r in reports],
    }
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"passed": results["passed"], "results": str(args.out)}))
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
