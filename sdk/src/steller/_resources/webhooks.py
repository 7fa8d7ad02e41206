"""``client.webhook`` (your endpoint and its secret) and ``client.events`` (what was sent).

Verifying deliveries on your side is :func:`steller.webhooks.verify`.
"""

from __future__ import annotations

from collections.abc import Sequence

from steller._config import NOT_GIVEN, NotGiven, RequestOptions
from steller._http import encode_path
from steller._pagination import AsyncPaginator, SyncPage
from steller._response import async_to_raw_response_wrapper, to_raw_response_wrapper
from steller.models import (
    Event,
    EventDeliveryStatus,
    EventType,
    SecretRotateRequest,
    WebhookEndpoint,
    WebhookEndpointUpdate,
    WebhookSecret,
)

from ._base import AsyncAPIResource, DateTimeInput, SyncAPIResource, enum_value

__all__ = [
    "AsyncEvents",
    "AsyncEventsWithRawResponse",
    "AsyncWebhook",
    "AsyncWebhookWithRawResponse",
    "Events",
    "EventsWithRawResponse",
    "Webhook",
    "WebhookWithRawResponse",
]

_EVENT = "/api/partner/webhook/events/{id}"


def _endpoint_update(
    url: str, enabled: bool, event_types: Sequence[EventType | str] | NotGiven
) -> WebhookEndpointUpdate:
    types = None
    if not isinstance(event_types, NotGiven):
        types = [enum_value(EventType, t) for t in event_types]
    return WebhookEndpointUpdate(url=url, enabled=enabled, event_types=types)


def _event_filters(
    type: EventType | str | NotGiven,
    status: EventDeliveryStatus | str | NotGiven,
    from_: DateTimeInput | NotGiven,
    to: DateTimeInput | NotGiven,
    limit: int | NotGiven,
) -> dict[str, object]:
    return {"type": type, "status": status, "from": from_, "to": to, "limit": limit}


