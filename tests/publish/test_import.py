"""`digest import` then `digest render --all` reproduces real posts; odd posts are read, not dropped."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from digest.publish.importer import parse_post
from helpers import assert_same_text, digest_cli, seed_files
from postfixtures import write_standard_posts


def _digest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return digest_cli(cwd, *args, config=False, timeout=120)


def test_import_then_render_reproduces_every_seed(tmp_path: Path) -> None:
    seeds = seed_files()
    site = tmp_path / "site"
    site.mkdir()
    (site / "config.yaml").write_text("site:\n  posts_dir: _posts\n", encoding="utf-8")
    proc = _digest("import", str(seeds[0].parent), cwd=site)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    proc = _digest("render", "--all", cwd=site)
    assert proc.returncode == 0, proc.stderr
    for seed in seeds:
        out = site / "_posts" / seed.name
        assert_same_text(seed.read_text(encoding="utf-8"), out.read_text(encoding="utf-8"), seed.name)
    # importing twice changes nothing
    before = {p.name: p.read_bytes() for p in (site / "_data" / "digest").glob("*.json")}
    proc = _digest("import", *map(str, seeds), cwd=site)
    assert proc.returncode == 0 and f"{len(seeds)} unchanged" in proc.stderr
    after = {p.name: p.read_bytes() for p in (site / "_data" / "digest").glob("*.json")}
    assert before == after


def test_record_format_is_stable_utf8_json(tmp_path: Path) -> None:
    seed = write_standard_posts(tmp_path / "old")[0]
    site = tmp_path
    (site / "config.yaml").write_text("site:\n  posts_dir: _posts\n", encoding="utf-8")  # no config, no run
    assert _digest("import", str(seed), cwd=site).returncode == 0
    path = site / "_data" / "digest" / f"{seed.name[:10]}.json"
    raw = path.read_text(encoding="utf-8")
    assert raw.endswith("}\n") and "\\u" not in raw
    data = json.loads(raw)
    assert list(data)[:4] == ["date", "window", "counts", "papers"]
    paper = data["papers"][0]
    assert list(paper)[:7] == ["id", "title", "authors", "categories", "abstract", "abs_url", "pdf_url"]
    results = paper["results"]  # task name -> result (see digest.enrich.tasks)
    assert results["translation"]["status"] == "done" and results["deep_read"]["status"] == "done"
    assert not list(path.parent.glob("*.tmp"))


OLD_STYLE = """---
layout: post
title: "arXiv Daily – 2025-06-04"
tags: [arxiv, cs.SD, eess.AS]
---

以下为 2025-06-04（CST，北京时间）窗口内更新的论文中文译文：
- 时间窗口（锚点 08:50 CST）：2025-06-03 08:50 — 2025-06-04 08:50
- 抓取总数：3 篇 | 本页显示：3 篇（去重/过滤后）

## First Paper
- **Authors**: A One, B Two
- **Categories**: eess.AS
- **arXiv**: [http://arxiv.org/abs/2506.00001v1](http://arxiv.org/abs/2506.00001v1)
- **PDF**: [http://arxiv.org/pdf/2506.00001v1](http://arxiv.org/pdf/2506.00001v1)

这是第一篇论文的摘要译文。

<details>
<summary>详细解读</summary>

<div markdown="1">

## 1) 研究背景
- 内容

## 2) 方法
- 内容
</div>

</details>

---

## Second Paper Without Details
- **Authors**: C Three
- **Categories**: cs.SD, eess.AS
- **arXiv**: [http://arxiv.org/abs/2506.00002v2](http://arxiv.org/abs/2506.00002v2)
- **PDF**: [http://arxiv.org/pdf/2506.00002v2](http://arxiv.org/pdf/2506.00002v2)

第二篇论文的摘要译文。

---

## Third Paper
- **Authors**: D Four
- **Categories**: cs.SD
- **arXiv**: [http://arxiv.org/abs/2506.00003v1](http://arxiv.org/abs/2506.00003v1)
- **PDF**: [http://arxiv.org/pdf/2506.00003v1](http://arxiv.org/pdf/2506.00003v1)

第三篇的译文。

<details>
<summary>详细解读</summary>

<div markdown="1">

（全文解读失败：HTTPSConnectionPool(host='arxiv.org', port=443): Read timed out.）
</div>

</details>

---
"""


def test_old_blog_variants_are_all_read() -> None:
    result = parse_post(OLD_STYLE, "2025-06-04-arxiv.md")
    assert result.problems == []
    # The deep read's headings become bold on re-render: reported, one line each.
    lines = OLD_STYLE.split("\n")
    expected = [str(lines.index(h) + 1) for h in ("## 1) 研究背景", "## 2) 方法")]
    assert [n.split(":")[1] for n in result.normalisations] == expected
    rec = result.record
    assert rec is not None and [p.id for p in rec.papers] == ["2506.00001v1", "2506.00002v2", "2506.00003v1"]
    first, second, third = rec.papers
    assert first.abs_url == "http://arxiv.org/abs/2506.00001v1"  # links kept as they were
    assert first.deep_read is not None and "## 2) 方法" in first.deep_read.text  # headings are not paper titles
    assert second.deep_read is None and second.translation is not None
    assert third.deep_read is not None and third.deep_read.status == "failed"
    assert third.deep_read.error.startswith("HTTPSConnectionPool")


def test_unparseable_parts_are_reported_with_file_and_line() -> None:
    text = OLD_STYLE.replace("- **Categories**: cs.SD\n", "").replace(
        "[http://arxiv.org/abs/2506.00003v1](http://arxiv.org/abs/2506.00003v1)", "[broken](nowhere)"
    ).replace("[http://arxiv.org/pdf/2506.00003v1](http://arxiv.org/pdf/2506.00003v1)", "none")
    result = parse_post(text, "old.md")
    assert result.record is not None and len(result.record.papers) == 3  # never dropped silently
    joined = "\n".join(result.problems)
    assert "old.md:" in joined and "Categories" in joined and "cannot read an arXiv id" in joined
    line = int(result.problems[0].split(":")[1])
    assert text.splitlines()[line - 1] == "## Third Paper"


def test_import_of_a_missing_path_exits_2_and_imports_nothing(tmp_path: Path) -> None:
    post = write_standard_posts(tmp_path / "old")[0]
    (tmp_path / "config.yaml").write_text("site:\n  posts_dir: _posts\n", encoding="utf-8")  # no config, no run
    proc = _digest("import", str(post), str(tmp_path / "missing.md"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "no such file or folder" in proc.stderr and "missing.md" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "_data" / "digest").glob("*.json")) if (tmp_path / "_data").exists() else True


def test_a_details_block_in_another_form_is_reported_not_folded_silently() -> None:
    text = OLD_STYLE.replace("<details>\n<summary>详细解读</summary>\n\n<div markdown=\"1\">\n\n## 1)",
                             "<details><summary>详细解读</summary>\n<div markdown=\"1\">\n\n## 1)")
    result = parse_post(text, "odd.md")
    assert result.record is not None and len(result.record.papers) == 3
    line = text.split("\n").index("<details><summary>详细解读</summary>") + 1
    assert result.problems == [f"odd.md:{line}: a details block of 'First Paper' is not in the standard form; "
                               "it would show as text"]
