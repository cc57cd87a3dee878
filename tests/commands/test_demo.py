"""`digest demo` works with no network and no key: a post and a site from the bundled sample day."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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
    assert (out / "_site" / "2026" / "03" / "11" / "arxiv.html").exists()
    assert str(out / "_site" / "index.html") in proc.stderr
