"""The whole config file: `Config` (one schema per section) and reading config.yaml into it.

Checks that need a layer above core (the notify channels' topics against the taxonomy) run after this, in
digest.enrich.config_checks, called by the commands that load the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, field_validator

from digest.core.config.base import describe, validate
from digest.core.config.notify import NotifyConfig
from digest.core.config.sections import (
    ArxivConfig,
    FilterConfig,
    FulltextConfig,
    LLMConfig,
    SiteConfig,
    WindowConfig,
    _Section,
)
from digest.core.errors import ConfigError


class Config(_Section):
    """The whole config.yaml: one schema per section."""

    site: SiteConfig = SiteConfig()
    arxiv: ArxivConfig = ArxivConfig()
    window: WindowConfig = WindowConfig()
    filter: FilterConfig = FilterConfig()
    llm: LLMConfig = LLMConfig()
    fulltext: FulltextConfig = FulltextConfig()
    # Its channel topics are checked against the taxonomy by digest.enrich.config_checks, above this layer.
    notify: NotifyConfig = NotifyConfig()
    # Where the file was; relative paths resolve against it. Not a YAML key.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def path(self, p: Path) -> Path:
        """Resolve a configured path against the directory of the config file."""
        return p if p.is_absolute() else self.base_dir / p

    @property
    def posts_dir(self) -> Path:
        return self.path(self.site.posts_dir)

    @property
    def records_dir(self) -> Path:
        return self.path(self.site.records_dir)

    @property
    def cache_dir(self) -> Path:
        return self.path(self.site.cache_dir)

    @property
    def templates_dir(self) -> Path:
        return self.path(self.site.templates_dir)

    @property
    def topics_file(self) -> Path | None:
        return None if self.site.topics_file is None else self.path(self.site.topics_file)


    @field_validator("notify", mode="before")
    @classmethod
    def _no_channels(cls, v: Any) -> Any:
        # `notify:` left empty in the file means no notifications, like leaving it out.
        return {} if v is None else v


def parse_config(data: Any, source: str = "config.yaml", base_dir: Path | None = None) -> Config:
    """Validate a mapping (as read from YAML) into a Config; raise ConfigError naming the key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (site, arxiv, window, ...), got {describe(data)}")
    if "base_dir" in data:
        raise ConfigError(f"{source}: base_dir: unknown key (check the spelling; see the README's config reference)")
    cfg = validate(Config, data, source)
    return cfg.model_copy(update={"base_dir": base_dir or Path(".")})


class _Loader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps: dates stay text so a bad one is reported with its key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # YAML keeps the last of two equal keys: a section pasted twice would silently lose the first.
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):
                continue  # an unhashable key fails in the base class with its own message
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}; keep one of them", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _no_config(p: Path, *, explicit: bool) -> str:
    """Why a command that writes will not start without a config file, and how to get one."""
    start = "copy the repository's config.yaml there and edit it, or try `digest demo --out DIR` for a sample site"
    folder = p.parent.resolve()
    if explicit:
        return f"{p}: file not found; check --config, or to start a blog in {folder} {start}"
    return (f"no config.yaml in {folder}: digest runs only with a config file; cd into your blog's folder "
            f"or pass --config PATH, or to start a blog here {start}")


def load_config(path: Path | str | None, *, required: bool = False) -> Config:
    """Read and validate a config file; a missing file is an error when `required` (else all defaults)."""
    p = Path(path) if path is not None else Path("config.yaml")
    if not p.exists():
        if required:
            raise ConfigError(_no_config(p, explicit=path is not None))
        return parse_config({}, str(p), p.parent.resolve())
    if p.is_dir():
        raise ConfigError(f"{p}: is a folder, expected a YAML file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read ({exc.__class__.__name__}: {exc})") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{p}:{where}: {problem} (not valid YAML)") from None
    return parse_config(data, str(p), p.parent.resolve())
