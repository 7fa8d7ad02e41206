"""The staff clients: :class:`StellerAdmin` (sync) and :class:`AsyncStellerAdmin`.

They authenticate with an admin bearer token, either given (or ``$STELLER_ADMIN_TOKEN``) or
obtained with :meth:`StellerAdmin.login`. What a call may do depends on the user's role
(``admin``, ``support``, ``finance``); a weaker role gets :class:`~steller.PermissionDeniedError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Final, Self

import cattrs
import httpx

from steller._client import (
    resolve_base_url,
    resolve_credential,
    version_header,
)
from steller._config import NOT_GIVEN, Environment, NotGiven, RetryPolicy, TimeoutTypes
from steller._config import base_url_for as _base_url_for
from steller._http import AsyncAPIClient, SyncAPIClient
from steller.models import AdminLoginRequest, AdminSession, make_converter

from ._catalog import (
    AsyncCatalogSync,
    AsyncVendor,
    AsyncVendorProducts,
    CatalogSync,
    Vendor,
    VendorProducts,
)
from ._operations import (
    Alerts,
    AsyncAlerts,
    AsyncAuditLog,
    AsyncIncidents,
    AsyncReconciliation,
    AsyncUsers,
    AuditLog,
    Incidents,
    Reconciliation,
    Users,
)
from ._orders import AdminOrders, AsyncAdminOrders
from ._partners import AsyncPartners, Partners

__all__ = ["ADMIN_TOKEN_ENV", "AsyncStellerAdmin", "StellerAdmin"]

ADMIN_TOKEN_ENV: Final = "STELLER_ADMIN_TOKEN"  # noqa: S105 (a variable name, no secret)
_LOGIN = "/api/admin/login"
_LOGOUT = "/api/admin/logout"


def _copy_base_url(
    base_url: str | httpx.URL | NotGiven, environment: Environment | NotGiven
) -> str | httpx.URL | NotGiven:
    if isinstance(environment, NotGiven):
        return base_url
    if not isinstance(base_url, NotGiven):
        msg = "pass either base_url= or environment=, not both"
        raise ValueError(msg)
    return _base_url_for(environment)


class StellerAdmin:
    """The Steller admin API client (synchronous), for Steller staff.

    Same configuration arguments as :class:`steller.Steller`, with ``bearer_token`` (default
    ``$STELLER_ADMIN_TOKEN``) instead of an API key; or log in with :meth:`login`::

        from steller.admin import StellerAdmin

        with StellerAdmin.login("ops@steller.example", password, environment="sandbox") as admin:
            partner = admin.partners.create(name="Acme", email="dev@acme.example")
            admin.partners.wallet.credit(partner.id, amount="500.00", reason="Prepayment")
            admin.partners.products.approve(partner.id, {"AMZ-US": "5"})
    """

    #: The session obtained by :meth:`login` (``None`` when a token was passed in).
    session: AdminSession | None

    def __init__(
        self,
        *,
        bearer_token: str | None = None,
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
            bearer_token=resolve_credential(bearer_token, ADMIN_TOKEN_ENV, "bearer_token"),
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=version_header(steller_version),
            converter=make_converter(strict=strict),
            http_client=http_client,
            transport=transport,
        )
        # The request-layer client that owns the httpx client (None in with_options copies).
        self._owner: SyncAPIClient | None = self._api
        self.session = None

    @classmethod
    def login(
        cls,
        email: str,
        password: str,
        *,
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
    ) -> Self:
        """Log in and return a client holding the session's token (see ``.session``).

        Wrong credentials raise :class:`~steller.AuthenticationError`.

        ::

            admin = StellerAdmin.login("ops@steller.example", password, environment="sandbox")
            print(admin.session.user.role, admin.session.expires_at)
        """
        owner = SyncAPIClient(
            base_url=resolve_base_url(base_url, environment, http_client),
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=version_header(steller_version),
            converter=make_converter(strict=strict),
            http_client=http_client,
            transport=transport,
        )
        try:
            session = owner.request(
                "POST",
                _LOGIN,
                json=AdminLoginRequest(email=email, password=password),
                cast_to=AdminSession,
            )
        except BaseException:
            owner.close()
            raise
        new = object.__new__(cls)
        new._api = owner.with_options(bearer_token=session.token)
        new._owner = owner
        new.session = session
        return new

    def logout(self) -> None:
        """End the session server-side; the token stops working at once.

        ::

            admin.logout()
        """
        self._api.request("POST", _LOGOUT)

    # -- resources --------------------------------------------------------------------------

    @cached_property
    def users(self) -> Users:
        """Staff accounts."""
        return Users(self._api)

    @cached_property
    def partners(self) -> Partners:
        """Partners, with their keys, wallet and approved products."""
        return Partners(self._api)

    @cached_property
    def products(self) -> VendorProducts:
        """The vendor catalog with our costs."""
        return VendorProducts(self._api)

    @cached_property
    def catalog_sync(self) -> CatalogSync:
        """Vendor catalog and FX sync runs."""
        return CatalogSync(self._api)

    @cached_property
    def orders(self) -> AdminOrders:
        """Every partner's orders and the support actions on them."""
        return AdminOrders(self._api)

    @cached_property
    def audit_log(self) -> AuditLog:
        """The hash-chained audit log."""
        return AuditLog(self._api)

    @cached_property
    def reconciliation(self) -> Reconciliation:
        """Reconciliation runs."""
        return Reconciliation(self._api)

    @cached_property
    def alerts(self) -> Alerts:
        """Operational alerts."""
        return Alerts(self._api)

    @cached_property
    def vendor(self) -> Vendor:
        """Vendor accounts and FX rates."""
        return Vendor(self._api)

    @cached_property
    def incidents(self) -> Incidents:
        """Status-page incidents."""
        return Incidents(self._api)

    # -- configuration and lifecycle --------------------------------------------------------

    @property
    def base_url(self) -> httpx.URL:
        """The API root every request goes to."""
        return self._api.base_url

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
        bearer_token: str | NotGiven = NOT_GIVEN,
        base_url: str | httpx.URL | NotGiven = NOT_GIVEN,
        environment: Environment | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        steller_version: str | NotGiven | None = NOT_GIVEN,
    ) -> Self:
        """A cheap copy with some settings changed, sharing the connection pool.

        ::

            patient = admin.with_options(timeout=120)
        """
        new = object.__new__(type(self))
        new._api = self._api.with_options(
            bearer_token=bearer_token,
            base_url=_copy_base_url(base_url, environment),
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=steller_version,
        )
        new._owner = None
        new.session = self.session if isinstance(bearer_token, NotGiven) else None
        return new

    copy = with_options

    def close(self) -> None:
        """Close the HTTP client if this object created it (never one you passed in)."""
        if self._owner is not None:
            self._owner.close()

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


