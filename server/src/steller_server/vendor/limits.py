"""Bamboo's per-endpoint limits, enforced before we call, shared across processes.

Uses the ``limits`` package with a moving window; storage ``memory://`` (one process) or
``redis://host:port/db`` (every process and machine sharing that Redis). Callers *wait* for a
slot instead of failing, up to ``max_wait`` seconds.

Bamboo's "at least 500 ms between Place Order calls" cannot be expressed in whole seconds, so it is
enforced per process; across processes the 2 calls/second window bounds it and a 429 from Bamboo
is waited out by the client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import cast

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from steller_server.vendor.errors import VendorRateLimited

__all__ = ["BambooLimits", "VendorLimiter", "async_storage_uri"]


@dataclass(frozen=True, kw_only=True)
class BambooLimits:
    """Limits in ``limits`` notation (``"2/second"``), defaulting to the numbers in bamboo.md."""

    checkout: str = "2/second"
    checkout_spacing: float = 0.5
    orders_per_product: str = "6/minute"
    get_order: str = "120/minute"
    catalog: str = "1/second"
    catalog_v1: str = "2/hour"
    exchange_rates: str = "20/minute"
    transactions: str = "4/hour"
    default: str = "1/second"
    enabled: bool = True

    def item(self, endpoint: str) -> RateLimitItem:
        value = getattr(self, endpoint, None)
        return parse(value if isinstance(value, str) else self.default)


def async_storage_uri(uri: str) -> str:
    """``memory://`` -> ``async+memory://``, ``redis://…`` -> ``async+redis://…``."""
    return uri if uri.startswith("async+") else f"async+{uri}"


class VendorLimiter:
    """Wait-for-a-slot limiter keyed by namespace, credential and endpoint."""

    def __init__(
        self,
        storage_uri: str = "memory://",
        limits: BambooLimits | None = None,
        *,
        namespace: str = "steller-bamboo",
        max_wait: float = 60.0,
        poll_interval: float = 0.25,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        uri = async_storage_uri(storage_uri)
        options: dict[str, str] = {"implementation": "redispy"} if "redis" in uri else {}
        self.storage = cast(Storage, storage_from_string(uri, **options))
        self.limits = limits or BambooLimits()
        self.namespace = namespace
        self.max_wait = max_wait
        self.poll_interval = poll_interval
        self._strategy = MovingWindowRateLimiter(self.storage)
        self._sleep = sleep
        self._spacing_lock = asyncio.Lock()
        self._last_checkout = 0.0

    async def acquire(self, scope: str, endpoint: str, product_ids: Iterable[int] = ()) -> None:
        """Wait until a call to ``endpoint`` fits every limit (VendorRateLimited past max_wait)."""
        if not self.limits.enabled:
            return
        deadline = time.monotonic() + self.max_wait
        await self._slot(self.limits.item(endpoint), deadline, scope, endpoint)
        if endpoint == "checkout":
            per_product = parse(self.limits.orders_per_product)
            for product_id in sorted(set(product_ids)):
                await self._slot(per_product, deadline, scope, "product", str(product_id))
            await self._space_checkouts(deadline)

    async def _slot(self, item: RateLimitItem, deadline: float, *keys: str) -> None:
        identifiers = (self.namespace, *keys)
        while not await self._strategy.hit(item, *identifiers):
            stats = await self._strategy.get_window_stats(item, *identifiers)
            delay = max(stats.reset_time - time.time(), 0.005)
            if time.monotonic() + delay > deadline:
                raise VendorRateLimited(
                    f"no slot for {'/'.join(keys)} within {self.max_wait} s", retry_after=delay
                )
            # The window's reset time is an estimate (with concurrent writers the Redis list is not
            # strictly ordered), so re-check at least every poll_interval.
            await self._sleep(min(delay, self.poll_interval))

    async def _space_checkouts(self, deadline: float) -> None:
        async with self._spacing_lock:
            delay = self._last_checkout + self.limits.checkout_spacing - time.monotonic()
            if delay > 0:
                if time.monotonic() + delay > deadline:
                    raise VendorRateLimited("checkout spacing", retry_after=delay)
                await self._sleep(delay)
            self._last_checkout = time.monotonic()
