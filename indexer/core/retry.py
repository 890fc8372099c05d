"""The one retry policy: bounded exponential backoff with jitter.

Used three ways, with different numbers but the same shape: in-process retries of an RPC call
(:data:`RPC_RETRY`, seconds), Celery task retries (:data:`TASK_RETRY`, a countdown) and the
next attempt of a durable work item (:data:`WORK_RETRY`). Jitter ("equal jitter": between half
and all of the delay) keeps many workers hitting a recovering server from retrying in
lockstep, while still waiting at least half the nominal delay.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from indexer.core.errors import TransientError

log = logging.getLogger(__name__)

T = TypeVar("T")
# A server's Retry-After is honoured up to this many seconds; beyond, our own backoff rules.
MAX_RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` calls in all; the wait before call n+1 is about ``base_delay * 2**n``,
    never more than ``max_delay``."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        nominal = min(self.max_delay, self.base_delay * (2 ** min(attempt, 62)))
        wait = nominal / 2 + random.uniform(0, nominal / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER_S))
        return wait


RPC_RETRY = RetryPolicy(attempts=5, base_delay=0.5, max_delay=8.0)
TASK_RETRY = RetryPolicy(attempts=8, base_delay=2.0, max_delay=300.0)
WORK_RETRY = RetryPolicy(attempts=1 << 30, base_delay=5.0, max_delay=600.0)


def call_with_retries(
    fn: Callable[[], T], policy: RetryPolicy, what: str, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run ``fn``; on :class:`TransientError` wait and try again, ``policy.attempts`` calls in
    all, then re-raise the last error. Anything else propagates at once."""
    for attempt in range(policy.attempts):
        try:
            return fn()
        except TransientError as exc:
            if attempt + 1 >= policy.attempts:
                raise
            delay = policy.delay(attempt, exc.retry_after)
            log.warning(
                "transient error, retrying",
                extra={"call": what, "attempt": attempt + 1, "delay_s": round(delay, 3), "error": str(exc)},
            )
            sleep(delay)
    raise AssertionError("unreachable: policy.attempts >= 1")


def task_countdown(retries: int) -> float:
    """Seconds before a Celery task's retry number ``retries + 1`` (2, 4, 8 ... capped at 5 min)."""
    return TASK_RETRY.delay(retries)
