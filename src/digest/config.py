"""Configuration schema and loading: every key has a default, every error names its key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class SiteConfig(_Section):
    posts_dir: Path = Field(default=Path("_posts"), description="where posts are written")
    records_dir: Path = Field(
        default=Path("_data/digest"), description="one JSON record per day, the source posts are rendered from",
    )
    cache_dir: Path = Field(
        default=Path(".cache/digest"), description="PDFs, extracted text, model results; never committed",
    )
    templates_dir: Path = Field(default=Path("templates"), description="your overrides of the built-in templates")
    title: str = Field(default="arXiv Daily – {date}", description="post title; must contain `{date}`")
    tags: list[str] = Field(default=["arxiv", "cs.SD", "eess.AS"], description="post tags")
    lock_timeout_seconds: float = Field(default=0, ge=0, description="how long a second run waits for the site lock")

    @field_validator("title")
    @classmethod
    def _title_has_date(cls, v: str) -> str:
        if "{date}" not in v:
            raise ValueError(f'expected a template containing "{{date}}", got "{v}"')
        return v


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f'expected an http(s) URL, got "{value}"')
    return value


def _need_placeholder(value: str, name: str) -> str:
    if "{" + name + "}" not in value:
        raise ValueError(f'expected a URL template containing "{{{name}}}", got "{value}"')
    return _http_url(value)


class ArxivConfig(_Section):
    categories: list[str] = Field(default=["cs.SD", "eess.AS"], description="categories (cross-lists included)")
    api_url: str = Field(default="https://export.arxiv.org/api/query", description="arXiv API")
    listing_url: str = Field(
        default="https://rss.arxiv.org/atom/{categories}", description="listing feed of the latest mailing",
    )
    announce_types: list[str] = Field(
        default=["new", "cross"],
        description="listing entries that count as newly announced (`new`, `cross`, `replace`, `replace-cross`)",
    )
    pdf_download_url: str = Field(
        default="https://arxiv.org/pdf/{id}", description="where PDFs are downloaded (a mirror is fine)",
    )
    html_download_url: str = Field(
        default="https://arxiv.org/html/{id}", description="full-text fallback when the PDF is missing",
    )
    abs_link: str = Field(default="https://arxiv.org/abs/{id}", description="abstract link shown in posts")
    pdf_link: str = Field(default="https://arxiv.org/pdf/{id}", description="PDF link shown in posts")
    delay_seconds: float = Field(default=3.0, ge=0, description="spacing between API requests (arXiv's rule)")
    timeout_seconds: float = Field(default=30.0, gt=0, description="per arXiv request")
    max_retries: int = Field(default=4, ge=0, description="per arXiv request")

    @field_validator("pdf_download_url", "html_download_url", "abs_link", "pdf_link")
    @classmethod
    def _has_id(cls, v: str) -> str:
        return _need_placeholder(v, "id")

    @field_validator("api_url")
    @classmethod
    def _is_url(cls, v: str) -> str:
        return _http_url(v)

    @field_validator("listing_url")
    @classmethod
    def _has_categories(cls, v: str) -> str:
        return _need_placeholder(v, "categories")

    @field_validator("categories")
    @classmethod
    def _nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("expected at least one category, got an empty list")
        for c in v:
            if not re.fullmatch(r"[a-z-]+(\.[A-Za-z-]+)?", c):
                raise ValueError(f'expected an arXiv category like "cs.SD", got "{c}"')
        return v

    @field_validator("announce_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        allowed = {"new", "cross", "replace", "replace-cross"}
        bad = [t for t in v if t not in allowed]
        if bad:
            raise ValueError(f"expected some of {sorted(allowed)}, got {bad}")
        return v


class WindowConfig(_Section):
    timezone: str = Field(default="Asia/Shanghai", description="time zone of the anchor (IANA name)")
    anchor: str = Field(default="08:50", description="the window ends at this time (HH:MM) on the post's date")
    basis: Literal["announced", "submitted"] = Field(
        default="announced",
        description=(
            "`announced`: papers announced in mailings released inside the window; `submitted`: first version "
            "submitted inside it (the old blog's rule)"
        ),
    )
    holidays: list[date] = Field(
        default=[date(2026, 11, 26), date(2026, 12, 25), date(2026, 12, 29), date(2026, 12, 31)],
        description="days arXiv sends no mailing",
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'expected an IANA time zone like "Asia/Shanghai", got "{v}"') from None
        return v

    @field_validator("anchor", mode="before")
    @classmethod
    def _anchor(cls, v: Any) -> str:
        if isinstance(v, int) and not isinstance(v, bool):
            # YAML 1.1 reads an unquoted 08:50 as the sexagesimal integer 530.
            v = f"{v // 60:02d}:{v % 60:02d}"
        if not isinstance(v, str) or not _HHMM.match(v):
            raise ValueError(f'expected HH:MM, got "{v}"')
        return v

    @property
    def anchor_hour_minute(self) -> tuple[int, int]:
        h, m = self.anchor.split(":")
        return int(h), int(m)


class FilterConfig(_Section):
    primary_only: bool = Field(default=False, description="keep only papers whose primary category is configured")
    include_keywords: list[str] = Field(
        default=[],
        description="keep only papers with one of these in title + abstract (case-insensitive, whole words)",
    )
    exclude_keywords: list[str] = Field(
        default=[], description="drop papers with one of these in title + abstract (case-insensitive, whole words)",
    )
    max_papers: int | None = Field(
        default=None, ge=1, description="cap; the post lists the papers left out by title and link",
    )


class LLMConfig(_Section):
    base_url: str = Field(default="https://api.deepseek.com", description="any OpenAI-compatible endpoint")
    api_key_env: str = Field(
        default="DEEPSEEK_API_KEY", description="the variable the key is read from (never from the file)",
    )
    model: str = Field(default="deepseek-chat", description="model name at that endpoint")
    temperature: float = Field(default=0.2, ge=0, le=2, description="sampling temperature")
    concurrency: int = Field(default=8, ge=1, le=256, description="model calls in flight at once, across the run")
    timeout_seconds: float = Field(default=120, gt=0, description="per model call")
    max_retries: int = Field(default=5, ge=0, le=20, description="per model call; retries honour Retry-After")
    max_tokens: int | None = Field(default=None, ge=1, description="optional cap on answer length")

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError(
                f'expected the NAME of an environment variable (the key itself never goes in the file), got "{v}"'
            )
        return v


class FulltextConfig(_Section):
    max_pdf_mb: float = Field(default=50, gt=0, description="downloads stop at this size")
    max_chars: int = Field(default=60000, ge=1000, description="budget for the paper text in the deep-read prompt")
    download_concurrency: int = Field(default=2, ge=1, le=16, description="PDF downloads at once")
    timeout_seconds: float = Field(default=60, gt=0, description="per PDF download")
    max_retries: int = Field(default=3, ge=0, le=10, description="per PDF download")


class Config(_Section):
    site: SiteConfig = SiteConfig()
    arxiv: ArxivConfig = ArxivConfig()
    window: WindowConfig = WindowConfig()
    filter: FilterConfig = FilterConfig()
    llm: LLMConfig = LLMConfig()
    fulltext: FulltextConfig = FulltextConfig()
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


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{value!r}"


def _message(err: Mapping[str, Any]) -> tuple[str, str]:
    loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int))
    typ = err["type"]
    given = err.get("input")
    if typ == "extra_forbidden":
        return loc, "unknown key (check the spelling; see the README's config reference)"
    if typ == "value_error":
        msg = str(err.get("ctx", {}).get("error", err["msg"]))
        return loc, msg
    expected = {
        "string_type": "text",
        "int_type": "a whole number",
        "int_parsing": "a whole number",
        "int_from_float": "a whole number",
        "float_type": "a number",
        "float_parsing": "a number",
        "bool_type": "true or false",
        "bool_parsing": "true or false",
        "list_type": "a list",
        "model_type": "a mapping of keys",
        "model_attributes_type": "a mapping of keys",
        "date_type": "a date YYYY-MM-DD",
        "date_parsing": "a date YYYY-MM-DD",
        "date_from_datetime_parsing": "a date YYYY-MM-DD",
        "literal_error": err.get("ctx", {}).get("expected", "one of the allowed values"),
    }.get(typ)
    if expected is None:
        return loc, f"{err['msg']}, got {_describe(given)}"
    return loc, f"expected {expected}, got {_describe(given)}"


def parse_config(data: Any, source: str = "config.yaml", base_dir: Path | None = None) -> Config:
    """Validate a mapping (as read from YAML) into a Config; raise ConfigError naming the key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (site, arxiv, window, ...), got {_describe(data)}")
    if "base_dir" in data:
        raise ConfigError(f"{source}: base_dir: unknown key (check the spelling; see the README's config reference)")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # Nested list positions (e.g. holidays[2]) are kept in the message, not the key.
        loc, msg = _message(errors[0])
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {loc}: {msg}{more}") from None
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


def load_config(path: Path | str | None, *, required: bool = False) -> Config:
    """Read and validate a config file; a missing default file means all defaults."""
    p = Path(path) if path is not None else Path("config.yaml")
    if not p.exists():
        if required:
            raise ConfigError(f"{p}: file not found (pass --config PATH or create it; every key has a default)")
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
