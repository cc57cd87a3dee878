"""What every HTTP request of the tool says about itself."""

from digest import __version__

USER_AGENT = f"digest/{__version__} (arXiv daily digest; +https://github.com/)"
