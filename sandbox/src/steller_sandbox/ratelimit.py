"""The simulator's own rate limiter: sliding windows on the injectable clock."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from datetime import datetime

from steller_sandbox.config import RateLimit

__all__ = ["SlidingWindowLimiter", "wait_message"]


def wait_message(seconds: int) -> str:
    """Bamboo's 429 text; clients parse N out of it."""
    return f"Too many requests. Please wait for {seconds} seconds."


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds - 1e-9))


class SlidingWindowLimiter:
    """Remembers call times per key; not thread-safe on its own (the simulator holds a lock)."""

    def __init__(self) -> None:
        self._calls: defaultdict[str, deque[float]] = defaultdict(deque)
        self._last: dict[str, float] = {}

    def wait_for(self, key: str, rule: RateLimit, now: datetime) -> int | None:
        """Seconds to wait if a call now would exceed ``rule``, else None (records nothing)."""
        t = now.timestamp()
        calls = self._calls[key]
        while calls and calls[0] <= t - rule.period:
            calls.popleft()
        if len(calls) >= rule.limit:
            return _whole_seconds(calls[0] + rule.period - t)
        return None

    def record(self, key: str, now: datetime) -> None:
        self._calls[key].append(now.timestamp())

    def hit(self, key: str, rule: RateLimit, now: datetime) -> int | None:
        """Check and, when allowed, record one call."""
        wait = self.wait_for(key, rule, now)
        if wait is None:
            self.record(key, now)
        return wait

    def spacing(self, key: str, minimum: float, now: datetime) -> int | None:
        """Enforce at least ``minimum`` seconds between calls for ``key``; records when allowed."""
        t = now.timestamp()
        last = self._last.get(key)
        if last is not None and t - last < minimum:
            return _whole_seconds(last + minimum - t)
        self._last[key] = t
        return None
