"""The `digest` command: click only. Each verb parses its options and calls its module in digest.commands."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from digest.core.config import Config, load_config
from digest.core.errors import DigestError
from digest.core.report import Reporter
from digest.core.services import Services


class Context:
    """The options every command shares, and what they build: the config and the services."""

    def __init__(self, config: Path | None, verbose: bool, quiet: bool, debug: bool) -> None:
        self.config_path = config
        self.debug = debug
        self.reporter = Reporter(verbose=verbose or debug, quiet=quiet)

    def config(self) -> Config:
        """The config file, validated, with the checks that need the taxonomy (notify topics) done too."""
        from digest.enrich.config_checks import check_notify_topics

        # No silent defaults: a cron line without `cd` must not start a blog wherever it happens to run.
        cfg = load_config(self.config_path, required=True)
        check_notify_topics(cfg, str(self.config_path or "config.yaml"))
        return cfg

    def services(self) -> Services:
        return Services(reporter=self.reporter)


def _echo_err(text: str) -> None:
    click.echo(text, err=True)


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


@main.command()
@click.option("--date", "day", default=None, help="Post date YYYY-MM-DD (default: the latest anchor at or before now).")
@click.option("--no-llm", is_flag=True, help="No model calls: English abstracts, no deep reads.")
@click.option("--force", is_flag=True, help="Redo every paper, even those already done.")
@click.option("--strict", is_flag=True, help="Exit 3 when papers still fail after the run (the last run of a morning).")
@_common
def run(ctx: Context, day: str | None, no_llm: bool, force: bool, strict: bool) -> int:
    """The daily job: fetch, select, translate, deep-read and write the post for one date."""
    from digest.commands.run import run_command

    cfg = ctx.config()
    return run_command(cfg, ctx.services(), day, _echo_err, no_llm=no_llm, force=force, strict=strict)


@main.command()
@click.argument("start")
@click.argument("end", required=False)
@click.option("--force", is_flag=True, help="Redo days whose post is already complete.")
@click.option("--notify", "notify", is_flag=True,
              help="Send finished days to the notify channels (without it, backfill sends nothing).")
@_common
def backfill(ctx: Context, start: str, end: str | None, force: bool, notify: bool) -> int:
    """One post per day from START to END (inclusive), oldest first."""
    from digest.commands.run import backfill_command

    cfg = ctx.config()
    return backfill_command(cfg, ctx.services(), start, end, _echo_err, force=force, notify=notify)


@main.command()
@click.argument("arxiv_id")
@click.option("--no-pdf", is_flag=True, help="Translation only; no full text, no deep read.")
@_common
def preview(ctx: Context, arxiv_id: str, no_pdf: bool) -> int:
    """Print one paper's section as a post would show it; writes no post."""
    from digest.commands.args import normalise_arxiv_id

    pid = normalise_arxiv_id(arxiv_id)
    cfg = ctx.config()
    from digest.commands.preview import preview as do_preview

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
    from digest.commands.posts import import_command

    return import_command(cfg, ctx.services(), list(paths))


@main.command()
@click.option("--date", "day", default=None, help="Re-render this date only.")
@click.option("--all", "all_", is_flag=True, help="Re-render every post that has a record.")
@_common
def render(ctx: Context, day: str | None, all_: bool) -> int:
    """Re-render posts from the records with the current templates (no network)."""
    from digest.commands.posts import check_render_args, render_command

    check_render_args(day, all_)
    cfg = ctx.config()
    return render_command(cfg, ctx.services(), None if all_ else day or "")


@main.command()
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("_site"), help="Output folder.")
@click.option("--url", "url", default=None, help="The site's public URL with its base path (default: site.url).")
@click.option("--no-search", is_flag=True, help="Skip the search index (Pagefind).")
@_common
def build(ctx: Context, out: Path, url: str | None, no_search: bool) -> int:
    """Build the static HTML site from the day records (topics, search index, feeds), without Ruby."""
    cfg = ctx.config()
    from digest.commands.build import build_command

    return build_command(cfg, ctx.services(), out, url, search=not no_search)


@main.command()
@_common
def check(ctx: Context) -> int:
    """Preflight for unattended runs: config, keys, model services, arXiv, folders, channels; exit 1 if any fails."""
    from digest.commands.check_report import check_command

    return check_command(ctx.config, ctx.config_path, ctx.services(), click.echo)


@main.command(name="notify")
@click.option("--date", "day", default=None, help="The day, YYYY-MM-DD (default: the latest day with a record).")
@click.option("--channel", default=None, help="Only this channel (by name), sent again even if it was sent before.")
@click.option("--dry-run", is_flag=True, help="Print the messages instead of sending them; the record is not touched.")
@_common
def notify_cmd(ctx: Context, day: str | None, channel: str | None, dry_run: bool) -> int:
    """Send (or print) a day's notifications by hand; runs send them by themselves once a post is complete."""
    cfg = ctx.config()
    from digest.commands.notify import notify_command

    return notify_command(cfg, ctx.services(), day, click.echo, channel=channel, dry_run=dry_run)


@main.command()
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("digest-demo"), help="Output folder.")
@click.option("--force", is_flag=True, help="Write into a folder holding a config.yaml, _posts or _data anyway.")
@click.option("--serve", is_flag=True, help="Keep the stand-ins running (until Ctrl-C) to try check, preview and run.")
@_common
def demo(ctx: Context, out: Path, force: bool, serve: bool) -> int:
    """Offline sample: replay a bundled sample day against local stand-ins; no network, no key."""
    from digest.commands.demo import demo_command

    return demo_command(out, ctx.reporter, force=force, serve=serve)
