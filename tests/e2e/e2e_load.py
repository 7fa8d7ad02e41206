"""The load of the production proof: partners issuing a mixed workload at a fixed target rate,
with faults injected on a schedule, every response recorded.

Open loop: request ``i`` is sent at ``i / rate`` seconds whatever the previous ones are doing, so
a stall shows up as latency and errors, not as a politely lower offered load. Each request picks
a partner and an action (seeded, so runs are comparable):

* a new order with an ``Idempotency-Key``, or with its ``referenceId`` only;
* a retry of an earlier order — same key and body, or same reference and body — which must answer
  with the same order (never a second one);
* catalog reads, wallet reads and polling of an earlier order.

Each order the script means to place is an :class:`Intent`. The script behaves like a careful
partner: an answer that leaves the outcome open (a 5xx, a 429, 409 ``idempotency_in_progress``, a
connection error) is retried later with the same reference and key, until the order is known.
The script's own bookkeeping (what it ordered, what each product's scenario must end in) is what
the balances are checked against afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from tests.e2e.e2e_support import PartnerAccount

ORDERS = "POST /api/orders"
ORDER = "GET /api/orders/{id}"
CATALOG = "GET /api/brand/getCatalog"
WALLET = "GET /api/wallet/me"

#: SKU → (quantity, final status, cards delivered): the simulator's scenario for each product.
PRODUCTS: dict[str, tuple[int, str, int]] = {
    "SIM-OK-10": (1, "completed", 1),
    "SIM-OK-10/2": (2, "completed", 2),
    "SIM-FAIL-10": (1, "failed", 0),
    "SIM-PARTIAL-10": (2, "partially_completed", 1),
}
PRODUCT_WEIGHTS = {"SIM-OK-10": 70, "SIM-OK-10/2": 10, "SIM-FAIL-10": 10, "SIM-PARTIAL-10": 10}
ACTION_WEIGHTS = {
    "order_key": 25,
    "order_ref": 10,
    "retry_key": 8,
    "retry_ref": 7,
    "catalog": 20,
    "wallet": 15,
    "poll": 15,
}
#: Answers after which an order's outcome is still open: the partner tries again.
RETRYABLE = frozenset({0, 409, 429, 500, 502, 503, 504})


@dataclass
class Sample:
    route: str
    status: int  # 0: no HTTP answer (connection error, timeout)
    latency_ms: float
    at: float  # wall clock (epoch seconds) when sent
    retry_after: str | None = None
    code: str | None = None


@dataclass
class Intent:
    """One order the script means to place exactly once."""

    partner: PartnerAccount
    reference: str
    product: str
    idempotency_key: str | None
    order_id: str | None = None
    refused: str | None = None
    sends: int = 0

    @property
    def sku(self) -> str:
        return self.product.split("/")[0]

    @property
    def quantity(self) -> int:
        return PRODUCTS[self.product][0]

    @property
    def expected_status(self) -> str:
        return PRODUCTS[self.product][1]

    @property
    def expected_cards(self) -> int:
        return PRODUCTS[self.product][2]

    def body(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "faceValue": "10.00",
            "quantity": self.quantity,
            "referenceId": self.reference,
        }


@dataclass
class Fault:
    """A scheduled action at ``offset`` seconds into the load (run in a thread)."""

    offset: float
    name: str
    action: Callable[[], Any]


@dataclass
class LoadRun:
    api_url: str
    partners: list[PartnerAccount]
    rate: float
    duration: float
    seed: int = 8
    samples: list[Sample] = field(default_factory=list)
    intents: list[Intent] = field(default_factory=list)
    #: A reference or key answered with two different orders: a double order.
    conflicts: list[str] = field(default_factory=list)
    #: Fault name → wall-clock time it happened (and what the action returned).
    faults: dict[str, float] = field(default_factory=dict)
    fault_results: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0

    # -- driving --------------------------------------------------------------------------------

    async def run(self, schedule: list[Fault]) -> None:
        rng = random.Random(self.seed)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        timeout = httpx.Timeout(30.0, connect=5.0)
        async with httpx.AsyncClient(base_url=self.api_url, limits=limits, timeout=timeout) as http:
            self._http = http
            self._retries: set[asyncio.Task[None]] = set()
            tasks: list[asyncio.Task[Any]] = [
                asyncio.create_task(self._fault(fault)) for fault in schedule
            ]
            self.started = time.time()
            begin = time.monotonic()
            count = max(1, round(self.rate * self.duration))
            for index in range(count):
                delay = begin + index / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(self._act(rng)))
            self.ended = time.time()
            await asyncio.gather(*tasks)
            while self._retries:
                await asyncio.gather(*list(self._retries))

    async def settle(self, within: float) -> None:
        """After the load: send every order whose outcome is still open until it is known."""
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=self.api_url, limits=limits, timeout=30) as http:
            self._http = http
            deadline = time.monotonic() + within
            while time.monotonic() < deadline:
                open_ = [i for i in self.intents if i.order_id is None and i.refused is None]
                if not open_:
                    return
                await asyncio.gather(*(self._send(i, retry=False) for i in open_))
                await asyncio.sleep(0.5)

    async def _fault(self, fault: Fault) -> None:
        await asyncio.sleep(max(0.0, self.started + fault.offset - time.time()))
        self.faults[fault.name] = time.time()
        self.fault_results[fault.name] = await asyncio.to_thread(fault.action)

    async def _act(self, rng: random.Random) -> None:
        partner = rng.choice(self.partners)
        action = rng.choices(list(ACTION_WEIGHTS), weights=list(ACTION_WEIGHTS.values()))[0]
        known = [i for i in self.intents if i.partner is partner and i.order_id is not None]
        if action in ("retry_key", "retry_ref", "poll") and not known:
            action = "wallet"
        if action in ("order_key", "order_ref"):
            product = rng.choices(list(PRODUCT_WEIGHTS), weights=list(PRODUCT_WEIGHTS.values()))[0]
            intent = Intent(
                partner,
                f"e2e-{secrets.token_hex(6)}",
                product,
                secrets.token_hex(12) if action == "order_key" else None,
            )
            self.intents.append(intent)
            await self._send(intent, retry=True)
        elif action == "retry_key":
            keyed = [i for i in known if i.idempotency_key]
            await self._send(rng.choice(keyed or known), retry=False)
        elif action == "retry_ref":
            await self._send(rng.choice(known), retry=False, with_key=False)
        elif action == "poll":
            order_id = rng.choice(known).order_id
            await self._get(partner, ORDER, f"/api/orders/{order_id}")
        elif action == "catalog":
            await self._get(partner, CATALOG, "/api/brand/getCatalog?limit=20")
        else:
            await self._get(partner, WALLET, "/api/wallet/me")

    # -- requests ---------------------------------------------------------------------------------

    async def _get(self, partner: PartnerAccount, route: str, url: str) -> None:
        await self._call(route, "GET", url, headers={"x-api-key": partner.key})

    async def _send(self, intent: Intent, *, retry: bool, with_key: bool = True) -> None:
        headers = {"x-api-key": intent.partner.key}
        if with_key and intent.idempotency_key:
            headers["Idempotency-Key"] = intent.idempotency_key
        intent.sends += 1
        response = await self._call(ORDERS, "POST", "/api/orders", headers=headers,
                                    json=intent.body())  # fmt: skip
        status = 0 if response is None else response.status_code
        if 200 <= status < 300:
            assert response is not None
            order_id = response.json().get("id")
            if intent.order_id is not None and order_id != intent.order_id:
                self.conflicts.append(
                    f"{intent.reference}: {intent.order_id} then {order_id} ({headers})"
                )
            intent.order_id = intent.order_id or order_id
        elif status in RETRYABLE:
            if retry and intent.order_id is None:
                wait = _retry_after(response)
                task = asyncio.create_task(self._later(intent, wait))
                self._retries.add(task)
                task.add_done_callback(self._retries.discard)
        elif intent.order_id is None:
            assert response is not None
            intent.refused = f"{status} {_code(response)}"

    async def _later(self, intent: Intent, wait: float) -> None:
        await asyncio.sleep(wait)
        if intent.order_id is None and intent.refused is None:
            await self._send(intent, retry=True)

    async def _call(
        self, route: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        sent = time.time()
        begin = time.perf_counter()
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TransportError:
            self.samples.append(Sample(route, 0, (time.perf_counter() - begin) * 1000, sent))
            return None
        latency = (time.perf_counter() - begin) * 1000
        code = _code(response) if response.status_code >= 400 else None
        self.samples.append(
            Sample(route, response.status_code, latency, sent,
                   response.headers.get("retry-after"), code)
        )  # fmt: skip
        return response

    # -- figures ----------------------------------------------------------------------------------

    def expected_charge(self, partner: PartnerAccount, unit_price: Decimal) -> Decimal:
        """What the script's own bookkeeping says ``partner`` was charged in the end."""
        return sum(
            (unit_price * i.expected_cards for i in self.intents if i.partner is partner),
            Decimal("0"),
        )

    def in_window(self) -> list[Sample]:
        return [s for s in self.samples if self.started <= s.at <= self.ended]

    def figures(self) -> dict[str, Any]:
        window = self.in_window()
        seconds = max(self.ended - self.started, 1e-9)
        routes: dict[str, Any] = {}
        for route in (ORDERS, ORDER, CATALOG, WALLET):
            mine = [s for s in window if s.route == route]
            latencies = [s.latency_ms for s in mine if s.status]
            routes[route] = {
                "requests": len(mine),
                "p50_ms": _round(_percentile(latencies, 50)),
                "p99_ms": _round(_percentile(latencies, 99)),
                "statuses": dict(sorted(Counter(str(s.status) for s in mine).items())),
            }
        accepted = [s for s in window if s.route == ORDERS and 200 <= s.status < 300]
        errors = Counter(
            f"{s.status} {s.code or ''}".strip() for s in self.samples if s.status >= 400
        )
        errors.update("no answer" for s in self.samples if s.status == 0)
        return {
            "offered_rate_per_s": self.rate,
            "duration_s": round(seconds, 1),
            "requests": len(window),
            "throughput_req_per_s": round(len(window) / seconds, 1),
            "order_posts_2xx_per_s": round(len(accepted) / seconds, 1),
            "orders_placed": sum(1 for i in self.intents if i.order_id),
            "orders_per_s": round(sum(1 for i in self.intents if i.order_id) / seconds, 2),
            "routes": routes,
            "errors_by_code": dict(sorted(errors.items())),
            "order_sends": sum(i.sends for i in self.intents),
        }


def _retry_after(response: httpx.Response | None) -> float:
    if response is not None:
        with contextlib.suppress(ValueError):
            return max(0.5, min(10.0, float(response.headers.get("retry-after", ""))))
    return 1.0


def _code(response: httpx.Response) -> str | None:
    with contextlib.suppress(ValueError, AttributeError):
        code = response.json().get("code")
        return str(code) if code else None
    return None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
