"""A paper's full text for the deep read, split by job: download, PDF text, HTML text, sections and trimming."""

from digest.enrich.fulltext.download import Downloader, HttpSource, Pacing
from digest.enrich.fulltext.errors import FullTextError
from digest.enrich.fulltext.fetcher import (
    FullText,
    FullTextFetcher,
    UrlTemplates,
    html_cache_path,
    pdf_cache_path,
)
from digest.enrich.fulltext.html import extract_html_text, html_to_text
from digest.enrich.fulltext.pdf import extract_pdf_text, pdf_to_text
from digest.enrich.fulltext.sections import _Section, _split_sections, prepare_text

__all__ = [
    "Downloader",
    "FullText",
    "FullTextError",
    "FullTextFetcher",
    "HttpSource",
    "Pacing",
    "UrlTemplates",
    "_Section",
    "_split_sections",
    "extract_html_text",
    "extract_pdf_text",
    "html_cache_path",
    "html_to_text",
    "pdf_cache_path",
    "pdf_to_text",
    "prepare_text",
]
