"""Small helpers shared by the tests: crafted records, seed lookup, readable golden diffs."""

from __future__ import annotations

import contextlib
import difflib
import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.core.record import Counts, DayRecord, Entry, TaskResult, WindowInfo

SHARED = Path(__file__).resolve().parents[2] / "shared"
# DIGEST_SEEDS_DIR lets a test run the suite as a fresh clone would (no ../shared beside it).
SEEDS = Path(os.environ["DIGEST_SEEDS_DIR"]) if os.environ.get("DIGEST_SEEDS_DIR") else SHARED / "seeds"


def seed_files() -> list[Path]:
    """The sample posts in ../shared/seeds, or a skip with the reason when they are absent."""
    files = sorted(SEEDS.glob("*.md")) if SEEDS.is_dir() else []
    if not files:
        pytest.skip(f"no seed posts at {SEEDS} (../shared is not beside the checkout)")
    return files


def assert_same_text(expected: str, actual: str, name: str = "post") -> None:
    """Golden comparison that fails with a unified diff instead of two walls of text."""
    if expected == actual:
        return
    diff = "\n".join(
        difflib.unified_diff(expected.splitlines(), actual.splitlines(), f"expected {name}", f"actual {name}",
                             lineterm="", n=2)
    )
    if not diff:
        diff = f"texts differ only in line endings or the final newline ({len(expected)} vs {len(actual)} chars)"
    pytest.fail(f"{name} differs:\n{diff[:6000]}", pytrace=False)


def make_entry(
    pid: str = "2601.00001v1",
    *,
    title: str = "A Test Paper on Speech",
    abstract: str = "We study speech.",
    translation: str | None = "我们研究语音。",
    deep_read: str | None = "1)  \n- 背景\n\n2)  \n- 方法\n\n3)  \n- 结果",
    deep_error: str | None = None,
    authors: list[str] | None = None,
) -> Entry:
    t = TaskResult(status="done", text=translation, model="m") if translation is not None else None
    if deep_error is not None:
        d: TaskResult | None = TaskResult(status="failed", error=deep_error)
    elif deep_read is not None:
        d = TaskResult(status="done", text=deep_read, model="m")
    else:
        d = None
    return Entry(
        id=pid,
        title=title,
        authors=authors or ["Ada Lovelace", "Alan Turing"],
        categories=["cs.SD", "eess.AS"],
        abstract=abstract,
        abs_url=f"https://arxiv.org/abs/{pid}",
        pdf_url=f"https://arxiv.org/pdf/{pid}",
        translation=t,
        deep_read=d,
    )


def make_record(entries: list[Entry], day: str = "2026-01-07") -> DayRecord:
    return DayRecord(
        date=day,
        window=WindowInfo(start="2026-01-06T08:50:00+08:00", end=f"{day}T08:50:00+08:00"),
        counts=Counts(fetched=len(entries), shown=len(entries)),
        papers=entries,
    )


