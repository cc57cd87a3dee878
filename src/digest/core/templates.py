"""The Jinja environment for prompts, posts and pages: the user's templates folder over the built-in ones."""

from __future__ import annotations

from pathlib import Path

import jinja2

PACKAGE_TEMPLATES = Path(__file__).parent.parent / "templates"


def template_env(user_dir: Path | None = None) -> jinja2.Environment:
    """Jinja environment: the user's templates folder first, then the built-in templates."""
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None and user_dir.is_dir():
        loaders.append(jinja2.FileSystemLoader(str(user_dir)))
    loaders.append(jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES)))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown out; escaping is sanitize.py's job
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # a run is short: no stat of every template on every use
    )
