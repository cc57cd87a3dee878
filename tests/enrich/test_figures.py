"""The figure check: what counts as a figure, how figures compare, derived figures, marks and the re-ask note."""

from __future__ import annotations

import re

import pytest

from digest.enrich.figures import UNVERIFIED, check_read, extract_figures, mark_unverified, reask_note
from helpers import seed_files


def texts(text: str) -> list[str]:
    return [f.text for f in extract_figures(text)]


# -- what is a figure


def test_decimals_percentages_and_counts_of_ten_or_more_are_figures() -> None:
    figs = extract_figures("WER 降至 4.3，相对降低 15%，共 72 个国家、1,444 条音频，使用 3 个模型。")
    assert [(f.text, f.kind) for f in figs] == [("4.3", "decimal"), ("15%", "percent"), ("72", "count"),
                                                 ("1,444", "count")]
    assert figs[3].value == 1444


def test_spans_are_exact_offsets_of_the_original_text() -> None:
    text = "准确率为 ９２．５％，比基线高 ３．１ 个百分点"
    for fig in extract_figures(text):
        assert text[fig.start:fig.end] == fig.text
    assert texts(text) == ["９２．５％", "３．１ 个百分点"]


@pytest.mark.parametrize(
    "text",
    [
        "发表于 2023 年，2021年的工作",  # years
        "见 Table 12 与 Fig. 10、Eq. (12)、Sec. 4.2、Section 3.1、表 11、图 14、公式 (15)",  # references
        "在 3.2 节和第 12 层",  # section after, ordinal
        "arXiv 2601.03227v1 与 2512.01234",  # arXiv ids
        "v2.1、版本 3.0、version 2.5 与 1.2.3",  # versions
        "如 [12] 和 [3, 15-17] 所示",  # citations
        "2026-01-07、2025/12/31、2026年1月7日、1月21日",  # dates
        "\\( x_{10} = 0.25 \\) 以及 $y = 12.5$ 与 \\[ z^{20} \\]",  # LaTeX math
        "AGL1K、Llama-3.1-70B、GPT-4.5、F1、top-10、10-shot、1e-4、wav2vec2",  # numbers in names
        "https://example.org/a/12.5 与 [链接](https://x.org/15.5)",  # URLs
        "锚点 08:50",  # times of day
        "全文解读失败：HTTP 404；R@10 与 R@50",  # status codes, metric names
        "使用 3 个模型和 5 种方法",  # counts under ten
    ],
)
def test_these_are_not_figures(text: str) -> None:
    assert texts(text) == []


def test_a_year_that_counts_something_is_a_figure() -> None:
    assert texts("共 2000 小时语音，2048 维特征，2023 年发布") == ["2000 小时", "2048"]


def test_units_and_scales() -> None:
    figs = {f.text: f for f in extract_figures("16 kHz 采样，1.2M 参数，3.5k 小时，200 ms 延迟，3万条，1.5 亿，12 million")}
    assert figs["16 kHz"].normalized == 16000 and figs["16 kHz"].kind == "count"
    assert figs["1.2M"].normalized == pytest.approx(1.2e6)
    assert figs["3.5k"].normalized == pytest.approx(3500)
    assert figs["200 ms"].normalized == pytest.approx(0.2)
    assert figs["3万"].normalized == 30000 and figs["3万"].kind == "count"  # a count of 30,000
    assert figs["1.5 亿"].normalized == pytest.approx(1.5e8)
    assert figs["12 million"].normalized == 12e6


# -- comparison


@pytest.mark.parametrize(
    ("read", "source"),
    [
        ("均值为 4.30", "mean 4.3"),
        ("均值为 4.3", "mean 4.30"),
        ("均值为 4.3", "mean 4.31"),  # the read rounds
        ("提升 15 %", "improves by 15%"),
        ("提升 １５％", "improves by 15%"),
        ("准确率 15%", "accuracy of 0.15"),
        ("准确率 0.92", "accuracy 92%"),
        ("共 1,444 条", "1444 clips"),
        ("共 1444 条", "1,444 clips"),
        ("16 kHz 采样", "sampled at 16000 Hz"),
        ("16000 Hz 采样", "sampled at 16 kHz"),
        ("1.2M 参数", "1.2 million parameters"),
        ("120 万参数", "1.2M parameters"),
        ("约 1400 条", "1,444 clips"),  # "about" allows 10%
        ("超过 1000 小时", "1,444 hours"),  # "over" is a lower bound
        ("延迟 200 ms", "latency of 0.2 s"),
        ("降低 0.5 dB", "a change of −0.5 dB"),
    ],
)
def test_figures_compare_by_value(read: str, source: str) -> None:
    check = check_read(read, source)
    assert check.figures and check.clean, [f.text for f in check.unsupported]


@pytest.mark.parametrize(
    ("read", "source"),
    [
        ("均值为 4.35", "mean 4.3"),  # more precision than the paper gives
        ("提升 15%", "improves by 16%"),
        ("共 1,445 条", "1444 clips"),
        ("16 kHz 采样", "sampled at 8 kHz"),
        ("约 2000 条", "1,444 clips"),
        ("超过 1000 小时", "900 hours"),
    ],
)
def test_different_values_are_unsupported(read: str, source: str) -> None:
    check = check_read(read, source)
    assert len(check.unsupported) == 1 and not check.clean


