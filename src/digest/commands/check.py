"""`digest check`: a preflight for unattended runs. Each check returns one line and, when it fails, its fix."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import httpx

from digest.core.config import Config
from digest.core.errors import ConfigError, DigestError
from digest.core.failures import Failure
from digest.core.files import file_in_the_way
from digest.core.http import USER_AGENT
from digest.core.store import RecordStore, restore_hint
from digest.enrich.model import BadAnswer, ModelError, OpenAIModel, Unreachable, provider_configs

if TYPE_CHECKING:
    import httpx2  # the openai SDK's HTTP library: a test injects its MockTransport here

    from digest.core.config.notify import Channel

# A preflight should answer within a minute even when the configured timeouts are generous.
CHECK_TIMEOUT_CAP = 20.0


class Check(NamedTuple):
    """One check's verdict: `line` says what was found, `fix` what to do when it failed."""

    ok: bool
    line: str
    fix: str = ""
    skipped: bool = False  # not tried because an earlier check failed

    def render(self) -> str:
        """The line as printed: a fixed-width status, the finding, and the fix for a failure."""
        status = "skip" if self.skipped else "ok" if self.ok else "FAIL"
        return f"{status:<5} {self.line}" + (f"; fix: {self.fix}" if self.fix and not self.ok else "")


def _site_folders(cfg: Config) -> list[tuple[str, str, Path]]:
    return [
        ("posts folder", "site.posts_dir", cfg.posts_dir),
        ("records folder", "site.records_dir", cfg.records_dir),
        ("cache folder", "site.cache_dir", cfg.cache_dir),
    ]


# ------------------------------------------------------------------ the checks


def check_key(label: str, var: str, key_of: str, environ: Mapping[str, str]) -> Check:
    """The variable that holds an API key is set and not empty."""
    if (environ.get(var) or "").strip():
        return Check(True, f"{label}: {var} is set ({key_of})")
    return Check(
        False,
        f"{label}: the environment variable {var} is not set",
        f"export {var}=<your key> where the job runs ({key_of} names the variable; the key never goes in the file)",
    )


def _refusal(label: str, model: OpenAIModel, exc: ModelError) -> Check:
    """A failed answer from the model service, with the fix its kind (digest.core.failures) calls for."""
    url, var, section = model.cfg.base_url, model.cfg.api_key_env, model.section
    status = exc.status
    said = f": {exc.said}" if exc.said else ""
    if isinstance(exc, Unreachable):
        fix = f"check {section}.base_url and the network (a proxy may be needed)"
        if exc.timed_out:
            return Check(False, f"{label}: {url} did not answer within {model.cfg.timeout_seconds:g} s", fix)
        return Check(False, f"{label}: cannot reach {url} ({exc.cause})", fix)
    if exc.failure is Failure.BAD_KEY:
        return Check(False, f"{label}: {url} refused the key in {var} (HTTP {status}{said})",
                     f"put a valid key for this service in {var}")
    if exc.failure is Failure.NO_BALANCE:
        return Check(False, f"{label}: {url} reports no balance (HTTP {status}{said})",
                     f"top up the account of the key in {var}")
    if exc.failure is Failure.RATE_LIMITED:
        return Check(False, f"{label}: {url} is rate limiting this key (HTTP 429{said})",
                     f"try again in a minute; if it persists, lower {section.split('[')[0]}.concurrency")
    if exc.failure is Failure.SERVER_ERROR:
        return Check(False, f"{label}: {url} is failing (HTTP {status}{said})",
                     "try again later, or add a provider under llm.fallbacks")
    if exc.failure is Failure.UNKNOWN_MODEL:
        return Check(False, f'{label}: {url} has no model "{model.name}" (HTTP {status})',
                     f"check {section}.model and {section}.base_url")
    if status is None:  # an answer that is not a chat completion
        return Check(False, f"{label}: {url} answered something that is not a chat completion",
                     f"check {section}.base_url (it should end where /chat/completions begins, often /v1)")
    return Check(False, f"{label}: {url} answered HTTP {status}{said}", f"check {section}.base_url and {section}.model")


