"""The built site in a real headless Chromium, driven over the DevTools protocol (pipe transport, no extra package).

Needs chromium (Debian: chromium fonts-noto-cjk; scripts/ci-system-deps.sh). Screenshots go to
$DIGEST_ARTIFACTS (default ./artifacts; the folder is printed): post-page.png (desktop, deep read opened),
post-page-phone.png, search.png (a Chinese query from the URL), topic-page.png, toc.png and toc-jump.png.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.core.store import write_record
from digest.site.build import build_site
from helpers import SHARED, seed_files, serve_folder
from tests.site.test_site import hostile_record, import_into

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (install it with scripts/ci-system-deps.sh)"),
]

# Everything but the local server fails to resolve: no page may need another host (and none can reach one).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-pipe",
]


def artifacts_dir() -> Path:
    path = Path(os.environ.get("DIGEST_ARTIFACTS") or "artifacts").resolve()
    path.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {path}")
    return path


class Browser:
    """A Chromium process spoken to over --remote-debugging-pipe: commands on its fd 3, answers on its fd 4."""

    def __init__(self, executable: str, user_data_dir: Path) -> None:
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Move the child's ends above 9 so the dup2 to 3 and 4 below cannot overwrite each other.
        child_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def wire_fds() -> None:
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds,
            close_fds=False,  # closing would happen after wire_fds and take fds 3 and 4 too
        )
        os.close(child_r)
        os.close(child_w)
        self._out = os.fdopen(to_chrome_w, "wb", buffering=0)
        self._in = os.fdopen(from_chrome_r, "rb", buffering=0)
        self._messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while chunk := self._in.read(65536):
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                self._messages.put(json.loads(raw))

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 20.0) -> dict[str, Any]:
        """Send one command and wait for its answer; events seen meanwhile are kept in .events."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._out.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._messages.get(timeout=max(0.01, deadline - time.monotonic())))

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - the process is killed below anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._out.close()