@pytest.mark.parametrize(
    ("read", "source"),
    [
        ("WER 相对降低 12%", "WER of 10.0 for the baseline and 8.8 for ours"),  # relative change
        ("绝对降低 1.2", "WER of 10.0 for the baseline and 8.8 for ours"),  # difference
        ("提升 2.1 个百分点", "accuracy 85.3% vs 83.2%"),  # difference of percentages
        ("快 3.5 倍", "RTF 0.70 against 0.20"),  # ratio
        ("相对提升 2.5%", "score 82.0 vs 80.0"),  # relative change, rounded
    ],
)
def test_a_figure_derived_from_two_source_figures_is_supported(read: str, source: str) -> None:
    check = check_read(read, source)
    assert check.clean, [f.text for f in check.unsupported]


def test_derived_figures_need_operands_that_stand_together() -> None:
    far = "baseline WER 10.0. " + "Unrelated words without numbers. " * 20 + "Elsewhere a value of 8.8 appears."
    assert not check_read("相对降低 12%", far).clean
    near = check_read("相对降低 12%", "baseline WER 10.0, ours 8.8")
    assert near.clean and [f.text for f in near.derived] == ["12%"]


def test_the_title_counts_as_source() -> None:
    assert check_read("基准包含 1000 段录音", "no figures here", title="A 1000-Clip Benchmark").clean


# -- subject


def test_another_papers_title_as_subject_is_flagged() -> None:
    other = "Streaming Speech Recognition with Braided Transducers"
    read = f"本文提出 {other}，在 LibriSpeech 上取得进展。"
    check = check_read(read, "Our paper studies geo-localization.", title="Audio Geo-Localization",
                       other_titles=[other, "Short"])
    assert check.wrong_subject and check.other_title == other and not check.clean
    # Cited in the paper itself, it is related work, not the subject.
    cited = check_read(read, f"Unlike {other} [3], we ...", title="Audio Geo-Localization", other_titles=[other])
    assert not cited.wrong_subject and cited.clean


# -- marks and the re-ask


def test_mark_unverified_puts_the_mark_right_after_each_figure_once() -> None:
    read = "WER 为 4.35，提升 16%，共 1,444 条。"
    check = check_read(read, "WER 4.3; 1444 clips")
    assert [f.text for f in check.unsupported] == ["4.35", "16%"]
    marked = mark_unverified(read, check.unsupported)
    assert marked == f"WER 为 4.35{UNVERIFIED}，提升 16%{UNVERIFIED}，共 1,444 条。"
    again = check_read(marked, "WER 4.3; 1444 clips")  # a re-check of the marked read
    assert [f.text for f in again.unsupported] == ["4.35", "16%"]
    assert mark_unverified(marked, again.unsupported) == marked  # marking again adds nothing
    assert mark_unverified(read, []) == read
    with pytest.raises(ValueError, match="not at"):
        mark_unverified("短文", check.unsupported)


def test_reask_note_names_each_unsupported_figure_once() -> None:
    check = check_read("WER 为 4.35，另一处也是 4.35，提升 16%", "WER 4.3")
    note = reask_note(check.unsupported)
    assert "4.35、16%" in note and note.count("4.35") == 1
    assert "论文" in note and "删去" in note


# -- the seed posts' deep reads


def plain_number(x: float) -> str:
    """12000000.0 -> "12000000", 0.25 -> "0.25": the figure as a paper would write it, without a scale."""
    return f"{x:.6f}".rstrip("0").rstrip(".")


def seed_deep_reads() -> list[tuple[str, str]]:
    """(title, deep read) for every paper of the seed posts that has one."""
    out = []
    for seed in seed_files():
        text = seed.read_text(encoding="utf-8")
        for section in re.split(r"\n(?=## )", text)[1:]:
            title = section.splitlines()[0][3:].strip()
            body = re.search(r'<div markdown="1">\n(.*?)\n</div>', section, re.S)
            if body and not body.group(1).lstrip().startswith("（全文解读失败"):  # a failure line is not a read
                out.append((title, body.group(1)))
    return out


def test_seed_deep_reads_have_plausible_figures_and_check_clean_against_their_own_figures(capsys) -> None:
    reads = seed_deep_reads()
    assert len(reads) >= 10
    counts = []
    for title, read in reads:
        figs = extract_figures(read)
        counts.append(len(figs))
        for fig in figs:
            assert read[fig.start:fig.end] == fig.text
            # A figure is never a year, an arXiv id or part of a URL.
            assert not re.fullmatch(r"(19|20)\d\d", fig.text), (title, fig.text)
        # A source made of the read's own figures (written the paper's way) supports every one of them.
        source = " ; ".join(plain_number(f.normalized) if f.kind != "percent" else f"{f.value:g}%" for f in figs)
        check = check_read(read, source, title=title)
        assert check.clean, (title, [f.text for f in check.unsupported])
    with capsys.disabled():
        print(f"\nseed deep reads: {len(reads)}, figures per read: {counts}, total {sum(counts)}")
    assert sum(counts) >= len(reads)  # deep reads quote results; none found at all would mean a broken extractor


def test_seed_reads_checked_against_an_unrelated_source_are_caught() -> None:
    reads = seed_deep_reads()
    caught = [check_read(read, "This paper has no numbers at all.", title=title) for title, read in reads]
    with_figures = [c for c in caught if c.figures]
    assert with_figures and all(c.unsupported for c in with_figures)


def test_a_ratio_is_not_supported_by_a_percentage_of_the_same_number() -> None:
    assert [f.text for f in check_read("推理速度提升 23.5 倍。", "accuracy rises by 23.5% on the test set").unsupported] == [
        "23.5 倍"]
    assert check_read("推理速度提升 23.5 倍。", "decoding is 23.5 times faster").clean
    assert check_read("推理速度提升 23.5 倍。", "RTF speed-up | 23.5").clean