def _invented_abstract(pid: str, chinese_chars: int) -> str:
    """English text of a realistic length (the seeds hold only the Chinese translation)."""
    sentence = f"English abstract of paper {pid}, invented for the replay test, about speech and audio. "
    return (sentence * (1 + (2 * chinese_chars) // len(sentence))).strip()


def seed_day(seed: Path):
    """A seed post's record and the Paper objects an arXiv stand-in should serve for its day.

    Submission times are spread inside the seed's window, newest first, in the seed's order, so
    basis `submitted` selects exactly the seed's papers in the seed's order.
    """
    from datetime import datetime, timedelta

    from digest.publish.importer import parse_post
    from digest.standins.arxiv_server import make_paper

    record = parse_post(seed.read_text(encoding="utf-8"), seed.name).record
    assert record is not None
    end = datetime.fromisoformat(record.window.end)
    papers = []
    for k, e in enumerate(record.papers):
        papers.append(
            make_paper(
                e.id,
                end - timedelta(minutes=30 + 37 * k),
                categories=e.categories,
                title=e.title,
                authors=e.authors,
                abstract=_invented_abstract(e.id, len(e.translation.text) if e.translation else 400),
            )
        )
    return record, papers


def write_config(site: Path, **sections: dict) -> Path:
    """A config.yaml in `site` with the given sections (merged over test-friendly defaults)."""
    import yaml

    base: dict = {"arxiv": {"delay_seconds": 0.05, "timeout_seconds": 10, "max_retries": 2}}
    for key, values in sections.items():
        base.setdefault(key, {}).update(values)
    path = site / "config.yaml"
    path.write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    return path


def write_standin_config(site: Path, arxiv, host, chat, *, basis: str = "submitted", **llm: object) -> Path:
    """A config.yaml pointing every service at the stand-ins; `llm` adds or overrides llm keys."""
    return write_config(
        site,
        arxiv={"api_url": arxiv.api_url, "listing_url": arxiv.listing_url,
               "pdf_download_url": host.pdf_url, "html_download_url": host.html_url},
        window={"basis": basis},
        llm={"base_url": chat.base_url, "api_key_env": "DIGEST_TEST_KEY", "model": "stand-in",
             "max_retries": 3, "timeout_seconds": 20, **llm},
    )


def seed_answerer(record):
    """A chat stand-in answer function that replies with a seed's own Chinese texts, by paper title."""
    from digest.standins.chat_server import user_prompt

    by_title = {e.title: e for e in record.papers}

    def answer(request: dict) -> str:
        user = user_prompt(request)
        for title, e in by_title.items():
            if title in user:
                if "<abstract>" in user:
                    return e.translation.text
                if e.deep_read is not None and e.deep_read.status == "done":
                    return e.deep_read.text
                return "1)  \n- 背景\n\n2)  \n- 方法\n\n3)  \n- 结果"
        raise AssertionError("the chat stand-in got a prompt for a paper it does not know")

    return answer


def seed_pdfs(record, papers, *, pages: int = 2) -> dict[str, bytes]:
    """A stand-in PDF per paper of a seed day: each states the figures its seed read cites, as real papers do."""
    from digest.enrich.figures import stated_numbers
    from digest.standins.pdfgen import make_paper_pdf_stating

    reads = {e.title: e.deep_read.text for e in record.papers if e.deep_read is not None and e.deep_read.text}
    return {p.id: make_paper_pdf_stating(p.title, stated_numbers(reads.get(p.title, "")), pages=pages) for p in papers}


def prepare_seed_site(site: Path, seed: Path):
    """Papers of a seed day, plus an earlier record holding the papers the seed's dedupe removed."""
    from datetime import datetime, timedelta

    from digest.core.store import write_record
    from digest.standins.arxiv_server import make_paper

    record, papers = seed_day(seed)
    start = datetime.fromisoformat(record.window.start)
    end = datetime.fromisoformat(record.window.end)
    missing = record.counts.fetched - record.counts.shown
    if missing:
        dup = [make_paper(f"2601.9980{k}v1", start + timedelta(minutes=k + 1)) for k in range(missing)]
        papers = papers + dup
        prev_day = (end - timedelta(days=1)).date().isoformat()
        write_record(site / "_data" / "digest", make_record([make_entry(p.id) for p in dup], day=prev_day))
    return record, papers


# ---------------------------------------------------------------- running digest


TEST_KEY = "sk-test-0123456789abcdef-not-a-real-key"


def run_digest(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m digest ARGS`; a run still going after `timeout` fails the test with every thread's stack.

    A hang seen once in CI is otherwise a bare TimeoutExpired: the stacks say where it waited.
    """
    cmd = [sys.executable, "-X", "faulthandler", "-m", "digest", *args]
    with subprocess.Popen(cmd, cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints all threads' stacks on SIGABRT
            out, err = proc.communicate()
            raise AssertionError(f"digest {' '.join(args)} still ran after {timeout:g} s; its stderr:\n{err}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def digest_cli(site: Path, *args: str, env: dict[str, str] | None = None, config: bool = True,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m digest ARGS --config site/config.yaml` in `site`, without the caller's API keys."""
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    full_env.update(env or {})
    extra = ["--config", str(site / "config.yaml")] if config else []
    return run_digest([*args, *extra], cwd=site, env=full_env, timeout=timeout)


class FakeModel:
    """The Model seam in-process: answers from a queue (or an answer function) and records every prompt.

    A queued exception (a digest.enrich.model error kind) is raised instead of answering.
    """

    def __init__(self, answer=None, name: str = "fake-model") -> None:
        self.name = name
        self.answers: list = []
        self.prompts: list[list[dict[str, str]]] = []
        self.answer_fn = answer

    def queue(self, *answers) -> FakeModel:
        self.answers.extend(answers)
        return self

    @property
    def calls(self) -> int:
        return len(self.prompts)

    def user_prompts(self) -> list[str]:
        return [m[-1]["content"] if m[-1]["role"] == "user" else "" for m in self.prompts]

    async def complete(self, messages):
        from digest.enrich.model import Completion

        self.prompts.append([dict(m) for m in messages])
        if self.answers:
            answer = self.answers.pop(0)
        elif self.answer_fn is not None:
            answer = self.answer_fn(messages)
        else:
            raise AssertionError("FakeModel: no answer queued")
        if isinstance(answer, BaseException):
            raise answer
        return Completion(text=answer, prompt_tokens=sum(len(m["content"]) for m in messages),
                          completion_tokens=len(answer))


def quiet_services(**kw):
    """Services for in-process runs: a reporter writing to a buffer (read it with .reporter.stream.getvalue())."""
    import io

    from digest.core.report import Reporter
    from digest.core.services import Services

    async def no_sleep(_s: float) -> None:
        return None

    kw.setdefault("reporter", Reporter(verbose=True, stream=io.StringIO()))
    kw.setdefault("async_sleep", no_sleep)
    return Services(**kw)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve a built site's folder over HTTP on 127.0.0.1 (a static host); yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
