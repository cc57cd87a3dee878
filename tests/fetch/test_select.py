"""Select: dedupe by base id, nothing posted twice, each filter with its reason, the max_papers cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.core.config import FilterConfig
from digest.fetch.select import select
from digest.standins.arxiv_server import make_paper

T0 = datetime(2026, 1, 27, 0, 0, tzinfo=UTC)
CATS = ["cs.SD", "eess.AS"]


def p(n: int, v: int = 1, hours: int = 0, **kw):
    return make_paper(f"2601.{n:05d}v{v}", T0 + timedelta(hours=hours or n), **kw)


def reasons(sel) -> dict[str, str]:
    return {paper.id: why for paper, why in sel.dropped}


def test_no_filters_keeps_all_newest_first() -> None:
    papers = [p(1), p(3), p(2)]
    sel = select(papers, FilterConfig(), {}, CATS)
    assert [x.id for x in sel.kept] == ["2601.00003v1", "2601.00002v1", "2601.00001v1"]
    assert sel.dropped == [] and sel.left_out == [] and sel.fetched == 3


def test_one_entry_per_paper_highest_version() -> None:
    papers = [p(1, v=1), p(1, v=2), p(2), p(2)]
    sel = select(papers, FilterConfig(), {}, CATS)
    assert [x.id for x in sel.kept] == ["2601.00002v1", "2601.00001v2"]
    r = reasons(sel)
    assert r["2601.00001v1"] == "duplicate of 2601.00001v2"
    assert r["2601.00002v1"] == "duplicate of 2601.00002v1"
    assert sel.fetched == 4


def test_v2_of_posted_paper_is_not_repeated() -> None:
    sel = select([p(1, v=2), p(2)], FilterConfig(), {"2601.00001": "2026-01-06"}, CATS)
    assert [x.id for x in sel.kept] == ["2601.00002v1"]
    assert reasons(sel) == {"2601.00001v2": "already in the post of 2026-01-06"}


def test_primary_only() -> None:
    cross = p(1, categories=("eess.SP", "eess.AS"))
    primary = p(2, categories=("eess.AS", "cs.LG"))
    sel = select([cross, primary], FilterConfig(primary_only=True), {}, CATS)
    assert [x.id for x in sel.kept] == [primary.id]
    assert reasons(sel) == {cross.id: "not primary in cs.SD/eess.AS (primary: eess.SP)"}
    assert len(select([cross, primary], FilterConfig(), {}, CATS).kept) == 2


def test_exclude_keyword_whole_word_case_insensitive() -> None:
    music = p(1, title="Neural MUSIC transcription")
    musical = p(2, title="Musical timbre", abstract="A study of musicality.")
    in_abstract = p(3, abstract="We generate music, quickly.")
    sel = select([music, musical, in_abstract], FilterConfig(exclude_keywords=["music"]), {}, CATS)
    assert [x.id for x in sel.kept] == [musical.id]
    assert reasons(sel) == {
        music.id: "matches exclude keyword 'music'",
        in_abstract.id: "matches exclude keyword 'music'",
    }


def test_include_keyword_phrases() -> None:
    hit = p(1, abstract="Robust Speech\n  Enhancement under noise.")
    split = p(2, abstract="Speech models and enhancement of images.")
    sel = select([hit, split], FilterConfig(include_keywords=["speech enhancement"]), {}, CATS)
    assert [x.id for x in sel.kept] == [hit.id]
    assert reasons(sel) == {split.id: "no include keyword"}


def test_keywords_with_symbols() -> None:
    a = p(1, title="A C++ toolkit for audio")
    b = p(2, title="A C toolkit")
    sel = select([a, b], FilterConfig(include_keywords=["c++"]), {}, CATS)
    assert [x.id for x in sel.kept] == [a.id]


def test_max_papers_leaves_out_oldest_and_says_so() -> None:
    papers = [p(n) for n in range(1, 6)]
    sel = select(papers, FilterConfig(max_papers=2), {}, CATS)
    assert [x.id for x in sel.kept] == ["2601.00005v1", "2601.00004v1"]
    assert [x.id for x in sel.left_out] == ["2601.00003v1", "2601.00002v1", "2601.00001v1"]
    assert sel.dropped == [] and sel.fetched == 5


def test_filters_apply_before_the_cap() -> None:
    papers = [p(1), p(2), p(3, title="music demo")]
    sel = select(papers, FilterConfig(max_papers=2, exclude_keywords=["music"]), {}, CATS)
    assert [x.id for x in sel.kept] == ["2601.00002v1", "2601.00001v1"]
    assert sel.left_out == []
