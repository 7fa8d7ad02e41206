"""Rate limits per key and route class, with the IETF RateLimit headers.

Counters live in the `limits` package's storage: in memory by default, in Redis when
STELLER_REDIS_URL is set so every server process shares them. Fixed windows: one storage round trip
per request on the hot path (the increment, which returns the count); the window's expiry (one
more round trip) is read only to compute `Retry-After` on a rejection or for windows longer than a
second.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.storage import storage_from_string

# Route classes and their defaults (DESIGN.md §3): (requests, window seconds).
DEFAULT_POLICIES: dict[str, tuple[int, int]] = {
    "catalog": (50, 1),
    "orders": (10, 1),
    "default": (30, 1),
    "signup": (5, 60),
    "login": (10, 60),
}


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    policy: str
    limit: int
    window: int
    remaining: int
    reset: int  # seconds until the window resets

    def headers(self) -> dict[str, str]:
        out = {
            "RateLimit-Policy": f'"{self.policy}";q={self.limit};w={self.window}',
            "RateLimit": f'"{self.policy}";r={self.remaining};t={self.reset}',
        }
        if not self.allowed:
            out["Retry-After"] = str(max(1, self.reset))
        return out


def _item(limit: int, window: int) -> RateLimitItem:
    if window == 60:
        return RateLimitItemPerMinute(limit)
    return RateLimitItemPerSecond(limit, multiples=window)


class RateLimiter:
    """Check and count one request against a policy for an identity (key id or client address)."""

    def __init__(
        self, storage_uri: str = "async+memory://", *, key_prefix: str = "steller"
    ) -> None:
        if storage_uri.startswith(("redis://", "rediss://")):
            storage_uri = "async+" + storage_uri
        options = {"key_prefix": key_prefix} if "redis" in storage_uri else {}
        storage = storage_from_string(storage_uri, **options)
        if not isinstance(storage, Storage):
            raise TypeError(f"{storage_uri!r} is not an async limits storage")
        self.storage = storage
        self._items: dict[tuple[int, int], RateLimitItem] = {}

    def _cached_item(self, limit: int, window: int) -> RateLimitItem:
        item = self._items.get((limit, window))
        if item is None:
            item = self._items[(limit, window)] = _item(limit, window)
        return item

    async def hit(
        self, policy: str, identity: str, *, limit: int | None = None, window: int | None = None
    ) -> Decision:
        default_limit, default_window = DEFAULT_POLICIES[policy]
        limit = limit or default_limit
        window = window or default_window
        item = self._cached_item(limit, window)
        key = item.key_for(policy, identity)
        count = await self.storage.incr(key, item.get_expiry())
        allowed = count <= limit
        remaining = max(0, limit - count)
        reset = window
        if not allowed or window > 1:
            # Only the expiry is missing (the count came back from the increment): one TTL
            # round trip, where the strategy's window stats would make two (GET + TTL).
            reset = max(1, math.ceil(await self.storage.get_expiry(key) - time.time()))
        return Decision(allowed, policy, limit, window, remaining, reset)

    async def clear(self) -> None:
        await self.storage.reset()

    async def check_ready(self) -> bool:
        return bool(await self.storage.check())
