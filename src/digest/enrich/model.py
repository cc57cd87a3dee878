"""The Model seam: one async call, messages in, text and token usage out; failures mapped to the tool's own kinds.

The OpenAI-compatible client is the implementation used for real runs; fallbacks and the tests' fake plug in
here. Nothing outside this module knows the SDK's exception types. What an HTTP failure means comes from the one
table in digest.core.failures, which `digest check` (talking to the service through this seam) shares.

Names, so they are not mixed up: this module is the seam to the model service; the day record and its entries
are in digest.core.record; the runner that turns papers into model tasks is digest.enrich.runner.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from digest.core.config import LLMConfig
from digest.core.errors import ModelAuthError
from digest.core.failures import Failure, http_failure
from digest.core.retry import retry_after_seconds

if TYPE_CHECKING:
    import httpx2  # the HTTP library the openai SDK is built on
    import openai

Messages = list[dict[str, str]]


T = TypeVar("T")


@dataclass(frozen=True)
class Completion:
    """One answer: its text and what it cost in tokens."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""  # the model that answered, when a fallback chain stands behind the seam
    fallback: str = ""  # why a fallback answered instead of the primary; empty when the primary did


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
    failure = Failure.REFUSED  # the kind in digest.core.failures this error is
    status: int | None = None  # the HTTP status of the answer, when there was one
    said: str = ""  # the provider's own error message, as `digest check` shows it

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after  # the server's requested pause, read by the retry policy


class Unreachable(ModelError):
    """No answer: connection refused, DNS, TLS or timed out. `url` names the service that did not answer."""

    failure = Failure.UNREACHABLE

    def __init__(self, problem: str, retry_after: float | None = None, url: str = "", cause: str = "") -> None:
        super().__init__(problem, retry_after)
        self.url = url
        self.cause = cause  # what failed underneath (ConnectError, ReadTimeout), for `digest check`
        self.timed_out = "Timeout" in cause


class RateLimited(ModelError):
    """HTTP 429 that is not an empty account; retry_after holds the server's wait when it gave one."""

    failure = Failure.RATE_LIMITED


class ServerError(ModelError):
    """5xx, 408 or 409: the service is having trouble."""

    failure = Failure.SERVER_ERROR


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

    failure = Failure.BAD_KEY


class BalanceGone(FatalModelError):
    """HTTP 402, or a quota/balance message."""

    failure = Failure.NO_BALANCE


class UnknownModel(FatalModelError):
    """HTTP 404: wrong model name or base URL."""

    failure = Failure.UNKNOWN_MODEL


class ServiceUnreachable(FatalModelError):
    """UNREACHABLE_LIMIT unreachable answers in a row (and no fallback left): the run stops calling."""

    failure = Failure.UNREACHABLE


# Consecutive unreachable answers after which a provider is given up for the run.
UNREACHABLE_LIMIT = 3


# ---------------------------------------------------------------- the OpenAI-compatible implementation


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return f"{inner.get('message', '')} {inner.get('code', '')} {inner.get('type', '')}"
        return str(inner)
    return str(body or "")


