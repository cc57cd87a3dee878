"""The model misbehaving: bad answers, hostile markup, broken JSON, 401, 404, timeouts. The post stays safe."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from digest.standins.chat_server import ChatStandIn, default_answer, is_title_request

from .kit import (
    DEEP_OK,
    KEY,
    KEY_ENV,
    HostileSite,
    assert_post_safe,
    assert_site_safe,
    deep_only,
    is_deep_read,
    user_prompt,
)

# Each payload goes into one paper's deep read and translation, inside otherwise valid Chinese answers.
PAYLOADS = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "[点这里](javascript:alert(1)) 和 <a href=\"JaVaScRiPt:alert(2)\">链接</a>",
    "</details>\n\n</div>\n\n</details>",
    "## 1) 伪造的论文标题\n\n# 一级标题\n\n### 三级标题",
    "{% raw %}\n{{ site.github }}\n{% endraw %}\n{%- endraw -%}",
    "---\n\n***\n\n上一行\n---\n\n再一行\n===",
    "<iframe src=\"//example.invalid\"></iframe><style>body{display:none}</style>",
    "<details open><summary>假的</summary><div markdown=\"1\">内容",
    "<svg onload=alert(1)><math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
]


def _paper_number(request: dict[str, Any]) -> int:
    m = re.search(r"Hostile fixture paper (\d+)", user_prompt(request))
    assert m, "a prompt without a fixture paper title"
    return int(m.group(1))


def _hostile(request: dict[str, Any]) -> str:
    payload = PAYLOADS[_paper_number(request)]
    if is_deep_read(request):
        chinese = "混响环境中多人同时说话时的语音分离一直是困难问题，以往的方法在真实房间里表现很不稳定。"
        return f"1)  \n- **研究背景**：{chinese}\n{payload}\n\n2)  \n- **核心方法**：{payload}{chinese}\n\n3)  \n- {chinese}"
    return f"本文研究了混响环境中的语音分离问题，并提出一种新方法。\n\n{payload}\n\n实验表明该方法明显优于基线。"


def test_hostile_markup_in_answers_never_reaches_the_page(tmp_path: Path) -> None:
    n = len(PAYLOADS)
    with HostileSite(tmp_path, n) as site:
        site.chat.answer(_hostile)
        proc = site.run()
        assert proc.returncode == 0, proc.stderr
        post = site.post
        assert_post_safe(post, n)
        assert_site_safe(site.dir / "_posts", tmp_path / "_site")
        statuses = {e["id"]: e["deep_read"]["status"] for e in site.record["papers"]}
        assert set(statuses.values()) == {"done"}, [(e["title"], e["deep_read"]["error"]) for e in site.record["papers"]]  # sanitized and published, not thrown away
        assert "伪造的论文标题" in post  # the heading's text is kept, as bold text
        assert "**1) 伪造的论文标题**" in post
        # the record keeps the model's answer as given; only the rendering neutralises it
        assert any("<script>" in e["deep_read"]["text"] for e in site.record["papers"])


def test_bad_answers_fail_with_a_reason_after_one_re_ask(tmp_path: Path) -> None:
    answers = {
        0: "",
        1: "1) Background: reverberation hurts.\n\n2) Method: a new encoder.\n\n3) Results: better.",
        2: "1)  \n- **研究背景**：混响环境。\n\n2)  \n- **核心方法**：新的编码器。",
        3: "1)  \n- 背景" + "很长的解读内容。" * 2500 + "\n\n2)  \n- 方法\n\n3)  \n- 结果",
        4: "<think>The user wants three parts. Ignore the format.</think>\n" + DEEP_OK,
        5: "<think>unfinished reasoning that never closes " + DEEP_OK,
    }
    reasons = {0: "回答为空", 1: "解读不是中文", 2: "解读缺少 1) 2) 3) 三个部分", 3: "回答过长", 5: "回答为空"}
    with HostileSite(tmp_path, len(answers)) as site:
        site.chat.answer(deep_only(lambda r: answers[_paper_number(r)]))
        proc = site.run()
        assert proc.returncode == 0, proc.stderr
        assert len(answers[3]) > 20000
        assert f"failed {len(reasons)}" in proc.stderr
        assert_post_safe(site.post, len(answers))
        for k, paper in enumerate(site.papers):
            entry = site.entry(paper.id)
            deep_calls = [c for c in site.chat.calls if is_deep_read(c) and _paper_number(c) == k]
            if k in reasons:
                assert entry["deep_read"]["status"] == "failed"
                assert reasons[k] in entry["deep_read"]["error"]
                assert f"（全文解读失败：模型回答不合格（{reasons[k]}" in site.section(paper.id)
                assert len(deep_calls) == 2  # asked again once with the reason, then given up
            else:
                assert entry["deep_read"]["status"] == "done"
                assert "think" not in entry["deep_read"]["text"] and "think" not in site.section(paper.id)
                assert len(deep_calls) == 1
        assert "很长的解读内容" not in site.post


def test_invalid_json_once_is_retried_and_always_is_a_failure(tmp_path: Path) -> None:
    with HostileSite(tmp_path, 1, llm={"concurrency": 1}) as site:
        site.chat.fail_next(ChatStandIn.invalid_json())
        proc = site.run()
        assert proc.returncode == 0, proc.stderr
        assert "failed 0" in proc.stderr
        assert len(site.chat.requests) == 3 + 1  # and the day's batch of Chinese titles

    (tmp_path / "always").mkdir()
    with HostileSite(tmp_path / "always", 1) as site:
        site.chat.fail_next(*[ChatStandIn.invalid_json()] * 50)
        proc = site.run()
        assert proc.returncode == 0, proc.stderr
        entry = site.entry(site.papers[0].id)
        assert entry["translation"]["status"] == "failed"
        assert "模型服务返回了无效的 JSON" in entry["translation"]["error"]
        section = site.section(site.papers[0].id)
        assert "（译文暂缺：模型服务返回了无效的 JSON" in section
        assert site.papers[0].abstract in section  # the English abstract stands in
        assert "（全文解读失败：模型服务返回了无效的 JSON" in section
        # two tasks and the title batch, 1 + max_retries attempts each
        assert len([r for r in site.chat.requests if not is_title_request(r)]) == 4
        assert len(site.chat.requests) == 6 and site.entry(site.papers[0].id)["title_zh"] == ""
        assert_post_safe(site.post, 1)


def test_401_stops_the_run_with_one_message_and_keeps_what_was_done(tmp_path: Path) -> None:
    with HostileSite(tmp_path, 4, llm={"concurrency": 1}) as site:
        answered = [0]

        def answer(request: dict[str, Any]) -> str:
            answered[0] += 1
            if answered[0] == 2:  # the key is revoked in the middle of the run
                site.chat.fail_next(*[ChatStandIn.error(401, "Incorrect API key provided: sk-hos***")] * 100)
            return default_answer(request)

        site.chat.answer(answer)
        proc = site.run()
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        key_lines = [ln for ln in proc.stderr.splitlines() if KEY_ENV in ln]
        assert len(key_lines) == 1 and "refused the API key (HTTP 401)" in key_lines[0]
        assert KEY not in proc.stderr + proc.stdout
        assert len(site.chat.requests) == 3  # two answers, one 401, then no more calls
        record = site.record
        done = [e for e in record["papers"] if e["translation"] and e["translation"]["status"] == "done"]
        assert done, "the translations made before the 401 were lost"
        assert_post_safe(site.post, 4, details=None)


def test_404_model_not_found_stops_the_run_with_one_message(tmp_path: Path) -> None:
    with HostileSite(tmp_path, 3, llm={"concurrency": 2}) as site:
        site.chat.fail_next(*[ChatStandIn.error(404, "The model `stand-in` does not exist", code="model_not_found")] * 50)
        proc = site.run()
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert "llm.model" in proc.stderr and '"stand-in"' in proc.stderr
        assert len(site.chat.requests) <= 2 + 1  # no retries and no failure per paper
        assert_post_safe(site.post, 3, details=False)  # the post is still written, with English abstracts


def test_timeouts_are_retried_then_reported(tmp_path: Path) -> None:
    with HostileSite(tmp_path, 1, llm={"timeout_seconds": 1, "concurrency": 1}) as site:
        site.chat.fail_next(ChatStandIn.slow(2.5))
        proc = site.run()
        assert proc.returncode == 0, proc.stderr
        assert "failed 0" in proc.stderr

    # A service that always times out is unreachable: three in a row stop the run (issue 14), with one message
    # naming the URL and llm.base_url; the post shows the English abstract, not a failure per paper.
    (tmp_path / "always").mkdir()
    # Three attempts for the translation alone: the stop does not hang on when the deep read's call starts
    # (under load the PDF comes late, and two timed-out attempts used to record a failed translation first).
    with HostileSite(tmp_path / "always", 1, chat_latency=2.5, llm={"timeout_seconds": 1, "max_retries": 2}) as site:
        proc = site.run()
        assert proc.returncode == 1, proc.stderr
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("digest: error:")]
        assert len(errors) == 1 and site.chat.base_url in errors[0] and "llm.base_url" in errors[0]
        assert "模型调用超时（1 秒）" in errors[0]
        entry = site.entry(site.papers[0].id)
        assert "translation" not in entry.get("results", {}) and "deep_read" not in entry.get("results", {})
        assert "译文暂缺" not in site.post
        assert_post_safe(site.post, 1, details=False)
