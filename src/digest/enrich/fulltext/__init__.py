"""A paper's full text for the deep read, split by job: download, PDF text, HTML text, sections and trimming."""

from digest.enrich.fulltext.sections import (
    FullText,
    FullTextError,
    FullTextFetcher,
    _Section,
    _split_sections,
    extract_html_text,
    extract_pdf_text,
    html_to_text,
    pdf_to_text,
    prepare_text,
)

__all__ = [
    "FullText",
    "FullTextError",
    "FullTextFetcher",
    "_Section",
    "_split_sections",
    "extract_html_text",
    "extract_pdf_text",
    "html_to_text",
    "pdf_to_text",
    "prepare_text",
]
