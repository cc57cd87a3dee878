"""OpenAI-compatible model client: translate() and deep_read(), with bounded retries, concurrency and validation."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import jinja2
import openai

from .arxiv import retry_after_seconds
from .config import LLMConfig
from .errors import ModelAuthError
from .models import RETRY_NOTE, TaskResult

TEMPLATES = {"translate": "prompts/translate.j2", "deep_read": "prompts/deep_read.j2"}
DEEP_READ_MAX_CHARS = 6000
MIN_CJK_SHARE = 0.3
# Error texts of providers whose account ran dry (DeepSeek answers 402 "Insufficient Balance").
_BALANCE = re.compile(r"insufficient[_ ](balance|quota|funds|credits?)|balance|quota|余额|欠费", re.I)
_QUOTA = re.compile(r"insufficient[_ ](balance|quota|funds|credits?)|余额|欠费", re.I)
_THINK = re.compile(r"<think(ing)?>.*?</think(ing)?>", re.S | re.I)
_FENCE = re.compile(r"^```[\w-]*[ \t]*\n(.*?)\n?```$", re.S)
_PREAMBLE = re.compile(
    r"^\s*(以下是|以下为|下面是|这是.{0,12}(?:译文|翻译)|好的|当然|译文[:：]|翻译[:：]|中文翻译|摘要翻译|"
    r"here is|here's|sure|translation\s*:|certainly)",
    re.I,
)
_PART = re.compile(r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?[ \t]*([123])[ \t]*(?:\)|）|\.|、)", re.M)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


class _CallFailed(Exception):
    """The model call failed beyond its retries; `problem` is plain Chinese without the retry note."""

    def __init__(self, problem: str, attempts: int) -> None:
        super().__init__(problem)
        self.problem = problem
        self.attempts = attempts


def clean_answer(text: str) -> str:
    """Drop <think> blocks and a code fence around the whole answer; strip surrounding whitespace."""
    text = _THINK.sub("", text or "")
    # A reasoning block that never closed leaves no answer at all.
    if re.match(r"\s*<think(ing)?>", text, re.I):
        return ""
    text = text.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    return text


def cjk_share(text: str) -> float:
    """Share of Chinese characters among Chinese characters and Latin letters (0 when there are none)."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    return cjk / (cjk + latin) if cjk + latin else 0.0


def _norm(s: str) -> str:
    return re.sub(r"[\W_]+", "", s).lower()


def check_translation(text: str, title: str, abstract: str) -> str | None:
    """Why a translation answer is unusable, or None when it is fine."""
    if not text:
        return "回答为空"
    if len(text) > max(4 * len(abstract), 400):
        return f"回答过长（{len(text)} 字符）"
    if cjk_share(text) < MIN_CJK_SHARE:
        return "译文不是中文"
    first = text.splitlines()[0].strip()
    if _PREAMBLE.match(first):
        return "译文前带有多余的前言"
    bare = first.lstrip("#*> ").strip()
    if first.startswith("#") or re.match(r"^(标题|题目|title)\s*[:：]", bare, re.I):
        return "译文重复了论文标题"
    if len(text.splitlines()) > 1:
        # A short first line without sentence punctuation, then more text: a title line, English or translated.
        if _norm(title) and _norm(title) in _norm(bare) and len(_norm(bare)) <= len(_norm(title)) + 10:
            return "译文重复了论文标题"
        if len(bare) <= 60 and not re.search(r"[。！？；.!?;]", bare):
            return "译文开头多了一行标题"
    return None


def check_deep_read(text: str) -> str | None:
    """Why a deep-read answer is unusable, or None when it has its three numbered parts in order."""
    if not text:
        return "回答为空"
    if len(text) > DEEP_READ_MAX_CHARS:
        return f"回答过长（{len(text)} 字符）"
    if cjk_share(text) < MIN_CJK_SHARE:
        return "解读不是中文"
    want = 1
    for m in _PART.finditer(text):
        if int(m.group(1)) == want:
            want += 1
            if want == 4:
                return None
    return "解读缺少 1) 2) 3) 三个部分"


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"))


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return f"{inner.get('message', '')} {inner.get('code', '')} {inner.get('type', '')}"
        return str(inner)
    return str(body or "")


