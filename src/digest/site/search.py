"""The site's search: a Pagefind index written into the built site, and the search page that queries it.

Pagefind runs as a binary shipped in a Python package; what it writes (the index, in parts, with its script
and WebAssembly) lives under the site's `pagefind/` folder, so search works on any static host and asks no
third-party host for anything. Chinese is split into words only by the *extended* Pagefind binary (package
`pagefind[extended]`), so the index refuses to build with the plain one. Pages must carry `<html lang="zh-CN">`.

Chinese is indexed one character per word. The indexer's dictionary and the browser's `Intl.Segmenter` cut
Chinese differently (声码器 is one word to one and 声|码|器 to the other), so a word-level index neither finds
every paper that says 声码器 nor supports an exact phrase. Pagefind reads a copy of the pages with a zero-width
space between adjacent Chinese characters (the published pages stay as they are); the search page then asks
for a Chinese term as the quoted phrase of its characters ("声 码 器"), which Pagefind matches on consecutive
word positions: exactly the papers containing the string. The script (search.js) ranks those first.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from digest.core.errors import DigestError

BUNDLE_DIR = "pagefind"
SEARCH_PAGE = "search/index.html"  # served as search/, so a search links as search/?q=…
SEARCH_SCRIPT = "digest-search.js"  # the search page's script, written into the bundle folder with the index
INSTALL_HINT = "install it with `pip install 'pagefind[extended]'` (the extended binary splits Chinese into words)"


@dataclass(frozen=True)
class SearchIndex:
    """What `build_search_index` wrote."""

    bundle_dir: Path  # <site>/pagefind
    pages: int  # pages in the index (files skipped for lacking `data-pagefind-body` not counted)
    files: int  # HTML files Pagefind read
    seconds: float
    ran: bool = True  # False when the index was kept: no indexed page changed since it was built
    parts: int = 1  # the index's parts (see index_part)
    reindexed: int = 1  # the parts Pagefind indexed in this call


def pagefind_binary() -> Path:
    """The Pagefind binary the `pagefind` package will run (PAGEFIND_BINARY_PATH, else the installed one)."""
    try:
        from pagefind.service import get_executable
    except ImportError:
        raise DigestError(f"the search index needs the pagefind package; {INSTALL_HINT}") from None
    found = get_executable()
    if found is None or not found.is_file():
        raise DigestError(f"no Pagefind binary found; {INSTALL_HINT}")
    return found


def segments_chinese(binary: Path) -> bool:
    """Whether a Pagefind binary is the extended build, the one that splits Chinese text into words."""
    return "extended" in binary.name


# A 140-day archive indexes in seconds; this only ends a Pagefind that hangs.
INDEX_TIMEOUT_SECONDS = 600.0
_FILES_FOUND = re.compile(r"Found (\d+) files? matching")


def _run_pagefind(binary: Path, site_dir: Path, bundle_dir: Path, language: str | None) -> int:
    """Index `site_dir` into `bundle_dir` with the Pagefind command; the number of HTML files it read.

    The command, not the package's service API: on a busy machine, the service closed right after answering
    "written" left half-written bundles (an empty pagefind-entry.json, about one build in fifteen). The command
    exits only once its files are written.
    """
    cmd = [str(binary), "--site", str(site_dir), "--output-path", str(bundle_dir)]
    if language:
        cmd += ["--force-language", language]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=INDEX_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise DigestError(f"Pagefind did not finish indexing {site_dir} in {INDEX_TIMEOUT_SECONDS:g} s") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        reason = said[-1] if said else f"exit code {done.returncode}"
        raise DigestError(f"Pagefind could not index {site_dir}: {reason}")
    found = _FILES_FOUND.search(done.stdout)
    return int(found.group(1)) if found else 0


# CJK ideographs (basic block, extension A, compatibility): the characters indexed one per word.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_BETWEEN_HAN = re.compile(f"(?<=[{_HAN}])(?=[{_HAN}])")
_TAG = re.compile(r"(<[^>]*>)")
WORD_BREAK = "\u200b"  # zero-width space: Pagefind ends a word there and drops it from excerpts
BODY_MARK = "data-pagefind-body"


# A topic chip's label is a filter, not the paper's words: a paper tagged 语音增强与分离 does not say 语音增强.
# Pagefind still reads filters and metadata inside an element it does not index.
_FILTER_TAG = re.compile(r"<([a-zA-Z][\w-]*)(?=[^>]*\sdata-pagefind-filter=)(?![^>]*data-pagefind-ignore)")


def one_word_per_character(html: str) -> str:
    """The page as indexed: a zero-width space between adjacent Chinese characters of its text (tags
    untouched), and filter labels left out of the indexed words."""
    parts = _TAG.split(_FILTER_TAG.sub(r"<\1 data-pagefind-ignore", html))
    parts[::2] = [_BETWEEN_HAN.sub(WORD_BREAK, text) for text in parts[::2]]
    return "".join(parts)


# The index is written in parts, one per quarter of the papers' arXiv ids (2601.01234 → 2026q1): Pagefind needs
# memory in proportion to the pages it indexes at once, and cannot add pages to an index it wrote, so a single
# index of years of papers took gigabytes and was rebuilt whole for each new day. A day's papers land in the
# newest part or two; only those are indexed again. The search page merges the parts (Pagefind's mergeIndex).
PARTS_FILE = "parts.json"  # in the bundle folder: the parts, newest first (the first loads Pagefind's library)
OTHER_PART = "other"  # pages that are not a paper's page
_PAPER_PAGE = re.compile(r"papers/(\d{2})(\d{2})\.\d{4,5}/")
# Pagefind's own search interfaces; the site has its own (search.js), so each part keeps only the library.
_UNUSED = ("pagefind-ui.js", "pagefind-ui.css", "pagefind-component-ui.js", "pagefind-component-ui.css",
           "pagefind-modular-ui.js", "pagefind-modular-ui.css", "pagefind-highlight.js")
_MIRROR_LAYOUT = ".layout"  # in the kept copy: which layout it has, so a copy of an older layout is made anew
_LAYOUT = "parts-by-quarter 1"
_PENDING = ".pending"  # in the kept copy: the parts being indexed again, until Pagefind has written them


def index_part(rel: str) -> str:
    """The index part a page belongs to: the quarter of its arXiv id (`papers/2601.01234/…` → `2026q1`)."""
    found = _PAPER_PAGE.match(rel)
    if found is None or not 1 <= int(found[2]) <= 12:
        return OTHER_PART
    return f"20{found[1]}q{(int(found[2]) - 1) // 3 + 1}"


def _order(parts: set[str]) -> list[str]:
    return sorted(parts - {OTHER_PART}, reverse=True) + sorted(parts & {OTHER_PART})


def _mirror_pages(site_dir: Path, mirror: Path) -> int:
    """Write the pages Pagefind will read into `mirror`, each under its part (`<part>/<path>`), Chinese one
    character per word.

    Only pages with a `data-pagefind-body` element when any has one (Pagefind would skip the others anyway);
    every page otherwise. The bundle folder is not copied. Returns the number of pages written.
    """
    pages = [p for p in site_dir.rglob("*.html") if BUNDLE_DIR not in p.relative_to(site_dir).parts[:1]]
    texts = {p: p.read_text(encoding="utf-8", errors="replace") for p in pages}
    if any(BODY_MARK in text for text in texts.values()):
        texts = {p: text for p, text in texts.items() if BODY_MARK in text}
    for page, text in texts.items():
        rel = page.relative_to(site_dir).as_posix()
        copy = mirror / index_part(rel) / rel
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(one_word_per_character(text), encoding="utf-8")
    (mirror / _MIRROR_LAYOUT).write_text(_LAYOUT, encoding="utf-8")
    return len(texts)


def _mirror_parts(mirror: Path) -> set[str]:
    """The parts the kept copy holds pages for."""
    return {d.name for d in mirror.iterdir() if d.is_dir() and any(d.rglob("*.html"))}


def search_script() -> str:
    """The search page's script (templates/site/search.js): queries the index and ranks the papers."""
    return resources.files("digest").joinpath("templates/site/search.js").read_text(encoding="utf-8")