class AsyncStellerAdmin:
    """The Steller admin API client (asyncio); same arguments as :class:`StellerAdmin`.

    ::

        admin = await AsyncStellerAdmin.login("ops@steller.example", password)
        async with admin:
            async for alert in admin.alerts.list(status="open"):
                print(alert.message)
    """

    #: The session obtained by :meth:`login` (``None`` when a token was passed in).
    session: AdminSession | None

    def __init__(
        self,
        *,
        bearer_token: str | None = None,
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
            bearer_token=resolve_credential(bearer_token, ADMIN_TOKEN_ENV, "bearer_token"),
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=version_header(steller_version),
            converter=make_converter(strict=strict),
            http_client=http_client,
            transport=transport,
        )
        self._owner: AsyncAPIClient | None = self._api
        self.session = None

    @classmethod
    async def login(
        cls,
        email: str,
        password: str,
        *,
        base_url: str | httpx.URL | None = None,
        environment: Environment | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,  # noqa: ASYNC109 (HTTP timeouts, per attempt)
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        steller_version: str | NotGiven | None = NOT_GIVEN,
        strict: bool = False,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Self:
        """Log in and return a client holding the session's token; see :meth:`StellerAdmin.login`.

        ::

            admin = await AsyncStellerAdmin.login("ops@steller.example", password)
        """
        owner = AsyncAPIClient(
            base_url=resolve_base_url(base_url, environment, http_client),
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=version_header(steller_version),
            converter=make_converter(strict=strict),
            http_client=http_client,
            transport=transport,
        )
        try:
            session = await owner.request(
                "POST",
                _LOGIN,
                json=AdminLoginRequest(email=email, password=password),
                cast_to=AdminSession,
            )
        except BaseException:
            await owner.close()
            raise
        new = object.__new__(cls)
        new._api = owner.with_options(bearer_token=session.token)
        new._owner = owner
        new.session = session
        return new

    async def logout(self) -> None:
        """End the session server-side.

        ::

            await admin.logout()
        """
        await self._api.request("POST", _LOGOUT)

    # -- resources --------------------------------------------------------------------------

    @cached_property
    def users(self) -> AsyncUsers:
        """Staff accounts."""
        return AsyncUsers(self._api)

    @cached_property
    def partners(self) -> AsyncPartners:
        """Partners, with their keys, wallet and approved products."""
        return AsyncPartners(self._api)

    @cached_property
    def products(self) -> AsyncVendorProducts:
        """The vendor catalog with our costs."""
        return AsyncVendorProducts(self._api)

    @cached_property
    def catalog_sync(self) -> AsyncCatalogSync:
        """Vendor catalog and FX sync runs."""
        return AsyncCatalogSync(self._api)

    @cached_property
    def orders(self) -> AsyncAdminOrders:
        """Every partner's orders and the support actions on them."""
        return AsyncAdminOrders(self._api)

    @cached_property
    def audit_log(self) -> AsyncAuditLog:
        """The hash-chained audit log."""
        return AsyncAuditLog(self._api)

    @cached_property
    def reconciliation(self) -> AsyncReconciliation:
        """Reconciliation runs."""
        return AsyncReconciliation(self._api)

    @cached_property
    def alerts(self) -> AsyncAlerts:
        """Operational alerts."""
        return AsyncAlerts(self._api)

    @cached_property
    def vendor(self) -> AsyncVendor:
        """Vendor accounts and FX rates."""
        return AsyncVendor(self._api)

    @cached_property
    def incidents(self) -> AsyncIncidents:
        """Status-page incidents."""
        return AsyncIncidents(self._api)

    # -- configuration and lifecycle --------------------------------------------------------

    @property
    def base_url(self) -> httpx.URL:
        """The API root every request goes to."""
        return self._api.base_url

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
        bearer_token: str | NotGiven = NOT_GIVEN,
        base_url: str | httpx.URL | NotGiven = NOT_GIVEN,
        environment: Environment | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        steller_version: str | NotGiven | None = NOT_GIVEN,
    ) -> Self:
        """A cheap copy with some settings changed, sharing the connection pool.

        ::

            patient = admin.with_options(timeout=120)
        """
        new = object.__new__(type(self))
        new._api = self._api.with_options(
            bearer_token=bearer_token,
            base_url=_copy_base_url(base_url, environment),
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=steller_version,
        )
        new._owner = None
        new.session = self.session if isinstance(bearer_token, NotGiven) else None
        return new

    copy = with_options

    async def close(self) -> None:
        """Close the HTTP client if this object created it (never one you passed in)."""
        if self._owner is not None:
            await self._owner.close()

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
