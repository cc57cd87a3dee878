"""The arXiv client a run or a preview talks through, over the injected HTTP client or one of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from digest.core.config import Config
from digest.core.services import Services
from digest.fetch.arxiv import ArxivClient

SEARCH_PAGE_SIZE = 1000


@contextmanager
def arxiv_client(cfg: Config, services: Services) -> Iterator[ArxivClient]:
    """The arXiv client over the injected HTTP client, or over one of its own closed on leaving."""
    http = services.arxiv_http or httpx.Client()  # the client sets user agent, timeout and redirects per request
    try:
        # arXiv serves up to 2000 results a request: one request covers a month of these categories.
        yield ArxivClient(cfg.arxiv, http, sleep=services.sleep, page_size=SEARCH_PAGE_SIZE,
                          on_wait=services.reporter.info)
    finally:
        if http is not services.arxiv_http:
            http.close()
