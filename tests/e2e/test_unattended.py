"""Issue 14: runs left unattended. The real OpenAIModel talks to chat stand-ins on 127.0.0.1: a closed port, a
primary without balance and a fallback, a token budget, a provider that serves 4 calls at once; then the reporting.
(`digest check` against the stand-ins is in test_check.py.)"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.outcome import DayOutcome, summary_lines
from digest.core.record import DayRecord
from digest.core.report import plural
from digest.core.services import Services
from digest.enrich.model import Completion, ModelChain, Provider, ServiceUnreachable, Unreachable
from digest.pipeline import run_days
from digest.publish.importer import parse_post
from digest.publish.markdown import DEEP_READ_DEFERRED, render_post, template_env
from digest.standins.arxiv_server import ArxivStandIn, make_paper
from digest.standins.chat_server import ChatStandIn, default_answer
from digest.standins.pdf_host import PdfHost
from digest.standins.pdfgen import make_paper_pdf
from helpers import (
    TEST_KEY,
    assert_same_text,
    digest_cli,
    quiet_services,
    seed_answerer,
    seed_files,
    write_config,
    write_standin_config,
)
from tests.e2e.test_run_enrich import Site

DAY = date(2026, 1, 7)
FALLBACK_KEY = "sk-fallback-0123456789-not-real"


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was just free)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class Day:
    """A day of `n` invented papers (submitted inside the 2026-01-07 window) served by arXiv, PDF and chat stand-ins."""

    def __init__(self, tmp: Path, n: int = 20, *, chat: ChatStandIn | None = None, **llm: object) -> None:
        self.dir = tmp
        end = datetime(2026, 1, 7, 0, 40, tzinfo=UTC)  # the window ends at 08:50 CST = 00:50 UTC
        self.papers = [
            make_paper(f"2601.{10001 + k:05d}v1", end - timedelta(minutes=20 * k),
                       title=f"Invented speech study {k}", abstract=f"We study invented speech problem {k}. " * 6)
            for k in range(n)
        ]
        self.arxiv = ArxivStandIn(self.papers)
        self.host = PdfHost({p.id: make_paper_pdf(p.title, pages=2) for p in self.papers})
        self.chat = chat or ChatStandIn()
        self.llm = llm

    def __enter__(self) -> Day:
        self.dir.mkdir(parents=True, exist_ok=True)
        for s in (self.arxiv, self.host, self.chat):
            s.start()
        self.configure()
        return self

    def configure(self, **llm: object) -> None:
        write_standin_config(self.dir, self.arxiv, self.host, self.chat, **{**self.llm, **llm})

    def __exit__(self, *exc: object) -> None:
        for s in (self.arxiv, self.host, self.chat):
            s.stop()

    def run(self, services: Services | None = None, *, force: bool = False) -> DayOutcome:
        services = services or quiet_services(environ={"DIGEST_TEST_KEY": TEST_KEY})
        cfg = load_config(self.dir / "config.yaml", required=True)
        (outcome,) = run_days(cfg, [DAY], services, force=force)
        self.log = services.reporter.stream.getvalue()
        return outcome

    def cli(self, *extra: str, env: dict[str, str] | None = None):
        return digest_cli(self.dir, "run", "--date", DAY.isoformat(), *extra,
                          env={"DIGEST_TEST_KEY": TEST_KEY, **(env or {})})

    @property
    def post_file(self) -> Path:
        return self.dir / "_posts" / f"{DAY.isoformat()}-arxiv.md"

    @property
    def record_file(self) -> Path:
        return self.dir / "_data" / "digest" / f"{DAY.isoformat()}.json"

    def record(self) -> DayRecord:
        return DayRecord.model_validate(json.loads(self.record_file.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- 1. the model service unreachable


def test_closed_port_stops_with_one_message_and_the_complete_post_stays_byte_identical(tmp_path: Path) -> None:
    with Day(tmp_path, 6) as day:
        first = day.cli()
        assert first.returncode == 0, first.stderr
        post, record = day.post_file.read_bytes(), day.record_file.read_bytes()

        url = closed_port_url()
        day.configure(base_url=url)
        proc = day.cli("--force")
        assert proc.returncode == 1, proc.stderr
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("digest: error:")]
        assert len(errors) == 1, proc.stderr
        assert url in errors[0] and "llm.base_url" in errors[0]
        assert "Traceback" not in proc.stderr
        assert "failed 2601" not in proc.stderr  # no per-paper failure lines for a service that is down
        assert day.post_file.read_bytes() == post
        assert day.record_file.read_bytes() == record


def test_closed_port_on_a_new_day_keeps_the_listing_without_failure_notes(tmp_path: Path) -> None:
    with Day(tmp_path, 4) as day:
        url = closed_port_url()
        day.configure(base_url=url, concurrency=1)
        proc = day.cli()
        assert proc.returncode == 1
        assert url in proc.stderr and "llm.base_url" in proc.stderr
        # what was done (the listing) is kept: English abstracts, pending, no failure placeholders
        post = day.post_file.read_text(encoding="utf-8")
        assert "译文暂缺" not in post and "全文解读失败" not in post
        assert all(e.status == "pending" and not e.results for e in day.record().papers)
        with ChatStandIn() as chat:
            day.configure(base_url=chat.base_url)
            again = day.cli()
            assert again.returncode == 0, again.stderr
            assert len(chat.calls) == 8 and all(e.status == "done" for e in day.record().papers)


def test_the_chain_gives_up_after_three_unreachable_answers_in_a_row() -> None:
    class Down:
        name = "down"
        calls = 0

        async def complete(self, messages):
            Down.calls += 1
            raise Unreachable("无法连接模型服务", url="http://127.0.0.1:9/v1")

    class Up:
        name = "up"

        async def complete(self, messages):
            return Completion("好", 1, 1)

    async def ask(chain: ModelChain) -> Completion:
        for _ in range(5):
            try:
                return await chain.complete([])
            except ServiceUnreachable:
                raise
            except Unreachable:
                continue
        raise AssertionError("never answered")

    alone = ModelChain([Provider(Down(), "http://127.0.0.1:9/v1", "llm")])
    with pytest.raises(ServiceUnreachable, match=r"http://127\.0\.0\.1:9/v1.*llm\.base_url"):
        asyncio.run(ask(alone))
    assert Down.calls == 3

    chain = ModelChain([Provider(Down(), "http://127.0.0.1:9/v1", "llm"),
                        Provider(Up(), "http://127.0.0.1:10/v1", "llm.fallbacks[0]")])
    answer = asyncio.run(ask(chain))
    assert answer.model == "up" and "unreachable" in answer.fallback and "llm at http://127.0.0.1:9/v1" in answer.fallback


def test_an_answer_between_unreachable_ones_resets_the_count() -> None:
    class Flaky:
        name = "flaky"
        script = ["down", "down", "up", "down", "down", "up"]

        async def complete(self, messages):
            if Flaky.script.pop(0) == "down":
                raise Unreachable("无法连接模型服务")
            return Completion("好", 1, 1)

    chain = ModelChain([Provider(Flaky(), "http://127.0.0.1:9/v1", "llm")])
    answers = 0
    for _ in range(6):
        try:
            asyncio.run(chain.complete([]))
            answers += 1
        except ServiceUnreachable:
            raise AssertionError("gave up although no three were in a row") from None
        except Unreachable:
            pass
    assert answers == 2


@pytest.mark.parametrize("refusal", ["key", "balance", "model"])
def test_each_fatal_refusal_moves_to_the_next_provider_and_the_last_one_ends_the_run(refusal: str) -> None:
    from digest.enrich.model import BalanceGone, KeyRefused, UnknownModel

    kind = {"key": KeyRefused, "balance": BalanceGone, "model": UnknownModel}[refusal]

    class Refuses:
        def __init__(self, name: str) -> None:
            self.name = name

        async def complete(self, messages):
            raise kind(f"{self.name} refused (HTTP 4xx)")

    class Answers:
        name = "third"

        async def complete(self, messages):
            return Completion("好", 2, 3)

    chain = ModelChain([Provider(Refuses("first"), "http://a/v1", "llm"),
                        Provider(Refuses("second"), "http://b/v1", "llm.fallbacks[0]"),
                        Provider(Answers(), "http://c/v1", "llm.fallbacks[1]")])
    answer = asyncio.run(chain.complete([]))
    assert answer.model == "third" and answer.prompt_tokens == 2
    assert "llm at http://a/v1" in answer.fallback and "llm.fallbacks[0] at http://b/v1" in answer.fallback

    dead = ModelChain([Provider(Refuses("first"), "http://a/v1", "llm"),
                       Provider(Refuses("second"), "http://b/v1", "llm.fallbacks[0]")])
    with pytest.raises(kind, match=r"second refused.*every provider failed: llm at http://a/v1"):
        asyncio.run(dead.complete([]))


# ---------------------------------------------------------------- 2. fallback providers


def _seed_without_failures() -> Path:
    seeds = [s for s in seed_files() if "全文解读失败" not in s.read_text(encoding="utf-8")]
    if not seeds:
        pytest.skip("no seed without failed deep reads")
    return seeds[0]


def test_no_balance_on_the_primary_the_fallback_serves_the_whole_day(tmp_path: Path) -> None:
    seed = _seed_without_failures()
    fallback = ChatStandIn(latency=0.02)
    with Site(tmp_path, seed) as site, fallback:
        fallback.answer(seed_answerer(site.record))
        site.chat.fail_next(*[ChatStandIn.error(402, "Insufficient Balance")] * 500)
        write_config(
            tmp_path,
            arxiv={"api_url": site.arxiv.api_url, "listing_url": site.arxiv.listing_url,
                   "pdf_download_url": site.host.pdf_url, "html_download_url": site.host.html_url},
            window={"basis": "submitted"},
            llm={"base_url": site.chat.base_url, "api_key_env": "DIGEST_TEST_KEY", "model": "stand-in",
                 "concurrency": 4, "max_retries": 3,
                 "fallbacks": [{"base_url": fallback.base_url, "model": "fallback-model",
                                "api_key_env": "DIGEST_FALLBACK_KEY", "extra_body": {"thinking": {"type": "disabled"}}}]},
        )
        proc = digest_cli(tmp_path, "run", "--date", site.record.date,
                          env={"DIGEST_TEST_KEY": TEST_KEY, "DIGEST_FALLBACK_KEY": FALLBACK_KEY})
        assert proc.returncode == 0, proc.stderr
        # byte-identical to a normal run (which replays the seed byte for byte, see test_run_enrich)
        assert_same_text(seed.read_text(encoding="utf-8"), site.post, seed.name)
        record = DayRecord.model_validate_json(
            (tmp_path / "_data" / "digest" / f"{site.record.date}.json").read_text(encoding="utf-8"))
        results = [r for e in record.papers for r in e.results.values()]
        assert results and {r.model for r in results} == {"fallback-model"}
        assert all("has no balance (HTTP 402)" in r.fallback for r in results)
        assert "fallback: fallback-model answered" in proc.stderr and "has no balance (HTTP 402)" in proc.stderr
        assert len(site.chat.requests) <= 4 + 1  # the primary is given up at its first refusals
        assert all(c.get("thinking") == {"type": "disabled"} for c in fallback.calls)  # its own extra_body
        assert TEST_KEY not in proc.stderr and FALLBACK_KEY not in proc.stderr


def test_extra_body_is_sent_and_reasoning_never_reaches_the_post(tmp_path: Path) -> None:
    def thinking(req: dict) -> str:
        return "<think>Let me think in English about this paper at length.</think>\n" + default_answer(req)

    chat = ChatStandIn()
    chat.answer(thinking)
    chat.reasoning = "Reasoning trace: weighing the abstract sentence by sentence."
    with Day(tmp_path, 3, chat=chat, extra_body={"thinking": {"type": "disabled"}}) as day:
        out = day.run()
        assert out.stats.failed == 0 and out.stats.done == 3
        assert all(c["thinking"] == {"type": "disabled"} for c in chat.calls)
        text = day.post_file.read_text(encoding="utf-8")
        assert "think" not in text and "Let me think" not in text and "Reasoning trace" not in text


# ---------------------------------------------------------------- 3. the token budget


def _tokens(out: DayOutcome) -> int:
    return out.stats.prompt_tokens + out.stats.completion_tokens


def test_a_budget_of_half_the_day_translates_everything_defers_deep_reads_and_never_pays_twice(
    tmp_path: Path,
) -> None:
    with Day(tmp_path / "normal") as normal:
        full = normal.run()
        assert full.stats.done == 20
        need, calls = _tokens(full), len(normal.chat.calls)
        normal_post = normal.post_file.read_text(encoding="utf-8")
        biggest = max(r.prompt_tokens + r.completion_tokens for e in normal.record().papers for r in e.results.values())

    budget = need // 2
    with Day(tmp_path / "budget", max_tokens_per_run=budget) as day:
        first = day.run()
        assert _tokens(first) <= budget + biggest
        record = day.record()
        assert all(e.translation is not None and e.translation.status == "done" for e in record.papers)
        deferred = [e for e in record.papers if e.deep_read is not None and e.deep_read.status == "deferred"]
        assert 0 < len(deferred) < 20 and first.stats.deferred == len(deferred)
        post = day.post_file.read_text(encoding="utf-8")
        assert post.count(DEEP_READ_DEFERRED) == len(deferred)
        assert DEEP_READ_DEFERRED == "（全文解读排队中：本次运行的 token 预算已用完，下次运行继续）"
        assert first.stats.token_budget == budget and first.stats.failed == 0

        runs = 1
        while day.record().papers and any(e.status != "done" for e in day.record().papers):
            later = day.run()
            assert _tokens(later) <= budget + biggest
            runs += 1
            assert runs <= 4, "the deferred deep reads never finished"
        assert len(day.chat.calls) == calls  # every task asked once over all runs
        assert_same_text(normal_post, day.post_file.read_text(encoding="utf-8"), "post after the budgeted runs")


def test_the_deferral_note_reads_back_as_a_deferred_deep_read() -> None:
    from helpers import make_entry, make_record

    entry = make_entry(deep_read=None)
    from digest.core.record import TaskResult

    entry.deep_read = TaskResult(status="deferred", error="token budget of this run used up")
    text = render_post(make_record([entry]), env=template_env())
    assert DEEP_READ_DEFERRED in text
    parsed = parse_post(text, "2026-01-07-arxiv.md")
    assert parsed.record is not None and not parsed.problems
    back = parsed.record.papers[0]
    assert back.deep_read is not None and back.deep_read.status == "deferred" and back.status == "pending"


def test_prices_turn_tokens_into_cost_in_the_summary_and_the_record(tmp_path: Path) -> None:
    with Day(tmp_path, 2, price_per_million_input=1.0, price_per_million_output=2.0, currency="CNY",
             max_tokens_per_run=10_000_000) as day:
        proc = day.cli()
        assert proc.returncode == 0, proc.stderr
        stats = day.record().stats
        assert stats.cost == pytest.approx((stats.prompt_tokens + 2 * stats.completion_tokens) / 1e6)
        assert stats.currency == "CNY"
        line = next(ln for ln in proc.stderr.splitlines() if " | LLM calls " in ln)
        assert f"cost {stats.cost:.4f} CNY" in line and "of a 10000000 budget" in line


# ---------------------------------------------------------------- 4. adaptive concurrency


def test_a_provider_serving_four_calls_at_once_gets_few_429s(tmp_path: Path) -> None:
    # 20 papers, 40 calls of 1 s each, llm.concurrency 8; the stand-in serves 4 at once and answers 429 beyond.
    # The wall time (target 1.3 x 10 s) is measured by benchmarks/bench_unattended.py, not asserted here.
    chat = ChatStandIn(latency=1.0, max_parallel=4)
    with Day(tmp_path, 20, chat=chat, concurrency=8, max_retries=5) as day:
        services = quiet_services(environ={"DIGEST_TEST_KEY": TEST_KEY}, async_sleep=asyncio.sleep)
        out = day.run(services)
        assert out.stats.done == 20 and out.stats.failed == 0
        assert len(chat.calls) == 40
        assert chat.parallel_rejections <= 12
        assert chat.peak_in_flight == 4
        # the record and the summary say how often the provider pushed back
        assert out.stats.rate_limited == chat.parallel_rejections > 0
        assert f"; {plural(chat.parallel_rejections, 'answer')} of 429)" in summary_lines(out)[0]


# ---------------------------------------------------------------- 6. reporting


def test_verbose_names_the_stages_and_each_paper_as_it_finishes(tmp_path: Path) -> None:
    with Day(tmp_path, 3) as day:
        proc = day.cli("-v")
        assert proc.returncode == 0, proc.stderr
        err = proc.stderr
        assert "fetch: arXiv listed 3 papers" in err
        for stage in ("downloads 3/3", "translations 3/3", "deep reads 3/3"):
            assert f"2026-01-07: {stage}" in err
        finished = re.findall(r"^2026-01-07: (2601\.\d{5}v1) done \(deep read done, translation done\) \[\d/3\]$",
                              err, re.M)
        assert sorted(finished) == sorted(p.id for p in day.papers)
        assert "2026-01-07: writing the record and the post" in err


def test_arxiv_waits_are_shown_as_they_happen(tmp_path: Path) -> None:
    with Day(tmp_path, 2) as day:
        day.arxiv.error_next(503, times=2)
        proc = day.cli("--no-llm")
        assert proc.returncode == 0, proc.stderr
        waits = re.findall(r"^arXiv 503, retrying in [\d.]+ s \((\d)/(\d)\)$", proc.stderr, re.M)
        assert [w[0] for w in waits] == ["1", "2"] and {w[1] for w in waits} == {"2"}


def test_model_waits_show_with_verbose(tmp_path: Path) -> None:
    with Day(tmp_path, 2) as day:
        day.chat.fail_first_attempts(rate=1.0, statuses=(503,))
        out = day.run()
        assert out.stats.done == 2
        waits = re.findall(r"^model 503, retrying in 1 s \(1/3\)$", day.log, re.M)
        assert len(waits) == 4  # every first attempt, each once


def test_one_failure_line_per_paper_naming_the_part_and_strict_exits_3(tmp_path: Path) -> None:
    with Day(tmp_path, 3) as day:
        bad = day.papers[0]
        del day.host.pdfs[bad.id]
        good = default_answer

        def answer(req: dict) -> str:
            if day.papers[1].title in json.dumps(req, ensure_ascii=False) and "<abstract>" in str(req):
                return "English only, no Chinese at all."
            return good(req)

        day.chat.answer(answer)
        proc = day.cli()
        assert proc.returncode == 0, proc.stderr  # failures are retried by the next run: not an error
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("  failed ")]
        assert len(lines) == 2
        assert any(ln.startswith(f"  failed {bad.id}: deep read failed: ") for ln in lines)
        assert any(ln.startswith(f"  failed {day.papers[1].id}: translation failed: ") for ln in lines)

        strict = day.cli("--strict")
        assert strict.returncode == 3
        assert "--strict: 2 papers still failing" in strict.stderr


def test_an_empty_day_is_reported_once(tmp_path: Path) -> None:
    with Day(tmp_path, 0) as day:
        proc = day.cli()
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.count("arXiv listed no papers") == 1
        assert "fetch: arXiv listed 0 papers" in proc.stderr


def test_a_refused_key_says_so_before_the_summary_and_exits_1(tmp_path: Path) -> None:
    with Day(tmp_path, 3) as day:
        day.chat.fail_next(*[ChatStandIn.error(401, "Incorrect API key provided")] * 50)
        proc = day.cli()
        assert proc.returncode == 1
        err = proc.stderr.splitlines()
        error = next(i for i, ln in enumerate(err) if ln.startswith("digest: error:"))
        assert "DIGEST_TEST_KEY" in err[error]
        later = [ln for ln in err[error:] if ln.startswith("digest: error") or ln.startswith("warning:")]
        assert len(later) == 1  # one message, not one per paper


def test_the_demo_summary_has_the_readme_fields(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = next(ln for ln in readme.splitlines() if re.match(r"^\d{4}-\d\d-\d\d: fetched ", ln))

    def fields(line: str) -> list[str]:
        line = line.split(" -> ")[0]
        return [re.sub(r"[\d.]+s? ?|\(.*?\)", "", f).strip() for f in line.split(": ", 1)[1].split(" | ")]

    proc = digest_cli(tmp_path, "demo", "--out", str(tmp_path / "demo"), config=False)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in (proc.stdout + proc.stderr).splitlines() if re.match(r"^\d{4}-\d\d-\d\d: fetched ", ln))
    assert fields(line) == fields(example)


# ---------------------------------------------------------------- 7. validation gaps


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("arxiv: {categories: [cs.XX]}", 'arxiv.categories: "cs.XX" is not an arXiv category'),
        ("llm: {concurrency: 0}", "llm.concurrency: expected a whole number from 1 to 256"),
        ("llm: {api_key: sk-abc}", "put the key in the environment variable named by llm.api_key_env"),
        ("llm: {max_tokens_per_run: 0}", "llm.max_tokens_per_run: expected a whole number of 1 or more"),
        ("llm: {fallbacks: [{base_url: 'http://127.0.0.1:9/v1', model: m}]}", "llm.fallbacks[0].api_key_env: missing"),
    ],
)
def test_config_gaps_get_messages_naming_the_key(tmp_path: Path, yaml_text: str, expected: str) -> None:
    (tmp_path / "config.yaml").write_text(yaml_text + "\n", encoding="utf-8")
    proc = digest_cli(tmp_path, "run", "--no-llm")
    assert proc.returncode == 2
    assert expected in proc.stderr and "Traceback" not in proc.stderr and "sk-abc" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_posts_dir_that_is_a_file_stops_before_fetching(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    (tmp_path / "config.yaml").write_text("site: {posts_dir: afile}\narxiv: {api_url: 'http://127.0.0.1:9/api'}\n",
                                          encoding="utf-8")
    proc = digest_cli(tmp_path, "run", "--no-llm")
    assert proc.returncode == 2
    assert "site.posts_dir" in proc.stderr and "is a file, not a folder" in proc.stderr
    assert "arXiv" not in proc.stderr  # nothing was fetched


def test_a_date_far_in_the_future_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("{}\n", encoding="utf-8")
    proc = digest_cli(tmp_path, "run", "--date", "2999-01-01")
    assert proc.returncode == 2 and "is in the future" in proc.stderr


def test_the_workflow_checks_first_and_only_its_last_scheduled_run_is_strict() -> None:
    import yaml

    flow = yaml.safe_load((Path(__file__).resolve().parents[2] / ".github" / "workflows" / "daily.yml").read_text())
    crons = [c["cron"] for c in flow[True]["schedule"]]  # YAML 1.1 reads the key `on` as True
    steps = flow["jobs"]["run"]["steps"]
    names = [s.get("name", "") for s in steps]
    assert names.index("Preflight") < names.index("Run") and "digest check" in steps[names.index("Preflight")]["run"]
    run = steps[names.index("Run")]
    last = run["env"]["LAST_RUN"]
    assert last in crons and run["env"]["SCHEDULE"] == "${{ github.event.schedule }}"
    hour = lambda c: max(int(h) for h in re.findall(r"\d+", c.split()[1]))  # noqa: E731
    assert hour(last) == max(hour(c) for c in crons) and sum(hour(c) == hour(last) for c in crons) == 1
    assert '--strict' in run["run"] and '"$SCHEDULE" = "$LAST_RUN"' in run["run"]


def test_stage_rows_on_a_terminal_and_stage_lines_on_a_pipe() -> None:
    import io

    from digest.core.report import Reporter

    pipe = Reporter(stream=io.StringIO(), progress=False)
    with pipe.stages("2026-01-07", {"translations": 2, "deep reads": 1, "downloads": 0}) as advance:
        advance("translations")
        assert "translations" not in pipe.stream.getvalue()  # a line when the stage is through, not per step
        advance("translations")
        advance("deep reads")
    assert pipe.stream.getvalue().splitlines() == ["2026-01-07: translations 2/2", "2026-01-07: deep reads 1/1"]

    term = Reporter(stream=io.StringIO(), progress=True, verbose=True)
    with term.stages("2026-01-07", {"translations": 2, "deep reads": 1}) as advance:
        for stage in ("translations", "translations", "deep reads"):
            advance(stage)
    assert "2026-01-07: translations 2/2" in term.stream.getvalue()
