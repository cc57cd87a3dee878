"""The daily workflow keeps one bounded cache entry (a key per day); the README's crontab line bounds its log."""

from __future__ import annotations

from pathlib import Path

import yaml

from digest.site.manifest import manifest_path
from digest.site.search import mirror_path

ROOT = Path(__file__).resolve().parents[2]


def steps() -> list[dict]:
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "daily.yml").read_text(encoding="utf-8"))
    return flow["jobs"]["run"]["steps"]


def step_using(action: str) -> dict:
    found = [s for s in steps() if str(s.get("uses", "")).startswith(action + "@")]
    assert len(found) == 1, f"one step should use {action}, found {len(found)}"
    return found[0]


def test_the_cache_key_is_the_day_not_the_run() -> None:
    all_steps = steps()
    day = next(s for s in all_steps if s.get("id") == "day")
    assert "digest-cache-$(date -u +%F)" in day["run"]  # one key per (UTC) day
    restore, save = step_using("actions/cache/restore"), step_using("actions/cache/save")
    assert not [s for s in all_steps if str(s.get("uses", "")).startswith("actions/cache@")]  # no save per run
    cache_dir = yaml.safe_load((ROOT / "config.yaml").read_text("utf-8"))["site"]["cache_dir"]
    # the built site and the two files a build keeps beside it, so the next day's build is incremental
    site = Path("_site")
    beside = [p.name for p in (manifest_path(site), mirror_path(site))]  # at the repository root, as _site
    for step in (restore, save):
        assert step["with"]["key"] == "${{ steps.day.outputs.key }}"
        assert "run_id" not in str(step["with"]) and "run_number" not in str(step["with"])
        assert step["with"]["path"].split() == [cache_dir, "_site", *beside]
    assert restore["with"]["restore-keys"] == "digest-cache-"  # yesterday's entry when today's is not there yet
    # Saved only when today's entry is not there yet, and also after a failed run.
    assert "steps.cache.outputs.cache-hit != 'true'" in save["if"] and "!cancelled()" in save["if"]
    names = [s.get("name") for s in all_steps]
    assert names.index(restore["name"]) < names.index("Run") < names.index("Build the site") < names.index(save["name"])
    build = next(s for s in all_steps if s.get("name") == "Build the site")
    assert "--out _site" in build["run"]


def test_earlier_days_entries_are_deleted_once_todays_is_saved() -> None:
    all_steps = steps()
    drop = next(s for s in all_steps if "gh cache delete" in str(s.get("run", "")))
    assert "steps.save.outcome == 'success'" in drop["if"] and drop.get("continue-on-error") is True
    assert '"$key" != "$TODAY_KEY"' in drop["run"] and drop["env"]["TODAY_KEY"] == "${{ steps.day.outputs.key }}"
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "daily.yml").read_text(encoding="utf-8"))
    assert flow["permissions"]["actions"] == "write"


def test_the_readme_crontab_line_bounds_its_log() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```cron\n", 1)[1].split("```", 1)[0]
    line = next(ln for ln in block.splitlines() if "digest run" in ln)
    assert ">>" not in line  # appending grows forever: each run truncates its own hour's file
    assert "> .cache/digest/cron-$(date +\\%H).log 2>&1" in line  # cron needs % escaped
