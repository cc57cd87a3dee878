"""sitemap.xml: every HTML page of the built site, so search engines find each paper page.

The sitemap protocol wants absolute URLs, so they are absolute under `site.url`; without it the paths are
relative to the site root (a local preview, where no crawler reads them).
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import escape


def page_url(rel: str, base: str) -> str:
    """A page's public URL: under `base`, a folder's index.html as the folder (the URL a server answers)."""
    if not base:
        return rel
    folder = rel.removesuffix("index.html")
    return f"{base.rstrip('/')}/{folder}"


def sitemap_xml(pages: Iterable[str], base: str) -> str:
    """The sitemap of the given site-root paths of HTML pages, in a stable order."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    lines += [f"  <url><loc>{escape(page_url(rel, base))}</loc></url>" for rel in sorted(set(pages))]
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"
