"""The post format's golden tests: hand-made standard posts (always) and ../shared/seeds (when present).

Importing a post in the standard format and rendering it again gives the same bytes; the old blog's
irregular forms are read and every change a re-render makes is reported with file and line.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digest.core.templates import PACKAGE_TEMPLATES
from digest.publish.importer import parse_post
from digest.publish.markdown import render_post, unexplained_changes
from helpers import assert_same_text
from postfixtures import (
    DAY_ONE,
    HEADING_AND_RULE,
    NO_BLANK_AFTER_DIV,
    STANDARD_POSTS,
    golden_posts,
    line_of,
    write_standard_posts,
)

TESTS = Path(__file__).resolve().parent


def _digest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digest", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def _site(tmp_path: Path, config: str = "") -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "config.yaml").write_text(config or "site:\n  posts_dir: _posts\n", encoding="utf-8")
    return site


def _changed_lines(before: str, after: str) -> list[tuple[str, list[str], list[str]]]:
    a, b = before.split("\n"), after.split("\n")
    return [
        (tag, a[i1:i2], b[j1:j2])
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
        if tag != "equal"
    ]


def test_golden_posts_round_trip_byte_identical(tmp_path: Path) -> None:
    posts = golden_posts(tmp_path / "posts")
    assert len(posts) >= len(STANDARD_POSTS)
    for post in posts:
        text = post.read_text(encoding="utf-8")
        parsed = parse_post(text, post.name)
        assert parsed.problems == [] and parsed.normalisations == [], post.name
        assert parsed.record is not None
        assert_same_text(text, render_post(parsed.record), post.name)
        assert unexplained_changes(text, parsed, post.name) == []


def test_standard_post_reads_every_part() -> None:
    rec = parse_post(DAY_ONE, "2025-06-04-arxiv.md").record
    assert rec is not None
    assert [p.id for p in rec.papers] == ["2506.00001v1", "2506.00002v2", "2506.00003v1", "2506.00004v1"]
    assert [lo.id for lo in rec.left_out] == ["2506.00005v1", "2506.00006v2"]
    assert (rec.counts.fetched, rec.counts.shown) == (7, 4)
    first, plain, failed, missing = rec.papers
    assert first.translation is not None and first.deep_read is not None and first.deep_read.status == "done"
    assert plain.translation is None and plain.deep_read is None and plain.abstract.startswith("We study")
    assert failed.deep_read is not None and failed.deep_read.status == "failed"
    assert failed.deep_read.error == "PDF 尚未提供（HTTP 404），下次运行将重试"
    assert missing.translation is not None and missing.translation.status == "failed"
    assert missing.translation.error == "模型服务超时" and missing.abstract == "We learn audio tags without labels."


def test_cli_import_then_render_reproduces_the_golden_posts(tmp_path: Path) -> None:
    posts = golden_posts(tmp_path / "old")
    site = _site(tmp_path)
    proc = _digest("import", str(tmp_path / "old"), cwd=site)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr and "normalised" not in proc.stderr
    assert f"imported {len(posts)} day(s)" in proc.stderr
    proc = _digest("render", "--all", cwd=site)
    assert proc.returncode == 0, proc.stderr
    for post in posts:
        assert_same_text(post.read_text(encoding="utf-8"), (site / "_posts" / post.name).read_text(encoding="utf-8"))
    before = {p.name: p.read_bytes() for p in (site / "_data" / "digest").glob("*.json")}
    proc = _digest("import", str(tmp_path / "old"), cwd=site)
    assert proc.returncode == 0 and f"{len(posts)} unchanged" in proc.stderr
    assert before == {p.name: p.read_bytes() for p in (site / "_data" / "digest").glob("*.json")}


def test_div_directly_followed_by_text_is_read_and_reported(tmp_path: Path) -> None:
    text = NO_BLANK_AFTER_DIV
    parsed = parse_post(text, "old.md")
    rec = parsed.record
    assert rec is not None and parsed.problems == []
    first = rec.papers[0]
    # The deep read is its own block again, not folded into the abstract.
    assert first.translation is not None and "<details" not in first.translation.text
    assert first.deep_read is not None and first.deep_read.text.startswith("1)  \n- **研究背景**")
    div = line_of(text, '<div markdown="1">')
    assert parsed.normalisations == [f"old.md:{div}: text follows '<div markdown=\"1\">' directly; "
                                     "the re-render adds a blank line"]
    again = render_post(rec)
    assert "&lt;details" not in again
    # The only change: the blank line the standard format puts after the div.
    assert _changed_lines(text, again) == [("insert", [], [""])]
    assert again == DAY_ONE


def test_headings_and_rules_in_a_deep_read_are_reported(tmp_path: Path) -> None:
    text = HEADING_AND_RULE
    parsed = parse_post(text, "old.md")
    assert parsed.record is not None and parsed.problems == []
    heading, rule = line_of(text, "## 2) 方法"), line_of(text, "---", 3)
    assert [n.split(":")[1] for n in parsed.normalisations] == [str(heading), str(rule)]
    assert "heading" in parsed.normalisations[0] and "rule" in parsed.normalisations[1]
    again = render_post(parsed.record)
    assert _changed_lines(text, again) == [("replace", ["## 2) 方法"], ["**2) 方法**"]), ("replace", ["---"], [""])]
    assert unexplained_changes(text, parsed, "old.md") == []


def test_cli_reports_each_normalisation_with_file_and_line(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / "2025-06-04-arxiv.md").write_text(NO_BLANK_AFTER_DIV, encoding="utf-8")
    (old / "2025-06-06-arxiv.md").write_text(HEADING_AND_RULE.replace("2025-06-04", "2025-06-06"), encoding="utf-8")
    site = _site(tmp_path)
    proc = _digest("import", str(old), cwd=site)
    assert proc.returncode == 0, proc.stderr
    div = line_of(NO_BLANK_AFTER_DIV, '<div markdown="1">')
    assert f"normalised: {old / '2025-06-04-arxiv.md'}:{div}: text follows" in proc.stderr
    heading = line_of(HEADING_AND_RULE, "## 2) 方法")
    assert f"normalised: {old / '2025-06-06-arxiv.md'}:{heading}: deep read: a heading" in proc.stderr
    assert "warning" not in proc.stderr
    assert _digest("render", "--all", cwd=site).returncode == 0
    for post in (site / "_posts").glob("*.md"):
        assert "&lt;details" not in post.read_text(encoding="utf-8")


def test_an_unrecognised_difference_is_still_reported(tmp_path: Path) -> None:
    # Words after the counts line's standard text are not kept by the parser: that must not pass silently.
    text = DAY_ONE.replace("（去重/过滤后）\n", "（去重/过滤后）另见附录\n")
    old = tmp_path / "2025-06-04-arxiv.md"
    old.write_text(text, encoding="utf-8")
    parsed = parse_post(text, str(old))
    assert parsed.problems == [] and parsed.normalisations == []
    proc = _digest("import", str(old), cwd=_site(tmp_path))
    line = line_of(text, "- 抓取总数：7 篇 | 本页显示：4 篇（去重/过滤后）另见附录")
    assert f"warning: {old}:{line}: the re-rendered post differs here" in proc.stderr, proc.stderr


def test_two_files_for_one_date_are_an_error_naming_both(tmp_path: Path) -> None:
    old = tmp_path / "old"
    (old / "a").mkdir(parents=True)
    (old / "b").mkdir()
    (old / "a" / "2025-06-04-arxiv.md").write_text(DAY_ONE, encoding="utf-8")
    (old / "b" / "2025-06-04-copy.md").write_text(DAY_ONE, encoding="utf-8")
    site = _site(tmp_path)
    proc = _digest("import", str(old), cwd=site)
    assert proc.returncode == 2
    assert "2025-06-04" in proc.stderr
    assert str(old / "a" / "2025-06-04-arxiv.md") in proc.stderr and str(old / "b" / "2025-06-04-copy.md") in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((site / "_data" / "digest").glob("*.json")) if (site / "_data").exists() else True


def test_a_missing_path_exits_2(tmp_path: Path) -> None:
    write_standard_posts(tmp_path / "old")
    site = _site(tmp_path)
    proc = _digest("import", str(tmp_path / "old"), str(tmp_path / "nowhere"), cwd=site)
    assert proc.returncode == 2
    assert f"no such file or folder: {tmp_path / 'nowhere'}" in proc.stderr
    assert not (site / "_data" / "digest").exists() or not list((site / "_data" / "digest").glob("*.json"))


def test_a_paper_template_override_changes_posts_not_import_or_build(tmp_path: Path) -> None:
    site = _site(tmp_path)
    (site / "templates").mkdir()
    builtin = (PACKAGE_TEMPLATES / "paper.md.j2").read_text(encoding="utf-8")
    assert builtin.count("## {{ p.title }}") == 1
    (site / "templates" / "paper.md.j2").write_text(builtin.replace("## {{ p.title }}", "### {{ p.title }}"),
                                                    encoding="utf-8")
    old = write_standard_posts(tmp_path / "old")
    assert _digest("import", str(tmp_path / "old"), cwd=site).returncode == 0
    proc = _digest("render", "--all", cwd=site)
    assert proc.returncode == 0, proc.stderr
    records = {}
    for post in old:
        rendered = (site / "_posts" / post.name).read_text(encoding="utf-8")
        record = parse_post(post.read_text(encoding="utf-8"), post.name).record
        assert record is not None
        records[post.name] = record
        for paper in record.papers:
            assert f"\n### {paper.title}\n" in rendered
            assert f"\n## {paper.title}\n" not in rendered
    # Import of standard posts still works with the override in place: nothing changes.
    proc = _digest("import", str(tmp_path / "old"), cwd=site)
    assert proc.returncode == 0 and f"{len(old)} unchanged" in proc.stderr, proc.stderr
    # The site is built from the records: every paper, its deep read and its links.
    proc = _digest("build", "--out", "_site", cwd=site)
    assert proc.returncode == 0, proc.stderr
    for name, record in records.items():
        html = (site / "_site" / name[:4] / name[5:7] / name[8:10] / "arxiv.html").read_text(encoding="utf-8")
        content = html.split('<div class="post-content">', 1)[1]
        sections = content.split('<section class="paper">')[1:]
        assert len(sections) == len(record.papers)
        for paper, section in zip(record.papers, sections, strict=True):
            anchor = paper.id.split("v")[0].replace(".", "-")
            assert f'<h2 id="{anchor}">' in section
            assert f'href="{paper.abs_url}"' in section and f'href="{paper.pdf_url}"' in section
            if paper.deep_read is None:
                assert "<details>" not in section
            elif paper.deep_read.status == "failed":
                assert f"<p>（全文解读失败：{paper.deep_read.error}）</p>" in section
            else:
                assert "<details>" in section and "<summary>详细解读</summary>" in section
                assert "<li><strong>" in section and "**" not in section


def test_no_configurable_value_is_hard_coded(tmp_path: Path) -> None:
    config = (
        "site:\n  posts_dir: _posts\n  title: 'Signal Notes {date}'\n  tags: [notes, eess.SP]\n"
        "arxiv:\n  categories: [eess.SP]\n"
    )
    site = _site(tmp_path, config)
    write_standard_posts(tmp_path / "old")
    assert _digest("import", str(tmp_path / "old"), cwd=site).returncode == 0
    assert _digest("render", "--all", cwd=site).returncode == 0
    post = (site / "_posts" / "2025-06-04-arxiv.md").read_text(encoding="utf-8")
    assert post.startswith('---\nlayout: post\ntitle: "Signal Notes 2025-06-04"\ntags: [notes, eess.SP]\n---\n')
    assert _digest("build", "--out", "_site", cwd=site).returncode == 0
    page = (site / "_site" / "2025" / "06" / "04" / "arxiv.html").read_text(encoding="utf-8")
    assert "<title>Signal Notes 2025-06-04 · Signal Notes</title>" in page
    assert "eess.SP 论文中文速览" in page and "cs.SD / eess.AS" not in page


@pytest.mark.skipif(os.environ.get("DIGEST_SEEDS_DIR") is not None, reason="already the fresh-clone run")
def test_format_golden_tests_run_without_shared(tmp_path: Path) -> None:
    # As in a fresh clone: no seeds folder. The golden tests then use only the posts they write themselves.
    env = dict(os.environ, DIGEST_SEEDS_DIR=str(tmp_path / "no-seeds-here"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", str(TESTS / "test_postformat.py"),
         "-k", "not without_shared"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-2000:]
