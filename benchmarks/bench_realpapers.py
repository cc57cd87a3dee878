"""The full-text stage on real papers: extract_pdf_text + prepare_text on every PDF in ../shared/realdata/pdfs.

    /work/venv/bin/python benchmarks/bench_realpapers.py [--dir ../shared/realdata/pdfs] [--max-chars 20000 30000 60000]

For each paper and budget: characters extracted and kept, the sections found, whether text from the method,
results and conclusion sections survives, that nothing from the reference list does, what was dropped, and
the time. "Method" is any body section whose kind is method or an unknown name (e.g. "2 WaveNet"), "results"
any section of kind results or experiments (the kinds are documented in digest/fulltext.py); a section
survives when the first 60 characters of its body are in the prompt ("conclusion" is the last main section
when no heading says so). Also counted on the extracted text: arXiv margin stamps and control characters.
Exit 1 when a paper misses
method or results, leaks its references, keeps a stamp or a control character, or loses the conclusion at the
largest budget. The PDFs are not part of this repository; without them the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from digest.enrich.fulltext import _Section, _split_sections, extract_pdf_text, prepare_text

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT.parent / "shared" / "realdata" / "pdfs"
STAMP = re.compile(r"arXiv:\d{4}\.\d{4,5}v\d+\s*\[")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
METHOD_KINDS = ("method", "other")
RESULTS_KINDS = ("results", "experiments")
SHORT = {"abstract": "Ab", "intro": "In", "related": "Rw", "method": "M", "other": "O", "experiments": "E",
         "results": "R", "conclusion": "C", "appendix": "Ap", "references": "Ref", "ack": "Ack", "front": "F"}


def flat(text: str) -> str:
    return " ".join(text.split())


def survives(sections: list, kinds: tuple[str, ...], prompt: str) -> bool:
    """Whether the opening words of at least one section of these kinds are in the prompt."""
    return any(s.kind in kinds and s.body.strip() and flat(s.body)[:60] in prompt for s in sections)


def reference_leak(sections: list, prompt: str) -> bool:
    """Whether any of a few 50-character pieces of the reference list made it into the prompt."""
    for s in sections:
        body = flat(s.body)
        if s.kind != "references" or len(body) < 200:
            continue
        step = max(1, len(body) // 8)
        if any(body[i : i + 50] in prompt for i in range(0, len(body) - 50, step)):
            return True
    return False


def kinds_summary(sections: list) -> str:
    counts: dict[str, int] = {}
    for s in sections:
        counts[s.kind] = counts.get(s.kind, 0) + 1
    return " ".join(f"{SHORT.get(k, k)}{n if n > 1 else ''}" for k, n in counts.items())


def measure(pdf: Path, budgets: list[int]) -> dict:
    data = pdf.read_bytes()
    t = time.monotonic()
    raw = extract_pdf_text(data)
    extract_s = time.monotonic() - t
    sections = _split_sections(raw)
    # A paper without a "Conclusion" heading closes with its last main section ("6 Discussions").
    closing = [s for s in sections if s.kind == "conclusion"]
    if not closing:
        main_part = [s for s in sections if s.kind not in ("references", "ack", "appendix")]
        closing = [_Section(main_part[-1].heading, "conclusion", main_part[-1].body)] if main_part else []
    paper = {
        "paper": pdf.stem,
        "extract_s": round(extract_s, 3),
        "chars_extracted": len(raw),
        "sections": len(sections),
        "kinds": kinds_summary(sections),
        "stamps": len(STAMP.findall(raw)),
        "control_chars": len(CONTROL.findall(raw)),
        "budgets": [],
    }
    for budget in budgets:
        t = time.monotonic()
        prompt, dropped = prepare_text(raw, budget)
        prepare_s = time.monotonic() - t
        p = flat(prompt)
        paper["budgets"].append({
            "max_chars": budget,
            "kept": len(prompt),
            "method": survives(sections, METHOD_KINDS, p),
            "results": survives(sections, RESULTS_KINDS, p),
            "conclusion": survives(closing, ("conclusion",), p),
            "refs_leak": reference_leak(sections, p),
            "stamp": bool(STAMP.search(prompt)),
            "control": bool(CONTROL.search(prompt)),
            "dropped": dropped,
            "prepare_s": round(prepare_s, 3),
        })
    return paper


def verdict(paper: dict) -> bool:
    ok = True
    for b in paper["budgets"]:
        ok &= b["method"] and b["results"] and not b["refs_leak"] and not b["stamp"] and not b["control"]
    largest = max(paper["budgets"], key=lambda b: b["max_chars"])
    return ok and largest["conclusion"]


def yn(v: bool) -> str:
    return "yes" if v else "NO"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="folder of real PDFs")
    ap.add_argument("--max-chars", type=int, nargs="+", default=[20000, 30000, 60000])
    args = ap.parse_args(argv)
    pdfs = sorted(args.dir.glob("*.pdf")) if args.dir.is_dir() else []
    if not pdfs:
        print(f"no real PDFs in {args.dir}: nothing to measure (they are not part of this repository)")
        return 0
    papers = [measure(pdf, args.max_chars) for pdf in pdfs]
    print(f"{'paper':34} {'extract':>7} {'chars':>6} {'secs':>4} {'stamp':>5} {'ctrl':>4}  kinds")
    for p in papers:
        print(f"{p['paper']:34} {p['extract_s']:>6.3f}s {p['chars_extracted']:>6} {p['sections']:>4} "
              f"{p['stamps']:>5} {p['control_chars']:>4}  {p['kinds']}")
    print()
    print(f"{'paper':34} {'max':>6} {'kept':>6} {'method':>6} {'results':>7} {'concl':>5} {'refs':>4} "
          f"{'time':>7}  dropped")
    for p in papers:
        for b in p["budgets"]:
            print(f"{p['paper']:34} {b['max_chars']:>6} {b['kept']:>6} {yn(b['method']):>6} {yn(b['results']):>7} "
                  f"{yn(b['conclusion']):>5} {'LEAK' if b['refs_leak'] else 'no':>4} "
                  f"{p['extract_s'] + b['prepare_s']:>6.3f}s  {'; '.join(b['dropped']) or '-'}")
    passed = all(verdict(p) for p in papers)
    for p in papers:
        print(json.dumps({**p, "passed": verdict(p)}, ensure_ascii=False))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
