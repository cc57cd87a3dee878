"""Shared benchmark plumbing: stand-in data, a site with a config pointing at them, the real CLI in a child process.

Every figure comes from the real `digest` command (a separate interpreter, as cron runs it) talking to local
stand-ins over HTTP; the child's peak RSS is read from the kernel, not estimated.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from digest.core.record import Paper
from digest.standins.arxiv_server import make_paper

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The key the stand-in chat server accepts; it is a dummy, never a real secret.
DUMMY_KEY_ENV = "DIGEST_BENCH_API_KEY"
DUMMY_KEY = "bench-dummy-key"


# ------------------------------------------------------------------ data


def window_bounds(day: date, anchor: dtime = dtime(8, 50)) -> tuple[datetime, datetime]:
    """The default post window of a date: [previous day's 08:50, this day's 08:50) Asia/Shanghai, as UTC."""
    end = datetime.combine(day, anchor, tzinfo=SHANGHAI)
    return (end - timedelta(days=1)).astimezone(UTC), end.astimezone(UTC)


def papers_in_day(day: date, count: int, *, prefix: str = "2611", first: int = 1) -> list[Paper]:
    """`count` invented papers whose first versions fall inside the submitted-basis window of `day`."""
    start, end = window_bounds(day)
    span = (end - start).total_seconds()
    step = span / (count + 1)
    out = []
    for k in range(count):
        moment = start + timedelta(seconds=step * (k + 1))
        pid = f"{prefix}.{first + k:05d}v1"
        cats = ("cs.SD", "eess.AS") if k % 3 else ("eess.AS", "cs.SD", "cs.CL")
        out.append(make_paper(pid, moment, categories=cats, title=f"Invented listening study {pid}"))
    return out


def papers_spread(start: date, days: int, count: int, *, prefix: str = "2609") -> list[Paper]:
    """`count` invented papers with submission times spread evenly over `days` days from `start` (UTC)."""
    begin = datetime.combine(start, dtime(0, 0), tzinfo=UTC) - timedelta(days=3)  # earlier batches feed day one
    span = timedelta(days=days + 3).total_seconds()
    return [
        make_paper(f"{prefix}.{k + 1:05d}v1", begin + timedelta(seconds=span * (k + 0.5) / count),
                   categories=("cs.SD",) if k % 2 else ("eess.AS", "cs.SD"))
        for k in range(count)
    ]


def paper_pdf(pages: int, title: str | None = None) -> bytes:
    """A generated paper PDF of about `pages` pages, cached on disk: the generator needs ~45 s for 200 pages."""
    import hashlib

    from digest.standins import pdfgen

    title = title or f"Braided resonance, {pages}-page edition"
    source = Path(pdfgen.__file__).read_bytes()
    key = hashlib.sha256(source + f"{pages}|{title}".encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / "digest-bench-pdfs" / f"{pages}-{key}.pdf"
    if cache.is_file():
        return cache.read_bytes()
    data = pdfgen.make_paper_pdf(title, pages=pages)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(cache)
    return data


# ------------------------------------------------------------------ the site


def write_config(site: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """config.yaml in `site`: quick arXiv timeouts, plus the given sections merged over them."""
    base: dict[str, dict[str, Any]] = {"arxiv": {"timeout_seconds": 10, "max_retries": 2}}
    for key, values in sections.items():
        base.setdefault(key, {}).update(values)
    path = site / "config.yaml"
    path.write_text(yaml.safe_dump(base, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@contextmanager
def temp_site(keep: bool = False) -> Iterator[Path]:
    """A fresh folder for one benchmark's site; removed afterwards unless keep."""
    if keep:
        yield Path(tempfile.mkdtemp(prefix="digest-bench-"))
        return
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        yield Path(tmp)


# ------------------------------------------------------------------ the child process


@dataclass
class CliRun:
    """One `digest` invocation: exit code, wall seconds (interpreter start included), peak RSS, output."""

    args: list[str]
    returncode: int
    wall_seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    started: float = 0.0  # time.monotonic() at launch, to line up with stand-in request times
    ended: float = 0.0
    peak_rss_main_mb: float = 0.0  # the `digest` process alone, without its text worker
    processes: int = 1  # the `digest` process and the children it started

    def check(self) -> CliRun:
        if self.returncode != 0:
            raise SystemExit(f"digest {' '.join(self.args)} exited {self.returncode}:\n{self.stderr[-3000:]}")
        return self


