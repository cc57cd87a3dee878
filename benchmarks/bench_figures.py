"""The figure check on synthetic reads: false alarms on clean reads, invented figures caught and missed.

    /work/venv/bin/python benchmarks/bench_figures.py [--cases 300] [--invented 3] [--seed 7] [--no-real]

Synthetic set: an invented paper text (results in sentences and a table, plus years, citations, table and
section numbers, an arXiv id) and a clean Chinese read quoting its figures the way a model rewrites them
(rounded, 15 % as 15%, full-width digits, 16000 Hz as 16 kHz, a relative change derived from two results).
The tampered read is the clean one plus sentences with invented figures (values the source does not state).
Real set (when ../shared/realdata/pdfs is there): the same, with the prepared text of each real paper as the
source and figures taken from it. Seed set (when ../shared/seeds is there): every seed deep read (real model
reads) checked against its stand-in paper (a generated PDF stating the figures the read cites, through the real
PDF extraction), plus invented sentences. Stand-in runs (seeds, unless --no-standin): each seed day through
`digest run` in a child process against the chat stand-in inventing a sentence of figures in every other
paper's first deep read; once answering the re-ask cleanly (the post must equal the seed byte for byte), once
inventing again (each invented figure must be marked). Prints a table and one JSON line; exits 1 on any false
alarm or a stand-in run that misses its target.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from digest.enrich.figures import Figure, check_read, extract_figures  # noqa: E402

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "pdfs"
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
FULL_WIDTH = str.maketrans("0123456789.%", "０１２３４５６７８９．％")
METRICS = ["WER", "EER", "准确率", "F1", "MOS", "SDR", "BLEU", "召回率"]


@dataclass
class Tally:
    """Counts for one set of cases."""

    name: str
    reads: int = 0
    clean_figures: int = 0
    false_alarms: int = 0
    clean_reads_flagged: int = 0
    invented: int = 0
    caught: int = 0
    missed: int = 0
    invented_as_change: int = 0
    caught_as_change: int = 0
    missed_as_derived: int = 0  # an invented figure that equals a difference/ratio/relative change of the source
    missed_by_kind: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)


def _fmt(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}"


def synthetic_case(rng: random.Random) -> tuple[str, list[str]]:
    """(source text, the clean read's sentences)."""
    base = round(rng.uniform(5, 40), 2)
    ours = round(base * rng.uniform(0.6, 0.95), 2)
    acc = round(rng.uniform(60, 95), 1)
    acc_base = round(acc - rng.uniform(0.5, 6), 1)
    hours = rng.choice([960, 1000, 4500, 10000, 60000])
    rate = rng.choice([8000, 16000, 24000, 44100, 48000])
    params = round(rng.uniform(1, 300), 1)
    clips = rng.randint(1000, 99999)
    year = rng.randint(2015, 2025)
    source = (
        f"Paper 2601.{rng.randint(10000, 99999)}v1. Since {year}, work such as [{rng.randint(10, 60)}] studied this. "
        f"We train on {hours:,} hours of speech sampled at {rate} Hz, with {clips:,} test clips. "
        f"Section {rng.randint(2, 6)}.{rng.randint(1, 4)} describes the model with {params}M parameters. "
        f"Table {rng.randint(1, 12)}: {rng.choice(METRICS[:2])} of {base:.2f} for the baseline "
        f"and {ours:.2f} for ours; "
        f"accuracy {acc_base:.1f}% vs {acc:.1f}%. Figure {rng.randint(10, 20)} shows the trend. "
        f"Eq. ({rng.randint(10, 30)}) defines the loss, with lambda = {rng.choice([0.1, 0.5])}."
    )
    rel = (base - ours) / base * 100
    sentences = [
        f"模型在 {hours:,} 小时语音上训练，采样率 {rate / 1000:g} kHz。",
        f"测试集共 {clips} 条音频，模型参数量为 {params:.1f}M。",
        f"WER 从 {base:.2f} 降至 {_fmt(ours, 1)}，相对降低 {rel:.1f}%。",
        f"准确率达到 {acc:.1f} %，比基线高 {acc - acc_base:.1f} 个百分点。".translate(FULL_WIDTH)
        if rng.random() < 0.3
        else f"准确率达到 {acc:.1f} %，比基线高 {acc - acc_base:.1f} 个百分点。",
    ]
    return source, sentences


def invented_sentences(rng: random.Random, source_figures: list[Figure], n: int) -> list[tuple[str, str, bool]]:
    """n (sentence, figure text, stated as a change) triples whose figures the source does not state directly.

    Half are stated as a change or ratio (相对提升 x%, 快 x 倍), the form a derived figure may take: the
    hardest case, since such a figure is also checked against differences and ratios of the source.
    """
    stated = {round(f.value, 3) for f in source_figures} | {round(f.normalized, 3) for f in source_figures}
    out: list[tuple[str, str, bool]] = []
    while len(out) < n:
        kind = rng.choice(["decimal", "percent", "count"])
        if kind == "decimal":
            value = round(rng.uniform(0.5, 99.0), rng.choice([1, 2]))
            text = f"{value}"
        elif kind == "percent":
            value = round(rng.uniform(1, 99), 1)
            text = f"{value}%"
        else:
            value = rng.randint(11, 50000)
            text = f"{value:,}" if value >= 1000 and rng.random() < 0.5 else str(value)
        if any(abs(value - s) < 0.051 for s in stated):
            continue  # by chance the paper's own figure: not invented
        if rng.random() < 0.5:
            if kind == "decimal":
                out.append((f"推理速度比基线快 {text} 倍。", f"{text} 倍", True))
            elif kind == "percent":
                out.append((f"{rng.choice(METRICS)} 相对基线提升 {text}。", text, True))
            else:
                out.append((f"训练数据比基线多 {text} 条。", text, True))
        else:
            out.append((f"此外，{rng.choice(METRICS)} 在额外测试中为 {text}。", text, False))
    return out


def run_case(tally: Tally, source: str, sentences: list[str], rng: random.Random, invented: int) -> None:
    """Check the clean read and the tampered read of one case; add to the tally."""
    clean = "1)  \n- " + "\n- ".join(sentences)
    t = time.perf_counter()
    check = check_read(clean, source)
    tally.seconds += time.perf_counter() - t
    tally.reads += 1
    tally.clean_figures += len(check.figures)
    tally.false_alarms += len(check.unsupported)
    if check.unsupported:
        tally.clean_reads_flagged += 1
        if len(tally.examples) < 5:
            tally.examples.append(", ".join(f.text for f in check.unsupported))
    extra = invented_sentences(rng, extract_figures(source, all_numbers=True), invented)
    tampered = clean + "\n- " + "\n- ".join(s for s, _, _ in extra)
    t = time.perf_counter()
    tampered_check = check_read(tampered, source)
    tally.seconds += time.perf_counter() - t
    flagged = {f.text for f in tampered_check.unsupported}
    derived = {f.text for f in tampered_check.derived}
    kinds = {f.text: f.kind for f in tampered_check.figures}
    for _, text, as_change in extra:
        tally.invented += 1
        tally.invented_as_change += as_change
        if text in flagged:
            tally.caught += 1
            tally.caught_as_change += as_change
        else:
            tally.missed += 1
            tally.missed_as_derived += text in derived
            kind = kinds.get(text, "not extracted")
            tally.missed_by_kind[kind] = tally.missed_by_kind.get(kind, 0) + 1


def real_sources(max_chars: int = 60000) -> list[tuple[str, str]]:
    """(name, prepared text) of the real papers, or nothing when realdata is absent."""
    if not REALDATA.is_dir():
        return []
    from digest.enrich.fulltext import pdf_to_text

    out = []
    for pdf in sorted(REALDATA.glob("*.pdf")):
        try:
            text, _, _ = pdf_to_text(pdf.read_bytes(), max_chars)
        except Exception as exc:  # noqa: BLE001 - a paper that does not extract is left out and said so
            print(f"skip {pdf.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        out.append((pdf.stem, text))
    return out


def real_case(rng: random.Random, text: str) -> list[str]:
    """Clean read sentences quoting figures the real paper states, rewritten as a model might, plus up to two
    figures derived from neighbouring results (a difference in points, a relative change)."""
    figures = extract_figures(text)
    sentences = []
    for fig in rng.sample(figures, min(8, len(figures))):
        shown = fig.text
        if fig.kind == "percent" and rng.random() < 0.5:
            shown = shown.replace(" %", "%").replace("%", " %")
        elif fig.kind == "decimal" and shown.endswith("0") and rng.random() < 0.5:
            shown = shown.rstrip("0").rstrip(".") if "." in shown else shown
        if rng.random() < 0.2:
            shown = shown.translate(FULL_WIDTH)
        sentences.append(f"论文报告的{rng.choice(METRICS)}为 {shown}。")
    pairs = [
        (f, g) for i, f in enumerate(figures) for g in figures[i + 1:i + 6]
        if g.start - f.end < 150 and f.kind == g.kind != "count" and f.value != g.value and min(f.value, g.value) > 0
    ]
    for f, g in rng.sample(pairs, min(2, len(pairs))):
        hi, lo = max(f.value, g.value), min(f.value, g.value)
        if f.kind == "percent" and rng.random() < 0.5:
            sentences.append(f"比基线高 {hi - lo:.{max(f.decimals, g.decimals)}f} 个百分点。")
        else:
            sentences.append(f"相对基线降低 {(hi - lo) / hi * 100:.1f}%。")
    return sentences


def seed_days(*, complete: bool = True) -> list[tuple[str, object]]:
    """(file name, record) of the seed posts (complete: only those whose deep reads all succeeded)."""
    from digest.publish.importer import parse_post

    out = []
    for seed in sorted(SEEDS.glob("*.md")) if SEEDS.is_dir() else []:
        text = seed.read_text(encoding="utf-8")
        record = parse_post(text, seed.name).record
        if record is not None and not (complete and "全文解读失败" in text):
            out.append((seed.name, record))
    return out


def seed_set(rng: random.Random, invented: int) -> Tally:
    """Each seed read against the prepared text of a stand-in PDF stating its figures; invented sentences added."""
    from digest.enrich.figures import stated_numbers
    from digest.enrich.fulltext import pdf_to_text
    from digest.standins.pdfgen import make_paper_pdf_stating

    tally = Tally("seed reads")
    for _name, record in seed_days(complete=False):
        for e in record.papers:  # type: ignore[attr-defined]
            read = e.deep_read.text if e.deep_read is not None and e.deep_read.status == "done" else ""
            if not read:
                continue
            text, _, _ = pdf_to_text(make_paper_pdf_stating(e.title, stated_numbers(read)), 60000)
            run_case(tally, f"{e.abstract}\n{text}", [read.removeprefix("1)  \n- ")], rng, invented)
    return tally


def _abstract(pid: str, chinese_chars: int) -> str:
    """English text of a realistic length (the seeds hold only the Chinese translation)."""
    sentence = f"English abstract of paper {pid}, invented for the benchmark, about speech and audio. "
    return (sentence * (1 + (2 * chinese_chars) // len(sentence))).strip()


def standin_runs() -> list[dict[str, object]]:
    """Each seed day through the real CLI against the chat stand-in that invents figures in every other first read."""
    import tempfile
    from datetime import datetime, timedelta

    from common import DUMMY_KEY, DUMMY_KEY_ENV, run_cli, write_config

    from digest.core.store import write_record
    from digest.enrich.figures import UNVERIFIED, stated_numbers
    from digest.standins.arxiv_server import ArxivStandIn, make_paper
    from digest.standins.chat_server import INVENTED_SENTENCE, ChatStandIn, is_deep_read, is_reask, user_prompt
    from digest.standins.pdf_host import PdfHost
    from digest.standins.pdfgen import make_paper_pdf_stating

    invented_figs = [f.text for f in extract_figures(INVENTED_SENTENCE)]
    rows = []
    for name, record in seed_days():
        entries = record.papers  # type: ignore[attr-defined]
        end = datetime.fromisoformat(record.window.end)  # type: ignore[attr-defined]
        start = datetime.fromisoformat(record.window.start)  # type: ignore[attr-defined]
        papers = [make_paper(e.id, end - timedelta(minutes=30 + 37 * k), categories=e.categories, title=e.title,
                             authors=e.authors, abstract=_abstract(e.id, len(e.translation.text)))
                  for k, e in enumerate(entries)]
        dup = [make_paper(f"2601.9980{k}v1", start + timedelta(minutes=k + 1))
               for k in range(record.counts.fetched - record.counts.shown)]  # type: ignore[attr-defined]
        by_title = {e.title: e for e in entries}
        pdfs = {p.id: make_paper_pdf_stating(p.title, stated_numbers(by_title[p.title].deep_read.text), pages=2)
                for p in papers}
        chosen = [e.title for e in entries[::2]]

        def answer(req: dict, by_title: dict = by_title) -> str:
            prompt = user_prompt(req)
            for title, e in by_title.items():
                if title in prompt:
                    return e.deep_read.text if is_deep_read(req) else e.translation.text
            raise AssertionError("unknown paper")

        for again in (False, True):
            with tempfile.TemporaryDirectory() as tmp, ArxivStandIn(papers + dup) as arxiv, PdfHost(pdfs) as host, \
                    ChatStandIn(answer) as chat:
                site = Path(tmp)
                if dup:
                    from digest.core.record import Counts, DayRecord, Entry, WindowInfo

                    prev = (end - timedelta(days=1)).date().isoformat()
                    write_record(site / "_data" / "digest", DayRecord(
                        date=prev, window=WindowInfo(start=start.isoformat(), end=end.isoformat()),
                        counts=Counts(fetched=len(dup), shown=len(dup)),
                        papers=[Entry(id=p.id, title=p.title, authors=list(p.authors), categories=list(p.categories),
                                      abstract=p.abstract, abs_url="", pdf_url="") for p in dup]))
                write_config(site, {
                    "arxiv": {"api_url": arxiv.api_url, "listing_url": arxiv.listing_url, "delay_seconds": 0,
                              "pdf_download_url": host.pdf_url, "html_download_url": host.html_url},
                    "window": {"basis": "submitted"},
                    "llm": {"base_url": chat.base_url, "api_key_env": DUMMY_KEY_ENV, "model": "stand-in",
                            "concurrency": 4, "max_retries": 1, "timeout_seconds": 30},
                })
                chat.invent_figures(chosen, again=again)
                run_cli(site, ["run", "--date", record.date], env={DUMMY_KEY_ENV: DUMMY_KEY}).check()  # type: ignore[attr-defined]
                post = (site / "_posts" / name).read_text(encoding="utf-8")
                deep = [c for c in chat.calls if is_deep_read(c)]
                reasked = {t for t in by_title for c in deep if is_reask(c) and f"论文标题：{t}\n" in user_prompt(c)}
                invented = len(chosen) * len(invented_figs)
                marked = sum(post.count(f + UNVERIFIED) for f in invented_figs)
                present = sum(post.count(f) for f in invented_figs)
                rows.append({
                    "seed": name, "papers": len(entries), "invented_reads": len(chosen), "second_invents": again,
                    "deep_read_calls": len(deep), "extra_calls": len(deep) - len(entries),
                    "clean_reads_reasked": len(reasked - set(chosen)),
                    "invented_figures": invented,
                    "caught": invented - (present - marked) if again else invented - present,
                    "missed": present - marked if again else present,
                    "marks_in_post": post.count(UNVERIFIED),
                    "post_equals_seed": post == (SEEDS / name).read_text(encoding="utf-8"),
                })
    return rows


def _standin_ok(row: dict[str, object]) -> bool:
    ok = row["extra_calls"] == row["invented_reads"] and row["clean_reads_reasked"] == 0 and row["missed"] == 0
    if row["second_invents"]:
        return ok and row["marks_in_post"] == row["invented_figures"]
    return ok and row["post_equals_seed"] is True and row["marks_in_post"] == 0


def main(argv: list[str] | None = None) -> int:
    """Run the sets, print the table and the JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--invented", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--no-seeds", action="store_true", help="leave out the seed reads and the stand-in runs")
    ap.add_argument("--no-standin", action="store_true", help="leave out the stand-in runs (child processes)")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)

    synthetic = Tally("synthetic")
    for _ in range(args.cases):
        source, sentences = synthetic_case(rng)
        run_case(synthetic, source, sentences, rng, args.invented)
    tallies = [synthetic]
    if not args.no_real:
        real = Tally("real papers")
        for _name, text in real_sources():
            for _ in range(max(1, args.cases // 30)):
                sentences = real_case(rng, text)
                if sentences:
                    run_case(real, text, sentences, rng, args.invented)
        if real.reads:
            tallies.append(real)
    if not args.no_seeds:
        seeds = seed_set(rng, args.invented)
        if seeds.reads:
            tallies.append(seeds)
    runs = [] if args.no_seeds or args.no_standin else standin_runs()

    print(f"{'set':<12} {'reads':>6} {'figures':>8} {'false alarms':>13} {'reads flagged':>14} "
          f"{'invented':>9} {'caught':>7} {'missed':>7} {'ms/check':>9}")
    for t in tallies:
        print(f"{t.name:<12} {t.reads:>6} {t.clean_figures:>8} {t.false_alarms:>13} {t.clean_reads_flagged:>14} "
              f"{t.invented:>9} {t.caught:>7} {t.missed:>7} {1000 * t.seconds / max(1, 2 * t.reads):>9.2f}")
        print(f"  stated as a change: {t.caught_as_change} of {t.invented_as_change} caught; missed: "
              f"{t.missed_as_derived} taken for derived figures, by kind {t.missed_by_kind}")
        for example in t.examples:
            print(f"  false alarm in {t.name}: {example}")
    if runs:
        print(f"\n{'stand-in run':<24} {'papers':>6} {'invented':>9} {'calls+':>7} {'clean re-asked':>15} "
              f"{'figures':>8} {'caught':>7} {'missed':>7} {'marks':>6} {'post = seed':>12} {'ok':>3}")
        for r in runs:
            label = f"{str(r['seed'])[:10]} {'invents twice' if r['second_invents'] else 'clean re-ask'}"
            print(f"{label:<24} {r['papers']:>6} {r['invented_reads']:>9} {r['extra_calls']:>7} "
                  f"{r['clean_reads_reasked']:>15} {r['invented_figures']:>8} {r['caught']:>7} {r['missed']:>7} "
                  f"{r['marks_in_post']:>6} {str(r['post_equals_seed']):>12} {'yes' if _standin_ok(r) else 'NO':>3}")
    result = {t.name: {k: v for k, v in vars(t).items() if k not in {"name", "examples"}} for t in tallies}
    print(json.dumps({**result, "standin_runs": runs}, ensure_ascii=False))
    return 1 if any(t.false_alarms for t in tallies) or not all(_standin_ok(r) for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
