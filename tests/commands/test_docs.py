"""The README and each command's --help stay true to the config schema and the click CLI."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import click
import pytest
import yaml
from click.testing import CliRunner

from digest.cli import main
from digest.core.config import Config, parse_config

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMON = {"--config", "--verbose", "--quiet", "--debug"}  # README: "Every command takes ..."
SECTIONS = [name for name, field in Config.model_fields.items() if not field.exclude]
KEY_NAME = re.compile(r"\b(?:" + "|".join(SECTIONS) + r")\.[a-z_]+\b")


def _config_table() -> ModuleType:
    spec = importlib.util.spec_from_file_location("config_table", ROOT / "scripts" / "config_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def schema_keys() -> set[str]:
    """Every configurable `section.key` in the schema."""
    return {f"{section}.{key}" for section in SECTIONS for key in type(getattr(Config(), section)).model_fields}


def test_readme_configuration_table_is_the_generated_one() -> None:
    table = _config_table().table()
    assert "\n" + table + "\n" in README, "README's config table is stale: run python scripts/config_table.py --write"
    assert README.count("| key | default | meaning |") == 1


def test_table_lists_every_schema_key_once_with_its_default() -> None:
    mod = _config_table()
    rows = mod.rows()
    keys = [re.match(r"\| `([^`]+)` \|", row).group(1) for row in rows]  # type: ignore[union-attr]
    assert sorted(keys) == sorted(schema_keys()) and len(keys) == len(set(keys))
    # The printed default, read back as YAML into the schema, is the default itself.
    for row in rows:
        key, default = re.match(r"\| `([^`]+)` \| `(.*?)` \|", row).groups()  # type: ignore[union-attr]
        section, name = key.split(".")
        value = yaml.safe_load(default)
        parsed = parse_config({section: {name: value}})
        assert getattr(getattr(parsed, section), name) == getattr(getattr(Config(), section), name), key


def test_the_table_script_checks_and_says_how_to_fix(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "config_table.py"
    ok = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    printed = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout.strip() == _config_table().table()


def test_config_keys_named_anywhere_in_the_readme_exist() -> None:
    named = {m.group(0) for m in KEY_NAME.finditer(README) if README[m.start() - 1] == "`"}
    assert named, "expected the README to name config keys"
    assert named <= schema_keys(), f"README names keys the schema does not have: {sorted(named - schema_keys())}"


def _readme_commands() -> dict[str, list[str]]:
    """The README's "Commands" block: command name -> the words after it (before the comment)."""
    block = re.search(r"## Commands\n\n```\n(.*?)```", README, re.S)
    assert block, "README has no Commands code block"
    out = {}
    for line in block.group(1).splitlines():
        words = line.split("#", 1)[0].split()
        assert words[0] == "digest", line
        out[words[1]] = words[2:]
    return out


def _usage(words: list[str]) -> tuple[dict[str, bool], list[tuple[str, bool, bool]]]:
    """One README usage line: {--option: takes a value} and [(ARGUMENT, required, variadic)]."""
    options: dict[str, bool] = {}
    arguments: list[tuple[str, bool, bool]] = []
    i = 0
    while i < len(words):
        word = words[i]
        token = word.strip("[]")
        if token.startswith("--"):
            # `[--date YYYY-MM-DD]`: a word after the option inside its bracket is the option's value.
            takes_value = not word.endswith("]") and i + 1 < len(words) and not words[i + 1].startswith(("--", "|"))
            options[token] = takes_value
            i += 2 if takes_value else 1
            continue
        if token != "|":
            arguments.append((token.rstrip("."), not word.startswith("["), token.endswith("...")))
        i += 1
    return options, arguments


def _cli_commands() -> dict[str, click.Command]:
    assert isinstance(main, click.Group)
    return dict(main.commands)


def test_readme_commands_match_the_cli() -> None:
    readme, cli = _readme_commands(), _cli_commands()
    assert sorted(readme) == sorted(cli)
    for name, words in readme.items():
        command = cli[name]
        listed, arguments = _usage(words)
        options = {
            o: not p.is_flag for p in command.params if isinstance(p, click.Option) for o in p.opts if o.startswith("--")
        }
        assert listed == {o: v for o, v in options.items() if o not in COMMON}, name
        # README writes a variadic argument named `paths` as PATH...
        actual = [
            ((p.name or "").upper().removesuffix("S") if p.nargs == -1 else (p.name or "").upper(), p.required, p.nargs == -1)
            for p in command.params
            if isinstance(p, click.Argument)
        ]
        assert arguments == actual, name


@pytest.mark.parametrize("name", sorted(_cli_commands()))
def test_each_command_help_lists_its_options_and_names_real_config_keys(name: str) -> None:
    command = _cli_commands()[name]
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: main {name}") or f" {name} " in result.output.splitlines()[0]
    options = {o for p in command.params if isinstance(p, click.Option) for o in p.opts if o.startswith("--")}
    assert COMMON <= options, f"{name} lacks {COMMON - options}"
    for option in options:
        assert option in result.output, f"{name} --help does not show {option}"
    named = set(KEY_NAME.findall(result.output))
    assert named <= schema_keys(), f"{name} --help names unknown config keys {sorted(named - schema_keys())}"
