"""The `digest` command: parse, load config, build services, call one library function."""

from __future__ import annotations

import functools
import os
import re
import sys
import traceback
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import click

from digest.core.config import Config, load_config
from digest.core.errors import DigestError, UsageError
from digest.core.record import split_id
from digest.core.report import Reporter

_URL_ID = re.compile(r"^https?://(www\.|export\.)?arxiv\.org/(abs|pdf|html)/(?P<id>[^?#]+?)(\.pdf)?/?$")


class Context:
    def __init__(self, config: Path | None, verbose: bool, quiet: bool, debug: bool) -> None:
        self.config_path = config
        self.debug = debug
        self.reporter = Reporter(verbose=verbose or debug, quiet=quiet)

    def config(self) -> Config:
        return load_config(self.config_path, required=self.config_path is not None)

    def services(self) -> Any:
        from digest.pipeline import Services

        return Services(reporter=self.reporter)


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--config/--verbose/--quiet/--debug on every command, and one-line errors instead of tracebacks."""

    @click.option("--config", "config", type=click.Path(path_type=Path), default=None,
                  help="Config file (default ./config.yaml; relative paths in it are relative to the file).")
    @click.option("--verbose", "-v", is_flag=True, help="Say more: dropped papers and why, each paper as it finishes.")
    @click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors.")
    @click.option("--debug", is_flag=True, help="Print tracebacks for errors.")
    @functools.wraps(fn)
    def wrapper(config: Path | None, verbose: bool, quiet: bool, debug: bool, **kwargs: Any) -> None:
        ctx = Context(config, verbose, quiet, debug)
        try:
            code = fn(ctx, **kwargs)
        except DigestError as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"digest: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("digest: interrupted; finished papers are kept in the record, run again to continue", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - last line of defence: one line, not a traceback
            if debug:
                traceback.print_exc()
            click.echo(
                f"digest: unexpected error: {exc.__class__.__name__}: {exc} (run with --debug for the traceback)",
                err=True,
            )
            sys.exit(1)
        sys.exit(code or 0)

    return wrapper


def _parse_day(value: str, what: str = "--date") -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{what}: expected an existing date YYYY-MM-DD, got {value!r}") from None


def _not_future(d: date, cfg: Config, services: Any, what: str = "--date") -> date:
    """A day more than one day past today (in the window's time zone) has no arXiv mailing yet: a usage error."""
    from zoneinfo import ZoneInfo

    today = services.clock().astimezone(ZoneInfo(cfg.window.timezone)).date()
    if (d - today).days > 1:
        also = ", or leave --date out for the latest post" if what == "--date" else ""
        raise UsageError(
            f"{what}: {d.isoformat()} is in the future (today is {today.isoformat()}) and arXiv has listed nothing "
            f"for it yet; give a date up to tomorrow{also}"
        )
    return d


def normalise_arxiv_id(value: str) -> str:
    """Accept 2601.20573, 2601.20573v2, arXiv:2601.20573 or an abs/pdf URL; reject anything else."""
    raw = value.strip()
    m = _URL_ID.match(raw)
    if m:
        raw = m.group("id")
    raw = re.sub(r"^arxiv:", "", raw, flags=re.IGNORECASE)
    try:
        split_id(raw)
    except ValueError:
        raise UsageError(
            f"not an arXiv id: {value!r} (expected e.g. 2601.20573, 2601.20573v2 or https://arxiv.org/abs/2601.20573)"
        ) from None
    return raw


def entry() -> NoReturn:
    """The `digest` console command: run the CLI, then leave without tearing the interpreter down.

    By the time the CLI returns, every file it wrote is closed and synced and the site lock is released.
    Python's own shutdown would then spend ~0.2 s freeing the model SDK's thousands of classes and the PDF
    library, a fifth of a 20-paper day's overhead, so the process exits directly once stdout/stderr are flushed.
    """
    try:
        main()
        status: object = 0
    except SystemExit as exc:
        status = exc.code
    if status is None:
        code = 0
    elif isinstance(status, int):
        code = status
    else:  # sys.exit("message"), as Python itself would report it
        print(status, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="digest")
def main() -> None:
    """Daily Chinese-language arXiv digest of the configured categories, written as Jekyll posts."""


def _summarise(rep: Reporter, outcomes: list[Any], *, strict: bool = False) -> int:
    """Print the summary; the exit code: 1 when the run stopped early, 3 with --strict when papers still fail."""
    from digest.pipeline import summary_lines

    stopped = next((o.stopped for o in outcomes if o.stopped), "")
    if stopped:
        # First and once: the one thing a cron mail must show.
        click.echo(f"digest: error: {stopped}", err=True)
    for o in outcomes:
        for line in summary_lines(o):
            rep.info(line)
    if stopped:
        return 1
    if strict and any(o.stats.failed for o in outcomes):
        failed = sum(o.stats.failed for o in outcomes)
        rep.warn(f"--strict: {failed} paper{'s' if failed != 1 else ''} still failing after this run (exit 3)")
        return 3
    return 0


@main.command()
@click.option("--date", "day", default=None, help="Post date YYYY-MM-DD (default: the latest anchor at or before now).")
@click.option("--no-llm", is_flag=True, help="No model calls: English abstracts, no deep reads.")
@click.option("--force", is_flag=True, help="Redo every paper, even those already done.")
@click.option("--strict", is_flag=True, help="Exit 3 when papers still fail after the run (the last run of a morning).")
@_common
def run(ctx: Context, day: str | None, no_llm: bool, force: bool, strict: bool) -> int:
    """The daily job: fetch, select, translate, deep-read and write the post for one date."""
    cfg = ctx.config()
    from digest.core.window import latest_anchor_date
    from digest.pipeline import run_days

    services = ctx.services()
    d = _not_future(_parse_day(day), cfg, services) if day else latest_anchor_date(services.clock(), cfg.window)
    outcomes = run_days(cfg, [d], services, no_llm=no_llm, force=force)
    return _summarise(ctx.reporter, outcomes, strict=strict)


@main.command()
@click.argument("start")
@click.argument("end", required=False)
@click.option("--force", is_flag=True, help="Redo days whose post is already complete.")
@click.option("--notify", "notify", is_flag=True,
              help="Send finished days to the notify channels (without it, backfill sends nothing).")
@_common
def backfill(ctx: Context, start: str, end: str | None, force: bool, notify: bool) -> int:
    """One post per day from START to END (inclusive), oldest first."""
    cfg = ctx.config()
    from digest.pipeline import backfill as do_backfill

    services = ctx.services()
    s = _parse_day(start, "START")
    e = _not_future(_parse_day(end, "END"), cfg, services, "END") if end else _not_future(s, cfg, services, "START")
    outcomes = do_backfill(cfg, s, e, services, force=force, notify=notify)
    return _summarise(ctx.reporter, outcomes)


@main.command()
@click.argument("arxiv_id")
@click.option("--no-pdf", is_flag=True, help="Translation only; no full text, no deep read.")
@_common
def preview(ctx: Context, arxiv_id: str, no_pdf: bool) -> int:
    """Print one paper's section as a post would show it; writes no post."""
    pid = normalise_arxiv_id(arxiv_id)
    cfg = ctx.config()
    from digest.pipeline import preview as do_preview

    text = do_preview(cfg, pid, ctx.services(), no_pdf=no_pdf)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        sys.stdout.write(text)
    return 0


@main.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_common
def import_cmd(ctx: Context, paths: tuple[Path, ...]) -> int:
    """Read existing posts (files or folders) into the day records."""
    cfg = ctx.config()
    from digest.publish.posts import import_posts

    s = import_posts(cfg, list(paths))
    for n in s.normalisations:
        ctx.reporter.info(f"normalised: {n}")
    for p in s.problems:
        ctx.reporter.warn(p)
    ctx.reporter.info(
        f"imported {len(s.imported)} day(s), {len(s.unchanged)} unchanged, {len(s.kept_existing)} kept as they were; "
        f"{s.papers} papers read; records in {cfg.records_dir}"
    )
    return 0


@main.command()
@click.option("--date", "day", default=None, help="Re-render this date only.")
@click.option("--all", "all_", is_flag=True, help="Re-render every post that has a record.")
@_common
def render(ctx: Context, day: str | None, all_: bool) -> int:
    """Re-render posts from the records with the current templates (no network)."""
    if bool(day) == all_:
        raise UsageError("render: give exactly one of --date YYYY-MM-DD or --all")
    cfg = ctx.config()
    from digest.publish.posts import render_posts

    days = None if all_ else [_parse_day(day or "").isoformat()]
    done = render_posts(cfg, days)
    changed = sum(1 for _, c in done if c)
    ctx.reporter.info(f"rendered {len(done)} post(s), {changed} changed, into {cfg.posts_dir}")
    return 0


@main.command()
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("_site"), help="Output folder.")
@click.option("--url", "url", default=None, help="The site's public URL with its base path (default: site.url).")
@click.option("--no-search", is_flag=True, help="Skip the search index (Pagefind).")
@_common
def build(ctx: Context, out: Path, url: str | None, no_search: bool) -> int:
    """Build the static HTML site from the day records (topics, search index, feeds), without Ruby."""
    cfg = ctx.config()
    from digest.core.config import SiteConfig
    from digest.enrich.topics import load_taxonomy
    from digest.publish.posts import refresh_topics
    from digest.site.build import build_site, site_env

    if url is not None:
        try:
            url = SiteConfig(url=url).url
        except ValueError:
            raise UsageError(f'--url "{url}": expected the site\'s http(s) URL with its base path') from None
    taxonomy = load_taxonomy(cfg.topics_file)
    updated = refresh_topics(cfg, taxonomy)
    if updated:
        ctx.reporter.info(f"topics recomputed for {len(updated)} record(s) (taxonomy {taxonomy.fingerprint})")
    result = build_site(cfg.records_dir, out, config=cfg, env=site_env(cfg.templates_dir), base_url=url or "",
                        taxonomy=taxonomy, search=not no_search)
    indexed = "" if result.search_pages is None else f", {result.search_pages} in the search index"
    ctx.reporter.info(
        f"built {result.posts} post page(s), {len(result.topics)} topic(s){indexed} into {out} "
        f"(open {out / 'index.html'})"
    )
    if not (url or cfg.site.url):
        ctx.reporter.warn("site.url is not set, so feed links are relative; set it (or pass --url) for feed readers")
    return 0


