"""The config: one schema class per section on one base, and the loader of config.yaml."""

from digest.core.config.sections import (
    ARXIV_CATEGORIES,
    ArxivConfig,
    Config,
    FallbackConfig,
    FilterConfig,
    FulltextConfig,
    LLMConfig,
    SiteConfig,
    WindowConfig,
    _NUMBER_HINTS,
    check_category,
    load_config,
    parse_config,
)

__all__ = [
    "ARXIV_CATEGORIES",
    "ArxivConfig",
    "Config",
    "FallbackConfig",
    "FilterConfig",
    "FulltextConfig",
    "LLMConfig",
    "SiteConfig",
    "WindowConfig",
    "_NUMBER_HINTS",
    "check_category",
    "load_config",
    "parse_config",
]
