"""The one base of every config section, the validators sections share, and the one translator of pydantic
errors into lines that name the key (`llm.fallbacks[1].model: expected ..., got ...`).

A section says how its own errors read through class attributes (`reference`, `missing_hint`, `number_hints`,
`secret_fix`), so the translator knows no section by name and no section imports another.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from digest.core.errors import ConfigError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Section(BaseModel):
    """A config section: unknown keys refused, frozen, defaults validated like given values."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    # Where the README explains this section's keys (said with an unknown key).
    reference: ClassVar[str] = "the README's config reference"
    # Said when a required key of this section is missing.
    missing_hint: ClassVar[str] = "missing; this key is required"
    # What each bounded number of this section means, so a range error says why the range is what it is.
    number_hints: ClassVar[dict[str, str]] = {}

    @classmethod
    def secret_fix(cls, loc: tuple[Any, ...], data: Any) -> str | None:
        """What to say about an unknown key at `loc` that looks like a secret; None: treat it as a typo."""
        return None


S = TypeVar("S", bound=BaseModel)


# ------------------------------------------------------------------ shared validators


def describe(value: Any) -> str:
    """A given value as an error message shows it: text quoted, containers by kind."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{value!r}"


def http_url(value: str) -> str:
    """An http(s) URL, or ValueError saying so."""
    if not value.startswith(("http://", "https://")):
        raise ValueError(f'expected an http(s) URL, got "{value}"')
    return value


def env_name(value: str | None, example: str, what: str) -> str | None:
    """The NAME of an environment variable (None passes); the value is never echoed: it is most likely the
    secret itself."""
    if value is not None and not _ENV_NAME.fullmatch(value):
        raise ValueError(
            f"expected the NAME of an environment variable, like {example}; the {what} itself never goes "
            "in the file: export it in that variable"
        )
    return value


# ------------------------------------------------------------------ walking an error location through the schema


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The sections an annotation can hold: X, list[X], X | None, Annotated[A | B, ...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _tags(model: type[BaseModel]) -> tuple[Any, ...]:
    """The values of the model's Literal fields: a union member's tag (`kind: email`)."""
    return tuple(t for f in model.model_fields.values() if get_origin(f.annotation) is Literal
                 for t in get_args(f.annotation))


def _keys(models: list[type[BaseModel]]) -> list[str]:
    return list(dict.fromkeys(k for m in models for k, f in m.model_fields.items() if not f.exclude))


@dataclass
class _Spot:
    """Where an error location lands in the schema."""

    path: str  # as the user writes it: notify.channels[0].smtp_port
    owner: type[BaseModel]  # the section holding the last key
    field: FieldInfo | None = None  # the last key's field, None when it is not in the schema
    models: tuple[type[BaseModel], ...] = ()  # what the mapping before the last key may be


def _walk(root: type[BaseModel], loc: tuple[Any, ...], prefix: str) -> _Spot:
    """Follow `loc` from `root`: list positions kept unless trailing in a list of plain values (the message shows
    the value), union tags dropped (pydantic names the member it tried; the user never wrote it)."""
    models: list[type[BaseModel]] = [root]
    spot = _Spot(prefix, root, models=(root,))
    for n, part in enumerate(loc):
        if isinstance(part, int):
            if n + 1 < len(loc) or models:
                spot.path += f"[{part}]"
            continue
        holder = next((m for m in models if part in m.model_fields), None)
        if holder is None:
            tagged = [m for m in models if part in _tags(m)]
            if tagged:
                models = tagged
                spot.owner = tagged[0]
                continue
        spot.models = tuple(models)
        spot.path += f".{part}" if spot.path else str(part)
        if holder is None:
            spot.field, models = None, []
            continue
        spot.owner, spot.field = holder, holder.model_fields[part]
        models = _models_in(spot.field.annotation)
    return spot


def _meant(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The location of the real key an unknown one is a near-spelling of, or None."""
    if not loc:
        return None
    known = _keys(list(_walk(root, loc, "").models))
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.8)
    return (*loc[:-1], close[0]) if close else None


