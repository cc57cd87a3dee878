"""The Model seam: one async call, messages in, text and token usage out; failures mapped to the tool's own kinds.

The OpenAI-compatible client is the implementation used for real runs; fallbacks and the tests' fake plug in
here. Nothing outside this module knows the SDK's exception types.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .config import LLMConfig
from .errors import ModelAuthError
from .retry import retry_after_seconds

if TYPE_CHECKING:
    import openai

Messages = list[dict[str, str]]

# Error texts of providers whose account ran dry (DeepSeek answers 402 "Insufficient Balance").
_BALANCE = re.compile(r"insufficient[_ ](balance|quota|funds|credits?)|balance|quota|余额|欠费", re.I)
_QUOTA = re.compile(r"insufficient[_ ](balance|quota|funds|credits?)|余额|欠费", re.I)


@dataclass(frozen=True)
class Completion:
    """One answer: its text and what it cost in tokens."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Model(Protocol):
    """A chat model. `name` goes into records and the cache key; complete() raises only ModelError kinds."""

    name: str

    async def complete(self, messages: Messages) -> Completion:
        """The model's answer to a conversation."""
        ...


# ---------------------------------------------------------------- the tool's error kinds


class ModelError(Exception):
    """A failed model call; `problem` is plain Chinese for the record, `retryable` says whether to ask again."""

    retryable = True

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after  # the server's requested pause, read by the retry policy


class Unreachable(ModelError):
    """No answer: connection refused or timed out."""


class RateLimited(ModelError):
    """HTTP 429 that is not an empty account; retry_after holds the server's wait when it gave one."""


class ServerError(ModelError):
    """5xx, 408 or 409: the service is having trouble."""


class BadAnswer(ModelError):
    """The response is not a chat completion (invalid JSON, an HTML page, no choices)."""


class RequestRefused(ModelError):
    """Another 4xx: this request will not succeed by asking again."""

    retryable = False


class FatalModelError(ModelAuthError, ModelError):
    """Every further call would fail alike: the run stops with this one message."""

    retryable = False

    def __init__(self, message: str) -> None:
        ModelAuthError.__init__(self, message)
        self.problem = message
        self.retry_after = None


class KeyRefused(FatalModelError):
    """HTTP 401/403."""


class BalanceGone(FatalModelError):
    """HTTP 402, or a quota/balance message."""


class UnknownModel(FatalModelError):
    """HTTP 404: wrong model name or base URL."""


# ---------------------------------------------------------------- the OpenAI-compatible implementation


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return f"{inner.get('message', '')} {inner.get('code', '')} {inner.get('type', '')}"
        return str(inner)
    return str(body or "")


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"))


class OpenAIModel:
    """An OpenAI-compatible chat API through the openai SDK (its own retries off: ours are bounded and counted)."""

    def __init__(self, cfg: LLMConfig, api_key: str, client: openai.AsyncOpenAI | None = None) -> None:
        self.cfg = cfg
        self.name = cfg.model
        self._api_key = api_key
        self._client = client
        self._own: tuple[asyncio.AbstractEventLoop, openai.AsyncOpenAI] | None = None

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The SDK client; one per event loop (each day of a backfill runs its own loop, and connections are bound
        to the loop that opened them)."""
        if self._client is not None:
            return self._client
        loop = asyncio.get_running_loop()
        if self._own is None or self._own[0] is not loop:
            import openai

            self._own = (loop, openai.AsyncOpenAI(
                base_url=self.cfg.base_url, api_key=self._api_key, timeout=self.cfg.timeout_seconds, max_retries=0
            ))
        return self._own[1]

    async def complete(self, messages: Messages) -> Completion:
        """One HTTP attempt; every failure comes out as a ModelError kind."""
        import openai

        extra = {"max_tokens": self.cfg.max_tokens} if self.cfg.max_tokens else {}
        try:
            resp = await self.client.chat.completions.create(  # type: ignore[call-overload]
                model=self.cfg.model,
                messages=messages,
                temperature=self.cfg.temperature,
                **extra,
            )
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except openai.APITimeoutError:
            raise Unreachable(f"模型调用超时（{self.cfg.timeout_seconds:g} 秒）") from None
        except openai.APIConnectionError:
            raise Unreachable("无法连接模型服务") from None
        except (openai.APIResponseValidationError, ValueError):
            raise BadAnswer("模型服务返回了无效的 JSON") from None
        # A body that is not JSON comes back as plain text from the SDK.
        choices = getattr(resp, "choices", None)
        if not choices or choices[0].message is None:
            raise BadAnswer("模型服务返回了无效的 JSON")
        usage = getattr(resp, "usage", None)
        return Completion(
            text=choices[0].message.content or "",
            prompt_tokens=(usage.prompt_tokens or 0) if usage is not None else 0,
            completion_tokens=(usage.completion_tokens or 0) if usage is not None else 0,
        )

    def _status_error(self, exc: openai.APIStatusError) -> ModelError:
        status = exc.status_code
        var = self.cfg.api_key_env
        if status in (401, 403):
            return KeyRefused(
                f"the model service at {self.cfg.base_url} refused the API key (HTTP {status}): "
                f"put a valid key in the environment variable {var}"
            )
        if status == 404:
            return UnknownModel(
                f'the model service at {self.cfg.base_url} has no model "{self.cfg.model}" (HTTP 404): '
                "check llm.model and llm.base_url in the config"
            )
        text = _error_text(exc)
        # OpenAI-style "insufficient_quota" arrives as 429, but no retry will ever succeed.
        dry = _QUOTA.search(text) if status == 429 else 400 <= status < 500 and _BALANCE.search(text)
        if status == 402 or dry:
            return BalanceGone(
                f"the model service reports insufficient balance or quota (HTTP {status}): "
                f"top up the account of the key in {var} or put another key there"
            )
        if status == 429:
            return RateLimited("模型服务限流（HTTP 429）", _retry_after(exc))
        if status in (408, 409) or status >= 500:
            return ServerError(f"模型服务暂时不可用（HTTP {status}）", _retry_after(exc))
        return RequestRefused(f"模型服务拒绝了请求（HTTP {status}）")
