"""The config: one schema class per section on one base (config.base), and the loader of config.yaml.

base: the Section base, shared validators, the one error translator; sections: site, arxiv, window, filter,
llm, fulltext; notify: the notify channels; file: Config (all sections) and load_config/parse_config.
"""

from digest.core.config.file import Config, load_config, parse_config
from digest.core.config.sections import (
    ARXIV_CATEGORIES,
    ArxivConfig,
    FallbackConfig,
    FilterConfig,
    FulltextConfig,
    LLMConfig,
    SiteConfig,
    WindowConfig,
    check_category,
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
    "check_category",
    "load_config",
    "parse_config",
]
