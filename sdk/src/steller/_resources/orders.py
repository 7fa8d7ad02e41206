"""``client.orders``: quote, place, fetch, list and trace gift-card orders; wait for one to finish.

An order is accepted at once (``202``, status ``processing``, wallet debited) and fulfilled in
the background; it then reaches one final status: ``completed``, ``partially_completed``,
``failed`` or ``cancelled`` (the undelivered part refunded). Either receive the webhook, or poll
with :meth:`Orders.create_and_wait`.
"""

from __future__ import annotations

import time
from typing import Final

from steller._config import NOT_GIVEN, NotGiven, RequestOptions
from steller._errors import StellerError
from steller._http import _async_sleep, _sleep, encode_path
from steller._pagination import AsyncPaginator, SyncPage
from steller._response import async_to_raw_response_wrapper, to_raw_response_wrapper
from steller.models import Order, OrderCreate, OrderStatus, OrderTrail, Quote, QuoteRequest

from ._base import (
    AmountInput,
    AsyncAPIResource,
    DateTimeInput,
    SyncAPIResource,
    amount,
    amount_or_none,
)

__all__ = [
    "FINAL_ORDER_STATUSES",
    "AsyncOrders",
    "AsyncOrdersWithRawResponse",
    "OrderWaitTimeout",
    "Orders",
    "OrdersWithRawResponse",
]

#: The statuses an order never leaves.
FINAL_ORDER_STATUSES: Final = frozenset(
    {
        OrderStatus.completed,
        OrderStatus.partially_completed,
        OrderStatus.failed,
        OrderStatus.cancelled,
    }
)

DEFAULT_WAIT_TIMEOUT: Final = 60.0
DEFAULT_POLL_INTERVAL: Final = 1.0
DEFAULT_MAX_POLL_INTERVAL: Final = 10.0
_POLL_BACKOFF: Final = 1.5


class OrderWaitTimeout(StellerError):
    """:meth:`Orders.create_and_wait` gave up before the order reached a final status.

    The order exists and is still being fulfilled (money already debited): keep its ``id`` and
    check it later with ``client.orders.get(err.order.id)``, or wait for its webhook::

        try:
            order = client.orders.create_and_wait(..., timeout=30)
        except steller.OrderWaitTimeout as err:
            remember_pending(err.order.id)

    Attributes:
        order: the last state of the order seen (status ``processing``).
        timeout: the time budget, in seconds, that ran out.
    """

    def __init__(self, order: Order, timeout: float) -> None:
        self.order = order
        self.timeout = timeout
        super().__init__(
            f"Order {order.id} is still {order.status} after {timeout:g} s;"
            f" it continues in the background (check it with orders.get({order.id!r}))"
        )


class _Poll:
    """The schedule of one wait: growing intervals, capped, within a time budget.

    Under :func:`steller.testing.instant_retries` the sleeps are skipped and recorded, and the
    budget is spent by the recorded sleeps as if they had happened.
    """

    def __init__(self, *, timeout: float, interval: float, max_interval: float) -> None:
        if timeout < 0 or interval <= 0 or max_interval <= 0:
            msg = "timeout must be >= 0 and poll intervals > 0"
            raise ValueError(msg)
        self.timeout = timeout
        self._interval = min(interval, max_interval)
        self._max_interval = max_interval
        self._started = time.monotonic()
        self._slept = 0.0

    def next_sleep(self) -> float | None:
        """Seconds to wait before the next poll, or ``None`` when the budget is spent."""
        elapsed = max(time.monotonic() - self._started, self._slept)
        remaining = self.timeout - elapsed
        if remaining <= 0:
            return None
        wait = min(self._interval, remaining)
        self._interval = min(self._interval * _POLL_BACKOFF, self._max_interval)
        self._slept += wait
        return wait


def _is_final(order: Order) -> bool:
    return order.status in FINAL_ORDER_STATUSES


def _order_create(
    sku: str,
    face_value: AmountInput,
    quantity: int,
    reference_id: str,
    expected_total: AmountInput | NotGiven,
) -> OrderCreate:
    return OrderCreate(
        sku=sku,
        face_value=amount("face_value", face_value),
        quantity=quantity,
        reference_id=reference_id,
        expected_total=amount_or_none("expected_total", expected_total),
    )


def _list_params(
    *,
    status: OrderStatus | str | NotGiven,
    reference_id: str | NotGiven,
    sku: str | NotGiven,
    from_: DateTimeInput | NotGiven,
    to: DateTimeInput | NotGiven,
    limit: int | NotGiven,
) -> dict[str, object]:
    return {
        "status": status,
        "referenceId": reference_id,
        "sku": sku,
        "from": from_,
        "to": to,
        "limit": limit,
    }


