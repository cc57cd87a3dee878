"""`digest check` against the stand-ins, the folder-is-a-file errors, and --date in the future."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest

from digest.commands.check import Check, run_checks
from digest.core.config import LLMConfig, load_config
from digest.enrich.model import ModelError, OpenAIModel
from digest.standins.arxiv_server import ArxivStandIn
from digest.standins.chat_server import ChatStandIn
from helpers import write_config

KEY = "sk-check-test-key-0000"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "DIGEST_TEST_KEY"}
    env.update(extra)
    return env


def _digest(site: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digest", *args, "--config", str(site / "config.yaml")],
                          cwd=site, capture_output=True, text=True, timeout=120, env=env)


def _config(site: Path, arxiv: ArxivStandIn, chat: ChatStandIn, **llm: object) -> Path:
    return write_config(
        site,
        arxiv={"api_url": arxiv.api_url, "listing_url": arxiv.listing_url},
        llm={"base_url": chat.base_url, "api_key_env": "DIGEST_TEST_KEY", "model": "stand-in", **llm},
    )


def _checks(site: Path, environ: dict[str, str]) -> list[Check]:
    return run_checks(lambda: load_config(site / "config.yaml", required=True), environ, sleep=lambda s: None)


def _line(results: list[Check], label: str) -> Check:
    return next(r for r in results if r.line.startswith(label + ":"))


def test_every_check_passes_against_the_stand_ins(tmp_path: Path) -> None:
    with ArxivStandIn() as arxiv, ChatStandIn() as chat:
        _config(tmp_path, arxiv, chat)
        proc = _digest(tmp_path, "check", env=_env(DIGEST_TEST_KEY=KEY))
        lines = proc.stdout.splitlines()
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert [ln.split(":")[0].split(None, 1) for ln in lines] == [
            ["ok", "config"], ["ok", "key"], ["ok", "model"], ["ok", "arXiv API"], ["ok", "listing feed"],
            ["ok", "posts folder"], ["ok", "records folder"], ["ok", "cache folder"], ["ok", "records"], ["ok", "cache"],
        ]
        assert "ok    key: DIGEST_TEST_KEY is set (llm.api_key_env)" in lines
        assert f"ok    cache: 0 files, 0.0 MB in {tmp_path / '.cache' / 'digest'}" in lines[-1]
        assert f"ok    model: stand-in is listed by {chat.base_url}" in lines
        assert KEY not in proc.stdout + proc.stderr
        # the model was asked with the key, arXiv once each, and nothing was left in the folders
        models = [r for r in chat.requests if r.path.endswith("/models")]
        assert len(models) == 1 and models[0].headers["authorization"] == f"Bearer {KEY}"
        assert len(arxiv.search_requests) == 1 and len(arxiv.listing_requests) == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_key_unset_fails_naming_the_variable(tmp_path: Path) -> None:
    with ArxivStandIn() as arxiv, ChatStandIn() as chat:
        _config(tmp_path, arxiv, chat)
        proc = _digest(tmp_path, "check", env=_env())
        lines = proc.stdout.splitlines()
        assert proc.returncode == 1
        assert lines[1] == (
            "FAIL  key: the environment variable DIGEST_TEST_KEY is not set; fix: export DIGEST_TEST_KEY=<your key> "
            "where the job runs (llm.api_key_env names the variable; the key never goes in the file)"
        )
        assert lines[2] == "skip  model: not asked, the key in DIGEST_TEST_KEY is missing"
        assert all(ln.startswith("ok") for ln in lines[3:])
        assert not [r for r in chat.requests if r.path.endswith("/models")]
        assert "1 of 10 checks failed (1 skipped)" in proc.stderr
        quiet = _digest(tmp_path, "check", "--quiet", env=_env())
        assert quiet.returncode == 1
        assert quiet.stdout.splitlines() == lines[1:3]  # only what needs fixing


def test_model_not_listed_names_the_choices(tmp_path: Path) -> None:
    with ArxivStandIn() as arxiv, ChatStandIn() as chat:
        chat.models = ["deepseek-chat", "deepseek-reasoner"]
        _config(tmp_path, arxiv, chat, model="deepseek-chaat")
        check = _line(_checks(tmp_path, {"DIGEST_TEST_KEY": KEY}), "model")
        base_url = chat.base_url
    assert not check.ok
    assert check.line == (
        f'model: {base_url} does not list "deepseek-chaat" (it lists deepseek-chat, deepseek-reasoner)'
    )
    assert check.fix == "set llm.model to one of the listed models"


def test_without_a_model_list_one_token_call_is_made(tmp_path: Path) -> None:
    with ArxivStandIn() as arxiv, ChatStandIn() as chat:
        chat.models = None  # GET /models answers 404
        _config(tmp_path, arxiv, chat, extra_body={"thinking": {"type": "disabled"}})
        check = _line(_checks(tmp_path, {"DIGEST_TEST_KEY": KEY}), "model")
        assert check.ok, check.render()
        assert check.line == f"model: stand-in answered a one-token call at {chat.base_url} (no model list)"
        (call,) = chat.calls
        assert call["max_tokens"] == 1 and call["thinking"] == {"type": "disabled"}


@pytest.mark.parametrize(
    ("status", "message", "line_part", "fix"),
    [
        (401, "Authentication Fails", "refused the key in DIGEST_TEST_KEY (HTTP 401: Authentication Fails)",
         "put a valid key for this service in DIGEST_TEST_KEY"),
        (402, "Insufficient Balance", "reports no balance (HTTP 402: Insufficient Balance)",
         "top up the account of the key in DIGEST_TEST_KEY"),
        (503, "overloaded", "is failing (HTTP 503: overloaded)", "try again later, or add a provider under llm.fallbacks"),
    ],
)
def test_model_service_refusals_say_what_to_do(
    tmp_path: Path, status: int, message: str, line_part: str, fix: str
) -> None:
    with ArxivStandIn() as arxiv, ChatStandIn() as chat:
        chat.fail_next(ChatStandIn.error(status, message))
        _config(tmp_path, arxiv, chat)
        check = _line(_checks(tmp_path, {"DIGEST_TEST_KEY": KEY}), "model")
        base_url = chat.base_url
    assert not check.ok
    assert check.line == f"model: {base_url} {line_part}"
    assert check.fix == fix


def test_fallbacks_get_their_own_key_and_model_lines(tmp_path: Path) -> None:
    with ArxivStandIn() as arxiv, ChatStandIn() as chat, ChatStandIn() as spare:
        spare.models = ["spare-model"]
        fallbacks = [
            {"base_url": spare.base_url, "model": "spare-model", "api_key_env": "SPARE_KEY"},
            {"base_url": spare.base_url, "model": "spare-model", "api_key_env": "OTHER_SPARE_KEY"},
        ]
        _config(tmp_path, arxiv, chat, fallbacks=fallbacks)
        results = _checks(tmp_path, {"DIGEST_TEST_KEY": KEY, "SPARE_KEY": "sk-spare"})
        spare_url = spare.base_url
    assert _line(results, "fallback 1 key").ok
    assert _line(results, "fallback 1 model").line == f"fallback 1 model: spare-model is listed by {spare_url}"
    second = _line(results, "fallback 2 key")
    assert not second.ok and "OTHER_SPARE_KEY" in second.line and "llm.fallbacks[1].api_key_env" in second.fix
    assert _line(results, "fallback 2 model").skipped


def test_unreachable_arxiv_and_a_folder_that_is_a_file(tmp_path: Path) -> None:
    with ArxivStandIn() as arxiv:
        dead_api, dead_listing = arxiv.api_url, arxiv.listing_url
    (tmp_path / "_posts").write_text("not a folder", encoding="utf-8")
    with ChatStandIn() as chat:
        write_config(tmp_path, arxiv={"api_url": dead_api, "listing_url": dead_listing, "max_retries": 0},
                     llm={"base_url": chat.base_url, "api_key_env": "DIGEST_TEST_KEY", "model": "stand-in"})
        results = _checks(tmp_path, {"DIGEST_TEST_KEY": KEY})
    api = _line(results, "arXiv API")
    assert not api.ok and api.line == f"arXiv API: cannot reach {dead_api} (ConnectError)"
    assert not _line(results, "listing feed").ok
    posts = _line(results, "posts folder")
    assert posts.render() == (
        f"FAIL  posts folder: {tmp_path.resolve() / '_posts'} is a file, not a folder; "
        "fix: set site.posts_dir in the config to a folder"
    )
    assert _line(results, "records folder").ok


def test_a_config_that_does_not_load_is_the_only_line(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("llm:\n  api_key: sk-abc\n", encoding="utf-8")
    proc = _digest(tmp_path, "check", env=_env())
    assert proc.returncode == 1
    (line,) = proc.stdout.splitlines()
    assert line.startswith("FAIL  config: ") and "llm.api_key: a key never goes in the config file" in line
    assert "sk-abc" not in proc.stdout + proc.stderr


def _seam_model(handler: Callable[[httpx2.Request], httpx2.Response], **llm: object) -> OpenAIModel:
    """The Model seam's client for one provider, its HTTP answered by `handler` (the SDK's own MockTransport)."""
    cfg = LLMConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key_env="K", timeout_seconds=5, **llm)
    return OpenAIModel(cfg, "k", http=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))


def test_model_check_survives_a_service_that_hangs_up(tmp_path: Path) -> None:
    from digest.commands.check import check_model

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    check = asyncio.run(check_model("model", _seam_model(refuse)))
    assert check == Check(False, "model: cannot reach http://127.0.0.1:9/v1 (ConnectError)",
                          "check llm.base_url and the network (a proxy may be needed)")


@pytest.mark.parametrize(
    ("status", "body", "line", "fix"),
    [
        # A 429 that only says a quota was exceeded is a rate limit (the run waits and retries), not an empty account.
        (429, {"error": {"message": "Rate quota exceeded, retry in 20 s"}},
         "is rate limiting this key (HTTP 429: Rate quota exceeded, retry in 20 s)",
         "try again in a minute; if it persists, lower llm.concurrency"),
        (429, {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}},
         "reports no balance (HTTP 429: You exceeded your current quota)", "top up the account of the key in K"),
        # A server error that mentions a quota is still the server's trouble: the run retries it too.
        (503, {"error": {"message": "quota service down"}}, "is failing (HTTP 503: quota service down)",
         "try again later, or add a provider under llm.fallbacks"),
        (400, {"error": {"message": "bad request"}}, "answered HTTP 400: bad request",
         "check llm.base_url and llm.model"),
    ],
)
def test_check_reads_failures_as_the_run_does(status: int, body: dict[str, object], line: str, fix: str) -> None:
    from digest.commands.check import check_model
    from digest.core.failures import http_failure

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, json=body)

    model = _seam_model(answer)
    check = asyncio.run(check_model("model", model))
    assert check == Check(False, f"model: http://127.0.0.1:9/v1 {line}", fix)
    # The run's call gets the same kind from the same table.
    with pytest.raises(ModelError) as info:
        asyncio.run(_seam_model(answer).complete([{"role": "user", "content": "hi"}]))
    assert info.value.failure is http_failure(status, str(body["error"]))


def test_check_times_out_through_the_seam() -> None:
    from digest.commands.check import check_model

    def hang(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("slow", request=request)

    check = asyncio.run(check_model("model", _seam_model(hang)))
    assert check.line == "model: http://127.0.0.1:9/v1 did not answer within 5 s"


# ------------------------------------------------------------------ run / build guards


def test_run_with_a_date_in_the_future_is_a_usage_error(tmp_path: Path) -> None:
    write_config(tmp_path, arxiv={"api_url": "http://127.0.0.1:9/api/query"})
    proc = _digest(tmp_path, "run", "--date", "2099-01-01", env=_env())
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith("digest: error: --date: 2099-01-01 is in the future (today is ")
    assert line.endswith(
        "and arXiv has listed nothing for it yet; give a date up to tomorrow, or leave --date out for the latest post"
    )


def test_backfill_into_the_future_is_a_usage_error(tmp_path: Path) -> None:
    write_config(tmp_path, arxiv={"api_url": "http://127.0.0.1:9/api/query"})
    proc = _digest(tmp_path, "backfill", "2026-01-05", "2099-01-01", env=_env())
    assert proc.returncode == 2
    assert "END: 2099-01-01 is in the future" in proc.stderr


def test_future_check_uses_the_injected_clock() -> None:
    from datetime import UTC, date, datetime

    from digest.commands.args import not_future as _not_future
    from digest.core.config import parse_config
    from digest.core.errors import UsageError
    from digest.pipeline import Services

    cfg = parse_config({})
    services = Services(clock=lambda: datetime(2026, 3, 1, 20, 0, tzinfo=UTC))  # 2026-03-02 04:00 in Shanghai
    assert _not_future(date(2026, 3, 3), cfg, services) == date(2026, 3, 3)
    with pytest.raises(UsageError, match="2026-03-04 is in the future"):
        _not_future(date(2026, 3, 4), cfg, services)


def test_build_with_a_records_dir_that_is_a_file_says_so(tmp_path: Path) -> None:
    write_config(tmp_path)
    (tmp_path / "_data").mkdir()
    (tmp_path / "_data" / "digest").write_text("oops", encoding="utf-8")
    proc = _digest(tmp_path, "build", env=_env())
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line == (
        f"digest: error: {tmp_path.resolve() / '_data' / 'digest'}: is a file, not a folder; "
        "set site.records_dir in the config to a folder"
    )


def test_writing_a_post_under_a_file_names_the_key(tmp_path: Path) -> None:
    # (The run keeps its record and says this when it comes to write the post; see tests/hostile.)
    from digest.core.errors import DigestError
    from digest.core.files import write_or_fail

    (tmp_path / "_posts").write_text("oops", encoding="utf-8")
    target = tmp_path / "_posts" / "2026-01-07-arxiv.md"
    with pytest.raises(DigestError) as info:
        write_or_fail(target, "text", "post")
    assert str(info.value) == (
        f"cannot write post {target}: {tmp_path / '_posts'} is a file, not a folder; "
        "set site.posts_dir in the config to a folder"
    )


def test_records_dir_that_is_a_file_stops_the_lock_with_its_key(tmp_path: Path) -> None:
    from digest.core.errors import DigestError
    from digest.core.lock import site_lock

    (tmp_path / "_data").write_text("oops", encoding="utf-8")
    with pytest.raises(DigestError) as info, site_lock(tmp_path / "_data" / "digest" / ".digest.lock", "run"):
        pass
    assert str(info.value) == (
        f"cannot create the site lock in {tmp_path / '_data' / 'digest'}: {tmp_path / '_data'} is a file, "
        "not a folder; set site.records_dir in the config to a folder"
    )


def test_notify_channels_are_checked_for_their_variables_without_sending(tmp_path: Path) -> None:
    hook = "https://open.feishu.cn/open-apis/bot/v2/hook/secret-token-123"
    with ArxivStandIn() as arxiv, ChatStandIn() as chat:
        path = _config(tmp_path, arxiv, chat)
        text = path.read_text(encoding="utf-8") + (
            "notify:\n  channels:\n"
            "    - {name: lab, kind: feishu, url_env: LAB_HOOK, secret_env: LAB_SECRET}\n"
            "    - {name: bot, kind: telegram, token_env: BOT_TOKEN, chat_id: '42'}\n"
        )
        path.write_text(text, encoding="utf-8")
        results = _checks(tmp_path, _env(DIGEST_TEST_KEY=KEY, LAB_HOOK=hook, BOT_TOKEN="t"))
        lab, bot = _line(results, "notify lab"), _line(results, "notify bot")
        assert not lab.ok and lab.line == "notify lab: LAB_SECRET not set"
        assert "export LAB_SECRET" in lab.fix and "notify.channels[0]" in lab.fix
        assert bot.ok and bot.line == "notify bot: telegram channel configured (BOT_TOKEN set)"
        assert all(hook not in r.render() for r in results)  # a webhook URL is a secret: never shown
        both = _checks(tmp_path, _env(DIGEST_TEST_KEY=KEY, LAB_HOOK=hook, LAB_SECRET="s", BOT_TOKEN="t"))
        assert all(r.ok for r in both)