class Page:
    """One tab of the browser."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def goto(self, url: str) -> None:
        # The old document is marked: a load event of an earlier navigation can still be queued when this one
        # starts (seen on a busy machine), so the new page is known by the mark being gone, not by that event.
        self.js("window.__digestLeaving = true")
        self.browser.events.clear()
        self.send("Page.navigate", {"url": url})
        self.browser.wait_event("Page.loadEventFired")
        deadline = time.monotonic() + 30
        while not self.js("!window.__digestLeaving && document.readyState === 'complete'"):
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not finish loading")
            time.sleep(0.05)

    def js(self, expression: str) -> Any:
        for _ in range(50):
            try:
                result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
                break
            except AssertionError as exc:
                # A click that follows a link: the old document went away under the evaluation. Ask the new one.
                if not any(m in str(exc) for m in ("navigated or closed", "context was destroyed")):
                    raise
                time.sleep(0.1)
        else:
            raise AssertionError(f"the page kept navigating while evaluating {expression}")
        if "exceptionDetails" in result:
            raise AssertionError(f"script failed: {expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element (of its first line, when it wraps)."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center'}});"
            " const r = e.getClientRects()[0]; return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent",
                      {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))


@pytest.fixture(scope="module")
def served_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser-site")
    records = root / "_data" / "digest"
    for seed in seed_files():
        import_into(records, seed)
    write_record(records, hostile_record())
    out = root / "_site"
    build_site(records, out, search=True)
    with serve_folder(out) as base:
        yield base


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    assert CHROMIUM is not None
    browser = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield Page(browser)
    finally:
        browser.close()


def test_clicking_summary_opens_the_deep_read(served_site: str, page: Page) -> None:
    page.viewport(1100, 900)
    page.goto(f"{served_site}/2026/01/07/arxiv.html")
    assert page.js("document.title").startswith("arXiv Daily – 2026-01-07")
    # [open?, deep read visible?, height of the whole details box]
    state = (
        "(() => { const d = document.querySelector('details');"
        " return [d.open, d.querySelector('div').checkVisibility(), d.offsetHeight]; })()"
    )
    closed = page.js(state)
    assert closed[:2] == [False, False] and closed[2] < 80
    page.click("details > summary")
    is_open, visible, height = page.js(state)
    assert is_open is True and visible is True and height > 300
    assert page.js("document.querySelectorAll('details[open] li strong').length") > 3
    # Paper anchors work as links.
    assert page.js("document.getElementById('2601-03227').tagName") == "H2"
    page.screenshot(artifacts_dir() / "post-page.png")


def test_phone_width_has_no_sideways_scrolling(served_site: str, page: Page) -> None:
    page.viewport(390, 844, mobile=True)
    page.goto(f"{served_site}/2026/01/28/arxiv.html")
    page.js("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert page.js("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.js("getComputedStyle(document.body).lineHeight") == f"{16 * 1.8:.1f}px".replace(".0px", "px")
    page.screenshot(artifacts_dir() / "post-page-phone.png")


def test_hostile_post_runs_no_script_in_the_browser(served_site: str, page: Page) -> None:
    page.viewport(1100, 900)
    page.goto(f"{served_site}/2026/02/03/arxiv.html")
    page.js("document.querySelectorAll('details').forEach(d => d.open = true)")
    # No script at all (math is MathML); the model's <script> and onerror are text.
    assert page.js("document.scripts.length") == 0
    assert page.js("document.querySelectorAll('.post-content img, .post-content [onerror]').length") == 0
    assert "<script>alert" in page.js("document.querySelector('.post-content').innerText")
    assert "{{ site.title }}" in page.js("document.querySelector('h2').innerText")
    # Math is MathML the browser lays out itself: inline in the sentence, not a block of its own.
    assert page.js("document.querySelectorAll('.post-content math').length") >= 3
    assert page.js("[...document.querySelectorAll('.post-content math')].every(m => getComputedStyle(m).display"
                   " !== 'block' && m.getBoundingClientRect().width > 5)")
    page.js("document.querySelector('.deep-read').scrollIntoView()")
    page.screenshot(artifacts_dir() / "post-math.png")
    # No dialog was opened by anything on the page.
    assert not [e for e in page.browser.events if e.get("method") == "Page.javascriptDialogOpening"]


def test_home_and_archive_navigate(served_site: str, page: Page) -> None:
    page.viewport(1100, 900)
    page.goto(f"{served_site}/")
    assert page.js("document.querySelector('.post-title').innerText") == "arXiv Daily – 2026-02-03"
    page.goto(f"{served_site}/archive.html")
    links = page.js("[...document.querySelectorAll('.archive a')].map(a => a.href)")
    assert len(links) == 4
    page.goto(links[-1])
    assert page.js("location.pathname") == "/2026/01/07/arxiv.html"


def wait_for(page: Page, expression: str, timeout: float = 30.0) -> Any:
    """Poll a page expression until it is truthy (the search UI loads its index asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.js(expression)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


# ---------------------------------------------------------------- search, measured as a reader sees it

SEARCH_READY = "document.getElementById('search').dataset.ready === 'true'"
RESULT_IDS = ("[...document.querySelectorAll('.search-result .result-title a')]"
              ".map(a => (a.getAttribute('href').match(/papers\\/([^/]+)\\//) || [])[1] || a.href)")


def search_in_browser(page: Page, site: str, query: str) -> dict[str, Any]:
    """Open the search page with ?q=query; the ids of the papers it shows (first page) and its count line."""
    from urllib.parse import quote

    page.goto(f"{site}/search/?q={quote(query)}")
    wait_for(page, SEARCH_READY)
    return {"ids": page.js(RESULT_IDS), "count": page.js("document.querySelector('.search-count').innerText")}


def paper_texts(records_dir: Path) -> dict[str, str]:
    """Each paper's own words (id without version -> titles, Chinese abstract, deep read, authors), lowercased."""
    from digest.core.record import split_id
    from digest.core.store import read_record

    texts: dict[str, str] = {}
    for path in sorted(records_dir.glob("*.json")):
        for e in read_record(path).papers:
            parts = [e.title, getattr(e, "title_zh", "") or "", e.abstract, ", ".join(e.authors)]
            parts += [r.text for r in (e.translation, e.deep_read) if r is not None]
            try:
                base = split_id(e.id)[0]
            except ValueError:
                base = e.id
            texts[base] = texts.get(base, "") + "\n" + "\n".join(parts).lower()
    return texts


def terms_in_enough_papers(texts: dict[str, str], candidates: list[str], at_least: int) -> list[str]:
    """The candidate terms that at least `at_least` papers contain."""
    return [t for t in candidates if sum(t.lower() in x for x in texts.values()) >= at_least]


def measure_search(page: Page, site: str, texts: dict[str, str], terms: list[str]) -> list[tuple[str, int, int]]:
    """For each term: (term, papers among the top 10 that contain it, papers that contain it)."""
    rows = []
    for term in terms:
        top = search_in_browser(page, site, term)["ids"][:10]
        rows.append((term, sum(term.lower() in texts.get(i, "") for i in top),
                     sum(term.lower() in x for x in texts.values())))
    return rows


# 10 papers say 声码器; 20 only share its characters, more often (声学, 编码, 器件), so that a
# character-by-character match ranks them first.
VOCODER = "我们提出一种轻量的神经声码器，在保持音质的同时将推理速度提高三倍。"
LOOKALIKE = "声学编码器件声音码本乐器：本文研究声学场景中的编码方法，讨论器件噪声与声音码率，以及乐器识别。"
ZH_TERMS = ["声码器", "流匹配", "深度伪造", "语音增强", "语音合成", "扩散模型", "编解码器", "自监督", "零样本",
            "韵律", "混响", "对比学习", "梅尔频谱", "语音转换", "麦克风阵列", "情感识别", "低资源", "幻觉"]


@pytest.fixture(scope="module")
def ranking_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """30 generated papers on one day, built and served under a base path (/blog/)."""
    from helpers import make_entry, make_record

    root = tmp_path_factory.mktemp("ranking-site")
    records = root / "records"
    entries = []
    for n in range(30):
        exact = n % 3 == 1
        entries.append(make_entry(
            f"2602.{20000 + n}v2", title=f"Paper {n}: {'Fast Vocoder' if exact else 'Acoustic Codes'}",
            translation=VOCODER if exact else LOOKALIKE * 3, deep_read=None,
            authors=["Anna Schmidt"] if n == 5 else ["Rahim Uddin"],
        ))
    write_record(records, make_record(entries, day="2026-02-10"))
    build_site(records, root / "www" / "blog", search=True)
    with serve_folder(root / "www") as base:
        yield f"{base}/blog"


def test_search_ranks_papers_with_the_exact_term_first(ranking_site: str, page: Page) -> None:
    page.viewport(1100, 1400)
    found = search_in_browser(page, ranking_site, "声码器")
    exact = {f"2602.{20000 + n}" for n in range(30) if n % 3 == 1}
    assert set(found["ids"][:10]) == exact, found
    assert found["count"] == "找到 10 篇论文"
    # the next page of results starts with the papers that only share characters, and says so
    page.click(".search-more")
    wait_for(page, "document.querySelectorAll('.search-result').length === 20")
    assert page.js("document.querySelector('.search-divider').innerText").startswith("以下 20 篇只含其中的字词")
    # one result per paper, each with its date and a Chinese snippet around the match
    first = page.js("document.querySelector('.search-result').innerText")
    assert "2026-02-10" in first and "Fast Vocoder" in first
    assert page.js("document.querySelector('.search-result .result-snippet mark').innerText") == "声码器"
    page.screenshot(artifacts_dir() / "search.png")
    # the URL follows what is typed
    page.js("const i = document.querySelector('.search-input'); i.value = '流式'; i.dispatchEvent(new Event('input'))")
    wait_for(page, "location.search === '?q=%E6%B5%81%E5%BC%8F'")


def test_search_finds_an_arxiv_id_and_an_author(ranking_site: str, page: Page) -> None:
    for query in ("2602.20013", "2602.20013v2", "2602.20013v1"):
        assert search_in_browser(page, ranking_site, query)["ids"][:1] == ["2602.20013"], query
    assert search_in_browser(page, ranking_site, "Anna Schmidt")["ids"][:1] == ["2602.20005"]
    # the result links to the paper's own page, under the base path
    page.click(".search-result .result-title a")
    wait_for(page, "location.pathname.includes('/papers/')")
    assert page.js("location.pathname").startswith("/blog/papers/2602.20005/")


def test_search_page_uses_the_sites_type_and_separate_filter_chips(ranking_site: str, page: Page) -> None:
    page.viewport(1100, 900)
    search_in_browser(page, ranking_site, "声码器")
    wait_for(page, "document.querySelectorAll('.filter-chip').length > 0")
    body_font = page.js("getComputedStyle(document.body).fontFamily")
    assert page.js("getComputedStyle(document.querySelector('.search-input')).fontFamily") == body_font
    assert page.js("getComputedStyle(document.querySelector('.result-title a')).color") == "rgb(11, 92, 173)"  # --accent
    # every chip stands apart from the next one (no labels running together)
    gaps = page.js("(() => { const r = [...document.querySelectorAll('.filter-chip')].map(c => c.getBoundingClientRect());"
                   " return r.slice(1).map((b, i) => b.top > r[i].top + 1 ? 99 : b.left - r[i].right); })()")
    assert gaps == [] or min(gaps) >= 4
    # a chip filters the results to its topic
    before = page.js("document.querySelectorAll('.search-result').length")
    page.click(".filter-chip")
    wait_for(page, "document.querySelector('.filter-chip').getAttribute('aria-pressed') === 'true'")
    assert page.js("document.querySelectorAll('.search-result').length") <= before
    # nothing was loaded from another host
    hosts = page.js("[...new Set(performance.getEntriesByType('resource').map(e => new URL(e.name).host))]")
    assert hosts == [ranking_site.split("/")[2]]


OLD_POSTS = SHARED / "oldblog" / "_posts"


@pytest.fixture(scope="module")
def old_blog_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The first 24 of the old blog's real posts, imported, built with site.url and served under /blog/."""
    if not OLD_POSTS.is_dir():
        pytest.skip(f"no old-blog posts at {OLD_POSTS} (../shared is not beside the checkout)")
    root = tmp_path_factory.mktemp("old-blog")
    records = root / "records"
    for post in sorted(OLD_POSTS.glob("*.md"))[:24]:
        import_into(records, post)
    build_site(records, root / "www" / "blog", search=True, base_url="https://example.org/blog")
    with serve_folder(root / "www") as base:
        yield f"{base}/blog", paper_texts(records)


def test_old_blog_chinese_terms_find_the_papers_that_say_them(
    old_blog_site: tuple[str, dict[str, str]], page: Page
) -> None:
    site, texts = old_blog_site
    terms = terms_in_enough_papers(texts, ZH_TERMS, 8)
    assert len(terms) >= 6, terms  # not vacuous
    rows = measure_search(page, site, texts, terms)
    shares = [hit for _, hit, _ in rows]
    assert sum(shares) / len(shares) >= 9 and min(shares) >= 7, rows
    some_id = sorted(texts)[len(texts) // 2]
    assert search_in_browser(page, site, some_id)["ids"][:1] == [some_id]


def test_search_from_the_url_finds_the_paper_by_a_chinese_term(served_site: str, page: Page) -> None:
    page.viewport(1100, 900)
    page.goto(f"{served_site}/search/?q=%E5%9C%B0%E7%90%86%E5%AE%9A%E4%BD%8D")  # 地理定位
    wait_for(page, SEARCH_READY)
    links = page.js("[...document.querySelectorAll('.search-result .result-title a')].map(a => a.href)")
    assert links, page.js("document.querySelector('#search').innerText")
    # one result per paper: its own page, not the day it was posted on
    assert links[0] == f"{served_site}/papers/2601.03227/"
    assert all("/papers/" in link and "#" not in link for link in links)
    assert page.js("document.querySelector('.search-input').value") == "地理定位"
    assert "Geo-Localization" in page.js("document.querySelector('.search-result').innerText")
    page.goto(links[0])
    assert "Geo-Localization" in page.js("document.querySelector('h1').innerText")
    assert page.js("document.querySelector('meta[name=citation_arxiv_id]').content") == "2601.03227"


def test_a_topic_page_lists_papers_and_links_to_them(served_site: str, page: Page) -> None:
    page.viewport(1100, 900)
    page.goto(f"{served_site}/")
    page.click(".site-nav a[href$='topics/index.html']")
    wait_for(page, "location.pathname === '/topics/index.html' && document.readyState === 'complete'")
    assert page.js("document.querySelectorAll('svg.chart title').length") >= 3  # a chart per topic
    page.click("a.topic-audio-llm")
    wait_for(page, "location.pathname === '/topics/audio-llm/index.html' && document.readyState === 'complete'")
    assert page.js("document.querySelector('h1').innerText") == "音频大模型与对话"
    items = page.js("[...document.querySelectorAll('.topic-papers .paper-link')].map(a => a.getAttribute('href'))")
    assert len(items) >= 3 and all(i.startswith("../../papers/") for i in items)
    days = page.js("[...document.querySelectorAll('.topic-papers .paper-sub time')].map(t => t.dateTime)")
    assert len(days) == len(items) and days == sorted(days, reverse=True)  # newest first
    page.screenshot(artifacts_dir() / "topic-page.png")
    page.click(".topic-papers .paper-link")
    wait_for(page, "location.pathname.startsWith('/papers/') && document.readyState === 'complete'")
    # the opened paper's page names the topic the reader came from
    assert "音频大模型与对话" in page.js("document.querySelector('.post-header .topics').innerText")
    page.screenshot(artifacts_dir() / "paper-page.png")


def test_table_of_contents_jumps_to_the_paper(served_site: str, page: Page) -> None:
    page.viewport(1100, 900)
    page.goto(f"{served_site}/2026/01/28/arxiv.html")
    toc = page.js("[...document.querySelectorAll('.toc-list > li > a')].map(a => a.getAttribute('href'))")
    headings = page.js("[...document.querySelectorAll('.post-content h2[id]')].map(h => '#' + h.id)")
    assert toc == headings and len(toc) > 10
    assert page.js("document.querySelector('.toc').getBoundingClientRect().top") < 900  # on the first screen
    page.screenshot(artifacts_dir() / "toc.png")
    target = toc[7]
    page.click(".toc-list > li:nth-child(8) > a")
    wait_for(page, f"location.hash === {json.dumps(target)}")
    assert page.js("location.hash") == target
    top = page.js(f"document.getElementById({json.dumps(target[1:])}).getBoundingClientRect().top")
    assert -2 <= top <= 60  # scrolled to the paper's heading
    page.screenshot(artifacts_dir() / "toc-jump.png")
