"""`digest check`: a preflight for unattended runs. Each check returns one line and, when it fails, its fix."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from digest.core.config import Config
from digest.core.errors import ConfigError, DigestError
from digest.core.files import file_in_the_way
from digest.core.http import USER_AGENT

if TYPE_CHECKING:
    from digest.core.notify_config import Channel

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


def _error_text(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text.strip()[:160]
    err = data.get("error") if isinstance(data, dict) else None
    msg = err.get("message") if isinstance(err, dict) else err if isinstance(err, str) else None
    return str(msg or "")[:160]


def _refusal(label: str, base_url: str, resp: httpx.Response, var: str, section: str) -> Check:
    """A failed answer from the model service, with the fix that status calls for."""
    status = resp.status_code
    said = _error_text(resp)
    said = f": {said}" if said else ""
    if status in (401, 403):
        return Check(False, f"{label}: {base_url} refused the key in {var} (HTTP {status}{said})",
                     f"put a valid key for this service in {var}")
    if status == 402 or "balance" in said.lower() or "quota" in said.lower():
        return Check(False, f"{label}: {base_url} reports no balance (HTTP {status}{said})",
                     f"top up the account of the key in {var}")
    if status == 429:
        return Check(False, f"{label}: {base_url} is rate limiting this key (HTTP 429{said})",
                     f"try again in a minute; if it persists, lower {section.split('[')[0]}.concurrency")
    if status >= 500:
        return Check(False, f"{label}: {base_url} is failing (HTTP {status}{said})",
                     "try again later, or add a provider under llm.fallbacks")
    return Check(False, f"{label}: {base_url} answered HTTP {status}{said}",
                 f"check {section}.base_url and {section}.model")


def check_model(
    label: str,
    *,
    base_url: str,
    model: str,
    key: str,
    var: str,
    section: str,
    extra_body: Mapping[str, Any],
    http: httpx.Client,
    timeout: float,
) -> Check:
    """The service lists the model (GET /models), or, without a list, answers a one-token call with it."""
    root = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {key}", "User-Agent": USER_AGENT}
    try:
        resp = http.get(f"{root}/models", headers=headers, timeout=timeout)
        if resp.status_code in (404, 405, 501):
            body = {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1,
                    **extra_body}
            resp = http.post(f"{root}/chat/completions", headers=headers, json=body, timeout=timeout)
            if resp.status_code == 200:
                return Check(True, f"{label}: {model} answered a one-token call at {base_url} (no model list)")
            if resp.status_code == 404:
                return Check(False, f'{label}: {base_url} has no model "{model}" (HTTP 404)',
                             f"check {section}.model and {section}.base_url")
            return _refusal(label, base_url, resp, var, section)
    except httpx.TimeoutException:
        return Check(False, f"{label}: {base_url} did not answer within {timeout:g} s",
                     f"check {section}.base_url and the network (a proxy may be needed)")
    except httpx.TransportError as exc:
        return Check(False, f"{label}: cannot reach {base_url} ({exc.__class__.__name__})",
                     f"check {section}.base_url and the network (a proxy may be needed)")
    if resp.status_code != 200:
        return _refusal(label, base_url, resp, var, section)
    try:
        listed = [str(m.get("id")) for m in resp.json().get("data", []) if isinstance(m, dict)]
    except (ValueError, AttributeError):
        return Check(False, f"{label}: {base_url}/models answered something that is not a model list",
                     f"check {section}.base_url (it should end where /chat/completions begins, often /v1)")
    if model in listed:
        return Check(True, f"{label}: {model} is listed by {base_url}")
    shown = ", ".join(listed[:6]) + (", ..." if len(listed) > 6 else "")
    return Check(False, f'{label}: {base_url} does not list "{model}" (it lists {shown or "no models"})',
                 f"set {section}.model to one of the listed models")


def check_arxiv_api(cfg: Config, http: httpx.Client, timeout: float) -> Check:
    """One tiny search (one result) in the first configured category."""
    import feedparser  # type: ignore[import-untyped]

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
    model_http: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    config_name: str = "config",
) -> list[Check]:
    """Every check in order; a config that does not load is the only line (the rest depend on it)."""
    try:
        cfg = load()
    except ConfigError as exc:
        return [Check(False, f"config: {exc}", "correct that line of the config; see the README's config reference")]
    results = [Check(True, f"config: {config_name} loaded")]

    providers: list[tuple[str, str, str, str, str, Mapping[str, Any]]] = [
        ("", "llm", cfg.llm.base_url, cfg.llm.model, cfg.llm.api_key_env, cfg.llm.extra_body)
    ]
    for n, fb in enumerate(cfg.llm.fallbacks):
        providers.append((f"fallback {n + 1} ", f"llm.fallbacks[{n}]", fb.base_url, fb.model, fb.api_key_env,
                          fb.extra_body))

    own_model = model_http is None
    http = model_http or httpx.Client()
    try:
        timeout = min(cfg.llm.timeout_seconds, CHECK_TIMEOUT_CAP)
        for prefix, section, base_url, model, var, extra in providers:
            key_check = check_key(f"{prefix}key", var, f"{section}.api_key_env", environ)
            results.append(key_check)
            if not key_check.ok:
                results.append(Check(False, f"{prefix}model: not asked, the key in {var} is missing", skipped=True))
                continue
            results.append(check_model(
                f"{prefix}model", base_url=base_url, model=model, key=environ[var].strip(), var=var,
                section=section, extra_body=extra, http=http, timeout=timeout,
            ))
    finally:
        if own_model:
            http.close()

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
    results += [check_channel(n, ch, environ) for n, ch in enumerate(cfg.notify.channels)]
    return results


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
