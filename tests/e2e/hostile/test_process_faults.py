"""The process itself failing: SIGKILL mid-run, two runs at once, folders that cannot be written."""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from digest.core.config import load_config
from digest.core.record import DayRecord
from digest.core.store import write_record
from digest.publish.posts import write_post
from helpers import make_entry, make_record

from .kit import HostileSite, assert_post_safe

PREVIOUS_DAY = "2026-01-06"


def _previous_day(site: HostileSite) -> dict[Path, bytes]:
    """A finished earlier day on disk; returns its files' bytes to compare later."""
    cfg = load_config(site.dir / "config.yaml")
    record = make_record([make_entry("2601.00001v1"), make_entry("2601.00002v1", title="Another old paper")],
                         day=PREVIOUS_DAY)
    rec = write_record(cfg.records_dir, record)
    post, _ = write_post(cfg, record)
    return {rec: rec.read_bytes(), post: post.read_bytes()}


def _wait_for(cond, timeout: float = 30.0) -> None:  # noqa: ANN001 - a small polling helper
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting for the run to get going"
        time.sleep(0.02)


def _hold_answers(site: HostileSite, after: int) -> threading.Event:
    """Model answers after the first `after` wait until the returned event is set: the run is provably
    still going when the test acts, however fast or slow the machine is."""
    release = threading.Event()
    answer = site.chat.answerer
    counter = itertools.count()

    def held(request: dict[str, Any]) -> str:
        if next(counter) >= after:
            release.wait(120)
        return answer(request)

    site.chat.answerer = held
    return release


def _kept_answers(site: HostileSite) -> int:
    """Model results the run has kept in its results cache so far."""
    total = 0
    for path in (site.dir / ".cache" / "digest" / "results").glob("*.json"):
        try:
            total += len(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass  # being replaced right now: counted on the next poll
    return total


# A held answer must not time out meanwhile, however long the machine takes to start the other process.
PATIENT = {"concurrency": 1, "timeout_seconds": 120}


def test_sigkill_mid_run_keeps_files_whole_and_the_rerun_pays_only_the_rest(tmp_path: Path) -> None:
    n = 6
    with HostileSite(tmp_path, n, llm=PATIENT) as site:
        previous = _previous_day(site)
        release = _hold_answers(site, 5)
        proc = site.popen()
        _wait_for(lambda: len(site.chat.calls) >= 6)  # five answered, the sixth held
        _wait_for(lambda: _kept_answers(site) >= 5)  # and the five are kept: the kill lands between two calls
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        release.set()
        assert proc.returncode == -signal.SIGKILL
        paid_first = len(site.chat.calls)
        assert paid_first == 6

        for path, data in previous.items():
            assert path.read_bytes() == data, f"{path} changed"
        if site.record_file.exists():  # a checkpoint may have been written: it must be whole
            DayRecord.model_validate_json(site.record_file.read_text(encoding="utf-8"))
        if site.post_file.exists():
            assert_post_safe(site.post, n, details=None)

        again = site.run()
        assert again.returncode == 0, again.stderr
        assert "failed 0" in again.stderr
        assert_post_safe(site.post, n)
        paid_again = len(site.chat.calls) - paid_first
        # finished answers are kept as they come: only the unfinished ones, plus the one in flight, are asked again
        assert paid_again <= 2 * n - paid_first + 1
        assert paid_first + paid_again <= 2 * n + 1
        for path, data in previous.items():
            assert path.read_bytes() == data


def test_second_run_at_once_exits_naming_the_holder(tmp_path: Path) -> None:
    with HostileSite(tmp_path, 3, llm=PATIENT) as site:
        release = _hold_answers(site, 0)
        first = site.popen()
        _wait_for(lambda: len(site.chat.calls) >= 1)  # the first run holds the lock until released
        try:
            second = site.run()
        finally:
            release.set()
        assert second.returncode == 1
        line = second.stderr.strip().splitlines()[-1]
        assert line.startswith("digest: error: another digest run holds the site lock")
        assert f"pid {first.pid}" in line and "`run`" in line
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        assert_post_safe(site.post, 3)
        DayRecord.model_validate_json(site.record_file.read_text(encoding="utf-8"))


def test_second_run_waits_when_told_to_and_then_has_nothing_to_do(tmp_path: Path) -> None:
    with HostileSite(tmp_path, 2, chat_latency=0.3, llm={"concurrency": 1},
                     site={"lock_timeout_seconds": 60}) as site:
        first = site.popen()
        _wait_for(lambda: len(site.chat.calls) >= 1)
        second = site.run()
        first.communicate(timeout=60)
        assert first.returncode == 0 and second.returncode == 0, second.stderr
        assert "LLM calls 0" in second.stderr  # it waited for the first, then found everything done
        assert len(site.chat.calls) == 4
        assert_post_safe(site.post, 2)


def test_posts_folder_that_cannot_be_written_keeps_the_record(tmp_path: Path) -> None:
    # We run as root, where chmod does not bite: a folder under an existing FILE can never be created.
    (tmp_path / "blocker").write_text("not a folder\n", encoding="utf-8")
    # Found before anything is fetched or paid for (issue 14): a config error naming the key, exit 2.
    with HostileSite(tmp_path, 2, site={"posts_dir": "blocker/_posts"}) as site:
        proc = site.run()
        assert proc.returncode == 2
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith(f"digest: error: site.posts_dir: {tmp_path / 'blocker' / '_posts'} cannot be a folder")
        assert "set site.posts_dir in the config to a folder" in last
        assert "Traceback" not in proc.stderr
        assert len(site.chat.requests) == 0 and len(site.arxiv.requests) == 0
        site.sections["site"] = {"posts_dir": "_posts"}
        site.write_config()
        again = site.run()
        assert again.returncode == 0, again.stderr
        assert len(site.chat.calls) == 4
        assert_post_safe(site.post, 2)


def test_records_folder_that_cannot_be_created_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("not a folder\n", encoding="utf-8")
    with HostileSite(tmp_path, 2, site={"records_dir": "blocker/records"}) as site:
        proc = site.run()
        assert proc.returncode == 2  # a config error, found before any work (issue 14)
        lines = proc.stderr.strip().splitlines()
        assert lines[-1].startswith("digest: error: ") and "unexpected error" not in lines[-1]
        assert str(tmp_path / "blocker" / "records") in lines[-1]
        assert "Traceback" not in proc.stderr
        assert len(site.chat.requests) == 0 and len(site.arxiv.requests) == 0  # stopped before any work
        assert not site.post_file.exists()
