"""The post format and every escaping rule of DESIGN section 1."""

from __future__ import annotations

import re

import yaml

from digest.publish.markdown import render_post, render_section
from digest.publish.sanitize import clean_block
from helpers import make_entry, make_record


def _front_matter(post: str) -> dict:
    assert post.startswith("---\n")
    return yaml.safe_load(post.split("\n---\n", 1)[0][4:])


def _details(post: str) -> list[str]:
    return re.findall(r'<div markdown="1">\n\n(.*?)\n</div>\n\n</details>', post, re.S)


def test_layout_matches_contract() -> None:
    post = render_post(make_record([make_entry()]))
    assert post.startswith('---\nlayout: post\ntitle: "arXiv Daily – 2026-01-07"\ntags: [arxiv, cs.SD, eess.AS]\n---\n\n')
    assert "以下为 2026-01-07（CST，北京时间）窗口内更新的论文中文译文：\n" in post
    assert "- 时间窗口（锚点 08:50 CST）：2026-01-06 08:50 — 2026-01-07 08:50\n" in post
    assert "- 抓取总数：1 篇 | 本页显示：1 篇（去重/过滤后）\n\n## A Test Paper on Speech\n" in post
    assert post.endswith("</div>\n\n</details>\n\n---\n")
    assert "{% raw %}" not in post


def test_liquid_title_and_heading_and_script_acceptance() -> None:
    entry = make_entry(
        title="Scaling {{ site.title }} Laws",
        deep_read="## 1) 背景\n- 说明\n<script>alert(1)</script>\n\n2)  \n方法\n\n3)  \n结果",
    )
    post = render_post(make_record([entry]))
    body = post.split("\n---\n", 1)[1]
    assert body.startswith("{% raw %}\n") and post.endswith("{% endraw %}\n")
    assert "## Scaling {{ site.title }} Laws\n" in post  # shown literally inside the raw block
    (details,) = _details(post)
    assert not re.search(r"(?m)^\s{0,3}#{1,6}\s", details)
    assert "**1) 背景**" in details
    assert "<script" not in post.lower()
    assert "&lt;script>alert(1)&lt;/script>" in details


def test_post_without_liquid_is_not_wrapped() -> None:
    post = render_post(make_record([make_entry(abstract="x", translation="当 a<b 且 c>d 时，$$x^2$$ 成立。")]))
    assert "{% raw %}" not in post
    assert "当 a<b 且 c>d 时，$$x^2$$ 成立。" in post  # formulas pass unchanged


def test_endraw_inside_content_cannot_close_the_raw_block() -> None:
    post = render_post(make_record([make_entry(deep_read="1) a {% endraw %} {{ x }}\n2) b\n3) c")]))
    body = post.split("\n---\n", 1)[1]
    assert body.count("{% endraw %}") == 1 and body.endswith("{% endraw %}\n")
    assert "{&#37; endraw &#37;}" in body


def test_stray_closing_tags_cannot_end_the_details_block() -> None:
    post = render_post(make_record([make_entry(deep_read="1) a</div></details><details>\n2) b </summary>\n3) c")]))
    assert post.count("</details>") == 1 and post.count("</div>") == 1 and post.count("<details>") == 1
    assert "&lt;/div>&lt;/details>&lt;details>" in post


def test_event_handlers_and_javascript_urls_never_reach_the_post() -> None:
    hostile = (
        '1) <img src=x onerror="alert(1)"> <b onclick=alert(1)>x</b> <a href="javascript:alert(1)">y</a>\n'
        "2) [click](javascript:alert(1)) [ok](https://example.org) [e](&#106;avascript:alert(2))\n"
        "3) <iframe src=//evil></iframe><style>body{display:none}</style><!-- hide <JAVASCRIPT:x>"
    )
    post = render_post(make_record([make_entry(deep_read=hostile)]))
    assert not re.search(r"<[a-z][^<>]*\son[a-z]+\s*=", post, re.I)
    assert "javascript:" not in post.lower()
    for tag in ("<img", "<iframe", "<style", "<!--", "<a "):
        assert tag not in post.lower()
    assert "[click](#)" in post and "[ok](https://example.org)" in post and "[e](#)" in post


def test_metadata_cannot_break_the_page() -> None:
    entry = make_entry(title="Bad\n## Title <script>x</script>", authors=["A </details>", "B"])
    post = render_post(make_record([entry]))
    assert "\n## Bad ## Title &lt;script>x&lt;/script>\n" in post
    assert "- **Authors**: A &lt;/details>, B\n" in post


def test_front_matter_is_valid_yaml_whatever_the_title() -> None:
    title = 'arXiv: "quoted" – {date} # not a comment: [x], {y}'
    post = render_post(make_record([make_entry()]), title_template=title, tags=["arxiv", "a: b", "#c"])
    fm = _front_matter(post)
    assert fm["title"] == title.replace("{date}", "2026-01-07")
    assert fm["tags"] == ["arxiv", "a: b", "#c"]


def test_failed_deep_read_and_missing_translation_placeholders() -> None:
    entry = make_entry(translation=None, deep_error="PDF 尚未提供（HTTP 404），下次运行将重试")
    entry.translation = entry.translation or None
    post = render_post(make_record([entry]))
    assert "（全文解读失败：PDF 尚未提供（HTTP 404），下次运行将重试）" in post
    assert "We study speech." in post  # English abstract when there is no translation

    from digest.core.record import TaskResult

    entry2 = make_entry(translation=None)
    entry2.translation = TaskResult(status="failed", error="模型服务超时")
    post2 = render_post(make_record([entry2]))
    assert "（译文暂缺：模型服务超时，下次运行将重试）\n\nWe study speech.\n" in post2


def test_no_llm_entry_has_english_abstract_and_no_details() -> None:
    post = render_post(make_record([make_entry(translation=None, deep_read=None)]))
    assert "<details>" not in post
    assert "\nWe study speech.\n\n---\n" in post


def test_thematic_breaks_and_setext_headings_are_neutralised() -> None:
    out = clean_block("1) 背景\n---\n文本\n===\n2) x\n***\n3) y")
    assert "\n---\n" not in out and "\n***\n" not in out
    assert "文本\n\n===" in out


def test_code_fence_content_keeps_hashes() -> None:
    out = clean_block("```\n# comment in code\n```\n# Heading")
    assert "# comment in code" in out and "**Heading**" in out


def test_section_matches_post() -> None:
    entry = make_entry()
    post = render_post(make_record([entry]))
    section = render_section(entry)
    assert section.startswith("## A Test Paper on Speech\n")
    assert section in post
