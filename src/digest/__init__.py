"""digest: a daily Chinese-language arXiv blog for speech and audio research."""

__version__ = "0.1.0"
