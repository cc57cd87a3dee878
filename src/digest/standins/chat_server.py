"""Stand-in for an OpenAI-compatible chat API: canned or computed answers, latency and failure injection."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from digest.standins.base import Reply, Request, StandIn

Answerer = Callable[[dict[str, Any]], str]

# Figures no stand-in paper states: 4.87, 23.5 (倍) and 1,234 (hours); none is a difference or ratio of two others.
INVENTED_SENTENCE = "- **补充实验**：在另一组内部评测中，MOS 达到 4.87，推理速度提升 23.5 倍，训练共使用 1,234 小时数据。"  # noqa: E501
INVENTED_FIGURES = ("4.87", "23.5", "1,234")


def is_deep_read(req: dict[str, Any]) -> bool:
    """Whether the request asks for a deep read (the paper is fenced into the prompt)."""
    return "<paper>" in user_prompt(req)


def is_reask(req: dict[str, Any]) -> bool:
    """Whether the request is a second ask (the first answer and a note follow the prompt)."""
    return sum(1 for m in req.get("messages", []) if m.get("role") == "user") > 1


def user_prompt(req: dict[str, Any]) -> str:
    """The first user message: the prompt proper (later ones are re-asks)."""
    for m in req.get("messages", []):
        if m.get("role") == "user":
            return str(m.get("content", ""))
    return ""


# A title batch (templates/prompts/titles.j2) lists one `<arXiv id>: <English title>` line per paper.
_TITLE_LINE = re.compile(r"^(\d{4}\.\d{4,5}(?:v\d+)?|[a-z-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?): (.+)$", re.M)


def is_title_batch(req: dict[str, Any]) -> bool:
    """Whether the request asks for Chinese titles (the system prompt names the line format)."""
    system = next((str(m.get("content", "")) for m in req.get("messages", []) if m.get("role") == "system"), "")
    return "arXiv 编号: 中文标题" in system and bool(_TITLE_LINE.search(user_prompt(req)))


def is_title_request(request: Request) -> bool:
    """Whether an HTTP request (as kept in `requests`) is a title batch."""
    try:
        return is_title_batch(json.loads(request.body or b"{}"))
    except (ValueError, AttributeError):
        return False


def title_batch_papers(req: dict[str, Any]) -> list[tuple[str, str]]:
    """The (id, English title) pairs a title batch asks about, in its order."""
    return [(m.group(1), m.group(2).strip()) for m in _TITLE_LINE.finditer(user_prompt(req))]


def stand_in_title(arxiv_id: str) -> str:
    """The Chinese title the stand-in gives a paper by default: made from its id, so every paper's differs."""
    return f"论文 {arxiv_id} 的中文标题"


def default_title_answer(req: dict[str, Any]) -> str:
    """One `<id>: <中文标题>` line per paper asked about."""
    return "\n".join(f"{pid}: {stand_in_title(pid)}" for pid, _ in title_batch_papers(req))


def default_answer(req: dict[str, Any]) -> str:
    """A valid answer made from the prompt: a deep read when the paper is fenced in, else a translation."""
    prompt = user_prompt(req)
    title = re.search(r"论文标题[^：]*：(.*)", prompt)
    name = title.group(1).strip()[:60] if title else "本文"
    if "<paper>" in prompt or "三部分" in prompt:
        return (
            "1)  \n"
            f"- **研究背景**：论文《{name}》关注语音与音频处理中的一个常见难题，"
            "以往方法在复杂声学条件下表现不稳定。\n\n"
            "2)  \n"
            "- **核心方法**：作者提出一种新的建模方式，把输入信号分解为若干可学习的表示，再联合优化。\n"
            "  - **关键设计**：损失函数写作 $$L = L_{rec} + \\lambda L_{reg}$$，兼顾重建质量与稳定性。\n\n"
            "3)  \n"
            "- **实验效果**：在公开数据集上的实验表明，该方法在主要指标上优于基线模型。"
        )
    words = len(re.findall(r"[A-Za-z]+", prompt.split("<abstract>")[-1]))
    return (
        f"本文研究了语音与音频领域中的一个重要问题，提出了一种新的方法（原文摘要约 {words} 个英文词）。"
        "实验结果表明，该方法在多个基准上取得了优于现有方法的效果。"
    )


