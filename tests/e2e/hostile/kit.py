"""Shared pieces of the hostile suite: a site wired to the stand-ins, the post safety checker, output capture."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from digest.core.record import Paper
from digest.standins.arxiv_server import ArxivStandIn, make_paper
from digest.standins.chat_server import ChatStandIn, default_answer, user_prompt  # noqa: F401 - re-exported
from digest.standins.pdf_host import PdfHost
from digest.standins.pdfgen import make_paper_pdf
from tests.helpers import run_digest

# A distinctive fake key: if it shows up anywhere on disk or in output, something leaked it.
KEY = "sk-hostile-7f3a9c1e5b2d4f60aa11-leak-canary"
KEY_ENV = "DIGEST_HOSTILE_KEY"
DAY = "2026-01-07"
# The window of DAY ends at 08:50 China time, 00:50 UTC.
WINDOW_END = datetime(2026, 1, 7, 0, 50, tzinfo=UTC)
# A run of a few papers takes seconds; this only ends one that hangs (and prints where: see run_digest). It is
# generous because a CI machine shared by many suites once took over two minutes for one such run.
RUN_TIMEOUT = 300.0
DEEP_OK = "1)  \n- **研究背景**：旧方法在混响中不稳定。\n\n2)  \n- **核心方法**：提出新的编码器。\n\n3)  \n- **实验效果**：错误率明显下降。"

_BASE_PDF: bytes | None = None


def base_pdf() -> bytes:
    """One small generated paper, made once per test process."""
    global _BASE_PDF
    if _BASE_PDF is None:
        _BASE_PDF = make_paper_pdf("A generated paper for hostile tests", pages=2)
    return _BASE_PDF


def invented_papers(n: int) -> list[Paper]:
    """n invented papers inside DAY's window, newest first."""
    return [
        make_paper(
            f"2601.{10001 + k:05d}v1",
            WINDOW_END - timedelta(minutes=20 + 45 * k),
            categories=("cs.SD", "eess.AS"),
            title=f"Hostile fixture paper {k} on reverberant speech",
            abstract=f"We describe invented experiment number {k} about separating speech in echoing rooms.",
        )
        for k in range(n)
    ]


def is_deep_read(request: dict[str, Any]) -> bool:
    return "<paper>" in user_prompt(request)


def deep_only(fn: Any) -> Any:
    """An answerer that applies fn to deep-read prompts and answers translations normally."""

    def answer(request: dict[str, Any]) -> str:
        return fn(request) if is_deep_read(request) else default_answer(request)

    return answer


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k].update(v)
        else:
            out[k] = v
    return out