class Webhook(SyncAPIResource):
    """Your webhook endpoint (``client.webhook``)."""

    def get(self, *, options: RequestOptions | None = None) -> WebhookEndpoint:
        """The endpoint's URL, event types and status (``not_configured`` before the first PUT).

        ::

            endpoint = client.webhook.get()
            print(endpoint.url, endpoint.status)
        """
        return self._client.request(
            "GET", "/api/partner/webhook", cast_to=WebhookEndpoint, options=options
        )

    def update(
        self,
        *,
        url: str,
        enabled: bool = True,
        event_types: Sequence[EventType | str] | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> WebhookEndpoint:
        """Set the endpoint (all event types unless ``event_types`` is given).

        The response that first creates the endpoint carries its signing ``secret``: store it.

        ::

            endpoint = client.webhook.update(url="https://example.com/steller/webhooks")
            save_secret(endpoint.secret)
        """
        return self._client.request(
            "PUT",
            "/api/partner/webhook",
            json=_endpoint_update(url, enabled, event_types),
            cast_to=WebhookEndpoint,
            options=options,
        )

    def test(
        self,
        *,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Event:
        """Send a ``webhook.test`` event to the endpoint now.

        ::

            event = client.webhook.test()
            print(event.id, event.delivery_status)
        """
        return self._client.request(
            "POST",
            "/api/partner/webhook/test",
            cast_to=Event,
            idempotency_key=idempotency_key,
            options=options,
        )

    def rotate_secret(
        self,
        *,
        grace_period_hours: int = 24,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> WebhookSecret:
        """Issue a new signing secret; the old one keeps signing for ``grace_period_hours``.

        Verify with both secrets meanwhile: ``webhooks.verify(..., secret=[new, old])``.

        ::

            secret = client.webhook.rotate_secret(grace_period_hours=1)
            save_secret(secret.secret)
        """
        return self._client.request(
            "POST",
            "/api/partner/webhook/rotate-secret",
            json=SecretRotateRequest(grace_period_hours=grace_period_hours),
            cast_to=WebhookSecret,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> WebhookWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse` (headers, raw JSON)."""
        return WebhookWithRawResponse(self)


class WebhookWithRawResponse:
    """``client.webhook.with_raw_response``."""

    def __init__(self, webhook: Webhook) -> None:
        self.get = to_raw_response_wrapper(webhook.get)
        self.update = to_raw_response_wrapper(webhook.update)
        self.test = to_raw_response_wrapper(webhook.test)
        self.rotate_secret = to_raw_response_wrapper(webhook.rotate_secret)


class Events(SyncAPIResource):
    """Webhook events of the last 30 days and their delivery attempts (``client.events``)."""

    def list(
        self,
        *,
        type: EventType | str | NotGiven = NOT_GIVEN,
        status: EventDeliveryStatus | str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[Event]:
        """Events, newest first; ``status`` filters by delivery status.

        ::

            for event in client.events.list(status="failed"):
                client.events.redeliver(event.id)
        """
        return self._client.get_page(
            "/api/partner/webhook/events",
            item_type=Event,
            params=_event_filters(type, status, from_, to, limit),
            options=options,
        )

    def get(self, event_id: str, *, options: RequestOptions | None = None) -> Event:
        """One event with its payload and every delivery attempt.

        ::

            event = client.events.get("evt_3Jk8Lm2Np5Qr7St9")
        """
        return self._client.request(
            "GET", encode_path(_EVENT, id=event_id), cast_to=Event, options=options
        )

    def redeliver(
        self,
        event_id: str,
        *,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Event:
        """Deliver an event again now (deliveries are at least once: deduplicate on its id).

        ::

            client.events.redeliver("evt_3Jk8Lm2Np5Qr7St9")
        """
        return self._client.request(
            "POST",
            encode_path(_EVENT + "/redeliver", id=event_id),
            cast_to=Event,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> EventsWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse` (headers, raw JSON)."""
        return EventsWithRawResponse(self)


class EventsWithRawResponse:
    """``client.events.with_raw_response``."""

    def __init__(self, events: Events) -> None:
        self.list = to_raw_response_wrapper(events.list)
        self.get = to_raw_response_wrapper(events.get)
        self.redeliver = to_raw_response_wrapper(events.redeliver)


class AsyncWebhook(AsyncAPIResource):
    """Your webhook endpoint (``client.webhook`` of :class:`AsyncSteller`)."""

    async def get(self, *, options: RequestOptions | None = None) -> WebhookEndpoint:
        """The endpoint's URL, event types and status; see :meth:`Webhook.get`.

        ::

            endpoint = await client.webhook.get()
        """
        return await self._client.request(
            "GET", "/api/partner/webhook", cast_to=WebhookEndpoint, options=options
        )

    async def update(
        self,
        *,
        url: str,
        enabled: bool = True,
        event_types: Sequence[EventType | str] | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> WebhookEndpoint:
        """Set the endpoint; see :meth:`Webhook.update`.

        ::

            endpoint = await client.webhook.update(url="https://example.com/hooks")
        """
        return await self._client.request(
            "PUT",
            "/api/partner/webhook",
            json=_endpoint_update(url, enabled, event_types),
            cast_to=WebhookEndpoint,
            options=options,
        )

    async def test(
        self,
        *,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Event:
        """Send a ``webhook.test`` event now.

        ::

            event = await client.webhook.test()
        """
        return await self._client.request(
            "POST",
            "/api/partner/webhook/test",
            cast_to=Event,
            idempotency_key=idempotency_key,
            options=options,
        )

    async def rotate_secret(
        self,
        *,
        grace_period_hours: int = 24,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> WebhookSecret:
        """Issue a new signing secret; see :meth:`Webhook.rotate_secret`.

        ::

            secret = await client.webhook.rotate_secret(grace_period_hours=1)
        """
        return await self._client.request(
            "POST",
            "/api/partner/webhook/rotate-secret",
            json=SecretRotateRequest(grace_period_hours=grace_period_hours),
            cast_to=WebhookSecret,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncWebhookWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncWebhookWithRawResponse(self)


class AsyncWebhookWithRawResponse:
    """``client.webhook.with_raw_response`` of the async client."""

    def __init__(self, webhook: AsyncWebhook) -> None:
        self.get = async_to_raw_response_wrapper(webhook.get)
        self.update = async_to_raw_response_wrapper(webhook.update)
        self.test = async_to_raw_response_wrapper(webhook.test)
        self.rotate_secret = async_to_raw_response_wrapper(webhook.rotate_secret)


class AsyncEvents(AsyncAPIResource):
    """Webhook events (``client.events`` of :class:`AsyncSteller`)."""

    def list(
        self,
        *,
        type: EventType | str | NotGiven = NOT_GIVEN,
        status: EventDeliveryStatus | str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[Event]:
        """Events, newest first: await for one page, ``async for`` for all.

        ::

            async for event in client.events.list(status="failed"):
                await client.events.redeliver(event.id)
        """
        return self._client.get_page(
            "/api/partner/webhook/events",
            item_type=Event,
            params=_event_filters(type, status, from_, to, limit),
            options=options,
        )

    async def get(self, event_id: str, *, options: RequestOptions | None = None) -> Event:
        """One event with its delivery attempts.

        ::

            event = await client.events.get("evt_3Jk8Lm2Np5Qr7St9")
        """
        return await self._client.request(
            "GET", encode_path(_EVENT, id=event_id), cast_to=Event, options=options
        )

    async def redeliver(
        self,
        event_id: str,
        *,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Event:
        """Deliver an event again now.

        ::

            await client.events.redeliver("evt_3Jk8Lm2Np5Qr7St9")
        """
        return await self._client.request(
            "POST",
            encode_path(_EVENT + "/redeliver", id=event_id),
            cast_to=Event,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncEventsWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncEventsWithRawResponse(self)


class AsyncEventsWithRawResponse:
    """``client.events.with_raw_response`` of the async client."""

    def __init__(self, events: AsyncEvents) -> None:
        self.list = async_to_raw_response_wrapper(events.list)
        self.get = async_to_raw_response_wrapper(events.get)
        self.redeliver = async_to_raw_response_wrapper(events.redeliver)