class ChatStandIn(StandIn):
    """OpenAI-compatible `POST /v1/chat/completions` on 127.0.0.1 with deterministic fault injection."""

    def __init__(
        self, answerer: Answerer | None = None, *, latency: float = 0.0, max_parallel: int | None = None
    ) -> None:
        super().__init__()
        self.answerer: Answerer = answerer or default_answer
        self.latency = latency
        # A provider that serves this many calls at once and answers 429 beyond that (None: no limit).
        self.max_parallel = max_parallel
        self.parallel_retry_after: str | None = None  # Retry-After sent with those 429s
        self.parallel_rejections = 0
        # What GET /models lists; None answers 404, like a service without a model list.
        self.models: list[str] | None = ["stand-in"]
        self.in_flight = 0
        self.peak_in_flight = 0
        self.calls: list[dict[str, Any]] = []  # per-paper task requests (JSON) that reached the answer stage
        # Title batches are answered by title_answerer, not `answerer`, and kept apart from `calls`, so a test
        # counting a day's per-paper calls is not thrown by the one batch call (`requests` has every request).
        self.title_answerer: Answerer = default_title_answer
        self.title_calls: list[dict[str, Any]] = []
        self.first_failure_rate = 0.0
        self.first_failure_statuses: tuple[int, ...] = (429, 500)
        self.retry_after = "1"
        self.reasoning: str | None = None  # sent as the message's `reasoning_content` (a thinking model's trace)
        self._failed_once: set[str] = set()
        self._state = threading.Lock()
        self.invent_for: set[str] = set()  # titles whose deep reads get an invented sentence (see invent_figures)
        self.invent_again = False
        self.invented_sentence = INVENTED_SENTENCE
        self.invented = 0  # answers that carried the invented sentence

    # -- configuration

    def answer(self, fn: Answerer) -> None:
        """Answer every request with fn(request_json)."""
        self.answerer = fn

    def invent_figures(self, titles: list[str], *, again: bool = False, sentence: str = INVENTED_SENTENCE) -> None:
        """Add `sentence` (figures no paper states) to the first deep read of the papers with these titles.

        The re-ask is answered cleanly, or, with `again`, invents the same figures once more.
        """
        self.invent_for = set(titles)
        self.invent_again = again
        self.invented_sentence = sentence

    def _maybe_invent(self, req: dict[str, Any], content: str) -> str:
        if not self.invent_for or not is_deep_read(req) or (is_reask(req) and not self.invent_again):
            return content
        prompt = user_prompt(req)
        if not any(f"论文标题：{t}\n" in prompt for t in self.invent_for):
            return content
        with self._state:
            self.invented += 1
        return content.rstrip() + "\n" + self.invented_sentence

    def fail_first_attempts(self, rate: float, statuses: tuple[int, ...] = (429, 500)) -> None:
        """Make a share of prompts fail on their first attempt (chosen by a hash of the prompt, so repeatable)."""
        self.first_failure_rate = rate
        self.first_failure_statuses = statuses

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    # -- canned failure replies, for fail_next()

    @staticmethod
    def error(status: int, message: str, *, code: str | None = None, retry_after: str | None = None) -> Reply:
        body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return Reply(status, json.dumps(body).encode(), "application/json", headers=headers)

    @staticmethod
    def invalid_json() -> Reply:
        return Reply(200, b'{"id": "x", "choices": [ {"message": ', "application/json")

    @staticmethod
    def slow(delay: float) -> Reply:
        """A reply that arrives after the client has given up."""
        return Reply(200, b"{}", "application/json", delay=delay)

    # -- serving

    def accepts_fault(self, request: Request) -> bool:
        return request.method == "POST" or self._is_model_list(request)

    @staticmethod
    def _is_model_list(request: Request) -> bool:
        return request.method == "GET" and request.path.rstrip("/").endswith("/models")

    def _model_list(self) -> Reply:
        if self.models is None:
            return self.error(404, "no route GET /models")
        data = [{"id": m, "object": "model", "owned_by": "stand-in"} for m in self.models]
        return Reply(200, json.dumps({"object": "list", "data": data}).encode(), "application/json")

    def handle(self, request: Request) -> Reply:
        if self._is_model_list(request):
            return self._model_list()
        if request.method != "POST" or not request.path.rstrip("/").endswith("/chat/completions"):
            return self.error(404, f"no route {request.method} {request.path}")
        try:
            req = json.loads(request.body or b"{}")
        except ValueError:
            return self.error(400, "request body is not JSON")
        fault = self._first_attempt_fault(req)
        if fault is not None:
            return fault
        with self._state:
            if self.max_parallel is not None and self.in_flight >= self.max_parallel:
                self.parallel_rejections += 1
                busy = True
            else:
                busy = False
                titles = is_title_batch(req)
                (self.title_calls if titles else self.calls).append(req)
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        if busy:
            return self.error(
                429, "Too many concurrent requests", code="rate_limit", retry_after=self.parallel_retry_after
            )
        try:
            if self.latency:
                time.sleep(self.latency)
            content = self.title_answerer(req) if titles else self._maybe_invent(req, self.answerer(req))
        finally:
            with self._state:
                self.in_flight -= 1
        prompt_chars = sum(len(str(m.get("content", ""))) for m in req.get("messages", []))
        body = {
            "id": f"chatcmpl-{len(self.calls) + len(self.title_calls)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.get("model", "stand-in"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content,
                                **({"reasoning_content": self.reasoning} if self.reasoning is not None else {})},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": max(1, prompt_chars // 3),
                "completion_tokens": max(1, len(content)),
                "total_tokens": max(1, prompt_chars // 3) + max(1, len(content)),
            },
        }
        return Reply(200, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    def _first_attempt_fault(self, req: dict[str, Any]) -> Reply | None:
        if not self.first_failure_rate:
            return None
        key = hashlib.sha256(json.dumps(req.get("messages", []), sort_keys=True).encode()).hexdigest()
        share = int(key[:8], 16) / 0xFFFFFFFF
        with self._state:
            if share >= self.first_failure_rate or key in self._failed_once:
                return None
            self._failed_once.add(key)
        status = self.first_failure_statuses[int(key[8:10], 16) % len(self.first_failure_statuses)]
        if status == 429:
            return self.error(429, "Rate limit reached, slow down", code="rate_limit", retry_after=self.retry_after)
        return self.error(status, "The server had an error while processing your request")