def _check_bundle(bundle_dir: Path) -> None:
    """Refuse to replace a `pagefind/` folder that is not an index this tool wrote (its own or Pagefind's)."""
    ours = (bundle_dir / PARTS_FILE).is_file() or (bundle_dir / "pagefind-entry.json").is_file()
    if bundle_dir.exists() and not ours:
        raise DigestError(
            f"{bundle_dir} exists but holds no Pagefind index; move it away so the search index can be written"
        )


def _index_part(binary: Path, pages: Path, bundle_dir: Path, part: str, language: str | None) -> int:
    """Index one part's pages into `<bundle>/<part>/`, replacing it only once Pagefind has written the new one."""
    fresh = bundle_dir / f".{part}.new"
    shutil.rmtree(fresh, ignore_errors=True)
    try:
        files = _run_pagefind(binary, pages, fresh.resolve(), language)
    except FileNotFoundError:
        raise DigestError(f"no Pagefind binary found; {INSTALL_HINT}") from None
    except DigestError:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    for name in _UNUSED:
        (fresh / name).unlink(missing_ok=True)
    shutil.rmtree(bundle_dir / part, ignore_errors=True)
    fresh.rename(bundle_dir / part)
    return files


def _write_parts(bundle_dir: Path, parts: set[str]) -> None:
    """The list of parts and the search page's script, beside the parts; parts no longer listed are removed."""
    for old in bundle_dir.iterdir():
        if old.name in parts or old.name in (PARTS_FILE, SEARCH_SCRIPT):
            continue
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
    (bundle_dir / PARTS_FILE).write_text(json.dumps({"parts": _order(parts)}), encoding="utf-8")
    script = bundle_dir / SEARCH_SCRIPT
    if not script.is_file() or script.read_text(encoding="utf-8") != search_script():
        script.write_text(search_script(), encoding="utf-8")


