"""Print the README's configuration table from the schema in digest.core.config (one row per key).

    python scripts/config_table.py            # print the Markdown table
    python scripts/config_table.py --check    # exit 1 if README.md's table differs from it
    python scripts/config_table.py --write    # replace README.md's table with it

The table is found in README.md by its header row; tests/test_docs.py asserts it matches.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from digest.core.config import Config

HEADER = ["| key | default | meaning |", "|---|---|---|"]
README = Path(__file__).resolve().parent.parent / "README.md"


def yaml_value(value: Any) -> str:
    """A default written as it would be typed in config.yaml (inline lists, null, quoted when YAML needs it)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    text = str(value)
    # Quote only what YAML would read back as something else (08:50 is a sexagesimal integer in YAML 1.1).
    try:
        plain = yaml.safe_load(text) == text
    except yaml.YAMLError:
        plain = False
    return text if plain and text else '"' + text.replace('"', '\\"') + '"'


def rows() -> list[str]:
    """One table row per configurable key, in schema order; a key without a description is an error."""
    out = []
    defaults = Config()
    for section, field in Config.model_fields.items():
        if field.exclude:
            continue  # base_dir: where the file was, not a key
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel), section
        values = getattr(defaults, section)
        for key, sub in model.model_fields.items():
            if not sub.description:
                raise SystemExit(f"config_table: {section}.{key} has no Field(description=...) in src/digest/config.py")
            meaning = sub.description.replace("|", "\\|")
            out.append(f"| `{section}.{key}` | `{yaml_value(getattr(values, key))}` | {meaning} |")
    return out


def table() -> str:
    """The whole Markdown table, header included, without a trailing newline."""
    return "\n".join(HEADER + rows())


def readme_table(text: str) -> tuple[int, int]:
    """Line span [start, end) of the configuration table in README text."""
    lines = text.split("\n")
    try:
        start = lines.index(HEADER[0])
    except ValueError:
        raise SystemExit(f"config_table: README.md has no table starting with {HEADER[0]!r}") from None
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return start, end


def main(argv: list[str]) -> int:
    """Print, check or write the table; see the module docstring."""
    if not argv:
        print(table())
        return 0
    text = README.read_text(encoding="utf-8")
    start, end = readme_table(text)
    lines = text.split("\n")
    current = "\n".join(lines[start:end])
    if argv == ["--check"]:
        if current != table():
            print("README.md: the configuration table is out of date; run python scripts/config_table.py --write")
            return 1
        return 0
    if argv == ["--write"]:
        lines[start:end] = table().split("\n")
        README.write_text("\n".join(lines), encoding="utf-8")
        return 0
    print("usage: python scripts/config_table.py [--check | --write]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