async def check_model(label: str, model: OpenAIModel) -> Check:
    """Through the Model seam: the service lists the model, or, without a list, answers a one-token call."""
    url = model.cfg.base_url
    try:
        listed = await model.listed_models()
    except BadAnswer:
        return Check(False, f"{label}: {url}/models answered something that is not a model list",
                     f"check {model.section}.base_url (it should end where /chat/completions begins, often /v1)")
    except ModelError as exc:
        return _refusal(label, model, exc)
    if listed is None:
        try:
            await model.complete([{"role": "user", "content": "ping"}])
        except ModelError as exc:
            return _refusal(label, model, exc)
        return Check(True, f"{label}: {model.name} answered a one-token call at {url} (no model list)")
    if model.name in listed:
        return Check(True, f"{label}: {model.name} is listed by {url}")
    shown = ", ".join(listed[:6]) + (", ..." if len(listed) > 6 else "")
    return Check(False, f'{label}: {url} does not list "{model.name}" (it lists {shown or "no models"})',
                 f"set {model.section}.model to one of the listed models")


async def _check_models(cfg: Config, environ: Mapping[str, str], http: httpx2.AsyncClient | None) -> list[Check]:
    """A key line and a model line per provider of the chain, each model asked once, through the seam."""
    out = []
    for n, (section, pcfg) in enumerate(provider_configs(cfg.llm)):
        prefix = f"fallback {n} " if n else ""
        var = pcfg.api_key_env
        key_check = check_key(f"{prefix}key", var, f"{section}.api_key_env", environ)
        out.append(key_check)
        if not key_check.ok:
            out.append(Check(False, f"{prefix}model: not asked, the key in {var} is missing", skipped=True))
            continue
        # One short try: the answer's max_tokens is 1 and a preflight waits no longer than CHECK_TIMEOUT_CAP.
        short = pcfg.model_copy(update={"max_tokens": 1, "timeout_seconds": min(pcfg.timeout_seconds,
                                                                                 CHECK_TIMEOUT_CAP)})
        model = OpenAIModel(short, environ[var].strip(), section=section, http=http)
        try:
            out.append(await check_model(f"{prefix}model", model))
        finally:
            await model.aclose()  # before the loop ends: its connections belong to this loop
    return out


def check_arxiv_api(cfg: Config, http: httpx.Client, timeout: float) -> Check:
    """One tiny search (one result) in the first configured category."""
    import feedparser

    url = cfg.arxiv.api_url
    params: dict[str, str | int] = {"search_query": f"cat:{cfg.arxiv.categories[0]}", "start": 0, "max_results": 1}
    try:
        resp = http.get(url, params=params, headers={"User-Agent": USER_AGENT}, timeout=timeout,
                        follow_redirects=True)
    except httpx.TimeoutException:
        return Check(False, f"arXiv API: {url} did not answer within {timeout:g} s",
                     "check the network, or arxiv.api_url")
    except httpx.TransportError as exc:
        return Check(False, f"arXiv API: cannot reach {url} ({exc.__class__.__name__})",
                     "check the network (a proxy may be needed), or arxiv.api_url")
    if resp.status_code != 200:
        return Check(False, f"arXiv API: {url} answered HTTP {resp.status_code}",
                     "try again later; if it persists, check arxiv.api_url")
    parsed = feedparser.parse(resp.content)
    if not parsed.get("version"):
        return Check(False, f"arXiv API: {url} answered something that is not an Atom feed",
                     "check arxiv.api_url (it should be https://export.arxiv.org/api/query)")
    total = parsed.get("feed", {}).get("opensearch_totalresults")
    count = f" ({total} papers in {cfg.arxiv.categories[0]})" if total is not None else ""
    return Check(True, f"arXiv API: {url} answered{count}")


def check_listing(cfg: Config, http: httpx.Client, timeout: float) -> Check:
    """The listing feed of the configured categories, read by the client the run uses (one try)."""
    from digest.fetch.arxiv import ArxivClient

    arxiv = cfg.arxiv.model_copy(update={"max_retries": 0, "timeout_seconds": timeout})
    url = arxiv.listing_url.replace("{categories}", "+".join(arxiv.categories))
    try:
        listing = ArxivClient(arxiv, http).listing()
    except DigestError as exc:
        # The run's own message ends in advice to retry; the fix below says it once.
        problem = str(exc).removesuffix("; try again later").removeprefix("arXiv listing feed ")
        fix = "try again later; if it persists, check arxiv.listing_url"
        return Check(False, f"listing feed: {url}: {problem}", fix)
    mailing = f", mailing of {listing.mailing_date.isoformat()}" if listing.mailing_date else ""
    return Check(True, f"listing feed: {url} answered ({len(listing.entries)} entries{mailing})")


