"""Chinese titles (issue 22): the batched title step, its answer parsing, cache and reruns, and a stand-in run of a
seed day whose mail carries every paper's Chinese title and the first sentence of its Chinese abstract."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from digest.core.config import load_config
from digest.core.record import Entry
from digest.core.store import load_record, write_record
from digest.core.templates import template_env
from digest.enrich.cache import ResultsCache
from digest.enrich.model import KeyRefused, ServerError
from digest.enrich.titles import (
    BATCH_SIZE,
    TASK_NAME,
    TitleStep,
    clean_title,
    parse_titles,
    title_problem,
    translate_titles,
)
from digest.pipeline import run_days
from digest.publish.notify.message import first_sentence
from digest.standins.arxiv_server import ArxivStandIn
from digest.standins.chat_server import ChatStandIn, stand_in_title, title_batch_papers
from digest.standins.pdf_host import PdfHost
from helpers import (
    TEST_KEY,
    FakeModel,
    assert_same_text,
    make_entry,
    prepare_seed_site,
    quiet_services,
    seed_answerer,
    seed_files,
    seed_pdfs,
    write_standin_config,
)
from smtp_kit import smtp_server

NOW = datetime(2026, 1, 7, 1, 30, tzinfo=UTC)


def entries(n: int) -> list[Entry]:
    return [make_entry(f"2601.{i:05d}v1", title=f"Neural Codec Paper {i} for Speech") for i in range(1, n + 1)]


def answer_for(messages, *, skip: set[str] = frozenset(), extra: str = "") -> str:
    """Good lines for the ids a title prompt asks about (but those in `skip`), the way a model numbers them."""
    ids = re.findall(r"^(\d{4}\.\d{5}): ", messages[-1]["content"], re.M)
    lines = [f"{k}. **{pid}**: “第{pid}号神经编解码论文”" for k, pid in enumerate(ids, 1) if pid not in skip]
    return "<think>先逐条翻译。</think>\n" + extra + "\n".join(lines)


def step(model, tmp: Path, **kw) -> TitleStep:
    async def no_sleep(_s: float) -> None:
        return None

    return TitleStep(model=model, env=template_env(), cache=ResultsCache(tmp), clock=lambda: NOW, sleep=no_sleep, **kw)


def run_step(papers, model, tmp: Path, **kw):
    return asyncio.run(translate_titles(papers, step(model, tmp), **kw))


# ------------------------------------------------------------------ answer lines


@pytest.mark.parametrize(("raw", "clean"), [
    ("“语音编解码”", "语音编解码"),
    ("**《语音  编解码》**", "语音 编解码"),
    ('"VoiceCraft：零样本语音编辑"', "VoiceCraft：零样本语音编辑"),
    ("「基于 Whisper 的识别」", "基于 Whisper 的识别"),
])
def test_clean_title_strips_marks_and_quotes(raw: str, clean: str) -> None:
    assert clean_title(raw) == clean


def test_title_problem_rejects_english_and_echoes() -> None:
    english = "Neural Codec Paper 1 for Speech"
    assert title_problem("面向语音的神经编解码器", english) is None
    assert title_problem("VoiceCraft-X：多语言语音编辑", "VoiceCraft-X: Multilingual Speech Editing") is None
    assert title_problem(english, english) == "not Chinese"
    assert title_problem("Neural Codec Paper 1 for Speech 论文", english) == "not Chinese"
    assert title_problem("", english) == "empty"
    assert title_problem("语" * 200, english) == "too long"


def test_parse_keeps_known_ids_and_ignores_the_rest() -> None:
    papers = entries(3)
    answer = "\n".join([
        "好的，以下是翻译：",
        "1. 2601.00001v1: 第一篇论文的中文标题",
        "- `2601.00002`：“第二篇论文”",
        "2601.99999: 不存在的论文标题",  # not asked about: ignored
        "2601.00003: Neural Codec Paper 3 for Speech",  # the English title again: no title
        "2601.00001: 重复的行不会覆盖第一行",
    ])
    assert parse_titles(answer, papers) == {"2601.00001": "第一篇论文的中文标题", "2601.00002": "第二篇论文"}
    assert parse_titles("<think>2601.00001: 思考里的标题</think>", papers) == {}


# ------------------------------------------------------------------ the step


def test_titles_come_in_batches_of_at_most_50_and_a_rerun_is_free(tmp_path: Path) -> None:
    papers = entries(120)
    model = FakeModel(answer=answer_for)
    stats = run_step(papers, model, tmp_path)
    assert model.calls == 3 and stats.calls == 3  # 50 + 50 + 20
    asked = [re.findall(r"^(\d{4}\.\d{5}): ", p, re.M) for p in model.user_prompts()]
    assert [len(a) for a in asked] == [50, 50, 20] and len({i for a in asked for i in a}) == 120
    assert all(e.title_zh == f"第{e.base_id}号神经编解码论文" for e in papers)
    r = papers[0].title_zh_result
    assert r is not None and (r.status, r.text, r.model, r.at) == ("done", papers[0].title_zh, "fake-model",
                                                                   NOW.isoformat(timespec="seconds"))
    assert r.prompt_hash and r.prompt_tokens > 0
    assert stats.prompt_tokens == sum(len(m["content"]) for p in model.prompts for m in p)
    assert stats.filled == 120 and stats.missing == 0 and not stats.problems

    again = run_step(papers, model, tmp_path)
    assert model.calls == 3 and again.calls == 0 and again.wanted == 0


def test_missing_and_bad_lines_are_asked_again_next_run(tmp_path: Path) -> None:
    papers = entries(5)
    first = FakeModel(answer=lambda m: answer_for(m, skip={"2601.00002"}, extra="2601.00004: Plain English\n"))
    stats = run_step(papers, first, tmp_path)
    # 2601.00004 came twice: the English line first (rejected), then a good one, which is kept.
    assert [bool(e.title_zh) for e in papers] == [True, False, True, True, True]
    assert stats.filled == 4 and stats.missing == 1 and "4 of 5" in stats.problems[0]

    second = FakeModel(answer=answer_for)
    again = run_step(papers, second, tmp_path)
    assert second.calls == 1 and re.findall(r"^(\d{4}\.\d{5}): ", second.user_prompts()[0], re.M) == ["2601.00002"]
    assert again.filled == 1 and all(e.title_zh for e in papers)


def test_a_failed_call_leaves_titles_empty_and_a_fatal_one_stops(tmp_path: Path) -> None:
    papers = entries(3)
    broken = FakeModel().queue(*[ServerError("模型服务暂时不可用（HTTP 503）")] * 4)
    stats = run_step(papers, broken, tmp_path)
    assert broken.calls == 4 and stats.calls == 0 and stats.attempts == 4  # 1 + 3 retries, then given up
    assert not any(e.title_zh for e in papers) and "503" in stats.problems[0]

    nonsense = FakeModel().queue("I cannot translate these titles.")
    stats = run_step(papers, nonsense, tmp_path)
    assert nonsense.calls == 1 and stats.calls == 1 and stats.filled == 0 and stats.missing == 3

    refused = FakeModel().queue(KeyRefused("the key was refused"))
    with pytest.raises(KeyRefused):
        run_step(papers, refused, tmp_path)


def test_titles_are_cached_per_paper_version_model_and_prompt(tmp_path: Path) -> None:
    model = FakeModel(answer=answer_for)
    run_step(entries(4), model, tmp_path)
    assert model.calls == 1
    cached = json.loads((tmp_path / "results" / "2601.00001v1.json").read_text(encoding="utf-8"))
    assert [k.split("|")[0] for k in cached] == [TASK_NAME]

    fresh = entries(4)  # the same papers in another day's record: every title from the cache
    stats = run_step(fresh, model, tmp_path)
    assert model.calls == 1 and stats.cached == 4 and fresh[3].title_zh == "第2601.00004号神经编解码论文"

    other = FakeModel(answer=answer_for, name="another-model")  # another model: asked afresh
    run_step(entries(4), other, tmp_path)
    assert other.calls == 1

    forced = entries(4)
    run_step(forced, model, tmp_path, force=True)
    assert model.calls == 2  # force asks again even with the cache full


def test_batch_size_is_fifty() -> None:
    assert BATCH_SIZE == 50


# ------------------------------------------------------------------ runs: a seed day, and an imported day


def _mail_channel(port: int) -> dict:
    return {"name": "mail", "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": port, "security": "none",
            "from": "Digest <digest@example.org>", "to": ["reader@example.org"],
            "username_env": "SMTP_USER", "password_env": "SMTP_PASS"}


def _add_notify(site: Path, port: int) -> None:
    path = site / "config.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["notify"] = {"channels": [_mail_channel(port)]}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_seed_day_titles_in_one_batch_rerun_free_and_in_the_mail(tmp_path: Path) -> None:
    seed = next((s for s in seed_files() if "全文解读失败" not in s.read_text(encoding="utf-8")), None)
    if seed is None:
        pytest.skip("no seed without failed deep reads")
    record, papers = prepare_seed_site(tmp_path, seed)
    arxiv, host, chat = ArxivStandIn(papers), PdfHost(seed_pdfs(record, papers, pages=3)), ChatStandIn()
    chat.answer(seed_answerer(record))
    env = {"DIGEST_TEST_KEY": TEST_KEY, "SMTP_USER": "u", "SMTP_PASS": "p"}
    with smtp_server("u", "p") as (sink, port), arxiv, host, chat:
        write_standin_config(tmp_path, arxiv, host, chat, concurrency=4)
        _add_notify(tmp_path, port)
        cfg = load_config(tmp_path / "config.yaml", required=True)
        day = date.fromisoformat(record.date)
        services = quiet_services(environ=env)
        (out,) = run_days(cfg, [day], services)
        n = record.counts.shown
        assert not out.stopped and n <= BATCH_SIZE
        assert len(chat.title_calls) == 1  # one batch for the day's papers
        assert sorted(pid for pid, _ in title_batch_papers(chat.title_calls[0])) == sorted(
            e.base_id for e in record.papers)
        assert len(chat.calls) == 2 * n  # the per-paper tasks as before
        assert out.stats.llm_calls == 2 * n + 1
        saved = load_record(cfg.records_dir, record.date)
        assert saved is not None
        assert [e.title_zh for e in saved.papers] == [stand_in_title(e.base_id) for e in saved.papers]
        assert all(e.title_zh_result is not None and e.title_zh_result.model == "stand-in" for e in saved.papers)
        # The post stays the seed byte for byte: the Chinese title is a template variable the seeds do not use.
        assert_same_text(seed.read_text(encoding="utf-8"), (tmp_path / "_posts" / seed.name).read_text("utf-8"))

        ((_, raw),) = sink.mails
        text = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",)).get_content()
        for e in saved.papers:
            section = text.split(e.title, 1)[1].split("\n\n", 1)[0]
            assert stand_in_title(e.base_id) in section
            gist = first_sentence(e.translation.text)
            assert gist and gist[:40] in " ".join(section.split())

        before = (cfg.records_dir / f"{record.date}.json").read_bytes()
        (again,) = run_days(cfg, [day], quiet_services(environ=env))
        assert len(chat.title_calls) == 1 and again.stats.llm_calls == 0  # a rerun makes no call
        assert (cfg.records_dir / f"{record.date}.json").read_bytes() == before
        assert len(sink.mails) == 1

    # The built day page shows every paper's Chinese title beside its English one.
    from digest.core.urls import page_url
    from digest.site.build import build_site

    build_site(cfg.records_dir, tmp_path / "_site", config=cfg, search=False)
    html = (tmp_path / "_site" / page_url("", record.date).lstrip("/")).read_text(encoding="utf-8")
    for e in saved.papers:
        assert f'<p class="title-zh">{stand_in_title(e.base_id)}</p>' in html


def test_an_imported_day_gets_its_titles_at_one_call_per_50_papers(tmp_path: Path) -> None:
    from digest.standins.arxiv_server import make_paper

    seed = seed_files()[0]
    record, _ = prepare_seed_site(tmp_path, seed)
    # An imported day of 60 papers (two batches): every task done, no Chinese title yet.
    end = datetime.fromisoformat(record.window.end)
    imported = [make_entry(f"2601.{90000 + k}v1", title=f"Imported Paper {k} on Audio") for k in range(60)]
    record.papers = imported
    record.counts.shown = record.counts.fetched = 60
    record.source = "import:old.md"
    write_record(tmp_path / "_data" / "digest", record)
    arxiv, host, chat = ArxivStandIn([make_paper("2601.99999v1", end.replace(year=2020))]), PdfHost({}), ChatStandIn()
    with arxiv, host, chat:
        write_standin_config(tmp_path, arxiv, host, chat)
        cfg = load_config(tmp_path / "config.yaml", required=True)
        (out,) = run_days(cfg, [date.fromisoformat(record.date)], quiet_services(environ={"DIGEST_TEST_KEY": TEST_KEY}))
        assert not out.stopped and chat.calls == []  # nothing else to do for the imported papers
        assert [len(title_batch_papers(c)) for c in chat.title_calls] == [50, 10]
        saved = load_record(cfg.records_dir, record.date)
        assert saved is not None and saved.source == "import:old.md"
        assert all(e.title_zh == stand_in_title(e.base_id) for e in saved.papers)
        assert out.stats.llm_calls == 2


def test_title_calls_count_in_the_token_budget_and_wait_for_room(tmp_path: Path) -> None:
    from digest.enrich.budget import TokenBudget

    model = FakeModel(answer=answer_for)
    budget = TokenBudget(limit=10**6)
    s = step(model, tmp_path, budget=budget)
    asyncio.run(translate_titles(entries(3), s))
    assert model.calls == 1 and budget.spent == s.stats.prompt_tokens + s.stats.completion_tokens > 0

    spent = TokenBudget(limit=budget.spent + 10)  # no room for another batch: left for the next run, no call
    spent.spent = budget.spent
    papers = entries(3)
    tight = step(FakeModel(answer=answer_for), tmp_path / "other", budget=spent)
    stats = asyncio.run(translate_titles(papers, tight))
    assert tight.model.calls == 0 and stats.deferred == 3 and stats.missing == 3
    assert not any(e.title_zh for e in papers) and not stats.problems
