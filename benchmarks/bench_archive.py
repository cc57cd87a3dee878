"""A growing archive: the full site build, the build after one more day, and peak memory, per archive size.

    .venv/bin/python benchmarks/bench_archive.py [--days 30 250 700 3650] [--keep DIR]

The old blog's real posts (../shared/oldblog/_posts) are imported into records and repeated on earlier dates,
each repeat with paper ids of its own, until the archive has the asked number of days; topics are stored in
the records, as `digest build` stores them. Each build (`build_site` with the search index) runs in a child
process, the way the workflow runs `digest build`; its peak RSS and that of its biggest child (a Pagefind run,
one per part of the index) are read from /proc while it runs. Paper ids follow their day's month, as arXiv's
do, so the index has its real number of parts (one per quarter). Issue 23's acceptance: for 700 days, the
build after one more day takes at most half the full build, and the peak stays within 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import watch_peaks  # noqa: E402

from digest.core.record import DayRecord  # noqa: E402
from digest.core.store import write_record  # noqa: E402
from digest.enrich.topics import apply_topics, load_taxonomy  # noqa: E402
from digest.publish.importer import parse_post  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OLDBLOG = ROOT.parent / "shared" / "oldblog" / "_posts"
GIB = 1024**3


def real_records() -> list[DayRecord]:
    """The old blog's posts as records, oldest first, topics stored."""
    taxonomy = load_taxonomy()
    records = []
    for post in sorted(OLDBLOG.glob("*.md")):
        record = parse_post(post.read_text(encoding="utf-8"), post.name).record
        if record is not None:
            apply_topics(record, taxonomy)
            records.append(record)
    return records


def day_record(real: list[DayRecord], n: int, first: date) -> DayRecord:
    """Day n of the synthetic archive (n = 0 the oldest): a real record on a new date, with new paper ids."""
    record = real[n % len(real)].model_copy(deep=True)
    day = first + timedelta(days=n)
    anchor = record.window.anchor
    record.date = day.isoformat()
    record.window = record.window.model_copy(update={
        "start": f"{day - timedelta(days=1)}T{anchor}:00+08:00", "end": f"{day}T{anchor}:00+08:00"})
    for k, entry in enumerate(record.papers):
        # ids of the day's month, as arXiv's are (the search index has a part per quarter of ids), unique per
        # (day, paper) for up to 100 papers a day
        entry.id = f"{day:%y%m}.{day.day * 100 + k:05d}v1"
    return record


def child_build(records: Path, out: Path) -> dict[str, float]:
    """Run one build in a child process; its seconds, and the peak RSS in bytes of it and of its biggest child.

    The children are the Pagefind runs, one per index part, one after another, so the build's peak is at most
    its own high-water mark plus the biggest child's. Read from /proc while they run (common.watch_peaks), not
    from ru_maxrss, which keeps the parent's size at fork across exec.
    """
    code = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from digest.site.build import build_site\n"
        "t = time.perf_counter()\n"
        "r = build_site(Path(sys.argv[1]), Path(sys.argv[2]), search=True)\n"
        "s = time.perf_counter() - t\n"
        "print(json.dumps({'seconds': s, 'rendered': r.rendered, 'written': len(r.written), 'indexed': r.indexed}))\n"
    )
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-c", code, str(records), str(out)], stdout=subprocess.PIPE,
                                stderr=err)
        peaks = watch_peaks(proc, timeout=3600)
        assert proc.stdout is not None
        said = proc.stdout.read().decode()
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"build failed:\n{err.read().decode(errors='replace')[-3000:]}")
    result: dict[str, float] = json.loads(said.strip().splitlines()[-1])
    others = [kb for pid, kb in peaks.items() if pid != proc.pid]
    result["self"] = peaks.get(proc.pid, 0) * 1024
    result["children"] = max(others, default=0) * 1024
    return result


def bench(real: list[DayRecord], days: int, work: Path) -> dict[str, float]:
    """Full build of `days` days, then one more day and the build after it."""
    records, out = work / "records", work / "site"
    first = date(2030, 1, 1) - timedelta(days=days)
    papers = 0
    for n in range(days):
        record = day_record(real, n, first)
        papers += len(record.papers)
        write_record(records, record)
    full = child_build(records, out)
    write_record(records, day_record(real, days, first))
    more = child_build(records, out)
    peak = max(b["self"] + b["children"] for b in (full, more))
    return {"days": days, "papers": papers, "full_s": full["seconds"], "one_more_s": more["seconds"],
            "rendered_after": more["rendered"], "written_after": more["written"],
            "python_peak_mb": max(full["self"], more["self"]) / 2**20,
            "indexer_peak_mb": max(full["children"], more["children"]) / 2**20, "peak_mb": peak / 2**20}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[30, 250, 700, 3650])
    parser.add_argument("--keep", type=Path, help="build under this folder and keep it")
    args = parser.parse_args()
    if not OLDBLOG.is_dir():
        print(f"skipped: {OLDBLOG} is absent (the benchmark repeats the old blog's real records)")
        return 0
    real = real_records()
    print(f"{len(real)} real days from {OLDBLOG}")
    print(f"{'days':>6} {'papers':>7} {'full s':>8} {'+1 day s':>9} {'ratio':>6} {'python MB':>10} "
          f"{'indexer MB':>11} {'peak MB':>8}  verdict")
    for days in args.days:
        work = Path(tempfile.mkdtemp(prefix=f"archive-{days}-", dir=args.keep))
        start = time.perf_counter()
        r = bench(real, days, work)
        ratio = r["one_more_s"] / r["full_s"]
        ok = ratio <= 0.5 and r["peak_mb"] * 2**20 <= GIB
        print(f"{days:>6} {r['papers']:>7} {r['full_s']:>8.1f} {r['one_more_s']:>9.1f} {ratio:>6.2f} "
              f"{r['python_peak_mb']:>10.0f} {r['indexer_peak_mb']:>11.0f} {r['peak_mb']:>8.0f}  "
              f"{'ok' if ok else 'over target'} (rendered {r['rendered_after']:.0f}, wrote "
              f"{r['written_after']:.0f} after one more day; {time.perf_counter() - start:.0f} s in all)",
              flush=True)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