class HostileSite:
    """A site folder whose config points at an arXiv, a PDF host and a chat stand-in; runs the real CLI."""

    def __init__(self, root: Path, n: int = 3, *, papers: list[Paper] | None = None, chat_latency: float = 0.0,
                 **sections: dict[str, Any]) -> None:
        self.dir = root
        self.papers = papers if papers is not None else invented_papers(n)
        self.arxiv = ArxivStandIn(self.papers)
        self.host = PdfHost({p.id: base_pdf() for p in self.papers})
        self.chat = ChatStandIn(latency=chat_latency)
        self.sections = sections
        self.outputs: list[str] = []  # every stdout/stderr seen, for the secrets checks

    def __enter__(self) -> HostileSite:
        for s in (self.arxiv, self.host, self.chat):
            s.start()
        self.write_config()
        return self

    def __exit__(self, *exc: object) -> None:
        for s in (self.arxiv, self.host, self.chat):
            s.stop()

    def write_config(self, **more: dict[str, Any]) -> None:
        base: dict[str, Any] = {
            "arxiv": {"api_url": self.arxiv.api_url, "listing_url": self.arxiv.listing_url,
                      "pdf_download_url": self.host.pdf_url, "html_download_url": self.host.html_url,
                      "delay_seconds": 0.05, "timeout_seconds": 5, "max_retries": 2},
            "window": {"basis": "submitted"},
            "llm": {"base_url": self.chat.base_url, "api_key_env": KEY_ENV, "model": "stand-in",
                    "concurrency": 4, "max_retries": 1, "timeout_seconds": 5},
            "fulltext": {"max_retries": 1, "timeout_seconds": 5},
        }
        data = _merge(_merge(base, self.sections), more)
        (self.dir / "config.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    # -- running the CLI

    def env(self, key: str | None = KEY) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.pop(KEY_ENV, None)
        if key is not None:
            env[KEY_ENV] = key
        return env

    def digest(self, *args: str, key: str | None = KEY, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        proc = run_digest([*args, "--config", str(self.dir / "config.yaml")], cwd=self.dir, env=self.env(key),
                          timeout=timeout)
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def run(self, *extra: str, key: str | None = KEY, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return self.digest("run", "--date", DAY, *extra, key=key, timeout=timeout)

    def popen(self, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "digest", "run", "--date", DAY, *extra, "--config", str(self.dir / "config.yaml")],
            cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env(),
        )

    # -- what is on disk

    @property
    def post_file(self) -> Path:
        return self.dir / "_posts" / f"{DAY}-arxiv.md"

    @property
    def record_file(self) -> Path:
        return self.dir / "_data" / "digest" / f"{DAY}.json"

    @property
    def post(self) -> str:
        return self.post_file.read_text(encoding="utf-8")

    @property
    def record(self) -> dict[str, Any]:
        data = json.loads(self.record_file.read_text(encoding="utf-8"))
        for e in data["papers"]:
            # Records keep task results under "results" by task name; these tests read them by task name.
            for name in ("translation", "deep_read"):
                e.setdefault(name, e.get("results", {}).get(name))
        return data

    def entry(self, paper_id: str) -> dict[str, Any]:
        for e in self.record["papers"]:
            if e["id"] == paper_id:
                return e
        raise AssertionError(f"{paper_id} is not in the record")

    def section(self, paper_id: str) -> str:
        """The part of the post that belongs to one paper (from its heading to the next)."""
        parts = re.split(r"(?m)^(?=## )", self.post)
        for part in parts:
            if f"/abs/{paper_id})" in part:
                return part
        raise AssertionError(f"{paper_id} is not in the post")


# ---------------------------------------------------------------- the safety checker

_UNSAFE_ELEMENT = re.compile(r"<\s*(script|iframe|style|object|embed)\b", re.I)
_OPEN_TAG = re.compile(r"<[A-Za-z][^<>]*")
_EVENT_ATTR = re.compile(r"(^|[\s\"'/])on[a-z]+\s*=", re.I)
_ANY_HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")


def assert_post_safe(post: str, n_papers: int, *, details: bool | None = True) -> None:
    """Fail unless the post is whole and harmless; details: one block per paper (True), none (False), 0-1 (None)."""
    assert post.startswith("---\n"), "post does not start with front matter"
    front, sep, body = post[4:].partition("\n---\n")
    assert sep, "front matter is not closed"
    meta = yaml.safe_load(front)
    assert isinstance(meta, dict) and meta.get("layout") == "post" and isinstance(meta.get("title"), str)

    assert not _UNSAFE_ELEMENT.search(body), f"unsafe element: {_UNSAFE_ELEMENT.search(body).group(0)!r}"
    for tag in _OPEN_TAG.finditer(body):
        assert not _EVENT_ATTR.search(tag.group(0)), f"event-handler attribute in {tag.group(0)[:80]!r}"
    assert "javascript:" not in body.lower(), "a javascript: URL survived"

    if "{% raw %}" in body or "{% endraw %}" in body:
        assert body.startswith("\n{% raw %}\n") or body.startswith("{% raw %}\n"), "raw wrapper not at the start"
        # Inside the block a `{% raw %}` is plain text; only an endraw would end it early.
        assert len(re.findall(r"\{%-?\s*endraw\s*-?%\}", body)) == 1, "more than one live endraw"
        assert body.endswith("---\n{% endraw %}\n"), "the wrapper's {% endraw %} is not the last line"
    else:
        assert "{{" not in body and "{%" not in body, "Liquid syntax outside a raw block"
        assert body.endswith("---\n")

    headings = [ln for ln in body.splitlines() if _ANY_HEADING.match(ln)]
    assert len(headings) == n_papers and all(h.startswith("## ") for h in headings), f"headings: {headings[:6]}"
    sections = re.split(r"(?m)^(?=## )", body)[1:]
    assert len(sections) == n_papers
    for s in sections:
        opened, closed = s.count("<details>"), s.count("</details>")
        assert opened == closed, f"<details> {opened} vs </details> {closed} in {s[:80]!r}"
        assert opened in ((0, 1) if details is None else (int(details),)), f"{opened} <details> in {s[:80]!r}"
        assert s.count("<div") == s.count("</div>"), f"<div> unbalanced in {s[:80]!r}"
        if opened:
            assert s.index("<details>") < s.index('<div markdown="1">') < s.index("</div>") < s.index("</details>")
        assert s.rstrip("\n").endswith(("---", "{% endraw %}")), f"section does not end with its rule: {s[-80:]!r}"


def assert_site_safe(posts_dir: Path, out: Path) -> None:
    """Build the HTML site from the site's records; no page's content carries script, handlers or script URLs."""
    from digest.site.build import build_site

    result = build_site(posts_dir.parent / "_data" / "digest", out)
    assert result.posts >= 1
    pages = [p for p in out.rglob("*.html") if p.name not in ("index.html", "archive.html")]
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        content = html.split('<div class="post-content">', 1)[1].split('<nav class="post-nav">', 1)[0]
        _assert_inert(content, str(page))
        assert len(re.findall(r"<h[13-6][ >]", content)) == 0, "a heading other than paper titles"
    # Each paper's own page shows the same model text: nothing in its article may run either.
    papers = sorted(out.glob("papers/*/index.html"))
    assert papers
    for page in papers:
        article = page.read_text(encoding="utf-8").split("<article", 1)[1].split("</article>", 1)[0]
        _assert_inert(article, str(page))
        assert len(re.findall(r"<h1[ >]", article)) == 1, "a heading of the model's above the sections"


def _assert_inert(content: str, where: str) -> None:
    """No script, style or frame element, no event handler, no script URL, and every details block closed."""
    assert not _UNSAFE_ELEMENT.search(content), where
    for tag in re.finditer(r"<[A-Za-z][^>]*>", content):
        assert not _EVENT_ATTR.search(tag.group(0)), tag.group(0)
    assert "javascript:" not in content.lower(), where
    assert content.count("<details") == content.count("</details>"), where

