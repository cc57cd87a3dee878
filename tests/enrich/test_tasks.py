"""The Task seam in-process through the Model fake: a toy third task is one module and one template, and a run
fills it, caches it (by paper version, task, model and prompt hash), fails it cleanly and reruns it for free."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import toy_title_task
from digest.core.config import Config, load_config
from digest.core.outcome import DayOutcome
from digest.core.record import Entry
from digest.core.services import Services
from digest.core.store import load_record
from digest.enrich import tasks
from digest.enrich.model import KeyRefused
from digest.enrich.plan import missing_tasks, required_tasks
from digest.pipeline import run_days
from digest.standins.arxiv_server import ArxivStandIn, make_paper
from digest.standins.chat_server import default_title_answer, is_title_batch
from digest.standins.pdf_host import PdfHost
from digest.standins.pdfgen import make_paper_pdf
from helpers import FakeModel, quiet_services, write_config

DAY = date(2026, 1, 7)
DEEP = "1)  \n- 背景：旧方法。\n\n2)  \n- 方法：新方法。\n\n3)  \n- 结果：更好。"
ZH_ABSTRACT = "我们研究了一种新的语音合成方法，并在多个数据集上验证了它的效果。"


def answer(messages) -> str:
    user = messages[1]["content"]
    if is_title_batch({"messages": messages}):  # the day's Chinese titles (enrich/titles.py): one batch call
        return default_title_answer({"messages": messages})
    if "<title_zh>" in user:
        return "一个关于语音的中文标题"
    if "<abstract>" in user and "<paper>" not in user:
        return ZH_ABSTRACT
    return DEEP


@pytest.fixture
def toy_task():
    tasks.register(toy_title_task.TASK)
    yield toy_title_task.TASK
    tasks.unregister(toy_title_task.TASK.name)


class ToySite:
    def __init__(self, tmp: Path) -> None:
        end = datetime(2026, 1, 7, 0, 50, tzinfo=UTC)  # 08:50 CST
        self.papers = [make_paper(f"2601.0000{k}v1", end - timedelta(hours=1 + k)) for k in range(3)]
        self.dir = tmp
        self.arxiv = ArxivStandIn(self.papers)
        self.host = PdfHost({p.id: make_paper_pdf("A generated paper", pages=2) for p in self.papers})
        (tmp / "templates" / "prompts").mkdir(parents=True)
        self.template = tmp / "templates" / "prompts" / "title_zh.j2"
        self.template.write_text(toy_title_task.TEMPLATE, encoding="utf-8")

    def __enter__(self) -> ToySite:
        self.arxiv.start()
        self.host.start()
        write_config(self.dir, arxiv={"api_url": self.arxiv.api_url, "listing_url": self.arxiv.listing_url,
                                      "pdf_download_url": self.host.pdf_url,
                                      "html_download_url": self.host.html_url},
                     window={"basis": "submitted"})
        return self

    def __exit__(self, *exc: object) -> None:
        self.arxiv.stop()
        self.host.stop()

    @property
    def cfg(self) -> Config:
        return load_config(self.dir / "config.yaml", required=True)

    def run(self, model: FakeModel, **kw) -> DayOutcome:
        services: Services = quiet_services(model=model)
        (out,) = run_days(self.cfg, [DAY], services, **kw)
        return out

    def record(self):
        return load_record(self.cfg.records_dir, DAY.isoformat())


def test_a_third_task_is_filled_cached_and_rerun_for_free(tmp_path: Path, toy_task) -> None:
    with ToySite(tmp_path) as site:
        model = FakeModel(answer)
        out = site.run(model)
        assert not out.stopped and out.failures == [] and out.stats.done == 3
        assert model.calls == 3 * 3 + 1 and out.stats.llm_calls == 10  # and one batch of Chinese titles
        record = site.record()
        for e in record.papers:
            assert e.result("title_zh").status == "done" and e.result("title_zh").text == "一个关于语音的中文标题"
            assert e.result("title_zh").model == "fake-model" and len(e.result("title_zh").prompt_hash) == 12
            assert e.status == "done"
        on_disk = json.loads((site.cfg.records_dir / f"{DAY}.json").read_text(encoding="utf-8"))
        assert set(on_disk["papers"][0]["results"]) == {"translation", "deep_read", "title_zh"}
        post = (site.cfg.posts_dir / f"{DAY}-arxiv.md").read_text(encoding="utf-8")
        assert ZH_ABSTRACT in post

        # Rerun of a complete day: no call, nothing rewritten.
        before = (site.cfg.records_dir / f"{DAY}.json").read_bytes()
        again = site.run(model)
        assert model.calls == 10 and again.stats.llm_calls == 0
        assert (site.cfg.records_dir / f"{DAY}.json").read_bytes() == before

        # The record gone, the cache answers every task of every paper.
        (site.cfg.records_dir / f"{DAY}.json").unlink()
        third = site.run(model)
        assert model.calls == 10 and third.stats.llm_calls == 0
        assert all(e.result("title_zh").status == "done" for e in site.record().papers)


def test_a_changed_prompt_asks_again_only_for_its_task(tmp_path: Path, toy_task) -> None:
    with ToySite(tmp_path) as site:
        model = FakeModel(answer)
        site.run(model)
        assert model.calls == 10
        (site.cfg.records_dir / f"{DAY}.json").unlink()
        site.template.write_text(toy_title_task.TEMPLATE.replace("只输出译名", "只输出译名，不加引号"),
                                 encoding="utf-8")
        out = site.run(model)
        assert model.calls == 10 + 3  # the toy task's three prompts; the rest from the cache
        assert all("<title_zh>" in p for p in model.user_prompts()[10:])
        assert out.stats.llm_calls == 3
        # A different model is a different key too.
        (site.cfg.records_dir / f"{DAY}.json").unlink()
        other = FakeModel(answer, name="other-model")
        site.run(other)
        assert other.calls == 9 + 1  # its own titles too


def test_a_failed_third_task_is_reported_and_only_it_is_rerun(tmp_path: Path, toy_task) -> None:
    with ToySite(tmp_path) as site:
        bad_title = site.papers[0].title

        def stubborn(messages) -> str:
            if f"<title_zh>{bad_title}</title_zh>" in messages[1]["content"]:
                return "Still English"
            return answer(messages)

        model = FakeModel(stubborn)
        out = site.run(model)
        assert model.calls == 9 + 1 + 1  # asked once more with the reason; one title batch
        assert out.stats.failed == 1
        assert [pid for pid, _ in out.failures] == [site.papers[0].id]
        assert "标题不是中文" in out.failures[0][1] and out.failures[0][1].endswith("下次运行将重试")
        failed = next(e for e in site.record().papers if e.id == site.papers[0].id)
        assert failed.status == "failed" and failed.translation.status == "done"

        healed = FakeModel(answer)
        again = site.run(healed)
        assert healed.calls == 1 and "<title_zh>" in healed.user_prompts()[0]
        assert again.failures == [] and again.stats.done == 3


def test_registering_a_task_makes_complete_papers_pending(toy_task) -> None:
    from helpers import make_entry

    entry = make_entry()
    assert entry.status_for(required_tasks()) == "pending"
    assert [t.name for t in missing_tasks(entry)] == ["title_zh"]
    assert [t.name for t in missing_tasks(entry, force=True)] == ["deep_read", "translation", "title_zh"]


def test_the_built_in_tasks_are_discovered() -> None:
    names = [t.name for t in tasks.all_tasks()]
    assert names == ["deep_read", "translation"]
    assert tasks.get("translation").required and not tasks.get("deep_read").required


def test_old_records_with_top_level_results_still_load() -> None:
    old = {
        "id": "2601.00001v1", "title": "T", "authors": [], "categories": ["cs.SD"], "abstract": "A",
        "abs_url": "u", "pdf_url": "p", "status": "done",
        "translation": {"status": "done", "text": "译文"},
        "deep_read": None,
    }
    e = Entry.model_validate(old)
    assert e.translation is not None and e.translation.text == "译文" and e.deep_read is None
    assert e.model_dump(mode="json")["results"] == {"translation": e.translation.model_dump(mode="json")}
    assert "translation" not in e.model_dump()


def test_a_refused_key_stops_the_run_through_the_model_seam(tmp_path: Path) -> None:
    with ToySite(tmp_path) as site:
        model = FakeModel().queue(*[KeyRefused("the model refused the key: put a valid key in X")] * 20)
        out = site.run(model)
        assert out.stopped == "the model refused the key: put a valid key in X"
        assert model.calls <= site.cfg.llm.concurrency
        assert all(e.status == "pending" for e in site.record().papers)


def test_every_timestamp_comes_from_the_injected_clock(tmp_path: Path) -> None:
    frozen = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    with ToySite(tmp_path) as site:
        del site.host.pdfs[site.papers[0].id]  # a failed full text is stamped too
        services = quiet_services(model=FakeModel(answer), clock=lambda: frozen)
        (out,) = run_days(site.cfg, [DAY], services)
        record = site.record()
        assert [pid for pid, _ in out.failures] == [site.papers[0].id]
        stamps = {r.at for e in record.papers for r in e.results.values()}
        stamps |= {e.title_zh_result.at for e in record.papers if e.title_zh_result is not None}
        assert stamps == {"2030-05-06T07:08:09+00:00"}
        assert record.stats.finished_at == "2030-05-06T07:08:09+00:00"
        lock = json.loads((site.cfg.records_dir / ".digest.lock").read_text())
        assert lock["since"] == "2030-05-06T07:08:09+00:00"
