"""``client.me`` (your partner profile), ``client.keys`` (API keys), ``client.logs`` (requests)."""

from __future__ import annotations

from collections.abc import Sequence

from steller._config import NOT_GIVEN, NotGiven, RequestOptions
from steller._http import encode_path
from steller._pagination import AsyncPaginator, SyncPage
from steller._response import async_to_raw_response_wrapper, to_raw_response_wrapper
from steller.models import (
    ApiKey,
    ApiKeyRole,
    CreatedApiKey,
    HttpMethod,
    KeyRotateRequest,
    NotificationSettingsUpdate,
    Partner,
    PartnerUpdate,
    RequestLog,
)

from ._base import (
    AmountInput,
    AsyncAPIResource,
    DateTimeInput,
    SyncAPIResource,
    amount_or_none,
    enum_value,
    given,
)

__all__ = [
    "AsyncKeys",
    "AsyncKeysWithRawResponse",
    "AsyncLogs",
    "AsyncLogsWithRawResponse",
    "AsyncMe",
    "AsyncMeWithRawResponse",
    "Keys",
    "KeysWithRawResponse",
    "Logs",
    "LogsWithRawResponse",
    "Me",
    "MeWithRawResponse",
]

_ME = "/api/partner/me"


def _partner_update(
    name: str | NotGiven,
    low_balance_threshold: AmountInput | NotGiven,
    notifications: NotificationSettingsUpdate | NotGiven,
) -> PartnerUpdate:
    return PartnerUpdate(
        name=given(name),
        low_balance_threshold=amount_or_none("low_balance_threshold", low_balance_threshold),
        notifications=given(notifications),
    )


def _key_rotate(
    grace_period_hours: int,
    role: ApiKeyRole | str | NotGiven,
    ip_allowlist: Sequence[str] | NotGiven,
) -> KeyRotateRequest:
    return KeyRotateRequest(
        grace_period_hours=grace_period_hours,
        role=None if isinstance(role, NotGiven) else enum_value(ApiKeyRole, role),
        ip_allowlist=None if isinstance(ip_allowlist, NotGiven) else [*ip_allowlist],
    )


def _log_filters(
    *,
    method: HttpMethod | str | NotGiven,
    status: int | NotGiven,
    path_prefix: str | NotGiven,
    request_id: str | NotGiven,
    from_: DateTimeInput | NotGiven,
    to: DateTimeInput | NotGiven,
    limit: int | NotGiven,
) -> dict[str, object]:
    return {
        "method": method,
        "status": status,
        "pathPrefix": path_prefix,
        "requestId": request_id,
        "from": from_,
        "to": to,
        "limit": limit,
    }


