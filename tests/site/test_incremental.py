"""Incremental builds (issue 23): a build after one new day rewrites only what that day changes, and the site
is the same as a build from scratch; a removed day's pages go; the search index is rebuilt only when an
indexed page changed."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.core.errors import DigestError
from digest.core.store import record_path, write_record
from digest.site.build import BuildResult, build_site, manifest_path
from digest.site.search import BUNDLE_DIR, PARTS_FILE, mirror_path
from helpers import make_entry, make_record
from tests.site.test_search import need_extended_pagefind

FIRST = date(2026, 1, 5)
TOPIC_WORDS = ["speech enhancement and denoising", "text-to-speech synthesis", "speaker verification"]


def paper_id(n: int, k: int) -> str:
    """Paper k of day n: each day in a quarter of its own (months 01, 04, 07, 10, 01, …), as the search index
    has a part per quarter."""
    return f"26{n * 3 % 12 + 1:02d}.{n:02d}{k:03d}v1"


def add_day(records: Path, n: int) -> str:
    """Day n of the archive: two papers with ids of their own and a topic from its title."""
    day = (FIRST + timedelta(days=n)).isoformat()
    entries = [
        make_entry(paper_id(n, k), title=f"Paper {n}-{k} on {TOPIC_WORDS[(n + k) % len(TOPIC_WORDS)]}")
        for k in range(2)
    ]
    write_record(records, make_record(entries, day))
    return day


def archive(tmp_path: Path, days: int) -> Path:
    records = tmp_path / "records"
    for n in range(days):
        add_day(records, n)
    return records


def tree(out: Path) -> dict[str, bytes]:
    """Every file under out (the search bundle's hashed names left out) and its bytes."""
    files = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if path.is_file() and rel.split("/")[0] != BUNDLE_DIR:
            files[rel] = path.read_bytes()
    return files


def assert_same_as_scratch(records: Path, out: Path, tmp_path: Path, **options: Any) -> BuildResult:
    """Build the same records into a new folder and check `out` holds the same files; that build's result."""
    scratch = tmp_path / "scratch" / "site"
    result = build_site(records, scratch, **options)
    assert tree(out) == tree(scratch)
    return result


def stamps(out: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*.html")}


def test_one_more_day_rewrites_only_that_day_and_the_pages_listing_it(tmp_path: Path) -> None:
    records = archive(tmp_path, 12)
    out = tmp_path / "site"
    full = build_site(records, out)
    assert full.rendered == len(full.pages)
    before = stamps(out)
    new_day = add_day(records, 12)
    again = build_site(records, out)

    new_page = f"{new_day[:4]}/{new_day[5:7]}/{new_day[8:]}/arxiv.html"
    neighbour = f"{(FIRST + timedelta(days=11)).isoformat().replace('-', '/')}/arxiv.html"  # its "newer" link
    new_papers = {f"papers/{paper_id(12, k).removesuffix('v1')}/index.html" for k in range(2)}
    lists_it = {"index.html", "archive.html", "feed.xml", "sitemap.xml"}
    written = set(again.written)
    assert {new_page, neighbour} | new_papers | lists_it <= written
    # the rest is topic pages and feeds only; no other day or paper page was even rendered
    assert all(rel.startswith("topics/") for rel in written - {new_page, neighbour} - new_papers - lists_it)
    old_pages = [rel for rel in before if rel.startswith("papers/") or rel.endswith("/arxiv.html")]
    untouched = [rel for rel in old_pages if rel != neighbour]
    assert len(untouched) == 12 * 2 + 11
    after = stamps(out)
    assert all(after[rel] == before[rel] for rel in untouched)  # same inode, same mtime: not rewritten
    assert again.rendered < full.rendered - len(untouched) + 1 + len(new_papers) + 2

    assert_same_as_scratch(records, out, tmp_path)


def test_an_unchanged_archive_rewrites_nothing(tmp_path: Path) -> None:
    records = archive(tmp_path, 5)
    out = tmp_path / "site"
    build_site(records, out)
    again = build_site(records, out)
    assert again.written == []
    assert again.rendered < len(again.pages) - 5 * 3 + 1  # days and papers kept without rendering


def test_a_changed_record_renders_its_pages_again(tmp_path: Path) -> None:
    records = archive(tmp_path, 4)
    out = tmp_path / "site"
    build_site(records, out)
    day = (FIRST + timedelta(days=1)).isoformat()
    entries = [make_entry(paper_id(1, 0), title="Paper 1-0 retitled on speaker verification"),
               make_entry(paper_id(1, 1), title="Paper 1-1 on speaker verification")]
    write_record(records, make_record(entries, day))
    again = build_site(records, out)
    retitled = f"papers/{paper_id(1, 0).removesuffix('v1')}/index.html"
    assert retitled in again.written
    assert "retitled" in (out / retitled).read_text(encoding="utf-8")
    assert_same_as_scratch(records, out, tmp_path)


def test_a_removed_day_removes_its_pages(tmp_path: Path) -> None:
    records = archive(tmp_path, 6)
    out = tmp_path / "site"
    build_site(records, out)
    gone = (FIRST + timedelta(days=2)).isoformat()
    record_path(records, gone).unlink()
    again = build_site(records, out)
    page = gone.replace("-", "/") + "/arxiv.html"
    its_papers = [paper_id(2, k).removesuffix("v1") for k in range(2)]
    assert {page, *(f"papers/{p}/index.html" for p in its_papers)} <= set(again.removed)
    assert not (out / page).exists()
    assert not (out / "papers" / its_papers[0]).exists()  # its emptied folder goes too
    assert_same_as_scratch(records, out, tmp_path)


def test_a_site_wide_change_renders_every_page(tmp_path: Path) -> None:
    records = archive(tmp_path, 4)
    out = tmp_path / "site"
    build_site(records, out)
    again = build_site(records, out, site_title="Speech Daily")
    assert again.rendered == len(again.pages)
    assert_same_as_scratch(records, out, tmp_path, site_title="Speech Daily")


def test_a_plain_list_manifest_of_an_older_build_still_names_what_to_remove(tmp_path: Path) -> None:
    records = archive(tmp_path, 3)
    out = tmp_path / "site"
    build_site(records, out)
    pages = json.loads(manifest_path(out).read_text(encoding="utf-8"))["pages"]
    stray = out / "papers" / "2699.00000" / "index.html"
    stray.parent.mkdir(parents=True)
    stray.write_text("old", encoding="utf-8")
    manifest_path(out).write_text("\n".join([*pages, "papers/2699.00000/index.html"]) + "\n", encoding="utf-8")
    again = build_site(records, out)
    assert again.removed == ["papers/2699.00000/index.html"]
    assert again.rendered == len(again.pages)  # no input hashes known: everything rendered once
    assert not stray.exists()


def _indexed_pages(out: Path) -> int:
    total = 0
    for part in json.loads((out / BUNDLE_DIR / PARTS_FILE).read_text(encoding="utf-8"))["parts"]:
        entry = json.loads((out / BUNDLE_DIR / part / "pagefind-entry.json").read_text(encoding="utf-8"))
        total += sum(int(lang["page_count"]) for lang in entry["languages"].values())
    return total


def test_the_search_index_runs_only_when_an_indexed_page_changed(tmp_path: Path) -> None:
    need_extended_pagefind()
    records = archive(tmp_path, 3)
    out = tmp_path / "site"

    def entries() -> dict[str, int]:  # each part's Pagefind entry and when it was written
        return {p.parent.name: p.stat().st_mtime_ns for p in (out / BUNDLE_DIR).glob("*/pagefind-entry.json")}

    first = build_site(records, out, search=True)
    assert first.indexed and first.search_pages == 6
    written = entries()
    assert sorted(written) == ["2026q1", "2026q2", "2026q3"]

    same = build_site(records, out, search=True)
    assert not same.indexed and same.search_pages == 6
    assert entries() == written

    add_day(records, 3)  # its papers are in the fourth quarter
    more = build_site(records, out, search=True)
    assert more.indexed and more.search_pages == 8 == _indexed_pages(out)
    assert len(list(mirror_path(out).rglob("*.html"))) == 8  # the kept copy: paper pages only
    now = entries()
    assert sorted(now) == ["2026q1", "2026q2", "2026q3", "2026q4"]
    assert {part: now[part] for part in written} == written  # the other parts were not indexed again
    listed = json.loads((out / BUNDLE_DIR / PARTS_FILE).read_text(encoding="utf-8"))["parts"]
    assert listed == ["2026q4", "2026q3", "2026q2", "2026q1"]

    record_path(records, FIRST.isoformat()).unlink()
    fewer = build_site(records, out, search=True)
    assert fewer.indexed and fewer.search_pages == 6
    assert sorted(entries()) == ["2026q2", "2026q3", "2026q4"]  # the emptied quarter's part is gone
    assert assert_same_as_scratch(records, out, tmp_path, search=True).search_pages == 6


def test_a_part_whose_indexing_failed_is_indexed_on_the_next_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_extended_pagefind()
    records = archive(tmp_path, 2)
    out = tmp_path / "site"
    build_site(records, out, search=True)
    add_day(records, 4)  # more papers of the first quarter: its part is there and must be indexed again
    dying = tmp_path / "bin" / "pagefind_extended"
    dying.parent.mkdir()
    dying.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    dying.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(dying))
    with pytest.raises(DigestError, match="Pagefind"):
        build_site(records, out, search=True)
    monkeypatch.delenv("PAGEFIND_BINARY_PATH")
    # nothing changed since: the pages are written already, yet the part that failed is indexed now
    again = build_site(records, out, search=True)
    assert again.indexed and again.search_pages == 6 == _indexed_pages(out)
