"""`digest demo` works with no network and no key: a post and a site from the bundled sample day."""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from digest.demo import load_sample


def test_demo_writes_a_post_and_builds_the_site(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    # Any attempt to reach a real host through a proxy would fail loudly instead of hanging.
    env.update({"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"})
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "digest", "demo", "--out", str(out)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    post = (out / "_posts" / "2026-03-11-arxiv.md").read_text(encoding="utf-8")
    assert post.count("\n## ") == 4 and post.count("<details>") == 4
    assert "（全文解读失败：PDF 尚未提供（HTTP 404）" in post  # the sample paper without a PDF
    assert "{% raw %}" in post  # a sample title carries Liquid braces
    assert "<script" not in post and "&lt;script>" in post
    assert "**1) 研究背景**" in post  # a heading in a sample answer became a bold line
    assert (out / "_site" / "index.html").exists()
    day_page = (out / "_site" / "2026" / "03" / "11" / "arxiv.html").read_text(encoding="utf-8")
    assert str(out / "_site" / "index.html") in proc.stderr
    # the sample's own Chinese titles, through the real title batch, on the page and in the record
    record = json.loads((out / "_data" / "digest" / "2026-03-11.json").read_text(encoding="utf-8"))
    sample = {p["id"]: p["title_zh"] for p in load_sample()["papers"]}
    assert {e["id"]: e["title_zh"] for e in record["papers"]} == sample
    assert all(html.escape(title, quote=False) in day_page for title in sample.values())


def _offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "DIGEST_DEMO_KEY"}
    env.update({"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"})
    return env


def _digest(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digest", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env or _offline_env())


@pytest.mark.parametrize("part", ["config.yaml", "_posts", "_data"])
def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path, part: str) -> None:
    blog = tmp_path / "blog"
    blog.mkdir()
    users = blog / "config.yaml"
    users.write_text("site:\n  title: 'My blog {date}'\n", encoding="utf-8")
    if part != "config.yaml":
        users.unlink()
        (blog / part).mkdir()
        (blog / part / "keep.md").write_text("mine\n", encoding="utf-8")
    before = sorted(p.relative_to(blog).as_posix() for p in blog.rglob("*"))
    proc = _digest("demo", "--out", str(blog), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("digest: error: demo: ") and part in line and "--force" in line
    assert "Traceback" not in proc.stderr
    assert sorted(p.relative_to(blog).as_posix() for p in blog.rglob("*")) == before  # nothing written
    if part == "config.yaml":
        assert users.read_text(encoding="utf-8") == "site:\n  title: 'My blog {date}'\n"


def test_demo_reruns_into_its_own_folder_and_force_overrides(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert _digest("demo", "--out", str(out), cwd=tmp_path).returncode == 0
    assert (out / ".digest-demo").exists()
    assert _digest("demo", "--out", str(out), cwd=tmp_path).returncode == 0  # its own folder: no refusal
    other = tmp_path / "other"
    other.mkdir()
    (other / "_posts").mkdir()
    proc = _digest("demo", "--out", str(other), "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (other / "_posts" / "2026-03-11-arxiv.md").exists()


def _read_until(stream: IO[str], marker: str, seen: list[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise AssertionError("demo --serve ended early:\n" + "".join(seen))
        seen.append(line)
        if marker in line:
            return
    raise AssertionError("demo --serve did not get ready:\n" + "".join(seen))


def test_demo_serve_keeps_the_stand_ins_for_check_preview_and_run(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "digest", "demo", "--out", str(out), "--serve"], cwd=tmp_path,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=_offline_env())
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        _read_until(proc.stderr, "demo: ready", seen, time.monotonic() + 240)
        text = "".join(seen)
        assert str((out / "config.yaml").resolve()) in text
        export = next(line.strip() for line in seen if line.strip().startswith("export DIGEST_DEMO_KEY="))
        env = _offline_env() | dict([export.removeprefix("export ").split("=", 1)])
        check = _digest("check", cwd=out, env=env)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "demo-model" in check.stdout + check.stderr
        preview = _digest("preview", "2603.09901v1", cwd=out, env=env)
        assert preview.returncode == 0, preview.stderr
        assert "1) 研究背景" in preview.stdout or "研究背景" in preview.stdout
        run = _digest("run", "--date", "2026-03-11", "--force", cwd=out, env=env)
        assert run.returncode == 0, run.stderr
        assert "2026-03-11: fetched 4" in run.stderr
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "".join(seen) + rest
    assert "stand-ins stopped" in rest
    # Once it has stopped, the config's stand-ins answer no more: check fails instead of hanging.
    after = _digest("check", cwd=out, env=env)
    assert after.returncode == 1
