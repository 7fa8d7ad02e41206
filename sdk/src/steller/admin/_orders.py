"""``admin.orders``: every partner's orders, and the support actions on them."""

from __future__ import annotations

from steller._config import NOT_GIVEN, NotGiven, RequestOptions
from steller._http import encode_path
from steller._pagination import AsyncPaginator, SyncPage
from steller._resources._base import AsyncAPIResource, DateTimeInput, SyncAPIResource
from steller._response import async_to_raw_response_wrapper, to_raw_response_wrapper
from steller.models import AdminOrder, Event, Order, OrderActionRequest, OrderStatus

__all__ = ["AdminOrders", "AsyncAdminOrders"]

_ORDER = "/api/admin/orders/{id}"


def _filters(
    *,
    partner_id: str | NotGiven,
    status: OrderStatus | str | NotGiven,
    sku: str | NotGiven,
    from_: DateTimeInput | NotGiven,
    to: DateTimeInput | NotGiven,
    limit: int | NotGiven,
) -> dict[str, object]:
    return {
        "partnerId": partner_id,
        "status": status,
        "sku": sku,
        "from": from_,
        "to": to,
        "limit": limit,
    }


class AdminOrders(SyncAPIResource):
    """``admin.orders``: list, inspect, cancel, refund, fail stuck orders, re-send webhooks."""

    def list(
        self,
        *,
        partner_id: str | NotGiven = NOT_GIVEN,
        status: OrderStatus | str | NotGiven = NOT_GIVEN,
        sku: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[AdminOrder]:
        """Orders of every partner, newest first (never with cards).

        ::

            for order in admin.orders.list(status="processing"):
                print(order.id, order.partner_name, order.vendor_status)
        """
        return self._client.get_page(
            "/api/admin/orders",
            item_type=AdminOrder,
            params=_filters(
                partner_id=partner_id, status=status, sku=sku, from_=from_, to=to, limit=limit
            ),
            options=options,
        )

    def get(self, order_id: str, *, options: RequestOptions | None = None) -> AdminOrder:
        """One order with its vendor details and event ids.

        ::

            order = admin.orders.get("ord_7Yq2LmN4pR8sT1vW")
        """
        return self._client.request(
            "GET", encode_path(_ORDER, id=order_id), cast_to=AdminOrder, options=options
        )

    def cancel(
        self,
        order_id: str,
        *,
        reason: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Order:
        """Cancel an order not yet submitted to the vendor, and refund it (else 409).

        ::

            admin.orders.cancel("ord_7Yq2LmN4pR8sT1vW", reason="Partner asked, ticket 4411")
        """
        return self._action(order_id, "cancel", reason, idempotency_key, options)

    def refund(
        self,
        order_id: str,
        *,
        reason: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Order:
        """Refund what is not yet refunded of a completed or partial order (exactly once).

        ::

            admin.orders.refund("ord_7Yq2LmN4pR8sT1vW", reason="Codes reported invalid")
        """
        return self._action(order_id, "refund", reason, idempotency_key, options)

    def mark_failed_and_refund(
        self,
        order_id: str,
        *,
        reason: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Order:
        """Fail a stuck ``processing`` order and refund it in full.

        ::

            admin.orders.mark_failed_and_refund("ord_7Yq2LmN4pR8sT1vW", reason="Vendor lost it")
        """
        return self._action(order_id, "mark-failed-and-refund", reason, idempotency_key, options)

    def retry_webhook(
        self,
        order_id: str,
        *,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Event:
        """Deliver the order's final event to the partner again.

        ::

            event = admin.orders.retry_webhook("ord_7Yq2LmN4pR8sT1vW")
        """
        return self._client.request(
            "POST",
            encode_path(_ORDER + "/retry-webhook", id=order_id),
            cast_to=Event,
            idempotency_key=idempotency_key,
            options=options,
        )

    def _action(
        self,
        order_id: str,
        action: str,
        reason: str,
        idempotency_key: str | NotGiven | None,
        options: RequestOptions | None,
    ) -> Order:
        return self._client.request(
            "POST",
            encode_path(_ORDER + "/" + action, id=order_id),
            json=OrderActionRequest(reason=reason),
            cast_to=Order,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> AdminOrdersWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return AdminOrdersWithRawResponse(self)


class AdminOrdersWithRawResponse:
    """``admin.orders.with_raw_response``."""

    def __init__(self, orders: AdminOrders) -> None:
        self.list = to_raw_response_wrapper(orders.list)
        self.get = to_raw_response_wrapper(orders.get)
        self.cancel = to_raw_response_wrapper(orders.cancel)
        self.refund = to_raw_response_wrapper(orders.refund)
        self.mark_failed_and_refund = to_raw_response_wrapper(orders.mark_failed_and_refund)
        self.retry_webhook = to_raw_response_wrapper(orders.retry_webhook)


class AsyncAdminOrders(AsyncAPIResource):
    """``admin.orders`` of the async admin client."""

    def list(
        self,
        *,
        partner_id: str | NotGiven = NOT_GIVEN,
        status: OrderStatus | str | NotGiven = NOT_GIVEN,
        sku: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[AdminOrder]:
        """Orders of every partner, newest first.

        ::

            async for order in admin.orders.list(status="processing"):
                print(order.id)
        """
        return self._client.get_page(
            "/api/admin/orders",
            item_type=AdminOrder,
            params=_filters(
                partner_id=partner_id, status=status, sku=sku, from_=from_, to=to, limit=limit
            ),
            options=options,
        )

    async def get(self, order_id: str, *, options: RequestOptions | None = None) -> AdminOrder:
        """One order with its vendor details.

        ::

            order = await admin.orders.get("ord_7Yq2LmN4pR8sT1vW")
        """
        return await self._client.request(
            "GET", encode_path(_ORDER, id=order_id), cast_to=AdminOrder, options=options
        )

    async def cancel(
        self,
        order_id: str,
        *,
        reason: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Order:
        """Cancel an order; see :meth:`AdminOrders.cancel`.

        ::

            await admin.orders.cancel("ord_7Yq2LmN4pR8sT1vW", reason="Ticket 4411")
        """
        return await self._action(order_id, "cancel", reason, idempotency_key, options)

    async def refund(
        self,
        order_id: str,
        *,
        reason: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Order:
        """Refund an order; see :meth:`AdminOrders.refund`.

        ::

            await admin.orders.refund("ord_7Yq2LmN4pR8sT1vW", reason="Codes invalid")
        """
        return await self._action(order_id, "refund", reason, idempotency_key, options)

    async def mark_failed_and_refund(
        self,
        order_id: str,
        *,
        reason: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Order:
        """Fail a stuck order and refund it; see :meth:`AdminOrders.mark_failed_and_refund`.

        ::

            await admin.orders.mark_failed_and_refund("ord_7Yq2LmN4pR8sT1vW", reason="Stuck")
        """
        return await self._action(
            order_id, "mark-failed-and-refund", reason, idempotency_key, options
        )

    async def retry_webhook(
        self,
        order_id: str,
        *,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Event:
        """Deliver the order's final event again.

        ::

            event = await admin.orders.retry_webhook("ord_7Yq2LmN4pR8sT1vW")
        """
        return await self._client.request(
            "POST",
            encode_path(_ORDER + "/retry-webhook", id=order_id),
            cast_to=Event,
            idempotency_key=idempotency_key,
            options=options,
        )

    async def _action(
        self,
        order_id: str,
        action: str,
        reason: str,
        idempotency_key: str | NotGiven | None,
        options: RequestOptions | None,
    ) -> Order:
        return await self._client.request(
            "POST",
            encode_path(_ORDER + "/" + action, id=order_id),
            json=OrderActionRequest(reason=reason),
            cast_to=Order,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncAdminOrdersWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncAdminOrdersWithRawResponse(self)


class AsyncAdminOrdersWithRawResponse:
    """``admin.orders.with_raw_response`` of the async admin client."""

    def __init__(self, orders: AsyncAdminOrders) -> None:
        self.list = async_to_raw_response_wrapper(orders.list)
        self.get = async_to_raw_response_wrapper(orders.get)
        self.cancel = async_to_raw_response_wrapper(orders.cancel)
        self.refund = async_to_raw_response_wrapper(orders.refund)
        self.mark_failed_and_refund = async_to_raw_response_wrapper(orders.mark_failed_and_refund)
        self.retry_webhook = async_to_raw_response_wrapper(orders.retry_webhook)
