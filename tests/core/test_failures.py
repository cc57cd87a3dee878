"""The one table of provider failures: what an HTTP error answer means, for the run and for `digest check`."""

from __future__ import annotations

import pytest

from digest.core.failures import Failure, http_failure


@pytest.mark.parametrize(
    ("status", "text", "kind"),
    [
        (401, "Authentication Fails", Failure.BAD_KEY),
        (403, "", Failure.BAD_KEY),
        (404, "model not found", Failure.UNKNOWN_MODEL),
        (402, "Insufficient Balance", Failure.NO_BALANCE),
        (400, "Your balance is too low", Failure.NO_BALANCE),
        (403, "insufficient_quota", Failure.BAD_KEY),  # the status speaks first
        (429, "insufficient_quota", Failure.NO_BALANCE),
        (429, "账户余额不足", Failure.NO_BALANCE),
        (429, "Rate quota exceeded, retry in 20 s", Failure.RATE_LIMITED),
        (429, "", Failure.RATE_LIMITED),
        (503, "quota service down", Failure.SERVER_ERROR),
        (500, "", Failure.SERVER_ERROR),
        (408, "", Failure.SERVER_ERROR),
        (409, "", Failure.SERVER_ERROR),
        (400, "bad request", Failure.REFUSED),
        (422, "", Failure.REFUSED),
    ],
)
def test_status_and_text_to_kind(status: int, text: str, kind: Failure) -> None:
    assert http_failure(status, text) is kind
