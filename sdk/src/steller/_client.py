"""The partner clients: :class:`Steller` (sync, on ``httpx.Client``) and :class:`AsyncSteller`.

Both have the same resources and method names; the async ones are coroutines, and list methods
return an :class:`~steller.AsyncPaginator` (await it, or ``async for`` over it)::

    with Steller(api_key="stlr_test_…", environment="sandbox") as client:
        order = client.orders.create_and_wait(
            sku="AMZ-US", face_value="50.00", quantity=1, reference_id="cart-1234"
        )

Configuration is read when a client is built (arguments first, then ``STELLER_API_KEY`` and
``STELLER_BASE_URL``); nothing is kept at module level, so clients with different keys,
servers or settings live side by side. ``with_options()`` makes cheap copies that share the
connection pool.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from typing import Final, Self

import cattrs
import httpx

from ._config import (
    LIVE_BASE_URL,
    NOT_GIVEN,
    Environment,
    NotGiven,
    RetryPolicy,
    TimeoutTypes,
    base_url_for,
)
from ._errors import StellerError
from ._http import AsyncAPIClient, SyncAPIClient
from ._resources.catalog import AsyncCatalog, Catalog
from ._resources.orders import AsyncOrders, Orders
from ._resources.partner import AsyncKeys, AsyncLogs, AsyncMe, Keys, Logs, Me
from ._resources.public import AsyncPublic, Public
from ._resources.reporting import AsyncStatements, AsyncUsage, Statements, Usage
from ._resources.wallet import AsyncWallet, Wallet
from ._resources.webhooks import AsyncEvents, AsyncWebhook, Events, Webhook
from .models import Health, SignupResponse, StatusPage, WalletCurrency, make_converter

__all__ = [
    "API_VERSION",
    "AsyncSteller",
    "Steller",
    "resolve_base_url",
    "resolve_credential",
    "signup",
    "version_header",
]

#: The API version this SDK's models describe, sent as ``Steller-Version`` by default.
API_VERSION: Final = "2026-11-01"

API_KEY_ENV: Final = "STELLER_API_KEY"
BASE_URL_ENV: Final = "STELLER_BASE_URL"


def resolve_base_url(
    base_url: str | httpx.URL | None,
    environment: Environment | None,
    http_client: httpx.Client | httpx.AsyncClient | None,
) -> str | httpx.URL:
    """The API root: ``base_url``, else ``environment``, else the ``http_client``'s own base
    URL, else ``$STELLER_BASE_URL``, else live."""
    if base_url is not None and environment is not None:
        msg = "pass either base_url= or environment=, not both"
        raise ValueError(msg)
    if base_url is not None:
        return base_url
    if environment is not None:
        return base_url_for(environment)
    if http_client is not None and str(http_client.base_url):
        return http_client.base_url
    return os.environ.get(BASE_URL_ENV) or LIVE_BASE_URL


def resolve_credential(value: str | None, env: str, argument: str) -> str:
    """``value``, else the environment variable ``env``; a clear error when neither is set."""
    resolved = value if value is not None else os.environ.get(env)
    if not resolved:
        msg = (
            f"No credentials: pass {argument}= to the client or set the {env} environment variable"
        )
        raise StellerError(msg)
    return resolved


def version_header(steller_version: str | NotGiven | None) -> str | None:
    """The ``Steller-Version`` to send: :data:`API_VERSION` unless the caller chose one."""
    return API_VERSION if isinstance(steller_version, NotGiven) else steller_version


class Steller:
    """The Steller partner API client (synchronous).

    Args:
        api_key: your API key (``stlr_test_…`` or ``stlr_live_…``); default
            ``$STELLER_API_KEY``. Missing: :class:`~steller.StellerError`.
        base_url: the API root; default ``environment``'s, else ``http_client.base_url``,
            else ``$STELLER_BASE_URL``, else live.
        environment: ``"sandbox"`` (a local ``steller-server sandbox``) or ``"live"``.
        timeout: seconds, a :class:`~steller.Timeout` or ``None``; per attempt.
        max_retries: retries after the first attempt (see :class:`~steller.RetryPolicy`).
        retry: the full retry policy.
        default_headers: extra headers sent with every request.
        steller_version: the ``Steller-Version`` to request; default :data:`API_VERSION` (the
            version this SDK's models describe); ``None`` uses your account's pinned version.
        strict: refuse unknown response fields and enum values instead of tolerating them
            (:class:`~steller.APIResponseValidationError` names each): for contract tests.
        http_client: your own ``httpx.Client`` (your pool limits, proxies, event hooks); the
            SDK never closes it.
        transport: an httpx transport for a client the SDK creates: ``httpx.MockTransport``
            in unit tests, or any sync ``httpx.BaseTransport`` (``httpx.ASGITransport`` is
            async-only; use it with :class:`AsyncSteller` to test against an ASGI app).

    ::

        client = Steller(api_key="stlr_test_…", environment="sandbox")
        print(client.wallet.get().balance)
        client.close()  # or use ``with Steller(...) as client:``
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        environment: Environment | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        steller_version: str | NotGiven | None = NOT_GIVEN,
        strict: bool = False,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._api = SyncAPIClient(
            base_url=resolve_base_url(base_url, environment, http_client),
            api_key=resolve_credential(api_key, API_KEY_ENV, "api_key"),
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=version_header(steller_version),
            converter=make_converter(strict=strict),
            http_client=http_client,
            transport=transport,
        )

    @classmethod
    def signup(
        cls,
        *,
        name: str,
        email: str,
        currency: WalletCurrency | str = WalletCurrency.usd,
        company: str | NotGiven = NOT_GIVEN,
        base_url: str | httpx.URL | None = None,
        environment: Environment | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        steller_version: str | NotGiven | None = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> SignupResponse:
        """Sign up as a partner (no key needed); the response holds your first API key.

        The key's secret is shown only in this response: store it.

        ::

            account = Steller.signup(name="Acme", email="dev@acme.example", environment="sandbox")
            client = Steller(api_key=account.api_key.key, environment="sandbox")
        """
        api = SyncAPIClient(
            base_url=resolve_base_url(base_url, environment, http_client),
            timeout=timeout,
            max_retries=max_retries,
            steller_version=version_header(steller_version),
            converter=make_converter(strict=False),
            http_client=http_client,
            transport=transport,
        )
        with api:
            return Public(api).signup(
                name=name,
                email=email,
                currency=currency,
                company=company,
                idempotency_key=idempotency_key,
            )

    # -- resources --------------------------------------------------------------------------

    @cached_property
    def catalog(self) -> Catalog:
        """The products you may sell, with your prices."""
        return Catalog(self._api)

    @cached_property
    def orders(self) -> Orders:
        """Quote, place, fetch, list and trace orders."""
        return Orders(self._api)

    @cached_property
    def wallet(self) -> Wallet:
        """Balance, ledger and CSV export."""
        return Wallet(self._api)

    @cached_property
    def usage(self) -> Usage:
        """Usage figures over the last days."""
        return Usage(self._api)

    @cached_property
    def statements(self) -> Statements:
        """Monthly statements (JSON or CSV)."""
        return Statements(self._api)

    @cached_property
    def webhook(self) -> Webhook:
        """Your webhook endpoint and its signing secret."""
        return Webhook(self._api)

    @cached_property
    def events(self) -> Events:
        """Webhook events and their deliveries."""
        return Events(self._api)

    @cached_property
    def keys(self) -> Keys:
        """Your API keys."""
        return Keys(self._api)

    @cached_property
    def logs(self) -> Logs:
        """Your API request logs."""
        return Logs(self._api)

    @cached_property
    def me(self) -> Me:
        """Your partner profile."""
        return Me(self._api)

    @cached_property
    def public(self) -> Public:
        """Unauthenticated endpoints: health, readiness, status page."""
        return Public(self._api)

    def health(self) -> Health:
        """Liveness of the API (shortcut for ``client.public.health()``)."""
        return self.public.health()

    def status(self) -> StatusPage:
        """The public status page (shortcut for ``client.public.status()``)."""
        return self.public.status()

    # -- configuration ----------------------------------------------------------------------

    @property
    def base_url(self) -> httpx.URL:
        """The API root every request goes to."""
        return self._api.base_url

    @property
    def timeout(self) -> httpx.Timeout:
        """The default timeout of each attempt."""
        return self._api.timeout

    @property
    def retry_policy(self) -> RetryPolicy:
        """The default retry policy."""
        return self._api.retry_policy

    @property
    def http_client(self) -> httpx.Client:
        """The underlying ``httpx.Client`` (shared by ``with_options`` copies)."""
        return self._api.http_client

    @property
    def converter(self) -> cattrs.Converter:
        """The converter between JSON and :mod:`steller.models` this client uses."""
        return self._api.converter

    def with_options(
        self,
        *,
        api_key: str | NotGiven = NOT_GIVEN,
        base_url: str | httpx.URL | NotGiven = NOT_GIVEN,
        environment: Environment | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        steller_version: str | NotGiven | None = NOT_GIVEN,
    ) -> Self:
        """A cheap copy with some settings changed; it shares the connection pool, and
        closing it never closes the shared client.

        ::

            patient = client.with_options(timeout=120, max_retries=5)
            other = client.with_options(api_key=new_key)
        """
        if not isinstance(environment, NotGiven):
            if not isinstance(base_url, NotGiven):
                msg = "pass either base_url= or environment=, not both"
                raise ValueError(msg)
            base_url = base_url_for(environment)
        new = object.__new__(type(self))
        new._api = self._api.with_options(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=steller_version,
        )
        return new

    copy = with_options

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client if this object created it (never one you passed in)."""
        self._api.close()

    @property
    def is_closed(self) -> bool:
        """Whether the underlying HTTP client is closed."""
        return self._api.is_closed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_url={str(self.base_url)!r}>"


class AsyncSteller:
    """The Steller partner API client (asyncio); same arguments as :class:`Steller`, with an
    ``httpx.AsyncClient`` and an async transport.

    ::

        async with AsyncSteller(api_key="stlr_test_…", environment="sandbox") as client:
            wallet = await client.wallet.get()
            async for order in client.orders.list(status="completed"):
                ...

    In tests, ``transport=httpx.ASGITransport(app=app)`` (with any ``base_url``) runs the
    client against an ASGI app in-process.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        environment: Environment | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        steller_version: str | NotGiven | None = NOT_GIVEN,
        strict: bool = False,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._api = AsyncAPIClient(
            base_url=resolve_base_url(base_url, environment, http_client),
            api_key=resolve_credential(api_key, API_KEY_ENV, "api_key"),
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=version_header(steller_version),
            converter=make_converter(strict=strict),
            http_client=http_client,
            transport=transport,
        )

    @classmethod
    async def signup(
        cls,
        *,
        name: str,
        email: str,
        currency: WalletCurrency | str = WalletCurrency.usd,
        company: str | NotGiven = NOT_GIVEN,
        base_url: str | httpx.URL | None = None,
        environment: Environment | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,  # noqa: ASYNC109 (HTTP timeouts, per attempt)
        max_retries: int | NotGiven = NOT_GIVEN,
        steller_version: str | NotGiven | None = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> SignupResponse:
        """Sign up as a partner; see :meth:`Steller.signup`.

        ::

            account = await AsyncSteller.signup(name="Acme", email="dev@acme.example")
        """
        api = AsyncAPIClient(
            base_url=resolve_base_url(base_url, environment, http_client),
            timeout=timeout,
            max_retries=max_retries,
            steller_version=version_header(steller_version),
            converter=make_converter(strict=False),
            http_client=http_client,
            transport=transport,
        )
        async with api:
            return await AsyncPublic(api).signup(
                name=name,
                email=email,
                currency=currency,
                company=company,
                idempotency_key=idempotency_key,
            )

    # -- resources --------------------------------------------------------------------------

    @cached_property
    def catalog(self) -> AsyncCatalog:
        """The products you may sell, with your prices."""
        return AsyncCatalog(self._api)

    @cached_property
    def orders(self) -> AsyncOrders:
        """Quote, place, fetch, list and trace orders."""
        return AsyncOrders(self._api)

    @cached_property
    def wallet(self) -> AsyncWallet:
        """Balance, ledger and CSV export."""
        return AsyncWallet(self._api)

    @cached_property
    def usage(self) -> AsyncUsage:
        """Usage figures over the last days."""
        return AsyncUsage(self._api)

    @cached_property
    def statements(self) -> AsyncStatements:
        """Monthly statements (JSON or CSV)."""
        return AsyncStatements(self._api)

    @cached_property
    def webhook(self) -> AsyncWebhook:
        """Your webhook endpoint and its signing secret."""
        return AsyncWebhook(self._api)

    @cached_property
    def events(self) -> AsyncEvents:
        """Webhook events and their deliveries."""
        return AsyncEvents(self._api)

    @cached_property
    def keys(self) -> AsyncKeys:
        """Your API keys."""
        return AsyncKeys(self._api)

    @cached_property
    def logs(self) -> AsyncLogs:
        """Your API request logs."""
        return AsyncLogs(self._api)

    @cached_property
    def me(self) -> AsyncMe:
        """Your partner profile."""
        return AsyncMe(self._api)

    @cached_property
    def public(self) -> AsyncPublic:
        """Unauthenticated endpoints: health, readiness, status page."""
        return AsyncPublic(self._api)

    async def health(self) -> Health:
        """Liveness of the API (shortcut for ``client.public.health()``)."""
        return await self.public.health()

    async def status(self) -> StatusPage:
        """The public status page (shortcut for ``client.public.status()``)."""
        return await self.public.status()

    # -- configuration ----------------------------------------------------------------------

    @property
    def base_url(self) -> httpx.URL:
        """The API root every request goes to."""
        return self._api.base_url

    @property
    def timeout(self) -> httpx.Timeout:
        """The default timeout of each attempt."""
        return self._api.timeout

    @property
    def retry_policy(self) -> RetryPolicy:
        """The default retry policy."""
        return self._api.retry_policy

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The underlying ``httpx.AsyncClient`` (shared by ``with_options`` copies)."""
        return self._api.http_client

    @property
    def converter(self) -> cattrs.Converter:
        """The converter between JSON and :mod:`steller.models` this client uses."""
        return self._api.converter

    def with_options(
        self,
        *,
        api_key: str | NotGiven = NOT_GIVEN,
        base_url: str | httpx.URL | NotGiven = NOT_GIVEN,
        environment: Environment | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        steller_version: str | NotGiven | None = NOT_GIVEN,
    ) -> Self:
        """A cheap copy with some settings changed; see :meth:`Steller.with_options`.

        ::

            patient = client.with_options(timeout=120)
        """
        if not isinstance(environment, NotGiven):
            if not isinstance(base_url, NotGiven):
                msg = "pass either base_url= or environment=, not both"
                raise ValueError(msg)
            base_url = base_url_for(environment)
        new = object.__new__(type(self))
        new._api = self._api.with_options(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=steller_version,
        )
        return new

    copy = with_options

    # -- lifecycle --------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the HTTP client if this object created it (never one you passed in)."""
        await self._api.close()

    @property
    def is_closed(self) -> bool:
        """Whether the underlying HTTP client is closed."""
        return self._api.is_closed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_url={str(self.base_url)!r}>"


def signup(
    *,
    name: str,
    email: str,
    currency: WalletCurrency | str = WalletCurrency.usd,
    company: str | NotGiven = NOT_GIVEN,
    base_url: str | httpx.URL | None = None,
    environment: Environment | None = None,
    timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    max_retries: int | NotGiven = NOT_GIVEN,
    steller_version: str | NotGiven | None = NOT_GIVEN,
    idempotency_key: str | NotGiven | None = NOT_GIVEN,
    http_client: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SignupResponse:
    """Sign up as a partner (no key needed): same as :meth:`Steller.signup`.

    ::

        import steller

        account = steller.signup(name="Acme", email="dev@acme.example", environment="sandbox")
        client = steller.Steller(api_key=account.api_key.key, environment="sandbox")
    """
    return Steller.signup(
        name=name,
        email=email,
        currency=currency,
        company=company,
        base_url=base_url,
        environment=environment,
        timeout=timeout,
        max_retries=max_retries,
        steller_version=steller_version,
        idempotency_key=idempotency_key,
        http_client=http_client,
        transport=transport,
    )