# ------------------------------------------------------------------ the messages


_RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
_NUMBER_ERRORS = frozenset({"int_type", "int_parsing", "int_from_float", "float_type", "float_parsing"})
_EXPECTED = {
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
}


def _number_range(info: FieldInfo | None) -> str | None:
    """'a whole number from 1 to 256' for a bounded numeric field, None for anything else."""
    if info is None:
        return None
    args = get_args(info.annotation) or (info.annotation,)
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


def _unknown_key(root: type[BaseModel], loc: tuple[Any, ...], spot: _Spot, data: Any) -> str:
    owner = spot.owner
    reference = getattr(owner, "reference", Section.reference)
    meant = _meant(root, loc)
    if meant:  # a typo of a real key (api_key_evn) is not a secret
        return f"unknown key (did you mean {meant[-1]}? see {reference})"
    fix = owner.secret_fix(loc, data) if issubclass(owner, Section) else None
    return fix or f"unknown key (check the spelling; see {reference})"


def _union_tag(err: dict[str, Any], models: list[type[BaseModel]]) -> str:
    """'kind: expected one of email, feishu, ..., got "pager"': the members' tags in schema order."""
    ctx = err.get("ctx") or {}
    name = str(ctx.get("discriminator", "kind")).strip("'")
    tags = ", ".join(str(t) for m in models if name in m.model_fields
                     for t in get_args(m.model_fields[name].annotation))
    got = describe(ctx.get("tag")) if err["type"] == "union_tag_invalid" else "nothing"
    return f"{name}: expected one of {tags}, got {got}"


def error_line(err: dict[str, Any], root: type[BaseModel], prefix: str = "", data: Any = None) -> str:
    """One pydantic error as 'key.path: what was expected, got what was given', in the tool's words."""
    loc = tuple(err["loc"])
    spot = _walk(root, loc, prefix)
    typ = err["type"]
    ctx = err.get("ctx") or {}
    given = err.get("input")
    hints: dict[str, str] = getattr(spot.owner, "number_hints", {})
    hint = hints.get(str(loc[-1])) if loc else None
    if typ == "extra_forbidden":
        msg = _unknown_key(root, loc, spot, data)
    elif typ == "missing":
        msg = getattr(spot.owner, "missing_hint", Section.missing_hint)
    elif typ == "value_error":
        msg = str(ctx.get("error", err["msg"]))
    elif typ in ("union_tag_not_found", "union_tag_invalid"):
        msg = _union_tag(err, _models_in(spot.field.annotation) if spot.field else [])
    elif (number := _number_range(spot.field)) is not None and (
        typ in _RANGE_ERRORS or (typ in _NUMBER_ERRORS and hint)
    ):
        # The range is stated when the value broke it, or when the section explains what the number means.
        msg = f"expected {number}{f' ({hint})' if hint else ''}, got {describe(given)}"
    else:
        expected = _EXPECTED.get(typ) or (ctx.get("expected", "one of the allowed values")
                                          if typ == "literal_error" else None)
        msg = f"expected {expected}, got {describe(given)}" if expected else f"{err['msg']}, got {describe(given)}"
    return f"{spot.path}: {msg}" if spot.path else msg


def validate(model: type[S], data: Any, source: str, prefix: str = "") -> S:
    """Validate `data` into `model`, or raise ConfigError naming the file and the key of the first problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # A misspelt key also makes its real one "missing": report the spelling, which explains both.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        if first["type"] == "extra_forbidden" and first["loc"]:
            meant = _meant(model, tuple(first["loc"]))
            errors = [e for e in errors if not (e["type"] == "missing" and meant and tuple(e["loc"]) == meant)]
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {error_line(dict(errors[0]), model, prefix, data)}{more}") from None
