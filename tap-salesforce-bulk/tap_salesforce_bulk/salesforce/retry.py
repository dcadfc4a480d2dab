"""Retry policy as small pure functions: what to retry, how long to wait, when to stop.

Waits grow exponentially with full jitter (so parallel downloads do not retry in lockstep), are
capped, and never shorter than a server's ``Retry-After``. The decorator is python-backoff's; the
numbers and the decisions live here so they can be tested without sleeping.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import backoff

from tap_salesforce_bulk.salesforce.errors import SalesforceRetriableError

RETRY_MAX_TRIES = 8
RETRY_BASE_SECONDS = 1.0
RETRY_MAX_WAIT_SECONDS = 60.0
RETRY_AFTER_MAX_SECONDS = 300.0
# Statuses Salesforce uses for overload and maintenance; 4xx other than 429 are the caller's fault.
RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def is_retriable_status(status: int) -> bool:
    """True for the HTTP statuses that a later identical request may get past."""
    return status in RETRIABLE_STATUSES


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def retry_delay_seconds(
    attempt: int,
    retry_after_seconds: float | None = None,
    *,
    base_seconds: float = RETRY_BASE_SECONDS,
    cap_seconds: float = RETRY_MAX_WAIT_SECONDS,
    rng: Callable[[], float] = random.random,
) -> float:
    """The wait before retry number ``attempt`` (1-based): full jitter, capped, >= Retry-After."""
    ceiling = min(cap_seconds, base_seconds * 2.0 ** (attempt - 1))
    jittered = ceiling * (0.5 + rng() / 2)  # half fixed, half random: never a zero wait
    if retry_after_seconds is not None:
        return min(max(retry_after_seconds, jittered), RETRY_AFTER_MAX_SECONDS)
    return jittered


def _wait_generator(
    base_seconds: float = RETRY_BASE_SECONDS,
) -> Generator[float, Any, None]:
    """A python-backoff wait generator that reads ``Retry-After`` from the raised error."""
    error = yield 0.0
    attempt = 0
    while True:
        attempt += 1
        retry_after = getattr(error, "retry_after_seconds", None)
        error = yield retry_delay_seconds(attempt, retry_after, base_seconds=base_seconds)


def _log_backoff(details: Any) -> None:
    error = details.get("exception")
    logger.warning(
        "Retrying in %.1f s (attempt %d of %d) after: %s",
        details.get("wait", 0.0),
        details.get("tries", 0),
        RETRY_MAX_TRIES,
        error,
    )


def retrying(
    max_tries: int = RETRY_MAX_TRIES, base_seconds: float = RETRY_BASE_SECONDS
) -> Callable[[F], F]:
    """Decorate a call so transient Salesforce failures are retried per this module's policy."""
    decorator: Callable[[F], F] = backoff.on_exception(
        _wait_generator,
        SalesforceRetriableError,
        max_tries=max_tries,
        jitter=None,
        on_backoff=_log_backoff,
        logger=None,
        base_seconds=base_seconds,
    )
    return decorator
