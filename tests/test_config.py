"""Every config error is one line naming the file and the key; a near-empty file works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from digest.config import load_config, parse_config
from digest.errors import ConfigError


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_empty_file_gives_all_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("", encoding="utf-8")
    cfg = load_config(path)
    assert cfg.window.anchor == "08:50"
    assert cfg.window.basis == "announced"
    assert cfg.llm.api_key_env == "DEEPSEEK_API_KEY"
    assert cfg.arxiv.categories == ["cs.SD", "eess.AS"]
    # relative paths resolve against the config file's folder
    assert cfg.posts_dir == tmp_path.resolve() / "_posts"


def test_partial_section_keeps_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("llm:\n  model: qwen-plus\n", encoding="utf-8")
    cfg = load_config(path)
    assert cfg.llm.model == "qwen-plus"
    assert cfg.llm.concurrency == 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('window:\n  anchor: "8.50"\n', 'window.anchor: expected HH:MM, got "8.50"'),
        ("window:\n  anchor: '25:00'\n", "window.anchor: expected HH:MM"),
        ("window:\n  timezone: Mars/Olympus\n", 'window.timezone: expected an IANA time zone like "Asia/Shanghai"'),
        ("window:\n  basis: weekly\n", "window.basis: expected 'announced' or 'submitted'"),
        ("window:\n  holidays: [2026-02-30]\n", "window.holidays: expected a date"),
        ("arxiv:\n  pdf_download_url: https://mirror.example/pdf/\n", 'arxiv.pdf_download_url: expected a URL template'),
        ("arxiv:\n  abs_link: https://arxiv.org/abs/\n", "arxiv.abs_link: expected a URL template containing \"{id}\""),
        ("arxiv:\n  delay_seconds: soon\n", 'arxiv.delay_seconds: expected a number, got "soon"'),
        ("arxiv:\n  categories: []\n", "arxiv.categories: expected at least one category"),
        ("llm:\n  concurrency: many\n", 'llm.concurrency: expected a whole number, got "many"'),
        ("llm:\n  concurrency: 0\n", "llm.concurrency:"),
        ("llm:\n  api_key_env: sk-abc123\n", "llm.api_key_env: expected the NAME of an environment variable"),
        ("llm:\n  temprature: 0.1\n", "llm.temprature: unknown key"),
        ("sitee:\n  posts_dir: x\n", "sitee: unknown key"),
        ("filter:\n  primary_only: maybe\n", "filter.primary_only: expected true or false"),
        ("filter:\n  max_papers: -3\n", "filter.max_papers:"),
        ("site: [1, 2]\n", "site: expected a mapping of keys"),
        ("- just\n- a list\n", "expected a mapping of sections"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    msg = _error(tmp_path, text)
    assert msg.startswith(str(tmp_path / "config.yaml") + ": ")
    assert expected in msg


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    msg = _error(tmp_path, "llm:\n  model: [unclosed\n")
    assert "not valid YAML" in msg and "line" in msg


def test_unquoted_anchor_is_read_as_time() -> None:
    # YAML 1.1 reads 08:50 unquoted as the integer 530; the config still means 08:50.
    assert parse_config({"window": {"anchor": 530}}).window.anchor == "08:50"


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", required=True)


def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('window:\n  anchor: "8.50"\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "digest", "render", "--all", "--config", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f'digest: error: {path}: window.anchor: expected HH:MM, got "8.50"']
    assert "Traceback" not in proc.stderr
