"""Every config error is one line naming the file and the key; a near-empty file works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from digest.core.config import load_config, parse_config
from digest.core.errors import ConfigError


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_empty_file_gives_all_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("", encoding="utf-8")
    cfg = load_config(path)
    assert cfg.window.anchor == "08:50"
    assert cfg.window.basis == "announced"
    assert cfg.llm.api_key_env == "DEEPSEEK_API_KEY"
    assert cfg.arxiv.categories == ["cs.SD", "eess.AS"]
    # relative paths resolve against the config file's folder
    assert cfg.posts_dir == tmp_path.resolve() / "_posts"


def test_partial_section_keeps_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("llm:\n  model: qwen-plus\n", encoding="utf-8")
    cfg = load_config(path)
    assert cfg.llm.model == "qwen-plus"
    assert cfg.llm.concurrency == 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('window:\n  anchor: "8.50"\n', 'window.anchor: expected HH:MM, got "8.50"'),
        ("window:\n  anchor: '25:00'\n", "window.anchor: expected HH:MM"),
        ("window:\n  timezone: Mars/Olympus\n", 'window.timezone: expected an IANA time zone like "Asia/Shanghai"'),
        ("window:\n  basis: weekly\n", "window.basis: expected 'announced' or 'submitted'"),
        ("window:\n  holidays: [2026-02-30]\n", "window.holidays: expected a date"),
        ("arxiv:\n  pdf_download_url: https://mirror.example/pdf/\n", 'arxiv.pdf_download_url: expected a URL template'),
        ("arxiv:\n  abs_link: https://arxiv.org/abs/\n", "arxiv.abs_link: expected a URL template containing \"{id}\""),
        ("arxiv:\n  delay_seconds: soon\n", 'arxiv.delay_seconds: expected a number of 0 or more'),
        ("arxiv:\n  categories: []\n", "arxiv.categories: expected at least one category"),
        ("llm:\n  concurrency: many\n", 'llm.concurrency: expected a whole number from 1 to 256'),
        ("llm:\n  concurrency: 0\n", "llm.concurrency:"),
        ("llm:\n  api_key_env: sk-abc123\n", "llm.api_key_env: expected the NAME of an environment variable"),
        ("llm:\n  temprature: 0.1\n", "llm.temprature: unknown key"),
        ("sitee:\n  posts_dir: x\n", "sitee: unknown key"),
        ("filter:\n  primary_only: maybe\n", "filter.primary_only: expected true or false"),
        ("filter:\n  max_papers: -3\n", "filter.max_papers:"),
        ("site: [1, 2]\n", "site: expected a mapping of keys"),
        ("- just\n- a list\n", "expected a mapping of sections"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    msg = _error(tmp_path, text)
    assert msg.startswith(str(tmp_path / "config.yaml") + ": ")
    assert expected in msg


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    msg = _error(tmp_path, "llm:\n  model: [unclosed\n")
    assert "not valid YAML" in msg and "line" in msg


def test_unquoted_anchor_is_read_as_time() -> None:
    # YAML 1.1 reads 08:50 unquoted as the integer 530; the config still means 08:50.
    assert parse_config({"window": {"anchor": 530}}).window.anchor == "08:50"


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", required=True)


def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('window:\n  anchor: "8.50"\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "digest", "render", "--all", "--config", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f'digest: error: {path}: window.anchor: expected HH:MM, got "8.50"']
    assert "Traceback" not in proc.stderr


def test_cli_refuses_a_notify_topic_the_taxonomy_lacks_with_exit_2(tmp_path: Path) -> None:
    # core's loader cannot see the taxonomy; the command's config entry point checks it right after loading.
    path = tmp_path / "config.yaml"
    path.write_text("notify:\n  channels:\n    - {name: a, kind: slack, url_env: A, topics: [ttts]}\n",
                    encoding="utf-8")
    assert parse_config({"notify": {"channels": [{"name": "a", "kind": "slack", "url_env": "A",
                                                  "topics": ["ttts"]}]}}).notify.channels[0].topics == ["ttts"]
    proc = subprocess.run(
        [sys.executable, "-m", "digest", "render", "--all", "--config", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert line.startswith(f"digest: error: {path}: notify.channels[0].topics: expected topics among ['asr', ")
    assert line.endswith("got ['ttts'] (the slugs of the built-in taxonomy, or of site.topics_file)")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # The same translator names keys in every section, notify included, with the section's own hints.
        ({"notify": {"channels": [{"name": "a", "kind": "slack", "url_env": "A", "token": "x"}]}},
         "notify.channels[0].token: unknown key (check the spelling; see the README's Notifications section)"),
        ({"notify": {"channels": [{"name": "a", "kind": "slack", "url_env": "A", "topcs": []}]}},
         "notify.channels[0].topcs: unknown key (did you mean topics? see the README's Notifications section)"),
        ({"notify": {"channels": [{"name": "a", "kind": "telegram", "token_env": "T", "chat_id": 1,
                                   "timeout_seconds": 0}]}},
         "notify.channels[0].timeout_seconds: expected a number greater than 0, got 0"),
        ({"notify": {"channels": [{"name": "a", "kind": "telegram", "token_env": "T", "chat_id": 1,
                                   "api_url": "ftp://x"}]}},
         'notify.channels[0].api_url: expected an http(s) URL, got "ftp://x"'),
        ({"notify": {"channels": [{"kind": "slack", "url_env": "A"}]}},
         "notify.channels[0].name: missing (this channel kind needs it)"),
        ({"notify": {"channels": ["slack"]}}, 'notify.channels[0]: expected a mapping of keys, got "slack"'),
        ({"llm": {"api_key_env": "sk-1"}}, "llm.api_key_env: expected the NAME of an environment variable, like "
         "DEEPSEEK_API_KEY; the key itself never goes in the file: export it in that variable"),
        ({"notify": {"channels": [{"name": "a", "kind": "slack", "url_env": "https://h/x"}]}},
         "notify.channels[0].url_env: expected the NAME of an environment variable, like SLACK_WEBHOOK_URL; "
         "the secret itself never goes in the file: export it in that variable"),
    ],
)
def test_one_translator_for_every_section(data: dict[str, object], expected: str) -> None:
    from digest.core.config.notify import parse_notify_config

    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert str(info.value) == f"config.yaml: {expected}"
    if "notify" in data:  # the section alone says the same
        with pytest.raises(ConfigError) as alone:
            parse_notify_config(data["notify"])
        assert str(alone.value) == str(info.value)


# ------------------------------------------------------------------ issue 14: the tool's own words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "llm:\n  concurrency: 0\n",
            "llm.concurrency: expected a whole number from 1 to 256 (model calls in flight at once; "
            "1 runs them one by one), got 0",
        ),
        (
            "llm:\n  concurrency: many\n",
            'llm.concurrency: expected a whole number from 1 to 256 (model calls in flight at once; '
            '1 runs them one by one), got "many"',
        ),
        (
            "llm:\n  temperature: 3\n",
            "llm.temperature: expected a number from 0 to 2 (sampling temperature; 0.2 suits translation), got 3",
        ),
        (
            "llm:\n  timeout_seconds: 0\n",
            "llm.timeout_seconds: expected a number greater than 0 (seconds to wait for one model answer), got 0",
        ),
        (
            "filter:\n  max_papers: 0\n",
            "filter.max_papers: expected a whole number of 1 or more, or null "
            "(the most papers one post shows; null shows all), got 0",
        ),
        (
            "fulltext:\n  max_chars: 10\n",
            "fulltext.max_chars: expected a whole number of 1000 or more "
            "(characters of paper text in the deep-read prompt), got 10",
        ),
        (
            "llm:\n  max_tokens_per_run: 0\n",
            "llm.max_tokens_per_run: expected a whole number of 1 or more, or null "
            "(prompt + completion tokens one run may spend; null means no limit), got 0",
        ),
        (
            "llm:\n  api_key: sk-live-abc123\n",
            "llm.api_key: a key never goes in the config file; put the key in the environment variable named by "
            "llm.api_key_env (now DEEPSEEK_API_KEY) and delete this line",
        ),
        (
            "llm:\n  api_key_env: MY_KEY\n  apiKey: sk-live-abc123\n",
            "llm.apiKey: a key never goes in the config file; put the key in the environment variable named by "
            "llm.api_key_env (now MY_KEY) and delete this line",
        ),
        (
            "site:\n  token: abc\n",
            "site.token: a key never goes in the config file; put the key in the environment variable named by "
            "llm.api_key_env (now DEEPSEEK_API_KEY) and delete this line",
        ),
        (
            "llm:\n  fallbacks:\n    - {base_url: 'http://a/v1', model: m, api_key_env: A, api_key: sk-1}\n",
            "llm.fallbacks[0].api_key: a key never goes in the config file; put the key in the environment "
            "variable named by llm.fallbacks[0].api_key_env and delete this line",
        ),
        (
            "llm:\n  max_token: 5\n",  # a typo that merely ends in "token" is not taken for a secret
            "llm.max_token: unknown key (did you mean max_tokens? see the README's config reference)",
        ),
        (
            "llm:\n  api_key_evn: MY_KEY\n",  # nor is a typo of api_key_env
            "llm.api_key_evn: unknown key (did you mean api_key_env? see the README's config reference)",
        ),
        (
            "llm:\n  fallbacks:\n    - {base_url: 'http://a/v1', modle: m, api_key_env: A}\n",
            "llm.fallbacks[0].modle: unknown key (did you mean model? see the README's config reference)",
        ),
        (
            "fulltext:\n  pages: 5\n",
            "fulltext.pages: unknown key (check the spelling; see the README's config reference)",
        ),
        ("sitee:\n  posts_dir: x\n", "sitee: unknown key (did you mean site? see the README's config reference)"),
        (
            "arxiv:\n  categories: [cs.SD, cs.XX]\n",
            'arxiv.categories: "cs.XX" is not an arXiv category (did you mean "cs.SY"? '
            "the list is at https://arxiv.org/category_taxonomy)",
        ),
        (
            "arxiv:\n  categories: [eess.as]\n",
            'arxiv.categories: "eess.as" is not an arXiv category (did you mean "eess.AS"? '
            "the list is at https://arxiv.org/category_taxonomy)",
        ),
        (
            "arxiv:\n  categories: [eess]\n",
            'arxiv.categories: "eess" is a whole archive; list its categories instead '
            '("eess.AS", "eess.IV", "eess.SP", "eess.SY")',
        ),
        (
            "llm:\n  fallbacks:\n    - {base_url: 'http://a/v1', model: m}\n",
            "llm.fallbacks[0].api_key_env: missing; every entry of llm.fallbacks needs base_url, model and api_key_env",
        ),
        (
            "llm:\n  fallbacks:\n    base_url: http://a/v1\n",
            "llm.fallbacks: expected a list, got a mapping",
        ),
        (
            "llm:\n  fallbacks:\n    - {base_url: 'ftp://a', model: m, api_key_env: A}\n",
            'llm.fallbacks[0].base_url: expected an http(s) URL, got "ftp://a"',
        ),
        (
            "llm:\n  extra_body: {messages: []}\n",
            'llm.extra_body: "messages" is set by digest on every request; remove it from extra_body',
        ),
        (
            "llm:\n  extra_body: [thinking]\n",
            "llm.extra_body: expected a mapping of keys, got a list",
        ),
        (
            "llm:\n  price_per_million_input: 0.27\n",
            "llm: set both llm.price_per_million_input and llm.price_per_million_output, or neither "
            "(the cost needs both prices)",
        ),
        (
            "llm:\n  price_per_million_input: -1\n  price_per_million_output: 1\n",
            "llm.price_per_million_input: expected a number of 0 or more, or null "
            "(price of a million prompt tokens in llm.currency; null leaves the cost out), got -1",
        ),
    ],
)
def test_messages_in_the_tools_words(tmp_path: Path, text: str, expected: str) -> None:
    msg = _error(tmp_path, text)
    assert msg == f"{tmp_path / 'config.yaml'}: {expected}"
    assert "Input should" not in msg and "Field required" not in msg


def test_a_key_in_the_file_is_never_echoed(tmp_path: Path) -> None:
    for text in ("llm:\n  api_key: sk-live-abc123\n", "llm:\n  api_key_env: sk-live-abc123\n"):
        assert "sk-live-abc123" not in _error(tmp_path, text)


def test_every_bounded_number_has_a_range_message() -> None:
    # A number added later without a hint would fall back to bare bounds; keep the table complete.
    from digest.core.config import Config

    missing = []
    for section, info in Config.model_fields.items():
        model = info.annotation
        hints = getattr(model, "number_hints", {})
        for name, field in getattr(model, "model_fields", {}).items():
            bounded = any(hasattr(m, b) for m in field.metadata for b in ("ge", "gt", "le"))
            if bounded and name not in hints:
                missing.append(f"{section}.{name}")
    assert missing == []


def test_new_llm_keys_default_to_no_op() -> None:
    llm = parse_config({}).llm
    assert llm.fallbacks == [] and llm.extra_body == {}
    assert llm.max_tokens_per_run is None
    assert llm.cost(1000, 1000) is None and llm.format_cost(1, 1) is None


def test_fallbacks_extra_body_and_prices_parse(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "llm:\n"
        "  extra_body: {thinking: {type: disabled}}\n"
        "  max_tokens_per_run: 200000\n"
        "  price_per_million_input: 2\n"
        "  price_per_million_output: 8\n"
        "  currency: CNY\n"
        "  fallbacks:\n"
        "    - base_url: https://api.example.com/v1\n"
        "      model: other-model\n"
        "      api_key_env: OTHER_API_KEY\n"
        "      extra_body: {enable_thinking: false}\n"
        "    - {base_url: 'http://127.0.0.1:11434/v1', model: 'qwen2.5:14b', api_key_env: OLLAMA_API_KEY}\n",
        encoding="utf-8",
    )
    llm = load_config(path).llm
    assert llm.extra_body == {"thinking": {"type": "disabled"}}
    assert [(f.model, f.api_key_env, f.extra_body) for f in llm.fallbacks] == [
        ("other-model", "OTHER_API_KEY", {"enable_thinking": False}),
        ("qwen2.5:14b", "OLLAMA_API_KEY", {}),
    ]
    assert llm.max_tokens_per_run == 200000
    assert llm.cost(1_000_000, 500_000) == pytest.approx(6.0)
    assert llm.format_cost(1_000_000, 500_000) == "6.0000 CNY"


@pytest.mark.parametrize("category", ["cs.SD", "eess.AS", "eess.SP", "cs.CL", "cs.LG", "quant-ph", "physics.optics"])
def test_real_categories_are_accepted(category: str) -> None:
    assert parse_config({"arxiv": {"categories": [category]}}).arxiv.categories == [category]
