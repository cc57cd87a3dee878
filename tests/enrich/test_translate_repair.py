"""A translation answer that opens with a title line is repaired (the line dropped), not asked again."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.core.config import load_config
from digest.core.store import load_record
from digest.enrich.tasks.translate import check_translation, strip_title_lines
from digest.pipeline import run_days
from digest.standins.arxiv_server import ArxivStandIn, make_paper
from digest.standins.chat_server import ChatStandIn, default_answer, is_deep_read, is_reask, user_prompt
from digest.standins.pdf_host import PdfHost
from digest.standins.pdfgen import make_paper_pdf
from helpers import quiet_services, write_standin_config

TITLE = "EchoBench: A Benchmark for Evaluating Spoken Dialogue Agents"
BODY = (
    "语音对话代理正越来越多地部署于实际应用中。然而，现有基准测试难以同时生成逼真的多轮对话并衡量语音特有的失败模式。"
    "我们提出了一个端到端评估框架，在十二个任务上评测了八个系统，发现级联系统在鲁棒性上仍然领先。"
)
ABSTRACT = "Spoken dialogue agents are deployed widely. " * 12


@pytest.mark.parametrize("first", [
    "EchoBench：面向语音对话代理的评估基准",  # a translated title, set apart by a blank line
    "EchoBench: A Benchmark for Evaluating Spoken Dialogue Agents",  # the paper's own title
    "# EchoBench：面向语音对话代理的评估基准",  # a heading
    "**标题**：EchoBench：面向语音对话代理的评估基准",  # a labelled title
])
def test_a_leading_title_line_is_dropped(first: str) -> None:
    answer = f"{first}\n\n{BODY}"
    assert check_translation(answer, TITLE, ABSTRACT) is not None  # the check alone would ask again
    assert strip_title_lines(answer, TITLE) == BODY
    assert check_translation(BODY, TITLE, ABSTRACT) is None


def test_a_label_line_then_a_title_line_are_both_dropped() -> None:
    assert strip_title_lines(f"【中文摘要】\nEchoBench：面向语音对话代理的评估基准\n\n{BODY}", TITLE) == BODY


@pytest.mark.parametrize("answer", [
    BODY,  # a clean answer
    f"{BODY}\n\n此外，我们公开了全部代码与数据。",  # two paragraphs of text
    "本文的主要贡献如下：\n\n" + BODY,  # a line that introduces what follows
    BODY[:30] + "\n" + BODY[30:],  # a hard-wrapped first sentence: not set apart, so not a title
    "EchoBench：面向语音对话代理的评估基准",  # a title and nothing else: nothing to keep, asked again
])
def test_text_is_never_dropped(answer: str) -> None:
    assert strip_title_lines(answer, TITLE) == answer


def test_a_title_line_answer_gives_a_clean_post_after_one_call(tmp_path: Path) -> None:
    day = date(2026, 1, 7)
    paper = make_paper("2601.00001v1", datetime(2026, 1, 6, 12, 0, tzinfo=UTC), title=TITLE, abstract=ABSTRACT)
    asked: list[dict[str, Any]] = []

    def answer(req: dict[str, Any]) -> str:
        if is_deep_read(req):
            return default_answer(req)
        asked.append(req)
        assert "<abstract>" in user_prompt(req) and not is_reask(req)
        return f"EchoBench：面向语音对话代理的评估基准\n\n{BODY}"

    with ArxivStandIn([paper]) as arxiv, PdfHost({paper.id: make_paper_pdf(TITLE, pages=2)}) as host, \
            ChatStandIn(answer) as chat:
        write_standin_config(tmp_path, arxiv, host, chat)
        cfg = load_config(tmp_path / "config.yaml", required=True)
        (out,) = run_days(cfg, [day], quiet_services(environ={"DIGEST_TEST_KEY": "sk-test-key-0123456789"}))
    assert len(asked) == 1  # one translation call, no re-ask
    record = load_record(tmp_path / "_data" / "digest", day.isoformat())
    assert record is not None and record.papers[0].translation is not None
    assert record.papers[0].translation.status == "done" and record.papers[0].translation.text == BODY
    post = (tmp_path / "_posts" / "2026-01-07-arxiv.md").read_text(encoding="utf-8")
    assert BODY in post and "面向语音对话代理的评估基准" not in post