class Me(SyncAPIResource):
    """The calling partner (``client.me``)."""

    def get(self, *, options: RequestOptions | None = None) -> Partner:
        """Your partner profile: name, status, environment, currency, notification settings.

        ::

            me = client.me.get()
            print(me.name, me.environment, me.api_version)
        """
        return self._client.request("GET", _ME, cast_to=Partner, options=options)

    def update(
        self,
        *,
        name: str | NotGiven = NOT_GIVEN,
        low_balance_threshold: AmountInput | NotGiven = NOT_GIVEN,
        notifications: NotificationSettingsUpdate | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Partner:
        """Change your profile; arguments left out keep their value.

        ::

            from steller.models import NotificationSettingsUpdate

            client.me.update(
                low_balance_threshold="100.00",
                notifications=NotificationSettingsUpdate(emails=["ops@example.com"]),
            )
        """
        return self._client.request(
            "PATCH",
            _ME,
            json=_partner_update(name, low_balance_threshold, notifications),
            cast_to=Partner,
            options=options,
        )

    @property
    def with_raw_response(self) -> MeWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse` (headers, raw JSON)."""
        return MeWithRawResponse(self)


class MeWithRawResponse:
    """``client.me.with_raw_response``."""

    def __init__(self, me: Me) -> None:
        self.get = to_raw_response_wrapper(me.get)
        self.update = to_raw_response_wrapper(me.update)


class Keys(SyncAPIResource):
    """Your API keys (``client.keys``). Secrets are shown only when a key is created."""

    def list(
        self, *, limit: int | NotGiven = NOT_GIVEN, options: RequestOptions | None = None
    ) -> SyncPage[ApiKey]:
        """Your keys, newest first (prefix and last four characters only).

        ::

            for key in client.keys.list():
                print(key.id, key.role, key.status, key.last_used_at)
        """
        return self._client.get_page(
            "/api/partner/keys", item_type=ApiKey, params={"limit": limit}, options=options
        )

    def rotate(
        self,
        *,
        grace_period_hours: int = 24,
        role: ApiKeyRole | str | NotGiven = NOT_GIVEN,
        ip_allowlist: Sequence[str] | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> CreatedApiKey:
        """Replace the calling key with a new one; the old key keeps working for
        ``grace_period_hours`` (0 revokes it at once). Store ``.key``: it is shown only here.

        ::

            new = client.keys.rotate(grace_period_hours=1)
            save_secret(new.key)
            client = client.with_options(api_key=new.key)
        """
        return self._client.request(
            "POST",
            "/api/partner/keys/rotate",
            json=_key_rotate(grace_period_hours, role, ip_allowlist),
            cast_to=CreatedApiKey,
            idempotency_key=idempotency_key,
            options=options,
        )

    def revoke(self, key_id: str, *, options: RequestOptions | None = None) -> None:
        """Revoke a key at once.

        ::

            client.keys.revoke("key_9Hs2Kd7Lq4Wm1Xz8")
        """
        return self._client.request(
            "DELETE", encode_path("/api/partner/keys/{id}", id=key_id), options=options
        )

    @property
    def with_raw_response(self) -> KeysWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse` (headers, raw JSON)."""
        return KeysWithRawResponse(self)


class KeysWithRawResponse:
    """``client.keys.with_raw_response``."""

    def __init__(self, keys: Keys) -> None:
        self.list = to_raw_response_wrapper(keys.list)
        self.rotate = to_raw_response_wrapper(keys.rotate)
        self.revoke = to_raw_response_wrapper(keys.revoke)


class Logs(SyncAPIResource):
    """Your API requests of the last 30 days (``client.logs``)."""

    def list(
        self,
        *,
        method: HttpMethod | str | NotGiven = NOT_GIVEN,
        status: int | NotGiven = NOT_GIVEN,
        path_prefix: str | NotGiven = NOT_GIVEN,
        request_id: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[RequestLog]:
        """Request logs, newest first; find a request by the id an error carried.

        ::

            for log in client.logs.list(status=422, path_prefix="/api/orders"):
                print(log.request_id, log.path, log.latency_ms)
        """
        return self._client.get_page(
            "/api/partner/logs",
            item_type=RequestLog,
            params=_log_filters(
                method=method,
                status=status,
                path_prefix=path_prefix,
                request_id=request_id,
                from_=from_,
                to=to,
                limit=limit,
            ),
            options=options,
        )

    @property
    def with_raw_response(self) -> LogsWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse` (headers, raw JSON)."""
        return LogsWithRawResponse(self)


class LogsWithRawResponse:
    """``client.logs.with_raw_response``."""

    def __init__(self, logs: Logs) -> None:
        self.list = to_raw_response_wrapper(logs.list)


class AsyncMe(AsyncAPIResource):
    """The calling partner (``client.me`` of :class:`AsyncSteller`)."""

    async def get(self, *, options: RequestOptions | None = None) -> Partner:
        """Your partner profile; see :meth:`Me.get`.

        ::

            me = await client.me.get()
        """
        return await self._client.request("GET", _ME, cast_to=Partner, options=options)

    async def update(
        self,
        *,
        name: str | NotGiven = NOT_GIVEN,
        low_balance_threshold: AmountInput | NotGiven = NOT_GIVEN,
        notifications: NotificationSettingsUpdate | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Partner:
        """Change your profile; see :meth:`Me.update`.

        ::

            await client.me.update(low_balance_threshold="100.00")
        """
        return await self._client.request(
            "PATCH",
            _ME,
            json=_partner_update(name, low_balance_threshold, notifications),
            cast_to=Partner,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncMeWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncMeWithRawResponse(self)


class AsyncMeWithRawResponse:
    """``client.me.with_raw_response`` of the async client."""

    def __init__(self, me: AsyncMe) -> None:
        self.get = async_to_raw_response_wrapper(me.get)
        self.update = async_to_raw_response_wrapper(me.update)


class AsyncKeys(AsyncAPIResource):
    """Your API keys (``client.keys`` of :class:`AsyncSteller`)."""

    def list(
        self, *, limit: int | NotGiven = NOT_GIVEN, options: RequestOptions | None = None
    ) -> AsyncPaginator[ApiKey]:
        """Your keys, newest first: await for one page, ``async for`` for all.

        ::

            async for key in client.keys.list():
                print(key.id, key.status)
        """
        return self._client.get_page(
            "/api/partner/keys", item_type=ApiKey, params={"limit": limit}, options=options
        )

    async def rotate(
        self,
        *,
        grace_period_hours: int = 24,
        role: ApiKeyRole | str | NotGiven = NOT_GIVEN,
        ip_allowlist: Sequence[str] | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> CreatedApiKey:
        """Replace the calling key; see :meth:`Keys.rotate`.

        ::

            new = await client.keys.rotate(grace_period_hours=1)
        """
        return await self._client.request(
            "POST",
            "/api/partner/keys/rotate",
            json=_key_rotate(grace_period_hours, role, ip_allowlist),
            cast_to=CreatedApiKey,
            idempotency_key=idempotency_key,
            options=options,
        )

    async def revoke(self, key_id: str, *, options: RequestOptions | None = None) -> None:
        """Revoke a key at once.

        ::

            await client.keys.revoke("key_9Hs2Kd7Lq4Wm1Xz8")
        """
        return await self._client.request(
            "DELETE", encode_path("/api/partner/keys/{id}", id=key_id), options=options
        )

    @property
    def with_raw_response(self) -> AsyncKeysWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncKeysWithRawResponse(self)


class AsyncKeysWithRawResponse:
    """``client.keys.with_raw_response`` of the async client."""

    def __init__(self, keys: AsyncKeys) -> None:
        self.list = async_to_raw_response_wrapper(keys.list)
        self.rotate = async_to_raw_response_wrapper(keys.rotate)
        self.revoke = async_to_raw_response_wrapper(keys.revoke)


class AsyncLogs(AsyncAPIResource):
    """Your API requests of the last 30 days (``client.logs`` of :class:`AsyncSteller`)."""

    def list(
        self,
        *,
        method: HttpMethod | str | NotGiven = NOT_GIVEN,
        status: int | NotGiven = NOT_GIVEN,
        path_prefix: str | NotGiven = NOT_GIVEN,
        request_id: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[RequestLog]:
        """Request logs, newest first: await for one page, ``async for`` for all.

        ::

            async for log in client.logs.list(status=422):
                print(log.request_id)
        """
        return self._client.get_page(
            "/api/partner/logs",
            item_type=RequestLog,
            params=_log_filters(
                method=method,
                status=status,
                path_prefix=path_prefix,
                request_id=request_id,
                from_=from_,
                to=to,
                limit=limit,
            ),
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncLogsWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncLogsWithRawResponse(self)


class AsyncLogsWithRawResponse:
    """``client.logs.with_raw_response`` of the async client."""

    def __init__(self, logs: AsyncLogs) -> None:
        self.list = async_to_raw_response_wrapper(logs.list)
