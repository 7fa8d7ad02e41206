"""``client.public``: signup, liveness, readiness and the status page (no key needed)."""

from __future__ import annotations

from collections.abc import Mapping

from steller._config import NOT_GIVEN, NotGiven, RequestOptions
from steller._errors import ServiceUnavailableError
from steller._response import async_to_raw_response_wrapper, to_raw_response_wrapper
from steller.models import (
    Health,
    Readiness,
    SignupRequest,
    SignupResponse,
    StatusPage,
    WalletCurrency,
)

from ._base import AsyncAPIResource, SyncAPIResource, enum_value, given

__all__ = ["AsyncPublic", "AsyncPublicWithRawResponse", "Public", "PublicWithRawResponse"]

# Readiness answers 503 with a Readiness body when a dependency is down: that is an answer,
# not a failure, so it is neither retried nor raised.
_NO_RETRY = RequestOptions(max_retries=0)


def signup_request(
    *, name: str, email: str, currency: WalletCurrency | str, company: str | NotGiven
) -> SignupRequest:
    """The signup body (a currency string passes through, so new currencies work)."""
    return SignupRequest(
        name=name,
        email=email,
        currency=enum_value(WalletCurrency, currency),
        company=given(company),
    )


def _unready(error: ServiceUnavailableError) -> Mapping[str, object] | None:
    body = error.body
    return body if isinstance(body, Mapping) and "checks" in body else None


class Public(SyncAPIResource):
    """Unauthenticated endpoints (``client.public``; ``client.health()`` and
    ``client.status()`` are shortcuts)."""

    def signup(
        self,
        *,
        name: str,
        email: str,
        currency: WalletCurrency | str = WalletCurrency.usd,
        company: str | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SignupResponse:
        """Create a partner with its wallet and first ``developer`` key (shown only here).

        Usually called as :func:`steller.signup`, which needs no client.

        ::

            account = client.public.signup(name="Acme", email="dev@acme.example")
            print(account.api_key.key)
        """
        body = signup_request(name=name, email=email, currency=currency, company=company)
        return self._client.request(
            "POST",
            "/api/public/signup",
            json=body,
            cast_to=SignupResponse,
            idempotency_key=idempotency_key,
            options=options,
        )

    def health(self, *, options: RequestOptions | None = None) -> Health:
        """Liveness: ``Health(status="ok")`` when the API process answers.

        ::

            assert client.public.health().status == "ok"
        """
        return self._client.request("GET", "/api/health", cast_to=Health, options=options)

    def readiness(self, *, options: RequestOptions | None = None) -> Readiness:
        """Readiness of the API and its dependencies; ``status="unavailable"`` is returned,
        not raised, and not retried.

        ::

            ready = client.public.readiness()
            print(ready.status, ready.checks.database, ready.checks.redis)
        """
        try:
            return self._client.request(
                "GET", "/api/health/ready", cast_to=Readiness, options=options or _NO_RETRY
            )
        except ServiceUnavailableError as exc:
            body = _unready(exc)
            if body is None:
                raise
            return self._client.converter.structure(body, Readiness)

    def status(self, *, options: RequestOptions | None = None) -> StatusPage:
        """The public status page: components, uptime, open and recent incidents.

        ::

            page = client.public.status()
            print(page.status, [i.title for i in page.incidents])
        """
        return self._client.request("GET", "/api/status", cast_to=StatusPage, options=options)

    @property
    def with_raw_response(self) -> PublicWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse` (headers, raw JSON)."""
        return PublicWithRawResponse(self)


class PublicWithRawResponse:
    """``client.public.with_raw_response`` (``readiness`` is left out: a 503 is its answer)."""

    def __init__(self, public: Public) -> None:
        self.signup = to_raw_response_wrapper(public.signup)
        self.health = to_raw_response_wrapper(public.health)
        self.status = to_raw_response_wrapper(public.status)


class AsyncPublic(AsyncAPIResource):
    """Unauthenticated endpoints (``client.public`` of :class:`AsyncSteller`)."""

    async def signup(
        self,
        *,
        name: str,
        email: str,
        currency: WalletCurrency | str = WalletCurrency.usd,
        company: str | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SignupResponse:
        """Create a partner; see :meth:`Public.signup`.

        ::

            account = await client.public.signup(name="Acme", email="dev@acme.example")
        """
        body = signup_request(name=name, email=email, currency=currency, company=company)
        return await self._client.request(
            "POST",
            "/api/public/signup",
            json=body,
            cast_to=SignupResponse,
            idempotency_key=idempotency_key,
            options=options,
        )

    async def health(self, *, options: RequestOptions | None = None) -> Health:
        """Liveness.

        ::

            assert (await client.public.health()).status == "ok"
        """
        return await self._client.request("GET", "/api/health", cast_to=Health, options=options)

    async def readiness(self, *, options: RequestOptions | None = None) -> Readiness:
        """Readiness; see :meth:`Public.readiness`.

        ::

            ready = await client.public.readiness()
        """
        try:
            return await self._client.request(
                "GET", "/api/health/ready", cast_to=Readiness, options=options or _NO_RETRY
            )
        except ServiceUnavailableError as exc:
            body = _unready(exc)
            if body is None:
                raise
            return self._client.converter.structure(body, Readiness)

    async def status(self, *, options: RequestOptions | None = None) -> StatusPage:
        """The public status page.

        ::

            page = await client.public.status()
        """
        return await self._client.request("GET", "/api/status", cast_to=StatusPage, options=options)

    @property
    def with_raw_response(self) -> AsyncPublicWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncPublicWithRawResponse(self)


class AsyncPublicWithRawResponse:
    """``client.public.with_raw_response`` of the async client."""

    def __init__(self, public: AsyncPublic) -> None:
        self.signup = async_to_raw_response_wrapper(public.signup)
        self.health = async_to_raw_response_wrapper(public.health)
        self.status = async_to_raw_response_wrapper(public.status)
