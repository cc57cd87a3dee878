"""A damaged record never stops the other days: runs, backfill, render and build go on; check names the file."""

from __future__ import annotations

from pathlib import Path

from .hostile.kit import DAY, HostileSite

OTHER = "2026-01-08"


def _damage(site: HostileSite) -> bytes:
    """Cut day A's record short, as a full disk or an interrupted copy would."""
    data = site.record_file.read_bytes()
    cut = data[: len(data) // 2]
    site.record_file.write_bytes(cut)
    return cut


def test_a_cut_record_leaves_the_other_days_running_and_check_names_it(tmp_path: Path) -> None:
    with HostileSite(tmp_path, 2) as site:
        assert site.run().returncode == 0
        post_a = site.post_file.read_bytes()
        cut = _damage(site)
        record = str(site.record_file)

        proc = site.digest("run", "--date", OTHER)
        assert proc.returncode == 0, proc.stderr
        assert f"warning: {record}: not valid JSON" in proc.stderr and "digest import" in proc.stderr

        proc = site.digest("backfill", "2026-01-06", OTHER)
        assert proc.returncode == 0, proc.stderr
        assert record in proc.stderr and f"{DAY}: no post (its record is damaged" in proc.stderr

        proc = site.digest("render", "--all")
        assert proc.returncode == 0, proc.stderr
        assert record in proc.stderr

        proc = site.digest("build", "--no-search", "--out", str(tmp_path / "_site"))
        assert proc.returncode == 0, proc.stderr
        assert record in proc.stderr and f"its page is built from {site.post_file}" in proc.stderr
        day_pages = list((tmp_path / "_site").rglob("*arxiv*.html"))
        assert any(DAY.replace("-", "/") in p.as_posix() for p in day_pages), day_pages  # shown from its post

        proc = site.digest("check")
        assert proc.returncode == 1
        assert f"FAIL  records: {record}: not valid JSON" in proc.stdout

        assert site.record_file.read_bytes() == cut  # never overwritten by any of them
        assert site.post_file.read_bytes() == post_a

        # The way back the messages name: re-importing the post; the damaged bytes are kept beside it.
        proc = site.digest("import", str(site.post_file))
        assert proc.returncode == 0, proc.stderr
        assert site.record_file.with_name(f"{DAY}.json.damaged").read_bytes() == cut
        assert site.record["date"] == DAY and len(site.record["papers"]) == 2
        proc = site.digest("check")
        assert "FAIL  records" not in proc.stdout and "ok    records: " in proc.stdout


def test_a_run_of_the_damaged_day_itself_stops_naming_the_file(tmp_path: Path) -> None:
    with HostileSite(tmp_path, 1) as site:
        assert site.run().returncode == 0
        site.record_file.write_text('{"date": "2026-01-07", "papers": "none"}\n', encoding="utf-8")  # valid JSON
        before = site.record_file.read_bytes()
        proc = site.run()
        assert proc.returncode == 1
        line = proc.stderr.strip().splitlines()[-1]
        assert line.startswith(f"digest: error: {site.record_file}: not a day record (")
        assert f"digest import {site.post_file}" in line and "will not overwrite it" in line
        assert site.record_file.read_bytes() == before


def test_drift_is_reported_by_build_and_render(tmp_path: Path) -> None:
    with HostileSite(tmp_path, 1) as site:
        assert site.run().returncode == 0
        out = tmp_path / "_site"
        assert site.digest("build", "--no-search", "--out", str(out)).returncode == 0
        site.record_file.unlink()  # the post stays: the site and the posts now drift apart

        proc = site.digest("build", "--no-search", "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        lines = proc.stderr.splitlines()
        assert f"warning: {site.post_file}: post without a record, so the site does not show it" in lines
        removed = [ln for ln in lines if ln.endswith("removed (an earlier build wrote it; no record shows it now)")]
        assert removed and all(not Path(ln.split(": ")[1]).exists() for ln in removed)
        assert any("digest import <post>" in ln for ln in lines)

        proc = site.digest("build", "--no-search", "--out", str(out))  # nothing more removed the second time
        assert not any("removed (" in ln for ln in proc.stderr.splitlines())

        proc = site.digest("render", "--all")
        assert proc.returncode == 0
        assert f"warning: {site.post_file}: post without a record, so the site does not show it" in proc.stderr


def test_the_last_run_of_a_morning_tells_the_owner_with_exit_3(tmp_path: Path) -> None:
    with HostileSite(tmp_path, 1) as site:
        assert site.run().returncode == 0
        cut = _damage(site)
        proc = site.digest("run", "--date", OTHER, "--strict")
        assert proc.returncode == 3, proc.stderr
        assert f"--strict: 1 damaged record(s), read-only until restored: {site.record_file} (exit 3)" in proc.stderr
        assert site.record_file.read_bytes() == cut


def test_the_daily_workflow_runs_even_when_the_preflight_fails() -> None:
    import yaml

    workflow = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "daily.yml"
    steps = next(iter(yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"].values()))["steps"]
    names = [s.get("name") for s in steps]
    run = steps[names.index("Run")]
    assert names.index("Preflight") < names.index("Run") and run.get("if") == "${{ !cancelled() }}"
