"""Unattended runs (issue 14): a closed model port, a provider serving 4 calls at once, a token budget.

    /work/venv/bin/python benchmarks/bench_unattended.py [--papers 20] [--latency 1.0] [--provider-limit 4]

Each case runs the real `digest run` in a child process against local stand-ins:
- closed port: `llm.base_url` on a port where nothing listens, a new day and then `--force` on a complete day.
  Targets: exit 1 within 15 s, one error line naming the URL and llm.base_url, the complete post byte-identical.
- 4-parallel: N papers (2N calls of `--latency` s each), `llm.concurrency` 8, a provider answering 429 beyond
  `--provider-limit` calls at once. Targets: every paper done, at most 12 answers of 429, and the model phase
  (first chat request to the last answer) within 1.3 x ceil(2N / limit) x latency.
- budget: `llm.max_tokens_per_run` at half of what a normal run of the day spent; runs until the day is complete.
  Targets: each run within the budget plus one call, every paper translated in the first, as many calls in all
  as a normal run.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from common import DUMMY_KEY, DUMMY_KEY_ENV, paper_pdf, papers_in_day, run_cli, temp_site, write_config  # noqa: E402

from digest.core.record import DayRecord  # noqa: E402
from digest.standins.arxiv_server import ArxivStandIn  # noqa: E402
from digest.standins.chat_server import ChatStandIn  # noqa: E402
from digest.standins.pdf_host import PdfHost  # noqa: E402

DAY = date(2026, 11, 4)
ENV = {DUMMY_KEY_ENV: DUMMY_KEY}


def _closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def _config(site: Path, arxiv: ArxivStandIn, host: PdfHost, base_url: str, **llm: object) -> None:
    write_config(site, {
        "arxiv": {"api_url": arxiv.api_url, "listing_url": arxiv.listing_url, "pdf_download_url": host.pdf_url,
                  "html_download_url": host.html_url, "delay_seconds": 0.05},
        "window": {"basis": "submitted"},
        "llm": {"base_url": base_url, "api_key_env": DUMMY_KEY_ENV, "model": "stand-in", **llm},
    })


def _record(site: Path) -> DayRecord:
    return DayRecord.model_validate_json((site / "_data" / "digest" / f"{DAY}.json").read_text(encoding="utf-8"))


def closed_port(papers: int) -> dict[str, object]:
    """Exit code and time of a run whose model port is closed: on a new day, then with --force on a complete one."""
    ps = papers_in_day(DAY, papers)
    pdf = paper_pdf(2)
    out: dict[str, object] = {}
    with temp_site() as site, ArxivStandIn(ps) as arxiv, PdfHost({p.id: pdf for p in ps}) as host:
        url = _closed_url()
        _config(site, arxiv, host, url)
        new = run_cli(site, ["run", "--date", DAY.isoformat()], env=ENV)
        out["new_day_exit"] = new.returncode
        out["new_day_seconds"] = round(new.wall_seconds, 2)
        out["new_day_post_written"] = (site / "_posts" / f"{DAY}-arxiv.md").exists()
        with ChatStandIn() as chat:
            _config(site, arxiv, host, chat.base_url)
            run_cli(site, ["run", "--date", DAY.isoformat()], env=ENV).check()
        post = (site / "_posts" / f"{DAY}-arxiv.md").read_bytes()
        record = (site / "_data" / "digest" / f"{DAY}.json").read_bytes()
        _config(site, arxiv, host, url)
        force = run_cli(site, ["run", "--date", DAY.isoformat(), "--force"], env=ENV)
        errors = [ln for ln in force.stderr.splitlines() if ln.startswith("digest: error:")]
        out["force_exit"] = force.returncode
        out["force_seconds"] = round(force.wall_seconds, 2)
        out["error_lines"] = len(errors)
        out["names_url_and_key"] = bool(errors) and url in errors[0] and "llm.base_url" in errors[0]
        out["post_identical"] = (site / "_posts" / f"{DAY}-arxiv.md").read_bytes() == post
        out["record_identical"] = (site / "_data" / "digest" / f"{DAY}.json").read_bytes() == record
    out["ok"] = (out["new_day_exit"] == 1 and out["force_exit"] == 1 and float(out["force_seconds"]) <= 15  # type: ignore[arg-type]
                 and float(out["new_day_seconds"]) <= 15 and out["error_lines"] == 1  # type: ignore[arg-type]
                 and out["names_url_and_key"] and out["post_identical"] and out["record_identical"])
    return out


def parallel(papers: int, latency: float, limit: int) -> dict[str, object]:
    """A day against a provider that serves `limit` calls at once and answers 429 beyond."""
    ps = papers_in_day(DAY, papers)
    pdf = paper_pdf(2)
    with (temp_site() as site, ArxivStandIn(ps) as arxiv, PdfHost({p.id: pdf for p in ps}) as host,
          ChatStandIn(latency=latency, max_parallel=limit) as chat):
        _config(site, arxiv, host, chat.base_url, concurrency=8)
        run = run_cli(site, ["run", "--date", DAY.isoformat()], env=ENV).check()
        posts = [r for r in chat.requests if r.method == "POST"]
        model_phase = (max(r.at for r in posts) + latency) - min(r.at for r in posts)
        floor = math.ceil(2 * papers / limit) * latency
        done = sum(1 for e in _record(site).papers if e.status == "done")
        out: dict[str, object] = {
            "papers": papers, "done": done, "calls_answered": len(chat.calls), "http_429": chat.parallel_rejections,
            "provider_peak_parallel": chat.peak_in_flight, "model_phase_seconds": round(model_phase, 2),
            "floor_seconds": floor, "ratio": round(model_phase / floor, 3), "wall_seconds": round(run.wall_seconds, 2),
        }
    out["ok"] = done == papers and chat.parallel_rejections <= 12 and model_phase <= 1.3 * floor
    return out


def budget(papers: int) -> dict[str, object]:
    """Runs of a day under half the tokens a normal run spends, until the day is complete."""
    ps = papers_in_day(DAY, papers)
    pdf = paper_pdf(2)
    with temp_site() as normal_site, ArxivStandIn(ps) as arxiv, PdfHost({p.id: pdf for p in ps}) as host:
        with ChatStandIn() as chat:
            _config(normal_site, arxiv, host, chat.base_url)
            run_cli(normal_site, ["run", "--date", DAY.isoformat()], env=ENV).check()
            stats = _record(normal_site).stats
            need, calls = stats.prompt_tokens + stats.completion_tokens, len(chat.calls)
            biggest = max(r.prompt_tokens + r.completion_tokens for e in _record(normal_site).papers
                          for r in e.results.values())
        limit = need // 2
        runs: list[dict[str, int]] = []
        with temp_site() as site, ChatStandIn() as chat:
            _config(site, arxiv, host, chat.base_url, max_tokens_per_run=limit)
            while len(runs) < 5:
                run_cli(site, ["run", "--date", DAY.isoformat()], env=ENV).check()
                rec = _record(site)
                s = rec.stats
                translated = sum(1 for e in rec.papers if e.translation and e.translation.status == "done")
                runs.append({"tokens": s.prompt_tokens + s.completion_tokens, "deferred": s.deferred,
                             "translated": translated,
                             "calls_so_far": len(chat.calls)})
                if all(e.status == "done" for e in rec.papers):
                    break
            total = len(chat.calls)
    ok = (all(r["tokens"] <= limit + biggest for r in runs) and runs[0]["translated"] == papers
          and runs[0]["deferred"] > 0 and runs[-1]["deferred"] == 0 and total == calls)
    return {"normal_tokens": need, "normal_calls": calls, "budget": limit, "biggest_call": biggest, "runs": runs,
            "calls_in_all": total, "ok": ok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=20)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--provider-limit", type=int, default=4)
    args = parser.parse_args()

    closed = closed_port(args.papers)
    print(f"closed port: new day exit {closed['new_day_exit']} in {closed['new_day_seconds']} s "
          f"(post written: {closed['new_day_post_written']}); --force on a complete day exit {closed['force_exit']} "
          f"in {closed['force_seconds']} s, {closed['error_lines']} error line(s), names URL and llm.base_url: "
          f"{closed['names_url_and_key']}, post identical: {closed['post_identical']}, record identical: "
          f"{closed['record_identical']}  [{'ok' if closed['ok'] else 'MISSED'}]")
    par = parallel(args.papers, args.latency, args.provider_limit)
    print(f"{args.provider_limit}-parallel provider: {par['done']}/{par['papers']} papers done, "
          f"{par['calls_answered']} calls answered, {par['http_429']} answers of 429, provider peak "
          f"{par['provider_peak_parallel']}; model phase {par['model_phase_seconds']} s against a floor of "
          f"{par['floor_seconds']} s (ratio {par['ratio']}, target <= 1.3); whole run {par['wall_seconds']} s  "
          f"[{'ok' if par['ok'] else 'MISSED'}]")
    bud = budget(args.papers)
    runs = "; ".join(f"run {i + 1}: {r['tokens']} tokens, {r['translated']} translated, {r['deferred']} deferred"
                     for i, r in enumerate(bud["runs"]))  # type: ignore[arg-type]
    print(f"budget {bud['budget']} of {bud['normal_tokens']} tokens a normal run spends (largest call "
          f"{bud['biggest_call']}): {runs}; {bud['calls_in_all']} calls in all vs {bud['normal_calls']} in a normal "
          f"run  [{'ok' if bud['ok'] else 'MISSED'}]")
    ok = bool(closed["ok"] and par["ok"] and bud["ok"])
    print(json.dumps({"bench": "unattended", "ok": ok, "closed_port": closed, "parallel": par, "budget": bud}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
