"""The simulator's state: accounts, stock, orders, money movements, and the order lifecycle.

Every mutation happens under one ``threading.RLock`` so a simulator served by uvicorn in another
thread can be inspected safely by a test. Time comes only from the injectable clock; the lifecycle
is computed from it and applied lazily (``advance()``, called on every request and by the
background ticker).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from steller_sandbox.callbacks import deliver_callback
from steller_sandbox.catalog import Catalog, Product, build_catalog
from steller_sandbox.clock import Clock, SystemClock
from steller_sandbox.config import Credential, Environment, SimulatorConfig
from steller_sandbox.ratelimit import SlidingWindowLimiter
from steller_sandbox.scenarios import MAGIC_FACE_VALUES, SCENARIO_SKUS, Scenario
from steller_sandbox.wire import format_datetime

__all__ = [
    "Account",
    "Card",
    "CheckoutAccepted",
    "Order",
    "OrderLine",
    "RateLimited",
    "Rejected",
    "Simulator",
    "Transaction",
    "Unavailable",
]

log = logging.getLogger("steller_sandbox")

FOUR_PLACES = Decimal("0.0001")
RATE_PLACES = Decimal("0.000001")
FINAL_STATUSES = frozenset({"Succeeded", "Failed", "PartialFailed"})


class Rejected(Exception):
    """A 400 with a Bamboo reason code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimited(Exception):
    def __init__(self, seconds: int) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class Unavailable(Exception):
    def __init__(self, status_code: int = 503) -> None:
        super().__init__(status_code)
        self.status_code = status_code


@dataclass
class Account:
    id: int
    currency: str
    balance: Decimal
    environment: Environment
    owner: str
    is_active: bool


@dataclass
class Card:
    id: int
    serial_number: str
    card_code: str
    pin: str
    sold: bool


@dataclass
class OrderLine:
    product: Product
    face_value: Decimal
    quantity: int
    unit_price: Decimal
    """In the product's currency."""
    unit_cost: Decimal
    """In the account's currency: what one card costs the client."""
    cards: list[Card]

    @property
    def sold(self) -> int:
        return sum(card.sold for card in self.cards)