def build_search_index(
    site_dir: Path,
    *,
    language: str | None = "zh-cn",
    require_chinese: bool = True,
    mirror: Path | None = None,
    parts: set[str] | None = None,
) -> SearchIndex:
    """Index the HTML pages of a built site into `<site_dir>/pagefind/<part>/`, replacing an earlier index.

    `language` forces one index language (pages are Chinese with English titles). Pages with a
    `data-pagefind-body` element are indexed by that element only, and then pages without one are skipped:
    mark the paper's article so day, topic and home pages do not duplicate results. The search page's script
    and the list of parts are written beside them. `mirror` is a folder already holding the pages as indexed,
    by part (`update_search_index` keeps one), and `parts` the parts to index again (default: all of them).
    """
    binary = pagefind_binary()
    if require_chinese and not segments_chinese(binary):
        raise DigestError(f"{binary} is the plain Pagefind build, which cannot search Chinese; {INSTALL_HINT}")
    if not site_dir.is_dir():
        raise DigestError(f"{site_dir}: no such site folder; run `digest build` first")
    bundle_dir = site_dir / BUNDLE_DIR
    _check_bundle(bundle_dir)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="digest-index-") as tmp:
        pages_dir = mirror or Path(tmp)
        if mirror is None:
            _mirror_pages(site_dir, pages_dir)
        present = _mirror_parts(pages_dir)
        if parts is None or not (bundle_dir / PARTS_FILE).is_file():
            # a first index, or one in the earlier single-bundle layout: every part, in a clean folder
            shutil.rmtree(bundle_dir, ignore_errors=True)
            parts = present
        bundle_dir.mkdir(parents=True, exist_ok=True)
        files = 0
        for part in _order(parts & present):
            files += _index_part(binary, pages_dir / part, bundle_dir, part, language)
    _write_parts(bundle_dir, present)
    return SearchIndex(bundle_dir=bundle_dir, pages=_index_pages(bundle_dir), files=files,
                       seconds=time.perf_counter() - start, parts=len(present), reindexed=len(parts & present))


def mirror_path(site_dir: Path) -> Path:
    """Where the pages as indexed are kept between builds: beside the site folder, so it is never published."""
    site = site_dir.resolve()
    return site.parent / f".{site.name}.digest-index"