def check_folder(label: str, key: str, path: Path) -> Check:
    """The folder (or the nearest existing parent it will be made in) takes a new file."""
    blocker = file_in_the_way(path)
    if blocker is not None:
        return Check(False, f"{label}: {blocker} is a file, not a folder", f"set {key} in the config to a folder")
    existing = next((p for p in (path, *path.parents) if p.is_dir()), None)
    if existing is None:
        return Check(False, f"{label}: no part of {path} exists", f"set {key} to a folder on this machine")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".digest-check-", dir=existing)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return Check(False, f"{label}: cannot write in {existing} ({exc.strerror or exc.__class__.__name__})",
                     f"give this user write access to {existing}, or set {key} to another folder")
    later = "" if existing == path else f" (will be created in {existing})"
    return Check(True, f"{label}: {path} is writable{later}")


# ------------------------------------------------------------------ all of them


def run_checks(
    load: Callable[[], Config],
    environ: Mapping[str, str],
    *,
    arxiv_http: httpx.Client | None = None,
    model_http: httpx2.AsyncClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    config_name: str = "config",
) -> list[Check]:
    """Every check in order; a config that does not load is the only line (the rest depend on it)."""
    try:
        cfg = load()
    except ConfigError as exc:
        return [Check(False, f"config: {exc}", "correct that line of the config; see the README's config reference")]
    results = [Check(True, f"config: {config_name} loaded")]

    results += asyncio.run(_check_models(cfg, environ, model_http))

    own_arxiv = arxiv_http is None
    ahttp = arxiv_http or httpx.Client()
    try:
        timeout = min(cfg.arxiv.timeout_seconds, CHECK_TIMEOUT_CAP)
        results.append(check_arxiv_api(cfg, ahttp, timeout))
        sleep(cfg.arxiv.delay_seconds)  # arXiv's spacing rule holds for a preflight too
        results.append(check_listing(cfg, ahttp, timeout))
    finally:
        if own_arxiv:
            ahttp.close()

    results += [check_folder(label, key, path) for label, key, path in _site_folders(cfg)]
    results += check_records(cfg)
    results.append(check_cache(cfg))
    results += [check_channel(n, ch, environ) for n, ch in enumerate(cfg.notify.channels)]
    return results


def check_records(cfg: Config) -> list[Check]:
    """Every day record reads: a damaged one is a failure naming the file and how to restore it."""
    store = RecordStore.of(cfg)
    damaged = store.damaged()
    if not damaged:
        return [Check(True, f"records: {len(store.days())} day record(s) in {cfg.records_dir} read")]
    return [Check(False, f"records: {exc.path}: {exc.problem} (its day is read-only: runs never overwrite it)",
                  restore_hint(exc.path, exc.post).removesuffix(" — digest will not overwrite it"))
            for exc in damaged]


def check_cache(cfg: Config) -> Check:
    """How much the cache holds (a finding, never a failure: each run prunes what it no longer needs)."""
    from digest.enrich.retention import MB, cache_size

    files, size = cache_size(cfg.cache_dir)
    return Check(True, f"cache: {files} file{'' if files == 1 else 's'}, {size / MB:.1f} MB in {cfg.cache_dir} "
                       f"(downloads leave it {cfg.fulltext.keep_days} days after their post is complete)")


def check_channel(n: int, channel: Channel, environ: Mapping[str, str]) -> Check:
    """A notify channel's variables are set (nothing is sent: a preflight must not post to anyone's group)."""
    names = list(channel.env_names().values())
    missing = [v for v in names if not environ.get(v, "").strip()]
    label = f"notify {channel.name}"
    if missing:
        return Check(False, f"{label}: {', '.join(missing)} not set",
                     f"export {missing[0]} (on GitHub Actions: a secret added to the Run step's env), "
                     f"or fix notify.channels[{n}]")
    said = f" ({', '.join(names)} set)" if names else ""
    return Check(True, f"{label}: {channel.kind} channel configured{said}")