def _vm_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _children(pid: int) -> list[int]:
    """Direct child processes of pid, from /proc (every thread's list)."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fh:
                out.extend(int(c) for c in fh.read().split())
    except (OSError, ValueError):
        pass
    return out


def _tree(pid: int) -> list[int]:
    """pid and all its descendants (the text worker process `digest` starts for PDF extraction)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(_children(p))
    return found


def run_cli(site: Path, args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 600) -> CliRun:
    """Run `python -m digest ARGS --config site/config.yaml` in `site`; measure wall time and peak RSS.

    Peak RSS is the child's VmHWM (the kernel's high-water mark, so a poll after the peak still sees it),
    polled from /proc every 5 ms, summed with the high-water marks of its own child processes (the PDF text
    worker): an upper bound of what the run held at once. A child not yet past exec is skipped: it still
    shows the parent's image, which would count the parent twice. Not ru_maxrss: it keeps the size of this process
    at fork time across exec, so a big benchmark process would inflate a small child's figure.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    full_env.pop(DUMMY_KEY_ENV, None)
    full_env.update(env or {})
    argv = [PYTHON, "-m", "digest", *args, "--config", str(site / "config.yaml")]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=site, stdout=out, stderr=err, env=full_env)
        peaks = watch_peaks(proc, timeout)
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return CliRun(list(args), proc.returncode, wall, sum(peaks.values()) / 1024,
                      out.read().decode(errors="replace"), err.read().decode(errors="replace"), started,
                      started + wall, peaks.get(proc.pid, 0) / 1024, len(peaks))


def watch_peaks(proc: subprocess.Popen[Any], timeout: float) -> dict[int, int]:
    """Wait for proc (killed after `timeout` s), polling every 5 ms; the VmHWM in kB of it and each descendant.

    A child not yet past exec is skipped: it still shows the parent's image and size. Sets proc.returncode.
    """
    peaks: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    while True:
        pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        main_cmd = _cmdline(proc.pid)
        for p in _tree(proc.pid):
            if p != proc.pid and _cmdline(p) == main_cmd:
                continue
            peaks[p] = max(peaks.get(p, 0), _vm_hwm_kb(p))
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, _usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.005)
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting on a reaped child
    return peaks


def interpreter_start_seconds(repeat: int = 3) -> float:
    """Best-of wall time of `digest --version`: interpreter start plus the CLI's imports."""
    best = math.inf
    for _ in range(repeat):
        t = time.monotonic()
        subprocess.run([PYTHON, "-m", "digest", "--version"], capture_output=True, check=True)
        best = min(best, time.monotonic() - t)
    return best


# ------------------------------------------------------------------ reporting


@dataclass
class Figure:
    """One measured figure, optionally with its target and whether it met it."""

    name: str
    value: Any
    unit: str = ""
    target: str = ""
    ok: bool | None = None


@dataclass
class Report:
    """A benchmark's figures; printed as a table and as one JSON line."""

    bench: str
    params: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)

    def add(self, name: str, value: Any, unit: str = "", target: str = "", ok: bool | None = None) -> None:
        self.figures.append(Figure(name, value, unit, target, ok))

    @property
    def passed(self) -> bool:
        return all(f.ok is not False for f in self.figures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "params": self.params,
            "figures": {f.name: f.value for f in self.figures},
            "targets": {f.name: {"target": f.target, "ok": f.ok} for f in self.figures if f.target},
            "passed": self.passed,
        }

    def print(self) -> None:
        print_table([self])
        print(json.dumps(self.as_dict(), ensure_ascii=False, sort_keys=False))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def print_table(reports: Sequence[Report], stream: Any = None) -> None:
    """One aligned table of every figure: benchmark, figure, value, unit, target, verdict."""
    stream = stream or sys.stdout
    rows = [("benchmark", "figure", "value", "unit", "target", "ok")]
    for r in reports:
        shown = [f"{k}={r.params[k]}" for k in ("papers", "pages", "days") if k in r.params]
        label = " ".join([r.bench, *shown])
        for f in r.figures:
            verdict = "" if f.ok is None else ("yes" if f.ok else "NO")
            rows.append((label, f.name, _fmt(f.value), f.unit, f.target, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip(), file=stream)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=stream)