def _sync_mirror(site_dir: Path, mirror: Path, changed: list[str], removed: list[str]) -> set[str]:
    """Bring the kept copy of the indexed pages up to date with the pages a build changed or removed; the parts
    with an indexed page that changed. Pages without `data-pagefind-body` are not indexed, so not copied."""
    touched: set[str] = set()
    for rel in changed:
        if not rel.endswith(".html") or rel.split("/")[0] == BUNDLE_DIR:
            continue
        copy = mirror / index_part(rel) / rel
        text = (site_dir / rel).read_text(encoding="utf-8", errors="replace")
        if BODY_MARK in text:
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(one_word_per_character(text), encoding="utf-8")
            touched.add(index_part(rel))
        elif copy.is_file():
            copy.unlink()
            touched.add(index_part(rel))
    for rel in removed:
        copy = mirror / index_part(rel) / rel
        if copy.is_file():
            copy.unlink()
            touched.add(index_part(rel))
    return touched


def _index_pages(bundle_dir: Path) -> int:
    """The pages in the index: the sum over its parts' Pagefind entries."""
    listed = json.loads((bundle_dir / PARTS_FILE).read_text(encoding="utf-8"))["parts"]
    return sum(_entry_pages(bundle_dir / part) for part in listed)


def _entry_pages(part_dir: Path) -> int:
    entry = part_dir / "pagefind-entry.json"
    try:
        languages = json.loads(entry.read_text(encoding="utf-8")).get("languages", {})
        return sum(int(lang.get("page_count", 0)) for lang in languages.values())
    except (OSError, ValueError, AttributeError):
        problem = f"Pagefind wrote no readable index into {part_dir}; check that the folder is writable"
        raise DigestError(problem) from None


def _kept_copy_fits(mirror: Path, bundle_dir: Path) -> bool:
    """Whether the kept copy and the index are both in the current layout and every part has its index."""
    layout = mirror / _MIRROR_LAYOUT
    if not mirror.is_dir() or not layout.is_file() or layout.read_text(encoding="utf-8") != _LAYOUT:
        return False
    if not (bundle_dir / PARTS_FILE).is_file():
        return False
    return all((bundle_dir / part / "pagefind-entry.json").is_file() for part in _mirror_parts(mirror))


def update_search_index(site_dir: Path, *, changed: list[str], removed: list[str]) -> SearchIndex:
    """Keep the site's search index current after a build that changed and removed the given pages.

    The pages as indexed are kept beside the site, by part; only changed pages are copied again, and only the
    parts holding them are indexed again. When no indexed page changed, Pagefind does not run. Without a kept
    copy (a first build, or one of an older layout) every page is copied and every part indexed.
    """
    mirror = mirror_path(site_dir)
    bundle_dir = site_dir / BUNDLE_DIR
    start = time.perf_counter()
    if _kept_copy_fits(mirror, bundle_dir):
        pending = mirror / _PENDING
        # Parts whose indexing failed last time: the kept copy already holds their new pages, so a rebuild that
        # rewrites nothing would not name them again.
        waiting = set(json.loads(pending.read_text(encoding="utf-8"))) if pending.is_file() else set()
        touched = _sync_mirror(site_dir, mirror, changed, removed) | waiting
        if not touched:
            present = _mirror_parts(mirror)
            _write_parts(bundle_dir, present)
            return SearchIndex(bundle_dir, _index_pages(bundle_dir), 0, time.perf_counter() - start, ran=False,
                               parts=len(present), reindexed=0)
        pending.write_text(json.dumps(sorted(touched)), encoding="utf-8")
        index = build_search_index(site_dir, mirror=mirror, parts=touched)
        pending.unlink()
        return index
    shutil.rmtree(mirror, ignore_errors=True)
    mirror.mkdir(parents=True)
    _mirror_pages(site_dir, mirror)
    return build_search_index(site_dir, mirror=mirror)


def search_page_url(query: str = "") -> str:
    """The site-root path of the search page, with `?q=` when a query is given (for links such as topic chips)."""
    from urllib.parse import urlencode

    return "search/" + (f"?{urlencode({'q': query})}" if query else "")
