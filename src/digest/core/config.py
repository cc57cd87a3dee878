"""Configuration schema and loading: every key has a default, every error names its key."""

from __future__ import annotations

import difflib
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from digest.core.errors import ConfigError
from digest.core.notify_config import NotifyConfig, check_channel_topics, parse_notify_config

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

# arXiv's category taxonomy (https://arxiv.org/category_taxonomy), so a typo fails here instead of
# fetching an empty day. Archives without sub-categories (quant-ph, gr-qc, ...) are categories themselves.
_TAXONOMY = {
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA NE NI OH OS PF PL "
          "RO SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA RT SG SP ST",
    "nlin": "AO CD CG PS SI",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an ed-ph flu-dyn gen-ph "
               "geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
}
ARXIV_CATEGORIES = frozenset(
    [f"{archive}.{sub}" for archive, subs in _TAXONOMY.items() for sub in subs.split()]
    + "astro-ph gr-qc hep-ex hep-lat hep-ph hep-th math-ph nucl-ex nucl-th quant-ph".split()
)
_ARCHIVES = frozenset(_TAXONOMY) - ARXIV_CATEGORIES

# Keys that look like a secret: they are answered with where the secret belongs, not "unknown key".
_SECRET_KEY = re.compile(
    r"^(key|token|secret|password|passwd|bearer|authorization)$|api[_-]?key|secret|password|access[_-]?token|"
    r"auth[_-]?token",
    re.IGNORECASE,
)
# Keys digest sets itself on every model request; extra_body must not override them.
_RESERVED_BODY_KEYS = frozenset({"model", "messages", "stream", "n"})

# What each bounded number means, so a range error says why the range is what it is.
_NUMBER_HINTS = {
    "site.lock_timeout_seconds": "seconds a second run waits for the site lock; 0 gives up at once",
    "arxiv.delay_seconds": "seconds between arXiv requests; arXiv asks for 3",
    "arxiv.timeout_seconds": "seconds to wait for one arXiv answer",
    "arxiv.max_retries": "extra attempts after a failed arXiv request; 0 tries once",
    "filter.max_papers": "the most papers one post shows; null shows all",
    "llm.temperature": "sampling temperature; 0.2 suits translation",
    "llm.concurrency": "model calls in flight at once; 1 runs them one by one",
    "llm.timeout_seconds": "seconds to wait for one model answer",
    "llm.max_retries": "extra attempts after a failed model call; 0 tries once",
    "llm.max_tokens": "cap on one answer's length; null leaves it to the provider",
    "llm.max_tokens_per_run": "prompt + completion tokens one run may spend; null means no limit",
    "llm.price_per_million_input": "price of a million prompt tokens in llm.currency; null leaves the cost out",
    "llm.price_per_million_output": "price of a million completion tokens in llm.currency; null leaves the cost out",
    "fulltext.max_pdf_mb": "the largest PDF downloaded, in MB",
    "fulltext.max_chars": "characters of paper text in the deep-read prompt",
    "fulltext.download_concurrency": "PDF downloads at once",
    "fulltext.timeout_seconds": "seconds to wait for one download",
    "fulltext.max_retries": "extra attempts after a failed download; 0 tries once",
    "fulltext.keep_days": "days a complete day's PDFs stay in the cache; 0 deletes them the next run",
}


def _closest_category(value: str) -> str | None:
    by_lower = {c.lower(): c for c in ARXIV_CATEGORIES}
    if value.lower() in by_lower:
        return by_lower[value.lower()]
    close = difflib.get_close_matches(value, sorted(ARXIV_CATEGORIES), n=1, cutoff=0.5)
    return close[0] if close else None


