"""No config, no run: a command that writes exits 2 in a folder without config.yaml, before any request or write."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.errors import ConfigError
from helpers import digest_cli


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("args", [
    ("run",),
    ("run", "--date", "2026-01-07"),
    ("backfill", "2026-01-05", "2026-01-07"),
    ("import", "old-posts"),
    ("render", "--all"),
    ("build",),
    ("notify", "--dry-run"),
    ("preview", "2601.20573"),
])
def test_a_writing_command_without_config_exits_2_and_writes_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "old-posts").mkdir()  # so that import's own path check is not what stops it
    before = _tree(tmp_path)
    # Proxies pointing nowhere: had the command tried the network, it would have hung or said so on stderr.
    proc = digest_cli(tmp_path, *args, config=False, timeout=60,
                      env={"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digest: error: no config.yaml in ")
    assert str(tmp_path.resolve()) in lines[0]
    assert "config.yaml" in lines[0] and "digest demo --out DIR" in lines[0] and "--config" in lines[0]
    assert _tree(tmp_path) == before  # no lock file, no _posts, no _data, no cache


def test_an_explicit_config_that_is_missing_names_it(tmp_path: Path) -> None:
    proc = digest_cli(tmp_path, "run", "--config", str(tmp_path / "blog.yaml"), config=False, timeout=60)
    assert proc.returncode == 2
    assert f"{tmp_path / 'blog.yaml'}: file not found" in proc.stderr and "digest demo" in proc.stderr
    assert _tree(tmp_path) == []


def test_help_and_version_need_no_config(tmp_path: Path) -> None:
    for args in (("--help",), ("run", "--help"), ("--version",)):
        proc = digest_cli(tmp_path, *args, config=False, timeout=60)
        assert proc.returncode == 0, (args, proc.stderr)
    assert _tree(tmp_path) == []


def test_load_config_requires_the_file_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no config.yaml in"):
        load_config(None, required=True)
    (tmp_path / "config.yaml").write_text("filter:\n  max_papers: 5\n", encoding="utf-8")
    assert load_config(None, required=True).filter.max_papers == 5
