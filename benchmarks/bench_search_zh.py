"""Chinese search quality on the old blog's real posts, measured in headless Chromium as a reader searches.

    .venv/bin/python benchmarks/bench_search_zh.py [--posts DIR] [--at-least 10]

Imports the old blog's posts (../shared/oldblog/_posts) into a temporary site, builds it with site.url and
its search index, serves it under a base path (http://127.0.0.1:PORT/blog/) and, for each Chinese technical
term that at least `--at-least` papers contain, opens the search page with ?q=term and counts how many of the
top 10 papers contain the term (in their titles, Chinese abstract or deep read). Prints the table, the average
and the minimum (target: average >= 9/10, no term below 7/10), and whether arXiv ids find their own paper
first (with and without a version).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from digest.site.build import build_site  # noqa: E402
from helpers import serve_folder  # noqa: E402
from tests.site.test_browser import (  # noqa: E402
    CHROMIUM,
    ZH_TERMS,
    Browser,
    Page,
    measure_search,
    paper_texts,
    search_in_browser,
    terms_in_enough_papers,
)
from tests.site.test_site import import_into  # noqa: E402

POSTS = ROOT.parent / "shared" / "oldblog" / "_posts"
TARGET_AVG, TARGET_MIN = 9.0, 7


def main() -> None:
    """Build, serve, search each term in Chromium, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=Path, default=POSTS, help="folder of Jekyll posts to import")
    ap.add_argument("--at-least", type=int, default=10, help="papers a term must be in to be measured")
    args = ap.parse_args()
    posts = sorted(args.posts.glob("*.md"))
    if not posts:
        raise SystemExit(f"no posts under {args.posts}; pass --posts DIR")
    if CHROMIUM is None:
        raise SystemExit("no chromium on PATH (install it with scripts/ci-system-deps.sh)")
    with tempfile.TemporaryDirectory(prefix="bench-search-zh-") as tmp:
        root = Path(tmp)
        records = root / "records"
        for post in posts:
            import_into(records, post)
        start = time.perf_counter()
        built = build_site(records, root / "www" / "blog", search=True, base_url="https://example.org/blog")
        print(f"built {built.posts} posts, {built.search_pages} paper pages indexed, "
              f"in {time.perf_counter() - start:.1f} s")
        texts = paper_texts(records)
        terms = terms_in_enough_papers(texts, ZH_TERMS, args.at_least)
        browser = Browser(CHROMIUM, root / "profile")
        try:
            page = Page(browser)
            page.viewport(1100, 900)
            with serve_folder(root / "www") as base:
                site = f"{base}/blog"
                report(page, site, texts, terms)
        finally:
            browser.close()


def report(page: Page, site: str, texts: dict[str, str], terms: list[str]) -> None:
    """Measure and print the term table and the arXiv id checks."""
    start = time.perf_counter()
    rows = measure_search(page, site, texts, terms)
    seconds = time.perf_counter() - start
    print(f"\n{'term':<10} top-10 containing  papers containing")
    for term, hits, total in rows:
        print(f"{term:<10} {hits:>4}/10 {total:>18}")
    shares = [hits for _, hits, _ in rows]
    avg, low = sum(shares) / len(shares), min(shares)
    ok = avg >= TARGET_AVG and low >= TARGET_MIN
    print(f"\n{len(rows)} terms: average {avg:.2f}/10, minimum {low}/10 (target >= {TARGET_AVG:g}, none < "
          f"{TARGET_MIN}) {'OK' if ok else 'FAIL'}; {seconds / max(1, len(rows)):.2f} s per search page")
    ids = sorted(texts)[:: max(1, len(texts) // 8)]
    first = 0
    for pid in ids:
        for query in (pid, f"{pid}v1"):
            first += search_in_browser(page, site, query)["ids"][:1] == [pid]
    print(f"arXiv ids: {first}/{2 * len(ids)} queries (with and without a version) show their paper first")


if __name__ == "__main__":
    main()