def check_category(value: str) -> str:
    """A known arXiv category, or ValueError saying which one was probably meant."""
    if value in ARXIV_CATEGORIES:
        return value
    if value in _ARCHIVES:
        examples = ", ".join(f'"{c}"' for c in sorted(ARXIV_CATEGORIES) if c.startswith(value + "."))
        short = examples if len(examples) < 60 else examples[: examples.rfind(",", 0, 60)] + ", ..."
        raise ValueError(f'"{value}" is a whole archive; list its categories instead ({short})')
    guess = _closest_category(value)
    hint = f'did you mean "{guess}"? ' if guess else ""
    raise ValueError(
        f'"{value}" is not an arXiv category ({hint}the list is at https://arxiv.org/category_taxonomy)'
    )


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
    url: str = Field(
        default="", description="the site's public URL with its base path; feeds need it for absolute links",
    )
    topics_file: Path | None = Field(default=None, description="your copy of the topics taxonomy; null: the built-in")

    @field_validator("url")
    @classmethod
    def _site_url(cls, v: str) -> str:
        if not v:
            return v
        if not v.startswith(("http://", "https://")) or "?" in v or "#" in v:
            raise ValueError(f'expected the site URL with its base path (https://you.github.io/repo/), got "{v}"')
        return v.rstrip("/") + "/"

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
            check_category(c)
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


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        # The value is not echoed: it is most likely the key itself.
        raise ValueError(
            "expected the NAME of an environment variable, like DEEPSEEK_API_KEY; "
            "the key itself never goes in the file: export it in that variable"
        )
    return value