class Orders(SyncAPIResource):
    """Gift-card orders of the calling partner (``client.orders``)."""

    FINAL_STATUSES = FINAL_ORDER_STATUSES

    def quote(
        self,
        *,
        sku: str,
        face_value: AmountInput,
        quantity: int,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Quote:
        """Price an order without placing it (nothing is reserved).

        ::

            quote = client.orders.quote(sku="AMZ-US", face_value="50.00", quantity=2)
            print(quote.total, quote.currency, quote.sufficient_funds)
        """
        body = QuoteRequest(sku=sku, face_value=amount("face_value", face_value), quantity=quantity)
        return self._client.request(
            "POST",
            "/api/orders/quote",
            json=body,
            cast_to=Quote,
            idempotency_key=idempotency_key,
            options=options,
        )

    def create(
        self,
        *,
        sku: str,
        face_value: AmountInput,
        quantity: int,
        reference_id: str,
        expected_total: AmountInput | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Order:
        """Place an order; the wallet is debited at once and the order starts ``processing``.

        ``reference_id`` is your unique reference: sending the same order again returns the
        existing one (no second debit). ``expected_total`` refuses the order if the price went
        up (:class:`~steller.PriceAboveExpectedTotalError`). Retries reuse one Idempotency-Key.

        ::

            order = client.orders.create(
                sku="AMZ-US", face_value="50.00", quantity=1, reference_id="cart-1234"
            )
        """
        body = _order_create(sku, face_value, quantity, reference_id, expected_total)
        return self._client.request(
            "POST",
            "/api/orders",
            json=body,
            cast_to=Order,
            idempotency_key=idempotency_key,
            options=options,
        )

    def create_and_wait(
        self,
        *,
        sku: str,
        face_value: AmountInput,
        quantity: int,
        reference_id: str,
        expected_total: AmountInput | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        options: RequestOptions | None = None,
    ) -> Order:
        """Place an order and poll it until it reaches a final status; return it (with cards).

        Polls ``GET /api/orders/{id}`` after ``poll_interval`` seconds, then at intervals
        growing by half up to ``max_poll_interval``, for at most ``timeout`` seconds in all.
        Raises :class:`OrderWaitTimeout` (carrying the last order seen) when time runs out; the
        order is *not* cancelled. A failed order is returned, not raised: check its ``status``.

        ::

            order = client.orders.create_and_wait(
                sku="AMZ-US", face_value="50.00", quantity=1, reference_id="cart-1234"
            )
            if order.status == "completed":
                deliver(order.cards)
        """
        poll = _Poll(timeout=timeout, interval=poll_interval, max_interval=max_poll_interval)
        order = self.create(
            sku=sku,
            face_value=face_value,
            quantity=quantity,
            reference_id=reference_id,
            expected_total=expected_total,
            idempotency_key=idempotency_key,
            options=options,
        )
        while not _is_final(order):
            wait = poll.next_sleep()
            if wait is None:
                raise OrderWaitTimeout(order, timeout)
            _sleep(wait)
            order = self.get(order.id, options=options)
        return order

    def get(self, order_id: str, *, options: RequestOptions | None = None) -> Order:
        """Fetch one order; once completed it carries its ``cards`` (treat them as secrets).

        ::

            order = client.orders.get("ord_7Yq2LmN4pR8sT1vW")
        """
        return self._client.request(
            "GET", encode_path("/api/orders/{id}", id=order_id), cast_to=Order, options=options
        )

    def list(
        self,
        *,
        status: OrderStatus | str | NotGiven = NOT_GIVEN,
        reference_id: str | NotGiven = NOT_GIVEN,
        sku: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[Order]:
        """List orders, newest first (without cards); iterating walks every page.

        ``from_``/``to`` bound ``createdAt`` (inclusive/exclusive).

        ::

            for order in client.orders.list(status="failed", from_="2026-11-01T00:00:00Z"):
                print(order.id, order.failure_reason)
        """
        return self._client.get_page(
            "/api/orders",
            item_type=Order,
            params=_list_params(
                status=status,
                reference_id=reference_id,
                sku=sku,
                from_=from_,
                to=to,
                limit=limit,
            ),
            options=options,
        )

    def trail(self, order_id: str, *, options: RequestOptions | None = None) -> OrderTrail:
        """Where the money of an order went: wallet before and after, charge, refunds, ledger.

        ::

            print(client.orders.trail("ord_7Yq2LmN4pR8sT1vW").sentence)
        """
        return self._client.request(
            "GET",
            encode_path("/api/orders/{id}/trail", id=order_id),
            cast_to=OrderTrail,
            options=options,
        )

    @property
    def with_raw_response(self) -> OrdersWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse` (headers, raw JSON)."""
        return OrdersWithRawResponse(self)


class OrdersWithRawResponse:
    """``client.orders.with_raw_response``: each method returns an :class:`~steller.APIResponse`."""

    def __init__(self, orders: Orders) -> None:
        self.quote = to_raw_response_wrapper(orders.quote)
        self.create = to_raw_response_wrapper(orders.create)
        self.get = to_raw_response_wrapper(orders.get)
        self.list = to_raw_response_wrapper(orders.list)
        self.trail = to_raw_response_wrapper(orders.trail)


class AsyncOrders(AsyncAPIResource):
    """Gift-card orders of the calling partner (``client.orders`` of :class:`AsyncSteller`)."""

    FINAL_STATUSES = FINAL_ORDER_STATUSES

    async def quote(
        self,
        *,
        sku: str,
        face_value: AmountInput,
        quantity: int,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Quote:
        """Price an order without placing it; see :meth:`Orders.quote`.

        ::

            quote = await client.orders.quote(sku="AMZ-US", face_value="50.00", quantity=2)
        """
        body = QuoteRequest(sku=sku, face_value=amount("face_value", face_value), quantity=quantity)
        return await self._client.request(
            "POST",
            "/api/orders/quote",
            json=body,
            cast_to=Quote,
            idempotency_key=idempotency_key,
            options=options,
        )

    async def create(
        self,
        *,
        sku: str,
        face_value: AmountInput,
        quantity: int,
        reference_id: str,
        expected_total: AmountInput | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Order:
        """Place an order; see :meth:`Orders.create`.

        ::

            order = await client.orders.create(
                sku="AMZ-US", face_value="50.00", quantity=1, reference_id="cart-1234"
            )
        """
        body = _order_create(sku, face_value, quantity, reference_id, expected_total)
        return await self._client.request(
            "POST",
            "/api/orders",
            json=body,
            cast_to=Order,
            idempotency_key=idempotency_key,
            options=options,
        )

    async def create_and_wait(
        self,
        *,
        sku: str,
        face_value: AmountInput,
        quantity: int,
        reference_id: str,
        expected_total: AmountInput | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        timeout: float = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109 (the polling budget, by design)
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        options: RequestOptions | None = None,
    ) -> Order:
        """Place an order and poll it until final; see :meth:`Orders.create_and_wait`.

        ::

            order = await client.orders.create_and_wait(
                sku="AMZ-US", face_value="50.00", quantity=1, reference_id="cart-1234"
            )
        """
        poll = _Poll(timeout=timeout, interval=poll_interval, max_interval=max_poll_interval)
        order = await self.create(
            sku=sku,
            face_value=face_value,
            quantity=quantity,
            reference_id=reference_id,
            expected_total=expected_total,
            idempotency_key=idempotency_key,
            options=options,
        )
        while not _is_final(order):
            wait = poll.next_sleep()
            if wait is None:
                raise OrderWaitTimeout(order, timeout)
            await _async_sleep(wait)
            order = await self.get(order.id, options=options)
        return order

    async def get(self, order_id: str, *, options: RequestOptions | None = None) -> Order:
        """Fetch one order; see :meth:`Orders.get`.

        ::

            order = await client.orders.get("ord_7Yq2LmN4pR8sT1vW")
        """
        return await self._client.request(
            "GET", encode_path("/api/orders/{id}", id=order_id), cast_to=Order, options=options
        )

    def list(
        self,
        *,
        status: OrderStatus | str | NotGiven = NOT_GIVEN,
        reference_id: str | NotGiven = NOT_GIVEN,
        sku: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[Order]:
        """List orders, newest first: await for one page, or ``async for`` over all.

        ::

            async for order in client.orders.list(status="failed"):
                print(order.id)
        """
        return self._client.get_page(
            "/api/orders",
            item_type=Order,
            params=_list_params(
                status=status,
                reference_id=reference_id,
                sku=sku,
                from_=from_,
                to=to,
                limit=limit,
            ),
            options=options,
        )

    async def trail(self, order_id: str, *, options: RequestOptions | None = None) -> OrderTrail:
        """Where the money of an order went; see :meth:`Orders.trail`.

        ::

            print((await client.orders.trail("ord_7Yq2LmN4pR8sT1vW")).sentence)
        """
        return await self._client.request(
            "GET",
            encode_path("/api/orders/{id}/trail", id=order_id),
            cast_to=OrderTrail,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncOrdersWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncOrdersWithRawResponse(self)


class AsyncOrdersWithRawResponse:
    """``client.orders.with_raw_response`` of the async client."""

    def __init__(self, orders: AsyncOrders) -> None:
        self.quote = async_to_raw_response_wrapper(orders.quote)
        self.create = async_to_raw_response_wrapper(orders.create)
        self.get = async_to_raw_response_wrapper(orders.get)
        self.list = async_to_raw_response_wrapper(orders.list)
        self.trail = async_to_raw_response_wrapper(orders.trail)