class LLMClient:
    """Calls an OpenAI-compatible chat API for translations and deep reads; counts calls and tokens."""

    def __init__(
        self,
        cfg: LLMConfig,
        api_key: str,
        *,
        env: jinja2.Environment,
        client: openai.AsyncOpenAI | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff_seconds: float = 1.0,
        max_wait_seconds: float = 60.0,
    ) -> None:
        self.cfg = cfg
        self.env = env
        # Our own retry loop, so the number of attempts is bounded and counted.
        self.client = client or openai.AsyncOpenAI(
            base_url=cfg.base_url, api_key=api_key, timeout=cfg.timeout_seconds, max_retries=0
        )
        self.sleep = sleep
        self.backoff_seconds = backoff_seconds
        self.max_wait_seconds = max_wait_seconds
        self._sem = asyncio.Semaphore(cfg.concurrency)
        self._in_flight = 0
        self.calls = 0  # answered calls
        self.attempts = 0  # HTTP attempts, including failed ones
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.peak_concurrency = 0
        self.waits: list[float] = []  # backoff waits, in seconds, for the summary and tests
        self.fatal: ModelAuthError | None = None  # set once the key is refused; later calls raise it unasked
        self._prompt_hashes: dict[str, str] = {}

    # -- prompts

    def prompt_hash(self, task: str) -> str:
        """Short sha256 of the prompt template source and the model, kept in the records."""
        # Asked once per result: reading the template from disk each time stalled the loop at every burst.
        if task not in self._prompt_hashes:
            assert self.env.loader is not None
            source, _, _ = self.env.loader.get_source(self.env, TEMPLATES[task])
            self._prompt_hashes[task] = hashlib.sha256(f"{source}\0{self.cfg.model}".encode()).hexdigest()[:12]
        return self._prompt_hashes[task]

    def _messages(self, task: str, **values: str) -> list[dict[str, str]]:
        tmpl = self.env.get_template(TEMPLATES[task])
        ctx = tmpl.new_context(values)
        system = "".join(tmpl.blocks["system"](ctx)).strip()
        user = "".join(tmpl.blocks["user"](ctx)).strip()
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    # -- tasks

    async def translate(self, title: str, abstract: str) -> TaskResult:
        """Chinese translation of an abstract; a failed result (never an exception) unless the key is refused."""
        messages = self._messages("translate", title=title, abstract=abstract)
        return await self._task("translate", messages, lambda t: check_translation(t, title, abstract))

    async def deep_read(self, title: str, abstract: str, fulltext: str) -> TaskResult:
        """Three-part Chinese deep read from the paper text (untrusted data, fenced in the prompt)."""
        # The paper cannot close its own fence and speak as the user.
        fenced = re.sub(r"</?\s*paper\s*>", "[paper]", fulltext, flags=re.I)
        messages = self._messages("deep_read", title=title, abstract=abstract, fulltext=fenced)
        return await self._task("deep_read", messages, check_deep_read)

    async def _task(self, task: str, messages: list[dict[str, str]], check: Callable[[str], str | None]) -> TaskResult:
        attempts = 0
        problem = ""
        for round_ in range(2):  # the answer, and once more when it was malformed
            try:
                raw, used = await self._complete(messages)
            except _CallFailed as exc:
                return self._result("failed", attempts + exc.attempts, task, error=exc.problem + RETRY_NOTE)
            attempts += used
            text = clean_answer(raw)
            bad = check(text)
            if bad is None:
                return self._result("done", attempts, task, text=text)
            problem = bad
            if round_ == 0:
                messages = [
                    *messages,
                    {"role": "assistant", "content": raw or ""},
                    {
                        "role": "user",
                        "content": f"上面的回答不符合要求：{bad}。请严格按照要求重新输出完整的答案，只输出答案本身。",
                    },
                ]
        return self._result("failed", attempts, task, error=f"模型回答不合格（{problem}）{RETRY_NOTE}")

    def _result(self, status: str, attempts: int, task: str, *, text: str = "", error: str = "") -> TaskResult:
        return TaskResult(
            status=status,  # type: ignore[arg-type]
            text=text,
            error=error,
            model=self.cfg.model,
            prompt_hash=self.prompt_hash(task),
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            attempts=attempts,
        )

    # -- one call with retries

    async def _complete(self, messages: list[dict[str, str]]) -> tuple[str, int]:
        """The answer text and the attempts it took; raises _CallFailed or ModelAuthError."""
        tries = 1 + self.cfg.max_retries
        problem = ""
        for attempt in range(tries):
            wait: float | None = None
            try:
                return await self._attempt(messages), attempt + 1
            except openai.APIStatusError as exc:
                status = exc.status_code
                self._raise_if_fatal(exc)
                if status in (408, 409, 429) or status >= 500:
                    problem = "模型服务限流（HTTP 429）" if status == 429 else f"模型服务暂时不可用（HTTP {status}）"
                    wait = _retry_after(exc)
                else:
                    raise _CallFailed(f"模型服务拒绝了请求（HTTP {status}）", attempt + 1) from None
            except openai.APITimeoutError:
                problem = f"模型调用超时（{self.cfg.timeout_seconds:g} 秒）"
            except openai.APIConnectionError:
                problem = "无法连接模型服务"
            except (openai.APIResponseValidationError, ValueError, _BadBody):
                problem = "模型服务返回了无效的 JSON"
            if attempt + 1 < tries:
                backoff = self.backoff_seconds * 2**attempt
                delay = min(self.max_wait_seconds, wait if wait is not None else backoff)
                self.waits.append(delay)
                await self.sleep(delay)
                if self.fatal is not None:
                    raise self.fatal
        raise _CallFailed(f"{problem}，已尝试 {tries} 次", tries)

    def _raise_if_fatal(self, exc: openai.APIStatusError) -> None:
        """401/403, an unknown model and an empty account stop the whole run: every further call would fail alike."""
        status = exc.status_code
        var = self.cfg.api_key_env
        fatal: ModelAuthError | None = None
        if status in (401, 403):
            fatal = ModelAuthError(
                f"the model service at {self.cfg.base_url} refused the API key (HTTP {status}): "
                f"put a valid key in the environment variable {var}"
            )
        elif status == 404:
            # A wrong model name or base URL fails every call alike: one message instead of one per paper.
            fatal = ModelAuthError(
                f'the model service at {self.cfg.base_url} has no model "{self.cfg.model}" (HTTP 404): '
                "check llm.model and llm.base_url in the config"
            )
        else:
            text = _error_text(exc)
            # OpenAI-style "insufficient_quota" arrives as 429, but no retry will ever succeed.
            dry = _QUOTA.search(text) if status == 429 else 400 <= status < 500 and _BALANCE.search(text)
            if status == 402 or dry:
                fatal = ModelAuthError(
                    f"the model service reports insufficient balance or quota (HTTP {status}): "
                    f"top up the account of the key in {var} or put another key there"
                )
        if fatal is not None:
            # Calls still queued behind the semaphore fail at once instead of each asking the server.
            self.fatal = self.fatal or fatal
            raise fatal from None

    async def _attempt(self, messages: list[dict[str, str]]) -> str:
        extra = {"max_tokens": self.cfg.max_tokens} if self.cfg.max_tokens else {}
        if self.fatal is not None:
            raise self.fatal
        async with self._sem:
            if self.fatal is not None:
                raise self.fatal
            self._in_flight += 1
            self.peak_concurrency = max(self.peak_concurrency, self._in_flight)
            self.attempts += 1
            try:
                resp = await self.client.chat.completions.create(
                    model=self.cfg.model,
                    messages=messages,  # type: ignore[arg-type]
                    temperature=self.cfg.temperature,
                    **extra,
                )
            finally:
                self._in_flight -= 1
        # A body that is not JSON comes back as plain text from the SDK.
        choices = getattr(resp, "choices", None)
        if not choices:
            raise _BadBody()
        message = choices[0].message
        if message is None:
            raise _BadBody()
        self.calls += 1
        usage = getattr(resp, "usage", None)
        if usage is not None:
            self.prompt_tokens += usage.prompt_tokens or 0
            self.completion_tokens += usage.completion_tokens or 0
        return message.content or ""


class _BadBody(Exception):
    """The response parsed but is not a chat completion."""