def _said(exc: openai.APIStatusError) -> str:
    """The provider's error message alone (the SDK unwraps {"error": {...}}), or the start of a text body."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        msg = inner.get("message") if isinstance(inner, dict) else inner
        return str(msg or "")[:160]
    return str(body or "").strip()[:160]


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

    def __init__(
        self,
        cfg: LLMConfig,
        api_key: str,
        client: openai.AsyncOpenAI | None = None,
        *,
        section: str = "llm",
        http: httpx2.AsyncClient | None = None,
    ) -> None:
        self.cfg = cfg
        self.name = cfg.model
        self.section = section  # the config key of this provider, for messages ("llm", "llm.fallbacks[0]")
        self._api_key = api_key
        self._client = client
        self._http = http  # an injected HTTP client (tests: a MockTransport); None: the SDK's own
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
                base_url=self.cfg.base_url, api_key=self._api_key, timeout=self.cfg.timeout_seconds, max_retries=0,
                http_client=self._http,
            ))
        return self._own[1]

    async def complete(self, messages: Messages) -> Completion:
        """One HTTP attempt; every failure comes out as a ModelError kind."""
        import openai

        extra: dict[str, object] = {"max_tokens": self.cfg.max_tokens} if self.cfg.max_tokens else {}
        if self.cfg.extra_body:
            # Provider switches (a thinking mode off, ...) go into the JSON body as they are.
            extra["extra_body"] = dict(self.cfg.extra_body)
        try:
            resp = await self.client.chat.completions.create(  # type: ignore[call-overload]
                model=self.cfg.model,
                messages=messages,
                temperature=self.cfg.temperature,
                **extra,
            )
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except openai.APIConnectionError as exc:
            raise self._unreachable(exc) from None
        except (openai.APIResponseValidationError, ValueError):
            raise BadAnswer("模型服务返回了无效的 JSON") from None
        # A body that is not JSON comes back as plain text from the SDK.
        choices = getattr(resp, "choices", None)
        if not choices or choices[0].message is None:
            raise BadAnswer("模型服务返回了无效的 JSON")
        usage = getattr(resp, "usage", None)
        # Only the answer proper: a separate `reasoning_content` field is never read.
        return Completion(
            model=self.name,
            text=choices[0].message.content or "",
            prompt_tokens=(usage.prompt_tokens or 0) if usage is not None else 0,
            completion_tokens=(usage.completion_tokens or 0) if usage is not None else 0,
        )

    async def aclose(self) -> None:
        """Close the SDK client this model opened itself (a client passed in is its owner's to close)."""
        if self._own is not None:
            await self._own[1].close()
            self._own = None

    async def listed_models(self) -> list[str] | None:
        """The model ids the service lists (GET /models); None when it keeps no list (404, 405, 501).

        Fails like complete(); an answer that is not a model list is a BadAnswer.
        """
        import openai

        try:
            raw = await self.client.models.with_raw_response.list()
        except openai.APIStatusError as exc:
            if exc.status_code in (404, 405, 501):
                return None
            raise self._status_error(exc) from None
        except openai.APIConnectionError as exc:
            raise self._unreachable(exc) from None
        try:
            listed: Any = raw.http_response.json().get("data", [])
            return [str(m.get("id")) for m in listed if isinstance(m, dict)]
        except (ValueError, AttributeError, TypeError):
            raise BadAnswer("模型服务的模型列表无效") from None

    def _unreachable(self, exc: openai.APIConnectionError) -> Unreachable:
        import openai

        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else type(exc).__name__
        if isinstance(exc, openai.APITimeoutError):
            cause = cause if "Timeout" in cause else "Timeout"
            return Unreachable(f"模型调用超时（{self.cfg.timeout_seconds:g} 秒）", url=self.cfg.base_url, cause=cause)
        return Unreachable("无法连接模型服务", url=self.cfg.base_url, cause=cause)

    def _status_error(self, exc: openai.APIStatusError) -> ModelError:
        status = exc.status_code
        error = self._failure_error(http_failure(status, _error_text(exc)), status, exc)
        error.status, error.said = status, _said(exc)
        return error

    def _failure_error(self, failure: Failure, status: int, exc: openai.APIStatusError) -> ModelError:
        """The seam's error for one kind of failure in the table of digest.core.failures."""
        var, sec, url = self.cfg.api_key_env, self.section, self.cfg.base_url
        if failure is Failure.BAD_KEY:
            return KeyRefused(
                f"the model service at {url} refused the API key (HTTP {status}): "
                f"put a valid key in the environment variable {var}"
            )
        if failure is Failure.UNKNOWN_MODEL:
            return UnknownModel(
                f'the model service at {url} has no model "{self.cfg.model}" (HTTP {status}): '
                f"check {sec}.model and {sec}.base_url in the config"
            )
        if failure is Failure.NO_BALANCE:
            return BalanceGone(
                f"the model service reports insufficient balance or quota (HTTP {status}): "
                f"top up the account of the key in {var} or put another key there"
            )
        if failure is Failure.RATE_LIMITED:
            return RateLimited("模型服务限流（HTTP 429）", _retry_after(exc))
        if failure is Failure.SERVER_ERROR:
            return ServerError(f"模型服务暂时不可用（HTTP {status}）", _retry_after(exc))
        return RequestRefused(f"模型服务拒绝了请求（HTTP {status}）")


# ---------------------------------------------------------------- fallback providers


_HTTP = re.compile(r"\(HTTP \d+")


def _short_reason(exc: ModelError) -> str:
    """A few words for the record and the summary: what the provider did, without the fix."""
    status = _HTTP.search(str(exc))
    code = f" ({status.group(0)[1:]})" if status else ""
    if isinstance(exc, KeyRefused):
        return "refused the key" + code
    if isinstance(exc, BalanceGone):
        return "has no balance" + code
    if isinstance(exc, UnknownModel):
        return "does not know the model" + code
    if isinstance(exc, Unreachable):
        return f"unreachable ({UNREACHABLE_LIMIT} calls in a row: {exc.problem})"
    return exc.problem


@dataclass
class Provider:
    """One model service of the chain: the Model, where it lives and the config key that configures it."""

    model: Model
    url: str
    section: str  # "llm" or "llm.fallbacks[0]"
    unreachable: int = 0  # unreachable answers in a row
    gone: str = ""  # why the run gave it up


class ModelChain:
    """The primary provider and its fallbacks behind the one Model seam.

    A provider that is unreachable UNREACHABLE_LIMIT times in a row, refuses the key, has no balance or does
    not know the model is given up for the rest of the run and the call goes to the next one at once. With
    none left the last error ends the run (ServiceUnreachable names every URL and `llm.base_url`).
    """

    def __init__(self, providers: list[Provider]) -> None:
        if not providers:
            raise ValueError("a model chain needs at least one provider")
        self.providers = providers
        self.name = providers[0].model.name  # the cache key and prompt hash stay the primary's
        self.active = 0
        self.why = ""  # why the active provider (a fallback) serves

    @property
    def current(self) -> Provider:
        """The provider calls go to now."""
        return self.providers[self.active]

    async def complete(self, messages: Messages) -> Completion:
        """The first answer the chain can get, tagged with the model that gave it and why a fallback served."""
        while True:
            idx = self.active
            p = self.providers[idx]
            try:
                answer = await p.model.complete(messages)
            except Unreachable as exc:
                if idx != self.active:
                    continue  # a call in parallel gave this provider up already: ask the next one
                p.unreachable += 1
                if p.unreachable < UNREACHABLE_LIMIT:
                    raise  # the retry policy waits and asks again
                self._give_up(idx, exc)
                continue
            except FatalModelError as exc:
                if idx == self.active:
                    self._give_up(idx, exc)
                continue
            if idx == self.active:
                p.unreachable = 0
            return Completion(
                text=answer.text,
                prompt_tokens=answer.prompt_tokens,
                completion_tokens=answer.completion_tokens,
                model=answer.model or p.model.name,
                fallback=self.why if idx > 0 else "",
            )

    def _give_up(self, idx: int, exc: ModelError) -> None:
        p = self.providers[idx]
        p.gone = _short_reason(exc)
        if idx + 1 < len(self.providers):
            self.active = idx + 1
            reasons = "; ".join(f"{q.section} at {q.url} {q.gone}" for q in self.providers[: idx + 1])
            self.why = reasons
            return
        if isinstance(exc, Unreachable):
            raise ServiceUnreachable(self._unreachable_message(exc)) from None
        assert isinstance(exc, FatalModelError)
        if idx == 0:
            raise exc
        earlier = "; ".join(f"{q.section} at {q.url} {q.gone}" for q in self.providers[:idx])
        raise type(exc)(f"{exc} (every provider failed: {earlier})") from None

    def _unreachable_message(self, exc: Unreachable) -> str:
        first = self.providers[0]
        where = f"the model service at {first.url}"
        others = self.providers[1:]
        if others:
            where += " and its fallbacks (" + ", ".join(f"{q.section} at {q.url}: {q.gone}" for q in others) + ")"
        return (
            f"cannot reach {where}: {UNREACHABLE_LIMIT} calls in a row got no answer ({exc.problem}); "
            "stopped calling, finished papers are kept and the post is not made worse. "
            "Check llm.base_url in the config and the network, then run again"
        )


def provider_configs(cfg: LLMConfig) -> list[tuple[str, LLMConfig]]:
    """Each provider of the chain in order, as its config key ("llm", "llm.fallbacks[0]") and its own LLMConfig
    (a fallback keeps the main settings but its own URL, model, key variable and extra_body)."""
    out = [("llm", cfg)]
    for n, fb in enumerate(cfg.fallbacks):
        fcfg = cfg.model_copy(update={
            "base_url": fb.base_url, "model": fb.model, "api_key_env": fb.api_key_env, "extra_body": fb.extra_body,
        })
        out.append((f"llm.fallbacks[{n}]", fcfg))
    return out


def build_chain(cfg: LLMConfig, environ: Mapping[str, str]) -> ModelChain | None:
    """The primary (its key must be set, else None) and every fallback whose key variable is set."""
    providers = []
    for section, pcfg in provider_configs(cfg):
        key = (environ.get(pcfg.api_key_env) or "").strip()
        if not key:
            if section == "llm":
                return None
            continue  # `digest check` reports it; a run does without
        providers.append(Provider(OpenAIModel(pcfg, key, section=section), pcfg.base_url, section))
    return ModelChain(providers)


async def close_model(model: Model) -> None:
    """Close the SDK clients a model (or each model of a chain) opened in the running event loop."""
    for m in [p.model for p in model.providers] if isinstance(model, ModelChain) else [model]:
        aclose = getattr(m, "aclose", None)
        if callable(aclose):
            await aclose()


def run_with(model: Model, work: Coroutine[Any, Any, T]) -> T:
    """Run `work` in a new event loop and close the model's clients before the loop ends.

    Connections belong to the loop that opened them: a client left open is closed later by the garbage collector
    on a loop that is gone, which prints a traceback ("Event loop is closed") over the run's output.
    """

    async def main() -> T:
        try:
            return await work
        finally:
            await close_model(model)

    return asyncio.run(main())