def _model_name(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a model name, got nothing")
    return value


def _extra_body(value: dict[str, Any]) -> dict[str, Any]:
    for key in value:
        if key in _RESERVED_BODY_KEYS:
            raise ValueError(f'"{key}" is set by digest on every request; remove it from extra_body')
        if _SECRET_KEY.search(str(key)):
            raise ValueError(
                f'"{key}" looks like a secret; secrets never go in the file: '
                "put the key in the environment variable named by api_key_env"
            )
    return value


_Url = Annotated[str, AfterValidator(_http_url)]
_ModelName = Annotated[str, AfterValidator(_model_name)]
_EnvName = Annotated[str, AfterValidator(_env_name)]
_ExtraBody = Annotated[dict[str, Any], AfterValidator(_extra_body)]


class FallbackConfig(_Section):
    """A provider tried when the one before it cannot serve (unreachable, key refused, no balance, no model)."""

    base_url: _Url
    model: _ModelName
    api_key_env: _EnvName
    # The main llm.extra_body is provider-specific, so a fallback only sends its own.
    extra_body: _ExtraBody = {}


class LLMConfig(_Section):
    base_url: _Url = Field(default="https://api.deepseek.com", description="any OpenAI-compatible endpoint")
    api_key_env: _EnvName = Field(
        default="DEEPSEEK_API_KEY", description="the variable the key is read from (never from the file)",
    )
    model: _ModelName = Field(default="deepseek-chat", description="model name at that endpoint")
    temperature: float = Field(default=0.2, ge=0, le=2, description="sampling temperature")
    concurrency: int = Field(default=8, ge=1, le=256, description="model calls in flight at once, across the run")
    timeout_seconds: float = Field(default=120, gt=0, description="per model call")
    max_retries: int = Field(default=5, ge=0, le=20, description="per model call; retries honour Retry-After")
    max_tokens: int | None = Field(default=None, ge=1, description="optional cap on answer length")
    # Merged into every request body, e.g. {"thinking": {"type": "disabled"}} to switch a thinking mode off.
    extra_body: _ExtraBody = Field(
        default={}, description="mapping merged into every request body (e.g. to switch a thinking mode off)"
    )
    fallbacks: list[FallbackConfig] = Field(
        default=[], description="providers `{base_url, model, api_key_env, extra_body}` tried in order when the one"
        " before is unreachable, refuses the key, has no balance or does not know the model"
    )
    max_tokens_per_run: int | None = Field(
        default=None, ge=1, description="prompt + completion tokens one run may spend (translations first; deep"
        " reads beyond it wait for the next run); null = no limit"
    )
    price_per_million_input: float | None = Field(
        default=None, ge=0, description="price of a million prompt tokens (the cost in the summary and the record)"
    )
    price_per_million_output: float | None = Field(
        default=None, ge=0, description="price of a million completion tokens"
    )
    currency: str = Field(default="", description="currency of the prices, e.g. CNY")
    reread_new_versions: bool = Field(
        default=False, description="when arXiv announces a new version of a posted paper, read it again (one deep-read"
        " call each) and update that day's post; false only notes the new version on the day's page",
    )

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if len(v) > 8 or any(ch.isspace() for ch in v):
            raise ValueError(f'expected a short currency name like "USD" or "CNY", got "{v}"')
        return v

    @model_validator(mode="after")
    def _prices_together(self) -> LLMConfig:
        if (self.price_per_million_input is None) != (self.price_per_million_output is None):
            raise ValueError(
                "set both llm.price_per_million_input and llm.price_per_million_output, or neither "
                "(the cost needs both prices)"
            )
        return self

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """What these tokens cost in llm.currency, or None when no prices are configured."""
        if self.price_per_million_input is None or self.price_per_million_output is None:
            return None
        return (prompt_tokens * self.price_per_million_input + completion_tokens * self.price_per_million_output) / 1e6

    def format_cost(self, prompt_tokens: int, completion_tokens: int) -> str | None:
        """The cost as shown in the summary ("0.0123 CNY"), or None when no prices are configured."""
        amount = self.cost(prompt_tokens, completion_tokens)
        if amount is None:
            return None
        return f"{amount:.4f} {self.currency}".rstrip()


class FulltextConfig(_Section):
    max_pdf_mb: float = Field(default=50, gt=0, description="downloads stop at this size")
    max_chars: int = Field(default=60000, ge=1000, description="budget for the paper text in the deep-read prompt")
    download_concurrency: int = Field(default=2, ge=1, le=16, description="PDF downloads at once")
    timeout_seconds: float = Field(default=60, gt=0, description="per PDF download")
    max_retries: int = Field(default=3, ge=0, le=10, description="per PDF download")
    keep_days: int = Field(default=7, ge=0, description="a day's PDFs and HTML pages leave the cache once its post is"
                           " complete and it is older than this many days")


class Config(_Section):
    site: SiteConfig = SiteConfig()
    arxiv: ArxivConfig = ArxivConfig()
    window: WindowConfig = WindowConfig()
    filter: FilterConfig = FilterConfig()
    llm: LLMConfig = LLMConfig()
    fulltext: FulltextConfig = FulltextConfig()
    # Validated by parse_notify_config (its errors name the channel's key); see the README's Notifications.
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


def _key_path(loc: tuple[Any, ...]) -> str:
    """`llm.fallbacks[1].model`; a trailing list position (holidays[2]) stays out, the message shows the value."""
    out = ""
    for n, part in enumerate(loc):
        if isinstance(part, int):
            if n + 1 < len(loc):
                out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _field_of(loc: tuple[Any, ...]) -> Any:
    """The pydantic FieldInfo at an error location, or None when the path leaves the schema."""
    model: Any = Config
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        info = fields[part]
        model = info.annotation
        for arg in getattr(model, "__args__", ()) or ():  # list[FallbackConfig], X | None
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                model = arg
    return info


def _known_keys(section: tuple[Any, ...]) -> list[str]:
    """The keys allowed in the mapping at `section` (the top level when empty)."""
    if not section:
        return [k for k in Config.model_fields if k != "base_dir"]
    info = _field_of(section)
    model = info.annotation if info is not None else None
    for arg in getattr(model, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            model = arg
    return list(getattr(model, "model_fields", {}) or {})


def _meant(loc: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The location of the real key an unknown one is a near-spelling of, or None."""
    if not loc:
        return None
    close = difflib.get_close_matches(str(loc[-1]), _known_keys(loc[:-1]), n=1, cutoff=0.8)
    return (*loc[:-1], close[0]) if close else None


def _number_range(loc: tuple[Any, ...]) -> str | None:
    """'a whole number from 1 to 256' for a bounded numeric field, None for anything else."""
    info = _field_of(loc)
    if info is None:
        return None
    args = getattr(info.annotation, "__args__", None) or (info.annotation,)
    whole = int in args
    if not whole and float not in args:
        return None
    bounds = {name: getattr(m, name) for m in info.metadata for name in ("ge", "gt", "le") if hasattr(m, name)}
    kind = "a whole number" if whole else "a number"
    lo, hi = bounds.get("ge"), bounds.get("le")
    fmt = "{:g}".format
    if "gt" in bounds:
        text = f"{kind} greater than {fmt(bounds['gt'])}"
    elif lo is not None and hi is not None:
        text = f"{kind} from {fmt(lo)} to {fmt(hi)}"
    elif lo is not None:
        text = f"{kind} of {fmt(lo)} or more"
    else:
        text = kind
    if type(None) in args:
        text += ", or null"
    return text


def _secret_fix(loc: tuple[Any, ...], data: Any) -> str:
    where = "llm.api_key_env"
    if "fallbacks" in loc:
        where = _key_path((*loc[:-1], "api_key_env"))
    named = ""
    llm = data.get("llm") if isinstance(data, dict) else None
    if where == "llm.api_key_env":
        var = llm.get("api_key_env") if isinstance(llm, dict) else None
        named = f" (now {var})" if isinstance(var, str) and var.isidentifier() else f" (now {LLMConfig().api_key_env})"
    return (
        f"a key never goes in the config file; put the key in the environment variable named by {where}{named} "
        "and delete this line"
    )


def _message(err: dict[str, Any], data: Any = None) -> tuple[str, str]:
    raw_loc = tuple(err["loc"])
    loc = _key_path(raw_loc)
    typ = err["type"]
    given = err.get("input")
    if typ == "extra_forbidden":
        meant = _meant(raw_loc)
        if meant:  # a typo of a real key (api_key_evn) is not a secret
            return loc, f"unknown key (did you mean {meant[-1]}? see the README's config reference)"
        if raw_loc and _SECRET_KEY.search(str(raw_loc[-1])):
            return loc, _secret_fix(raw_loc, data)
        return loc, "unknown key (check the spelling; see the README's config reference)"
    if typ == "missing":
        if "fallbacks" in raw_loc:
            return loc, "missing; every entry of llm.fallbacks needs base_url, model and api_key_env"
        return loc, "missing; this key is required"
    if typ == "value_error":
        msg = str(err.get("ctx", {}).get("error", err["msg"]))
        return loc, msg
    number = _number_range(raw_loc)
    if number is not None and (typ in _RANGE_ERRORS or typ in _NUMBER_ERRORS):
        hint = _NUMBER_HINTS.get(".".join(str(p) for p in raw_loc if not isinstance(p, int)))
        return loc, f"expected {number}{f' ({hint})' if hint else ''}, got {_describe(given)}"
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
        "dict_type": "a mapping of keys",
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


_RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
_NUMBER_ERRORS = frozenset({"int_type", "int_parsing", "int_from_float", "float_type", "float_parsing"})


def parse_config(data: Any, source: str = "config.yaml", base_dir: Path | None = None) -> Config:
    """Validate a mapping (as read from YAML) into a Config; raise ConfigError naming the key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (site, arxiv, window, ...), got {_describe(data)}")
    if "base_dir" in data:
        raise ConfigError(f"{source}: base_dir: unknown key (check the spelling; see the README's config reference)")
    # The notify section has its own messages (they name the channel: notify.channels[0].smtp_port).
    notify_data = data.get("notify")
    data = {k: v for k, v in data.items() if k != "notify"}
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        # A misspelt key also makes its real one "missing": report the spelling, which explains both.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        if first["type"] == "extra_forbidden" and first["loc"]:
            meant = _meant(tuple(first["loc"]))
            errors = [e for e in errors if not (e["type"] == "missing" and meant and tuple(e["loc"]) == meant)]
        # Nested list positions (e.g. holidays[2]) are kept in the message, not the key.
        loc, msg = _message(dict(errors[0]), data)
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {loc}: {msg}{more}") from None
    notify = parse_notify_config(notify_data, source)
    cfg = cfg.model_copy(update={"base_dir": base_dir or Path("."), "notify": notify})
    if any(ch.topics for ch in notify.channels):
        from digest.enrich.topics import load_taxonomy

        check_channel_topics(notify, list(load_taxonomy(cfg.topics_file).labels()), source)
    return cfg


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