@dataclass
class Order:
    order_id: int
    request_id: str
    client_name: str
    environment: Environment
    account_id: int
    currency: str
    exchange_rate: Decimal
    lines: list[OrderLine]
    created: datetime
    processing_at: datetime
    pending_at: datetime | None
    final_at: datetime
    scenarios: frozenset[Scenario]
    finalized: bool = False
    error_message: str | None = None

    @property
    def order_number(self) -> str:
        return f"O-{self.order_id:08d}"

    @property
    def total_cards(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def charged(self) -> Decimal:
        """What the account paid once final (only sold cards); the full debit before that."""
        if not self.finalized:
            return sum((line.unit_cost * line.quantity for line in self.lines), Decimal(0))
        return sum((line.unit_cost * line.sold for line in self.lines), Decimal(0))

    def final_status(self) -> str:
        sold = sum(line.sold for line in self.lines)
        if sold == self.total_cards:
            return "Succeeded"
        return "Failed" if sold == 0 else "PartialFailed"

    def status_at(self, now: datetime) -> str:
        if self.finalized:
            return self.final_status()
        if now < self.processing_at:
            return "Created"
        if self.pending_at is not None and now >= self.pending_at:
            return "Pending"
        return "Processing"


@dataclass
class Transaction:
    id: int
    order: Order
    type: str
    amount: Decimal
    """Positive for a debit (Order), negative for a credit (Refund)."""
    balance_after: Decimal
    date: datetime


@dataclass
class CheckoutAccepted:
    request_id: str
    hang_seconds: float = 0.0


@dataclass
class _ClientState:
    notification: dict[str, str] = field(
        default_factory=lambda: dict.fromkeys(
            ("notificationUrl", "notificationUrlSandbox", "secretKey"), ""
        )
    )


@dataclass
class RequestRecord:
    at: datetime
    client_id: str
    endpoint: str
    status_code: int


class Simulator:
    """The in-memory Bamboo. Build it through ``create_app`` or directly for unit tests."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.clock: Clock = config.clock or SystemClock()
        self._lock = threading.RLock()
        self.reset()

    # -- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the configured starting state (accounts, stock, orders, limits, faults)."""
        with self._lock:
            cfg = self.config
            self.catalog: Catalog = build_catalog(cfg.seed)
            self.accounts: dict[int, Account] = {
                a.id: Account(a.id, a.currency, a.balance, a.environment, a.owner, a.is_active)
                for a in cfg.accounts
            }
            self.orders: dict[tuple[str, Environment, str], Order] = {}
            self.order_counts: Counter[str] = Counter()
            self.checkout_attempts: Counter[str] = Counter()
            self.transactions: list[Transaction] = []
            self.clients: dict[str, _ClientState] = {}
            self.faults = dataclasses.replace(cfg.faults)
            self.limits_enabled = cfg.limits_enabled
            self.limiter = SlidingWindowLimiter()
            self.request_log: list[RequestRecord] = []
            self.callback_log: list[dict[str, Any]] = []
            self._rng = random.Random(cfg.seed)  # noqa: S311 - simulated data
            self._fault_rng = random.Random(cfg.seed + 1)  # noqa: S311
            self._next_order_id = 6_779_294
            self._next_card_id = 24_153_984
            self._next_transaction_id = 6_677_709
            self._tasks: set[asyncio.Task[None]] = set()

    def now(self) -> datetime:
        return self.clock.now()

    def client(self, name: str) -> _ClientState:
        return self.clients.setdefault(name, _ClientState())

    def order_count(self, request_id: str) -> int:
        """How many vendor orders exist for ``request_id`` (a correct client makes it 0 or 1)."""
        with self._lock:
            return self.order_counts[_key(request_id)]

    def find_order(self, request_id: str) -> Order | None:
        with self._lock:
            wanted = _key(request_id)
            return next((o for o in self.orders.values() if _key(o.request_id) == wanted), None)

    def stock(self, product_id: int) -> int | None:
        with self._lock:
            return self.catalog.by_id[product_id].count

    def accounts_for(self, cred: Credential) -> list[Account]:
        with self._lock:
            return [
                a
                for a in self.accounts.values()
                if a.owner == cred.client_name and a.environment == cred.environment
            ]

    def record_request(self, client_id: str, endpoint: str, at: datetime, status: int) -> None:
        with self._lock:
            self.request_log.append(RequestRecord(at, client_id, endpoint, status))

    def top_up(self, account_id: int, amount: Decimal) -> Account:
        with self._lock:
            account = self.accounts[account_id]
            account.balance = (account.balance + amount).quantize(FOUR_PLACES)
            return account

    # -- FX ------------------------------------------------------------------------------------

    def rate(self, base: str, currency: str) -> Decimal:
        """How much ``currency`` one unit of ``base`` buys, to six places (1 exactly if equal)."""
        if base == currency:
            return Decimal(1)
        rates = self.config.usd_rates
        return (rates[currency] / rates[base]).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)

    def convert(self, amount: Decimal, base: str, currency: str) -> Decimal:
        return (amount * self.rate(base, currency)).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)

    # -- limits and faults ---------------------------------------------------------------------

    def check_limit(self, client_id: str, endpoint: str) -> int | None:
        """Seconds to wait if this call is over the endpoint's limit, else None (call recorded)."""
        if not self.limits_enabled:
            return None
        with self._lock:
            now = self.now()
            limits = self.config.limits
            rule = limits.for_endpoint(endpoint)
            wait = self.limiter.wait_for(f"{client_id}:{endpoint}", rule, now)
            if wait is None and endpoint == "checkout":
                wait = self.limiter.spacing(f"{client_id}:spacing", limits.checkout_spacing, now)
            if wait is None:
                self.limiter.record(f"{client_id}:{endpoint}", now)
            return wait

    def draw_fault(self) -> str | None:
        """Chaos: ``"429"``, ``"error"``, ``"timeout"`` or None for this vendor call."""
        with self._lock:
            faults = self.faults
            if faults.burst_429:
                if faults.burst_429 > 0:
                    faults.burst_429 -= 1
                return "429"
            if faults.error_rate and self._fault_rng.random() < faults.error_rate:
                return "error"
            if faults.timeout_rate and self._fault_rng.random() < faults.timeout_rate:
                return "timeout"
            return None

    # -- checkout ------------------------------------------------------------------------------

    def checkout(
        self, cred: Credential, body: Any, *, forced_timeout: bool = False
    ) -> CheckoutAccepted:
        """Validate and place an order, or raise Rejected / RateLimited / Unavailable."""
        if not cred.user_enabled:
            raise Rejected("UserNotEnabled")
        if not cred.catalog_exists:
            raise Rejected("ClientCatalogNotExist")
        fields = _lower_keys(body)
        raw_request_id = fields.get("requestid")
        try:
            request_key = _key(str(raw_request_id))
        except ValueError:
            raise Rejected("InvalidRequestId") from None
        request_id = str(raw_request_id)
        with self._lock:
            now = self.now()
            scope = (cred.client_name, cred.environment, request_key)
            self.checkout_attempts[request_key] += 1
            first_attempt = self.checkout_attempts[request_key] == 1
            if scope in self.orders:
                raise Rejected("OrderAlreadyExists")

            raw_lines = fields.get("products")
            if not isinstance(raw_lines, list) or not raw_lines:
                raise Rejected("NoProducts")
            account = self._account(cred, fields.get("accountid"))
            lines = [_parse_line(item) for item in raw_lines]
            if sum(quantity for _, _, quantity in lines) > self.config.cards_per_order:
                raise Rejected("CardsLimitExceeded")

            products: list[Product] = []
            scenarios: set[Scenario] = set()
            wanted: Counter[int] = Counter()
            for product_id, value, quantity in lines:
                product = self.catalog.by_id.get(product_id)
                if product is None:
                    raise Rejected("InvalidProductIds")
                if not product.is_active:
                    raise Rejected("InvalidProduct")
                if product.price_invalid:
                    raise Rejected("ClientPriceInvalid")
                if not product.min_face_value <= value <= product.max_face_value:
                    raise Rejected("InvalidDenomination")
                if product.is_range and value in MAGIC_FACE_VALUES:
                    scenarios.add(MAGIC_FACE_VALUES[value])
                if product.sku in SCENARIO_SKUS:
                    scenarios.add(SCENARIO_SKUS[product.sku])
                products.append(product)
                wanted[product_id] += quantity
            if Scenario.OUT_OF_STOCK in scenarios:
                raise Rejected("ProductIsOutOfStock")
            for product_id, quantity in wanted.items():
                count = self.catalog.by_id[product_id].count
                if count is not None and count < quantity:
                    raise Rejected("ProductIsOutOfStock")
            if first_attempt and Scenario.RATE_LIMITED in scenarios:
                raise RateLimited(self.config.scenario_retry_after_seconds)
            if first_attempt and Scenario.VENDOR_5XX in scenarios:
                raise Unavailable(503)
            if self.limits_enabled:
                rule = self.config.limits.orders_per_product
                for product_id in wanted:
                    key = f"{cred.client_id}:product:{product_id}"
                    wait = self.limiter.wait_for(key, rule, now)
                    if wait is not None:
                        raise RateLimited(wait)

            order_lines: list[OrderLine] = []
            rate = self.rate(products[0].currency, account.currency)
            for product, (_, value, quantity) in zip(products, lines, strict=True):
                unit_price = product.unit_price(value)
                unit_cost = self.convert(unit_price, product.currency, account.currency)
                order_lines.append(OrderLine(product, value, quantity, unit_price, unit_cost, []))
            debit = sum((line.unit_cost * line.quantity for line in order_lines), Decimal(0))
            if debit > account.balance:
                raise Rejected("InsufficientBalance")

            order = self._create_order(
                cred=cred,
                request_id=request_id,
                account=account,
                lines=order_lines,
                scenarios=scenarios,
                rate=rate,
                now=now,
            )
            self.orders[scope] = order
            self.order_counts[request_key] += 1
            if self.limits_enabled:
                for product_id in wanted:
                    self.limiter.record(f"{cred.client_id}:product:{product_id}", now)
            hang = Scenario.VENDOR_TIMEOUT in scenarios and first_attempt
            hang_seconds = self.config.timeout_hang_seconds if hang or forced_timeout else 0.0
            return CheckoutAccepted(request_id, hang_seconds)

    def _account(self, cred: Credential, raw_account_id: Any) -> Account:
        try:
            account_id = int(raw_account_id)
        except (TypeError, ValueError):
            raise Rejected("WrongAccount") from None
        account = self.accounts.get(account_id)
        if (
            account is None
            or not account.is_active
            or account.owner != cred.client_name
            or account.environment != cred.environment
        ):
            raise Rejected("WrongAccount")
        return account

    def _create_order(
        self,
        *,
        cred: Credential,
        request_id: str,
        account: Account,
        lines: list[OrderLine],
        scenarios: set[Scenario],
        rate: Decimal,
        now: datetime,
    ) -> Order:
        for line in lines:
            if line.product.count is not None:
                line.product.count -= line.quantity
            failing = 0
            if Scenario.FAIL in scenarios:
                failing = line.quantity
            elif Scenario.PARTIAL in scenarios and _line_triggers(line, Scenario.PARTIAL):
                failing = line.quantity - line.quantity // 2
            for index in range(line.quantity):
                line.cards.append(self._new_card(sold=index < line.quantity - failing))

        latency = timedelta(seconds=self.config.latency)
        slow = Scenario.SLOW in scenarios
        slow_latency = max(latency, timedelta(seconds=self.config.slow_seconds))
        final_at = now + (slow_latency if slow else latency)
        order = Order(
            order_id=self._next_order_id,
            request_id=request_id,
            client_name=cred.client_name,
            environment=cred.environment,
            account_id=account.id,
            currency=account.currency,
            exchange_rate=rate,
            lines=lines,
            created=now,
            processing_at=now + latency / 2,
            pending_at=now + latency if slow else None,
            final_at=final_at,
            scenarios=frozenset(scenarios),
        )
        self._next_order_id += 1
        debit = order.charged
        account.balance -= debit
        self._transaction(order, "Order", debit, account, now)
        return order

    def _new_card(self, *, sold: bool) -> Card:
        card = Card(
            id=self._next_card_id,
            serial_number=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            card_code=f"{self._rng.getrandbits(128):032x}",
            pin=f"{self._rng.randrange(1000):03d}",
            sold=sold,
        )
        self._next_card_id += 1
        return card

    def _transaction(
        self, order: Order, kind: str, amount: Decimal, account: Account, when: datetime
    ) -> None:
        self.transactions.append(
            Transaction(self._next_transaction_id, order, kind, amount, account.balance, when)
        )
        self._next_transaction_id += 1

    # -- lifecycle -----------------------------------------------------------------------------

    def advance(self) -> list[tuple[str, dict[str, Any]]]:
        """Finalise every order whose time has come; return the callbacks to send (url, body)."""
        callbacks: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            now = self.now()
            for order in self.orders.values():
                if order.finalized or now < order.final_at:
                    continue
                order.finalized = True
                self._settle(order)
                callback = self._callback_for(order)
                if callback is not None:
                    callbacks.append(callback)
        return callbacks

    def _settle(self, order: Order) -> None:
        failed = 0
        refund = Decimal(0)
        for line in order.lines:
            unsold = line.quantity - line.sold
            failed += unsold
            refund += line.unit_cost * unsold
            if unsold and line.product.count is not None:
                line.product.count += unsold
        if failed:
            order.error_message = f"{failed} of {order.total_cards} card(s) could not be purchased."
        if refund:
            account = self.accounts[order.account_id]
            account.balance += refund
            self._transaction(order, "Refund", -refund, account, order.final_at)

    def _callback_for(self, order: Order) -> tuple[str, dict[str, Any]] | None:
        config = self.client(order.client_name).notification
        sandbox = order.environment is Environment.SANDBOX
        url_key = "notificationUrlSandbox" if sandbox else "notificationUrl"
        url = config.get(url_key) or ""
        if not url:
            return None
        return url, {
            "orderId": order.order_id,
            "status": order.final_status().lower(),
            "totalCards": order.total_cards,
            "createdOn": format_datetime(order.created),
            "completedOn": format_datetime(order.final_at),
            "secretKey": config.get("secretKey") or "",
            "requestId": order.request_id,
        }

    # -- callbacks -----------------------------------------------------------------------------

    def deliver_later(self, callbacks: list[tuple[str, dict[str, Any]]]) -> None:
        """Send callbacks in background tasks of the running loop (errors are logged)."""
        loop = asyncio.get_running_loop()
        for url, body in callbacks:
            task = loop.create_task(self._deliver(url, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, body: dict[str, Any]) -> None:
        entry = await deliver_callback(
            url,
            body,
            timeout_seconds=self.config.callback_timeout,
            transport=self.config.callback_transport,
        )
        with self._lock:
            self.callback_log.append(entry)

    async def flush_callbacks(self) -> None:
        """Wait until every callback scheduled so far in this loop has been attempted."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def tick(self) -> None:
        """Finalise due orders and send their callbacks, waiting for delivery (handy in tests)."""
        self.deliver_later(self.advance())
        await self.flush_callbacks()


def _key(request_id: str) -> str:
    return str(uuid.UUID(request_id))


def _lower_keys(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Rejected("InvalidRequest")
    return {str(k).lower(): v for k, v in body.items()}


def _parse_line(item: Any) -> tuple[int, Decimal, int]:
    fields = _lower_keys(item)
    try:
        product_id = int(fields["productid"])
    except (KeyError, TypeError, ValueError):
        raise Rejected("InvalidProductIds") from None
    try:
        value = Decimal(str(fields["value"]))
    except (KeyError, ArithmeticError):
        raise Rejected("InvalidDenomination") from None
    if not value.is_finite():
        raise Rejected("InvalidDenomination")
    quantity = fields.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise Rejected("InvalidQuantity")
    return product_id, value, quantity


def _line_triggers(line: OrderLine, scenario: Scenario) -> bool:
    by_value = line.product.is_range and MAGIC_FACE_VALUES.get(line.face_value) is scenario
    return by_value or SCENARIO_SKUS.get(line.product.sku) is scenario
