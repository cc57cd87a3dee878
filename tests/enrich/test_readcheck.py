"""Deep reads checked against the paper (issue 16): the figure check in TaskRunner.run, re-asks, marks and the
counts, first through the Model fake, then a whole 11-paper day against the stand-ins with invented figures."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.core.config import LLMConfig, load_config
from digest.core.outcome import DayOutcome
from digest.core.record import Entry, TaskResult
from digest.core.store import load_record
from digest.core.templates import template_env
from digest.enrich.figures import UNVERIFIED
from digest.enrich.model import RequestRefused
from digest.enrich.tasks import get
from digest.pipeline import run_days
from digest.standins.arxiv_server import ArxivStandIn, make_paper
from digest.standins.chat_server import (
    INVENTED_FIGURES,
    INVENTED_SENTENCE,
    ChatStandIn,
    default_answer,
    is_deep_read,
    user_prompt,
)
from digest.standins.pdf_host import PdfHost
from digest.standins.pdfgen import make_paper_pdf_stating
from helpers import FakeModel, make_entry, quiet_services, write_standin_config

SOURCE = "On the marsh chorus benchmark the error rate falls from 9.6% to 4.3% over 120 recordings."
CLEAN = "1)  \n- 背景：旧方法不稳。\n\n2)  \n- 方法：编织编码器。\n\n3)  \n- 结果：错误率从 9.6% 降到 4.3%，相对降低 55.2%，共 120 段录音。"
INVENTED = CLEAN + "\n- 补充：MOS 达到 4.87，速度提升 23.5 倍。"


def _entry() -> Entry:
    return make_entry(title="Braided Resonance Encoders", abstract="We separate overlapped speech.", deep_read=None)


def _run(model: FakeModel, entry: Entry | None = None, others: tuple[str, ...] = ()) -> TaskResult:
    from digest.enrich.runner import TaskRunner

    runner = TaskRunner(LLMConfig(), model, env=template_env())
    result = asyncio.run(runner.run(get("deep_read"), entry or _entry(), SOURCE, others=others))
    assert result is not None
    return result


def test_clean_read_is_asked_once() -> None:
    model = FakeModel().queue(CLEAN)
    result = _run(model)
    assert model.calls == 1
    assert (result.status, result.check, result.unverified, result.text) == ("done", "clean", [], CLEAN)


def test_unsupported_figures_are_named_on_the_one_re_ask() -> None:
    model = FakeModel().queue(INVENTED, CLEAN)
    result = _run(model)
    assert model.calls == 2
    reask = model.user_prompts()[1]
    assert "4.87" in reask and "23.5 倍" in reask and "9.6%" not in reask
    assert (result.check, result.text, result.unverified) == ("reasked", CLEAN, [])


def test_still_unsupported_after_the_re_ask_is_kept_marked() -> None:
    model = FakeModel().queue(INVENTED, INVENTED)
    result = _run(model)
    assert model.calls == 2
    assert result.status == "done" and result.check == "marked"
    assert result.unverified == ["4.87", "23.5 倍"]
    assert result.text == INVENTED.replace("4.87", f"4.87{UNVERIFIED}").replace("23.5 倍", f"23.5 倍{UNVERIFIED}")


def test_a_re_ask_that_breaks_the_format_keeps_the_first_answer_marked() -> None:
    model = FakeModel().queue(INVENTED, "only English, no parts")
    result = _run(model)
    assert model.calls == 2 and result.check == "marked" and f"4.87{UNVERIFIED}" in result.text


def test_a_re_ask_the_service_fails_keeps_the_first_answer_marked() -> None:
    model = FakeModel().queue(INVENTED, *[RequestRefused("请求被拒绝")])
    result = _run(model)
    assert result.status == "done" and result.check == "marked" and result.unverified == ["4.87", "23.5 倍"]


def test_malformed_then_clean_counts_as_clean() -> None:
    model = FakeModel().queue("only English, no parts", CLEAN)
    result = _run(model)
    assert model.calls == 2 and result.check == "clean"


def test_another_papers_title_as_subject_is_asked_again_then_failed() -> None:
    other = "Quiet Rooms and the Listening Machines of Tomorrow"
    wrong = CLEAN.replace("编织编码器", f"本文即《{other}》提出的方法")
    model = FakeModel().queue(wrong, wrong)
    result = _run(model, others=(other,))
    assert model.calls == 2 and other in model.user_prompts()[1]
    assert result.status == "failed" and "另一篇论文" in result.error
    fixed = _run(FakeModel().queue(wrong, CLEAN), others=(other,))
    assert (fixed.status, fixed.check) == ("done", "reasked")


def test_a_task_without_a_verify_hook_is_never_re_asked() -> None:
    from digest.enrich.runner import TaskRunner

    model = FakeModel().queue("本文提出了一种新方法，在 4.87 的指标上取得最好效果。")
    runner = TaskRunner(LLMConfig(), model, env=template_env())
    result = asyncio.run(runner.run(get("translation"), _entry()))
    assert result is not None and model.calls == 1 and result.check == ""


# ---------------------------------------------------------------- an 11-paper day against the stand-ins

DAY = date(2026, 1, 7)
N = 11
INVENT = 5


def _figures(k: int) -> list[str]:
    return [f"{40 + k}.5%", "4.3%", f"{120 + k}"]


def _read(k: int) -> str:
    a, b, c = _figures(k)
    return (
        "1)  \n- **研究背景**：重叠语音在混响房间中难以分离。\n\n"
        "2)  \n- **核心方法**：编织共振编码器把各频带折叠为共享的相位标记。\n\n"
        f"3)  \n- **实验效果**：在 marsh chorus 基准上，错误率从 {a} 降到 {b}，共评测 {c} 段录音。"
    )


@functools.cache
def _pdf(k: int) -> bytes:
    return make_paper_pdf_stating(f"Stand-in paper {k}", _figures(k))


class Day:
    """Eleven papers, each PDF stating the figures its read cites; the chat stand-in answers from them."""

    def __init__(self, tmp: Path) -> None:
        end = datetime(2026, 1, 7, 0, 50, tzinfo=UTC)  # 08:50 CST
        self.papers = [
            make_paper(f"2601.{k + 1:05d}v1", end - timedelta(minutes=30 + 41 * k), title=f"Braided Paper Number {k}")
            for k in range(N)
        ]
        self.dir = tmp
        self.arxiv = ArxivStandIn(self.papers)
        self.host = PdfHost({p.id: _pdf(k) for k, p in enumerate(self.papers)})
        self.chat = ChatStandIn(self._answer)

    def _answer(self, req: dict) -> str:
        if not is_deep_read(req):
            return default_answer(req)
        prompt = user_prompt(req)
        for k, p in enumerate(self.papers):
            if f"论文标题：{p.title}\n" in prompt:
                return _read(k)
        raise AssertionError("a deep read for an unknown paper")

    def __enter__(self) -> Day:
        for s in (self.arxiv, self.host, self.chat):
            s.start()
        write_standin_config(self.dir, self.arxiv, self.host, self.chat, concurrency=4, max_retries=1)
        return self

    def __exit__(self, *exc: object) -> None:
        for s in (self.arxiv, self.host, self.chat):
            s.stop()

    def run(self, clock: Callable[[], datetime] | None = None) -> DayOutcome:
        cfg = load_config(self.dir / "config.yaml", required=True)
        extra = {"clock": clock} if clock is not None else {}
        services = quiet_services(environ={"DIGEST_TEST_KEY": "sk-test-key-0123456789"}, **extra)
        (out,) = run_days(cfg, [DAY], services)
        return out

    @property
    def post(self) -> str:
        return (self.dir / "_posts" / f"{DAY}-arxiv.md").read_text(encoding="utf-8")

    def deep_calls(self, title: str | None = None) -> list[dict]:
        return [c for c in self.chat.calls if is_deep_read(c) and (title is None or f"论文标题：{title}\n" in
                                                                    user_prompt(c))]


@pytest.fixture(scope="module")
def normal_post(tmp_path_factory: pytest.TempPathFactory) -> str:
    with Day(tmp_path_factory.mktemp("normal")) as day:
        out = day.run()
        assert out.stats.reads_checked == N and out.stats.reads_reasked == 0
        assert len(day.deep_calls()) == N
        return day.post


def test_invented_figures_are_asked_away_and_the_post_is_the_normal_one(tmp_path: Path, normal_post: str) -> None:
    with Day(tmp_path) as day:
        chosen = [p.title for p in day.papers[::2][:INVENT]]
        day.chat.invent_figures(chosen)
        out = day.run()
        assert day.chat.invented == INVENT
        assert day.post == normal_post  # byte for byte
        for fig in INVENTED_FIGURES:
            assert fig not in day.post
        assert len(day.deep_calls()) == N + INVENT  # exactly one extra deep-read call per invented read
        for p in day.papers:
            assert len(day.deep_calls(p.title)) == (2 if p.title in chosen else 1)
        assert (out.stats.reads_checked, out.stats.reads_reasked, out.stats.reads_marked) == (N, INVENT, 0)
        record = load_record(day.dir / "_data" / "digest", DAY.isoformat())
        assert record is not None
        checks = {e.title: e.deep_read.check for e in record.papers if e.deep_read}
        assert checks == {p.title: ("reasked" if p.title in chosen else "clean") for p in day.papers}


def test_a_rerun_knows_every_title_of_the_day_not_only_the_papers_it_reads(tmp_path: Path) -> None:
    with Day(tmp_path) as day:
        late = day.papers[0]
        del day.host.pdfs[late.id]  # its PDF is not there yet: the first run fails its deep read
        assert day.run().stats.failed == 1
        day.host.put(late.id, _pdf(0))
        other = day.papers[5].title
        wrong = _read(0).replace("编织共振编码器", f"本文即《{other}》提出的编码器")

        def answer(req: dict) -> str:
            return wrong if is_deep_read(req) and f"论文标题：{late.title}\n" in user_prompt(req) else day._answer(req)

        day.chat.answer(answer)
        before = len(day.deep_calls())
        out = day.run()  # only the late paper is read now; the other ten are done
        assert len(day.deep_calls()) == before + 2  # asked again, naming the other paper
        assert other in day.deep_calls(late.title)[-1]["messages"][-1]["content"]
        assert out.stats.failed == 1 and f"本文即《{other}》" not in day.post  # the wrong read is not published
        assert f"解读写的是另一篇论文《{other}》" in out.failures[0][1]


def test_invented_again_is_marked_in_the_post_and_listed_in_the_record(tmp_path: Path) -> None:
    with Day(tmp_path) as day:
        chosen = [p.title for p in day.papers[:INVENT]]
        day.chat.invent_figures(chosen, again=True)
        out = day.run()
        assert len(day.deep_calls()) == N + INVENT
        assert (out.stats.reads_checked, out.stats.reads_reasked, out.stats.reads_marked) == (N, INVENT, INVENT)
        marked = INVENTED_SENTENCE.replace("4.87", f"4.87{UNVERIFIED}").replace("23.5 倍", f"23.5 倍{UNVERIFIED}")
        marked = marked.replace("1,234 小时", f"1,234 小时{UNVERIFIED}")
        assert day.post.count(marked) == INVENT
        assert day.post.count(UNVERIFIED) == 3 * INVENT
        record = load_record(day.dir / "_data" / "digest", DAY.isoformat())
        assert record is not None
        for e in record.papers:
            assert e.deep_read is not None
            if e.title in chosen:
                assert (e.deep_read.check, e.deep_read.unverified) == ("marked", ["4.87", "23.5 倍", "1,234 小时"])
            else:
                assert (e.deep_read.check, e.deep_read.unverified) == ("clean", [])


def _page(site_dir: Path, day: str) -> str:
    from digest.site.build import build_site

    out = site_dir / "_site"
    build_site(site_dir / "_data" / "digest", out)
    y, m, d = day.split("-")
    return (out / y / m / d / "arxiv.html").read_text(encoding="utf-8")


def test_every_deep_read_on_the_site_has_its_provenance_line(tmp_path: Path) -> None:
    # 17:30 UTC is 01:30 the next morning in Asia/Shanghai: the record keeps the UTC time, the page the blog's date.
    made = datetime(2026, 1, 7, 17, 30, tzinfo=UTC)
    with Day(tmp_path) as day:
        day.chat.invent_figures([day.papers[0].title], again=True)
        day.run(clock=lambda: made)
    page = _page(tmp_path, DAY.isoformat())
    record = load_record(tmp_path / "_data" / "digest", DAY.isoformat())
    assert record is not None
    assert {e.deep_read.at for e in record.papers if e.deep_read} == {"2026-01-07T17:30:00+00:00"}
    stamp = "2026-01-08"
    assert page.count('<p class="provenance"') == N == page.count('<div class="deep-read">')
    assert page.count(f"解读依据：全文（PDF v1）· stand-in · {stamp} · 数字已核对</p>") == N - 1
    assert page.count(f"解读依据：全文（PDF v1）· stand-in · {stamp} · 含 3 处未核实数字</p>") == 1


# ---------------------------------------------------------------- new versions of posted papers

POSTED_DAY = "2026-01-07"
REPLACED_ID = "2601.00003v2"
OLD_READ = "1)  \n- 背景：第一版。\n\n2)  \n- 方法：第一版的方法。\n\n3)  \n- 结果：第一版的结果。"


class Replacement:
    """Yesterday's record holds 2601.00003v1; today's listing announces its v2 (a `replace` entry)."""

    def __init__(self, tmp: Path, **llm: object) -> None:
        from digest.core.store import write_record
        from helpers import make_record

        self.dir = tmp
        entries = [make_entry(f"2601.0000{k}v1", title=f"Posted Paper Number {k}", deep_read=OLD_READ)
                   for k in (1, 2, 3)]
        for e in entries:
            assert e.deep_read is not None
            e.deep_read = e.deep_read.model_copy(update={"source": "pdf", "version": 1, "check": "clean",
                                                         "at": "2026-01-07T01:00:00+00:00"})
        write_record(tmp / "_data" / "digest", make_record(entries, day=POSTED_DAY))
        new = [make_paper(f"2601.0010{k}v1", datetime(2026, 1, 6, 12, k, tzinfo=UTC)) for k in (1, 2)]
        listing = [(p.id, "new") for p in new] + [(REPLACED_ID, "replace"), ("2601.09999v3", "replace-cross")]
        self.arxiv = ArxivStandIn(new, (date(2026, 1, 6), listing))
        self.host = PdfHost({p.id: _pdf(0) for p in new} | {REPLACED_ID: _pdf(1)})
        self.chat = ChatStandIn()
        self.llm = llm

    def __enter__(self) -> Replacement:
        for s in (self.arxiv, self.host, self.chat):
            s.start()
        # announced basis: the run reads the listing feed, where replacements are announced
        write_standin_config(self.dir, self.arxiv, self.host, self.chat, basis="announced",
                             **{"max_retries": 1, **self.llm})
        return self

    def __exit__(self, *exc: object) -> None:
        for s in (self.arxiv, self.host, self.chat):
            s.stop()

    def run(self) -> DayOutcome:
        cfg = load_config(self.dir / "config.yaml", required=True)
        services = quiet_services(environ={"DIGEST_TEST_KEY": "sk-test-key-0123456789"},
                                  clock=lambda: datetime(2026, 1, 8, 1, 0, tzinfo=UTC))
        (out,) = run_days(cfg, [date(2026, 1, 8)], services)
        return out

    def posted(self) -> Entry:
        record = load_record(self.dir / "_data" / "digest", POSTED_DAY)
        assert record is not None
        return record.papers[2]

    def reads_of_it(self) -> list[dict]:
        return [c for c in self.chat.calls if is_deep_read(c) and "Posted Paper Number 3" in user_prompt(c)]


def test_a_replacement_of_yesterdays_paper_is_noted_and_shown(tmp_path: Path) -> None:
    with Replacement(tmp_path) as r:
        out = r.run()
        assert out.post is not None and out.stats.reads_checked == 2  # today's two papers
        entry = r.posted()
        assert (entry.id, entry.new_version, entry.new_version_at) == (
            "2601.00003v1", REPLACED_ID, "2026-01-07T01:00:00+00:00")
        assert r.reads_of_it() == []  # the default costs nothing
        assert entry.deep_read is not None and entry.deep_read.text == OLD_READ
        calls = len(r.chat.calls)
        r.run()  # a rerun notes nothing new and asks nothing
        assert len(r.chat.calls) == calls and r.posted() == entry
    page = _page(tmp_path, POSTED_DAY)
    assert page.count("有新版本 v2") == 1
    assert f'<a href="https://arxiv.org/abs/{REPLACED_ID}">有新版本 v2</a>' in page


def test_reread_new_versions_reads_the_new_version_once(tmp_path: Path) -> None:
    with Replacement(tmp_path, reread_new_versions=True) as r:
        r.run()
        assert len(r.reads_of_it()) == 1
        assert r.host.downloads[REPLACED_ID] == 1
        entry = r.posted()
        d = entry.deep_read
        assert d is not None and d.status == "done" and d.text != OLD_READ
        assert (d.version, d.source, d.check, entry.new_version, entry.id) == (2, "pdf", "clean", REPLACED_ID,
                                                                                "2601.00003v1")
        post = (tmp_path / "_posts" / f"{POSTED_DAY}-arxiv.md").read_text(encoding="utf-8")
        assert "论文《Posted Paper Number 3》关注" in d.text and "论文《Posted Paper Number 3》关注" in post
        assert post.count("第一版的方法") == 2  # the other two papers keep theirs
        r.run()
        assert len(r.reads_of_it()) == 1  # read once, not at every run
    page = _page(tmp_path, POSTED_DAY)
    assert "解读已按新版本 v2 更新" in page and "解读依据：全文（PDF v2）" in page


def test_provenance_line_wording() -> None:
    from digest.publish.provenance import new_version_note, provenance_line

    e = make_entry("2601.00001v1")
    assert e.deep_read is not None
    e.deep_read = e.deep_read.model_copy(update={"source": "pdf", "version": 1, "model": "deepseek-chat",
                                                 "at": "2026-12-01T00:50:00+00:00", "check": "clean"})
    assert provenance_line(e) == "解读依据：全文（PDF v1）· deepseek-chat · 2026-12-01 · 数字已核对"
    # made at 23:30 UTC: the next day in the post's zone
    late = e.model_copy(deep=True)
    assert late.deep_read is not None
    late.deep_read = late.deep_read.model_copy(update={"at": "2026-11-30T23:30:00+00:00"})
    assert "· 2026-11-30 ·" in provenance_line(late) and "· 2026-12-01 ·" in provenance_line(late, "Asia/Shanghai")
    e.deep_read = e.deep_read.model_copy(update={"source": "html", "check": "marked", "unverified": ["4.87", "12"]})
    assert provenance_line(e) == "解读依据：全文（HTML v1）· deepseek-chat · 2026-12-01 · 含 2 处未核实数字"
    e.deep_read = e.deep_read.model_copy(update={"source": "", "version": 0, "model": "imported", "at": "",
                                                 "check": ""})
    assert provenance_line(e) == "解读依据：从旧文章导入（v1）· 数字未核对"
    e.deep_read = e.deep_read.model_copy(update={"model": "some-model"})
    assert provenance_line(e) == "解读依据：来源未记录（v1）· some-model · 数字未核对"
    e.deep_read = e.deep_read.model_copy(update={"model": "imported"})
    assert new_version_note(e) is None
    e.new_version = "2601.00001v3"
    note = new_version_note(e)
    assert note is not None and (note.label, note.url) == ("有新版本 v3", "https://arxiv.org/abs/2601.00001v3")
    e.deep_read = TaskResult(status="failed", error="PDF 尚未提供")
    assert provenance_line(e) == ""


def test_a_read_from_the_html_page_records_html_and_is_checked_against_it(tmp_path: Path) -> None:
    with Day(tmp_path) as day:
        first = day.papers[0]
        del day.host.pdfs[first.id]
        a, b, c = _figures(0)
        day.host.put_html(first.id, (
            f"<html><body><h1>{first.title}</h1><h2>1 Introduction</h2><p>{'Overlapped speech is hard. ' * 60}</p>"
            f"<h2>5 Results</h2><p>The error rate falls from {a} to {b} over {c} recordings.</p></body></html>"))
        out = day.run()
        assert out.stats.reads_checked == N and out.stats.reads_reasked == 0
    record = load_record(tmp_path / "_data" / "digest", DAY.isoformat())
    assert record is not None
    sources = {e.id: (e.deep_read.source, e.deep_read.check) for e in record.papers if e.deep_read}
    assert sources[first.id] == ("html", "clean")
    assert {v for k, v in sources.items() if k != first.id} == {("pdf", "clean")}
    assert "解读依据：全文（HTML v1）· stand-in" in _page(tmp_path, DAY.isoformat())


def test_a_new_version_that_cannot_be_read_keeps_the_posted_read_until_a_later_run(tmp_path: Path) -> None:
    with Replacement(tmp_path, reread_new_versions=True) as r:
        v2 = r.host.pdfs.pop(REPLACED_ID)
        r.run()
        entry = r.posted()
        assert entry.new_version == REPLACED_ID and r.reads_of_it() == []
        assert entry.deep_read is not None and (entry.deep_read.text, entry.deep_read.version) == (OLD_READ, 1)
        assert entry.status == "done"
        r.host.put(REPLACED_ID, v2)
        r.run()
        assert len(r.reads_of_it()) == 1
        d = r.posted().deep_read
        assert d is not None and d.version == 2 and d.text != OLD_READ
