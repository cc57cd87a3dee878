"""The site's search: a Pagefind index written into the built site, and the search page that queries it.

Pagefind runs as a binary shipped in a Python package; everything it writes (index, WebAssembly, UI) lives
under the site's `pagefind/` folder, so search works on any static host and asks no third-party host for
anything. Chinese is split into words only by the *extended* Pagefind binary (package `pagefind[extended]`),
so the index refuses to build with the plain one. Pages must carry `<html lang="zh-CN">`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from digest.core.errors import DigestError

BUNDLE_DIR = "pagefind"
SEARCH_PAGE = "search/index.html"  # served as search/, so a search links as search/?q=…
INSTALL_HINT = "install it with `pip install 'pagefind[extended]'` (the extended binary splits Chinese into words)"


@dataclass(frozen=True)
class SearchIndex:
    """What `build_search_index` wrote."""

    bundle_dir: Path  # <site>/pagefind
    pages: int  # pages in the index (files skipped for lacking `data-pagefind-body` not counted)
    files: int  # HTML files Pagefind read
    seconds: float


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


def _run_pagefind(binary: Path, site_dir: Path, bundle_dir: Path, glob: str | None, language: str | None) -> int:
    """Index `site_dir` into `bundle_dir` with the Pagefind command; the number of HTML files it read.

    The command, not the package's service API: on a busy machine, the service closed right after answering
    "written" left half-written bundles (an empty pagefind-entry.json, about one build in fifteen). The command
    exits only once its files are written.
    """
    cmd = [str(binary), "--site", str(site_dir), "--output-path", str(bundle_dir)]
    if glob:
        cmd += ["--glob", glob]
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


def build_search_index(
    site_dir: Path,
    *,
    glob: str | None = None,
    language: str | None = "zh-cn",
    require_chinese: bool = True,
) -> SearchIndex:
    """Index the HTML pages of a built site into `<site_dir>/pagefind/`, replacing an earlier index.

    `glob` limits the pages (Pagefind's syntax, default every `.html`); `language` forces one index language
    (pages are Chinese with English titles). Pages with a `data-pagefind-body` element are indexed by that
    element only, and then pages without one are skipped: mark the post body so home and archive pages do
    not duplicate results.
    """
    binary = pagefind_binary()
    if require_chinese and not segments_chinese(binary):
        raise DigestError(f"{binary} is the plain Pagefind build, which cannot search Chinese; {INSTALL_HINT}")
    if not site_dir.is_dir():
        raise DigestError(f"{site_dir}: no such site folder; run `digest build` first")
    bundle_dir = site_dir / BUNDLE_DIR
    if bundle_dir.exists():
        if not (bundle_dir / "pagefind-entry.json").is_file():
            raise DigestError(
                f"{bundle_dir} exists but holds no Pagefind index; move it away so the search index can be written"
            )
        # hashed file names change every build: drop the old bundle rather than let it pile up
        shutil.rmtree(bundle_dir)
    start = time.perf_counter()
    try:
        files = _run_pagefind(binary, site_dir.resolve(), bundle_dir.resolve(), glob, language)
    except FileNotFoundError:
        raise DigestError(f"no Pagefind binary found; {INSTALL_HINT}") from None
    entry = bundle_dir / "pagefind-entry.json"
    try:
        languages = json.loads(entry.read_text(encoding="utf-8")).get("languages", {})
        pages = sum(int(lang.get("page_count", 0)) for lang in languages.values())
    except (OSError, ValueError, AttributeError):
        problem = f"Pagefind wrote no readable index into {bundle_dir}; check that the folder is writable"
        raise DigestError(problem) from None
    return SearchIndex(bundle_dir=bundle_dir, pages=pages, files=files, seconds=time.perf_counter() - start)


def search_page_url(query: str = "") -> str:
    """The site-root path of the search page, with `?q=` when a query is given (for links such as topic chips)."""
    from urllib.parse import urlencode

    return "search/" + (f"?{urlencode({'q': query})}" if query else "")