@main.command()
@_common
def check(ctx: Context) -> int:
    """Preflight for unattended runs: config, keys, model services, arXiv, folders, channels; exit 1 if any fails."""
    from digest.commands.check import run_checks

    services = ctx.services()
    name = str(ctx.config_path or "config.yaml")
    results = run_checks(ctx.config, services.environ, arxiv_http=services.arxiv_http, sleep=services.sleep,
                         config_name=name)
    for r in results:
        if r.ok and ctx.reporter.quiet:
            continue  # --quiet (cron): only what needs fixing
        click.echo(r.render())
    failed = sum(1 for r in results if not r.ok and not r.skipped)
    skipped = sum(1 for r in results if r.skipped)
    if failed or skipped:
        also = f" ({skipped} skipped)" if skipped else ""
        ctx.reporter.warn(f"{failed} of {len(results)} checks failed{also}; fix them before the first unattended run")
    else:
        ctx.reporter.info(f"all {len(results)} checks passed")
    return 1 if failed or skipped else 0


@main.command(name="notify")
@click.option("--date", "day", default=None, help="The day, YYYY-MM-DD (default: the latest day with a record).")
@click.option("--channel", default=None, help="Only this channel (by name), sent again even if it was sent before.")
@click.option("--dry-run", is_flag=True, help="Print the messages instead of sending them; the record is not touched.")
@_common
def notify_cmd(ctx: Context, day: str | None, channel: str | None, dry_run: bool) -> int:
    """Send (or print) a day's notifications by hand; runs send them by themselves once a post is complete."""
    cfg = ctx.config()
    from digest.publish.notify.hook import notify_by_hand

    d = _parse_day(day).isoformat() if day else None
    return notify_by_hand(cfg, d, ctx.services(), channel=channel, dry_run=dry_run, echo=click.echo)


@main.command()
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("digest-demo"), help="Output folder.")
@click.option("--force", is_flag=True, help="Write into a folder holding a config.yaml, _posts or _data anyway.")
@click.option("--serve", is_flag=True, help="Keep the stand-ins running (until Ctrl-C) to try check, preview and run.")
@_common
def demo(ctx: Context, out: Path, force: bool, serve: bool) -> int:
    """Offline sample: replay a bundled sample day against local stand-ins; no network, no key."""
    from digest.demo import run_demo

    run_demo(out, ctx.reporter, force=force, serve=serve)
    return 0

