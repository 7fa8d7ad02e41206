"""Helpers for testing code that uses the Steller SDK.

Retries wait between attempts (jittered exponential backoff, or the server's ``Retry-After``).
In tests, make them instant and look at what the SDK *would* have slept::

    from steller.testing import instant_retries

    def test_retries_then_succeeds():
        with instant_retries() as sleeps:
            order = client.orders.get("ord_123")
        assert sleeps == [1.0]  # one retry, after the server's Retry-After: 1

The switch is a :class:`contextvars.ContextVar`, so it is local to the current thread or
asyncio task and never leaks into other tests. Time caps (``RetryPolicy.max_total_time``) are
checked against the recorded sleeps, so they behave as if the waits had happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["instant_retries", "recorded_sleeps"]

# The one piece of process-wide state the SDK has, and it is context-local: the list that
# collects the sleeps of the active ``instant_retries()`` block, or None outside one.
_SLEEPS: ContextVar[list[float] | None] = ContextVar("steller_instant_retries", default=None)


@contextmanager
def instant_retries() -> Iterator[list[float]]:
    """Within the block, retries do not sleep; yields the list of skipped sleeps (seconds)."""
    sleeps: list[float] = []
    token = _SLEEPS.set(sleeps)
    try:
        yield sleeps
    finally:
        _SLEEPS.reset(token)


def recorded_sleeps() -> list[float] | None:
    """The sleep list of the active :func:`instant_retries` block, or ``None`` outside one."""
    return _SLEEPS.get()
