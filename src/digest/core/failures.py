"""What a model provider's failed answer means: one table from HTTP status and body text to a kind of failure.

The Model seam (digest.enrich.model) turns each kind into its error, and `digest check` into its line, so a run
and the preflight never disagree about an answer.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Failure(StrEnum):
    """The kinds of provider failure the tool tells apart."""

    BAD_KEY = "bad key"  # 401/403: the key is refused
    NO_BALANCE = "no balance"  # 402, or a 4xx saying the balance or quota is gone
    RATE_LIMITED = "rate limited"  # 429 that does not say the quota is gone: waiting helps
    UNKNOWN_MODEL = "unknown model"  # 404: wrong model name or base URL
    UNREACHABLE = "unreachable"  # no answer: refused connection, DNS, TLS, timeout
    SERVER_ERROR = "server error"  # 5xx, 408, 409: the service is having trouble
    REFUSED = "refused"  # another 4xx: this request will not succeed by asking again


# Texts of an account that ran dry (DeepSeek answers 402 "Insufficient Balance"; OpenAI 429 "insufficient_quota").
_BALANCE = re.compile(r"insufficient[_ ](balance|quota|funds|credits?)|balance|quota|余额|欠费", re.I)
# On a 429 only an explicit "insufficient ..." counts: "quota exceeded, retry in 20 s" is a rate limit.
_QUOTA_GONE = re.compile(r"insufficient[_ ](balance|quota|funds|credits?)|余额|欠费", re.I)


def http_failure(status: int, text: str = "") -> Failure:
    """The kind of failure an HTTP error answer is, from its status and its body's error text."""
    if status in (401, 403):
        return Failure.BAD_KEY
    if status == 404:
        return Failure.UNKNOWN_MODEL
    if status == 402:
        return Failure.NO_BALANCE
    if status == 429:
        return Failure.NO_BALANCE if _QUOTA_GONE.search(text) else Failure.RATE_LIMITED
    if 400 <= status < 500 and _BALANCE.search(text):
        return Failure.NO_BALANCE
    if status in (408, 409) or status >= 500:
        return Failure.SERVER_ERROR
    return Failure.REFUSED
