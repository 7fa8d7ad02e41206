"""Place many orders concurrently with the async client, safely re-runnable.

    STELLER_API_KEY=stlr_test_… python examples/async_bulk_orders.py --batch promo-2026-11 \\
        --count 20 --sku AMZ-US-50 --face-value 50.00 [--concurrency 5] [--rate 8]

* **Concurrency** is bounded (``--concurrency`` orders in flight) and the pace stays under the
  ``orders`` rate limit (``--rate`` requests per second; the default limit is 10/s), instead of
  bursting and collecting 429s.
* **Idempotency.** Order *i* of batch *B* has ``referenceId`` ``B-i`` and ``Idempotency-Key``
  ``B-i``, derived from your own ids: running the same batch again (after a crash, a timeout, a
  deploy) returns the existing orders and never charges twice. The SDK also retries 429/5xx and
  network errors with the same key.
* Every order is followed until it is final; the summary counts statuses and money.

Configuration: ``STELLER_API_KEY`` (without one, on a sandbox, a throwaway sandbox account is
signed up) and ``STELLER_BASE_URL`` (default ``http://127.0.0.1:8000``). Exits 1 if an order
could not be placed or did not complete.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections import Counter
from decimal import Decimal

import steller

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Pacer:
    """At most ``rate`` starts per second across all tasks (a simple spacing limiter)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_start = time.monotonic()
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            delay = self.next_start - now
            self.next_start = max(now, self.next_start) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


async def place_and_follow(
    client: steller.AsyncSteller,
    pacer: Pacer,
    slots: asyncio.Semaphore,
    *,
    batch: str,
    index: int,
    sku: str,
    face_value: str,
    follow_seconds: float,
) -> steller.models.Order | steller.APIStatusError:
    reference_id = f"{batch}-{index}"
    async with slots:
        await pacer.wait()
        try:
            raw = await client.orders.with_raw_response.create(
                sku=sku,
                face_value=face_value,
                quantity=1,
                reference_id=reference_id,
                idempotency_key=reference_id,
            )
        except steller.APIStatusError as err:
            print(f"{reference_id}: refused {err.status_code} {err.code}: {err.detail}")
            return err
    order = await raw.parse()
    fresh = raw.status_code == 202 and not raw.idempotent_replayed
    print(f"{reference_id}: {order.id} {'placed' if fresh else 'already placed'}")
    deadline = time.monotonic() + follow_seconds
    delay = 0.5
    while order.status not in steller.FINAL_ORDER_STATUSES and time.monotonic() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 5.0)
        order = await client.orders.get(order.id)
    return order


async def run(args: argparse.Namespace, api_key: str, base_url: str) -> int:
    async with steller.AsyncSteller(api_key=api_key, base_url=base_url, max_retries=4) as client:
        before = (await client.wallet.get()).balance
        pacer, slots = Pacer(args.rate), asyncio.Semaphore(args.concurrency)
        results = await asyncio.gather(
            *(
                place_and_follow(
                    client,
                    pacer,
                    slots,
                    batch=args.batch,
                    index=i,
                    sku=args.sku,
                    face_value=args.face_value,
                    follow_seconds=args.timeout,
                )
                for i in range(1, args.count + 1)
            )
        )
        after = (await client.wallet.get()).balance
    orders = [r for r in results if not isinstance(r, steller.APIStatusError)]
    statuses = Counter(str(o.status) for o in orders)
    net = sum((o.total - o.refunded_amount for o in orders), Decimal(0))
    print(
        f"batch {args.batch}: {len(orders)} orders {dict(sorted(statuses.items()))}, "
        f"{len(results) - len(orders)} refused; net charged for the batch {net}; "
        f"wallet {before} -> {after} (spent in this run {before - after})"
    )
    ok = len(orders) == len(results) and statuses.get("completed", 0) == len(orders)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--batch",
        default=f"batch-{uuid.uuid4().hex[:8]}",
        help="your batch id; rerun with the same id to resume safely",
    )
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--sku", default="AMZ-US-25")
    parser.add_argument("--face-value", default="25.00")
    parser.add_argument("--concurrency", type=int, default=5)
    parser.add_argument("--rate", type=float, default=8.0, help="order requests per second")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to follow each")
    args = parser.parse_args(argv)
    base_url = os.environ.get("STELLER_BASE_URL", DEFAULT_BASE_URL)
    api_key = os.environ.get("STELLER_API_KEY")
    if not api_key:
        account = steller.signup(
            name="Bulk Example",
            base_url=base_url,
            email=f"bulk+{uuid.uuid4().hex[:10]}@shop.example",
        )
        api_key = account.api_key.key
        print(f"signed up sandbox partner {account.partner.id}")
    return asyncio.run(run(args, api_key, base_url))


if __name__ == "__main__":
    sys.exit(main())
