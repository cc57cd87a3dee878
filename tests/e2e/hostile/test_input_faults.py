"""Bad input from the user: config values, dates, arXiv ids, hand-edited records. Rejected before any request."""

from __future__ import annotations

from pathlib import Path

import pytest

from .kit import DAY, HostileSite


def _no_requests(site: HostileSite) -> None:
    assert not site.arxiv.requests and not site.host.requests and not site.chat.requests


@pytest.mark.parametrize(
    ("section", "values", "key"),
    [
        ("llm", {"concurrency": "lots"}, "llm.concurrency"),
        ("fulltext", {"max_pdf_mb": -1}, "fulltext.max_pdf_mb"),
        ("window", {"anchor": "8h50"}, "window.anchor"),
        ("arxiv", {"pdf_download_url": "file:///etc/{id}"}, "arxiv.pdf_download_url"),
        ("filter", {"max_papers": 0}, "filter.max_papers"),
        ("site", {"lock_timeout_seconds": "forever"}, "site.lock_timeout_seconds"),
    ],
)
def test_malformed_config_value_names_its_key(tmp_path: Path, section: str, values: dict, key: str) -> None:
    with HostileSite(tmp_path, 1) as site:
        site.write_config(**{section: values})
        proc = site.run()
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1
        assert proc.stderr.startswith("digest: error: ") and key in proc.stderr
        _no_requests(site)


@pytest.mark.parametrize(("text", "appended"), [
    ("llm: [unclosed\n", False),
    ("- just\n- a list\n", False),
    # A section pasted twice: YAML's last-one-wins would silently drop the first (here: the model endpoint).
    ("llm:\n  model: another-model\n", True),
])
def test_unreadable_config_file_is_one_line(tmp_path: Path, text: str, appended: bool) -> None:
    with HostileSite(tmp_path, 1) as site:
        config = tmp_path / "config.yaml"
        config.write_text((config.read_text(encoding="utf-8") if appended else "") + text, encoding="utf-8")
        proc = site.run()
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "config.yaml" in proc.stderr
        if appended:
            assert "duplicate key 'llm'" in proc.stderr
        assert "Traceback" not in proc.stderr
        _no_requests(site)


@pytest.mark.parametrize("args", [
    ("run", "--date", "2026-02-30"),
    ("run", "--date", "2026-13-01"),
    ("run", "--date", "tomorrow"),
    ("run", "--date", "2026-1-7"),
    ("backfill", "2026-01-07", "2026-02-30"),
    ("backfill", "2026-01-07", "2026-01-01"),
    ("render", "--date", "yesterday"),
])
def test_dates_that_do_not_exist_are_rejected_before_any_request(tmp_path: Path, args: tuple[str, ...]) -> None:
    with HostileSite(tmp_path, 1) as site:
        proc = site.digest(*args)
        assert proc.returncode == 2
        line = proc.stderr.strip()
        assert "\n" not in line and line.startswith("digest: error: ")
        assert any(a in line for a in args[1:] if a != "--date")
        _no_requests(site)
        assert not (tmp_path / "_posts").exists()


@pytest.mark.parametrize("bad", [
    "../../etc/passwd",
    "2601.2057",
    "2601.20573v2; rm -rf /",
    "https://example.invalid/abs/2601.20573",
    "2601.20573/../../x",
    "",
    "arXiv:../1",
])
def test_preview_rejects_what_is_not_an_arxiv_id(tmp_path: Path, bad: str) -> None:
    with HostileSite(tmp_path, 1) as site:
        proc = site.digest("preview", bad)
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert "not an arXiv id" in proc.stderr
        _no_requests(site)
        assert proc.stdout == ""


@pytest.mark.parametrize("which", ["today", "other day"])
def test_hand_broken_record_is_named_and_never_overwritten(tmp_path: Path, which: str) -> None:
    with HostileSite(tmp_path, 2) as site:
        first = site.run()
        assert first.returncode == 0, first.stderr
        post_before = site.post_file.read_bytes()
        target = site.record_file if which == "today" else site.record_file.with_name("2026-01-05.json")
        broken = b'{"date": "2026-01-05", "papers": [ {"id": "2601.0\n'  # a hand edit gone wrong
        target.write_bytes(broken)
        calls = len(site.chat.calls)
        proc = site.run("--force")
        assert target.read_bytes() == broken
        if which == "today":  # the damaged day itself: stopped, named, with the way back
            assert proc.returncode == 1
            line = proc.stderr.strip().splitlines()[-1]
            assert line.startswith(f"digest: error: {target}: not valid JSON (line ")
            assert "will not overwrite it" in line and "digest import" in line
            assert site.post_file.read_bytes() == post_before
            assert len(site.chat.calls) == calls
            assert not site.arxiv.search_requests[1:]  # stopped before asking arXiv again
        else:  # another day's record: the run goes on and says which file is damaged
            assert proc.returncode == 0, proc.stderr
            assert f"warning: {target}: not valid JSON (line " in proc.stderr and "read-only" in proc.stderr
    assert DAY in str(site.record_file)
