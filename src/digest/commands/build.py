"""`digest build`: the static HTML site from the day records (topics refreshed first), without Ruby."""

from __future__ import annotations

from pathlib import Path

from digest.commands.drift import report_drift
from digest.core.config import Config, SiteConfig
from digest.core.errors import UsageError
from digest.core.services import Services
from digest.core.store import RecordStore
from digest.enrich.topics import load_taxonomy
from digest.publish.posts import posts_without_record, refresh_topics
from digest.site.build import SiteOptions, build_site, site_env


def _site_url(url: str | None) -> str | None:
    if url is None:
        return None
    try:
        return SiteConfig(url=url).url
    except ValueError:
        raise UsageError(f'--url "{url}": expected the site\'s http(s) URL with its base path') from None


def build_command(cfg: Config, services: Services, out: Path, url: str | None, *, search: bool = True) -> int:
    """Refresh stored topics, build the site into `out` and say where it is."""
    rep = services.reporter
    url = _site_url(url)
    taxonomy = load_taxonomy(cfg.topics_file)
    store = RecordStore.of(cfg, services)
    store.warn = None  # a damaged record is reported once, below, with what the site shows instead
    updated = refresh_topics(cfg, taxonomy, store)
    if updated:
        rep.info(f"topics recomputed for {len(updated)} record(s) (taxonomy {taxonomy.fingerprint})")
    look = SiteOptions(env=site_env(cfg.templates_dir), taxonomy=taxonomy)
    result = build_site(cfg.records_dir, out, look, config=cfg, base_url=url or "", search=search)
    for line in result.damaged:
        rep.warn(line)
    report_drift(rep, posts_without_record(cfg, store), [out / rel for rel in result.removed])
    indexed = "" if result.search_pages is None else f", {result.search_pages} in the search index"
    rep.info(
        f"built {result.posts} post page(s), {len(result.topics)} topic(s){indexed} into {out} "
        f"(open {out / 'index.html'})"
    )
    if not (url or cfg.site.url):
        rep.warn("site.url is not set, so feed links are relative; set it (or pass --url) for feed readers")
    return 0
