"""The request layer under every resource: headers, idempotency keys, retries, errors, parsing.

Resources call :meth:`SyncAPIClient.request` (or ``get_page`` for lists); the public clients
(``Steller``, ``AsyncSteller``, ``StellerAdmin``) wrap one of these. Nothing here knows any
endpoint.

Retry rules (stamina's, on tenacity):

* a connection that never got established (connect error/timeout, no free pooled connection)
  is always retried: the server never saw the request;
* read/write timeouts, dropped connections, 408, 429 and 5xx are retried only when replaying
  is safe: an idempotent method (GET, HEAD, PUT, DELETE, OPTIONS) or an ``Idempotency-Key``;
* 409 ``idempotency_in_progress`` is retried: it answers our own replay of a request that is
  still running on the server, and the same key will fetch its result;
* no other 4xx is retried;
* the wait is the server's ``Retry-After`` (seconds or HTTP-date) or the reset of an exhausted
  ``RateLimit`` policy, up to ``RetryPolicy.max_retry_after`` (a longer one ends the retries);
  otherwise jittered exponential backoff; attempts and total time are both capped.

Every POST, PATCH, PUT and DELETE carries an ``Idempotency-Key`` (a uuid4 unless the caller
gives one, or ``None`` to send none), generated once per call and sent on every attempt.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import functools
import logging
import platform
import random
import time
import uuid
from collections.abc import Callable, Mapping
from types import GenericAlias
from typing import Any, Final, Generic, Self, TypeVar, cast, overload
from urllib.parse import quote

import attrs
import cattrs
import httpx
import tenacity

from ._config import (
    DEFAULT_RETRY_POLICY,
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    NotGiven,
    RequestOptions,
    RetryPolicy,
    TimeoutTypes,
    to_httpx_timeout,
)
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    FieldError,
    IdempotencyInProgressError,
    StellerError,
    make_status_error,
    retry_after_from_headers,
)
from ._logging import logger, redact_headers, setup_logging
from ._pagination import AsyncPage, AsyncPaginator, PageRequest, SyncPage
from ._response import APIResponse, AsyncAPIResponse, take_raw_response_flag
from ._version import __version__
from .models._converter import make_converter, structure_errors
from .testing import recorded_sleeps

__all__ = [
    "IDEMPOTENT_METHODS",
    "MUTATING_METHODS",
    "AsyncAPIClient",
    "SyncAPIClient",
    "encode_path",
    "user_agent",
]

R = TypeVar("R")
T = TypeVar("T")
_HttpxClientT = TypeVar("_HttpxClientT", httpx.Client, httpx.AsyncClient)

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
MUTATING_METHODS: Final = frozenset({"POST", "PATCH", "PUT", "DELETE"})
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"

# Failures before the request left this machine: always safe to retry.
_NEVER_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures after (part of) the request may have reached the server.
_MAYBE_SENT: Final = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
_HTTPX_DEFAULT_TIMEOUT: Final = httpx.Timeout(5.0)


def user_agent() -> str:
    """``steller-python/<sdk> python/<python> httpx/<httpx>``."""
    python = platform.python_version()
    return f"steller-python/{__version__} python/{python} httpx/{httpx.__version__}"


def encode_path(template: str, /, **params: str) -> str:
    """Fill a path template, percent-encoding each value so an id can never change the route.

    >>> encode_path("/api/orders/{id}", id="ord_1/../x")
    '/api/orders/ord_1%2F..%2Fx'
    """
    for name, value in params.items():
        if not isinstance(value, str) or not value:
            msg = f"{name} must be a non-empty string, got {value!r}"
            raise ValueError(msg)
    return template.format(**{k: quote(v, safe="") for k, v in params.items()})


@attrs.define
class _Call:
    """State of one logical call across its attempts."""

    request: httpx.Request
    idempotency_key: str | None
    policy: RetryPolicy
    stream: bool
    replay_safe: bool
    started: float = attrs.field(factory=time.monotonic)
    attempts: int = 0
    server_delay: bool = False  # whether the pending wait came from the server


class _BaseAPIClient(Generic[_HttpxClientT]):
    _client: _HttpxClientT

    def __init__(
        self,
        *,
        base_url: str | httpx.URL,
        api_key: str | None,
        bearer_token: str | None,
        timeout: TimeoutTypes | NotGiven,
        max_retries: int | NotGiven,
        retry: RetryPolicy | NotGiven,
        default_headers: Mapping[str, str] | None,
        steller_version: str | None,
        converter: cattrs.Converter | None,
        http_client: _HttpxClientT | None,
        transport: object,
    ) -> None:
        if http_client is not None and transport is not None:
            msg = "pass either http_client= or transport=, not both"
            raise ValueError(msg)
        setup_logging()
        self._base_url = _with_trailing_slash(httpx.URL(str(base_url)))
        self._api_key = api_key
        self._bearer_token = bearer_token
        self._custom_headers: Mapping[str, str] = dict(default_headers or {})
        self._steller_version = steller_version
        self._converter = converter if converter is not None else make_converter()
        self._owns_client = http_client is None
        if isinstance(timeout, NotGiven):
            external = http_client.timeout if http_client is not None else None
            # A client the caller configured keeps its timeout, unless it is httpx's default.
            if external is not None and external != _HTTPX_DEFAULT_TIMEOUT:
                self._timeout = external
            else:
                self._timeout = DEFAULT_TIMEOUT.to_httpx()
        else:
            self._timeout = to_httpx_timeout(timeout)
        policy = DEFAULT_RETRY_POLICY if isinstance(retry, NotGiven) else retry
        if not isinstance(max_retries, NotGiven):
            policy = attrs.evolve(policy, max_retries=max_retries)
        self._retry = policy
        self._headers = self._build_default_headers()

    # -- configuration ----------------------------------------------------------------------

    @property
    def base_url(self) -> httpx.URL:
        """The API root every path is relative to."""
        return self._base_url

    @property
    def timeout(self) -> httpx.Timeout:
        """The default timeout of each attempt."""
        return self._timeout

    @property
    def retry_policy(self) -> RetryPolicy:
        """The default retry policy."""
        return self._retry

    @property
    def converter(self) -> cattrs.Converter:
        """The cattrs converter that turns JSON into models and back."""
        return self._converter

    @property
    def http_client(self) -> _HttpxClientT:
        """The underlying httpx client (shared with every ``with_options`` copy)."""
        return self._client

    @property
    def default_headers(self) -> Mapping[str, str]:
        """Headers sent with every request (credentials included: do not log them)."""
        return self._headers

    def _build_default_headers(self) -> dict[str, str]:
        if self._api_key is not None and self._bearer_token is not None:
            msg = "pass either api_key= or bearer_token=, not both"
            raise ValueError(msg)
        headers = {"User-Agent": user_agent(), "Accept": "application/json"}
        if self._steller_version:
            headers["Steller-Version"] = self._steller_version
        if self._api_key is not None:
            headers["x-api-key"] = self._api_key
        if self._bearer_token is not None:
            headers["Authorization"] = f"Bearer {self._bearer_token}"
        headers.update(self._custom_headers)
        return headers

    def with_options(
        self,
        *,
        base_url: str | httpx.URL | NotGiven = NOT_GIVEN,
        api_key: str | NotGiven | None = NOT_GIVEN,
        bearer_token: str | NotGiven | None = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        steller_version: str | NotGiven | None = NOT_GIVEN,
    ) -> Any:
        """A cheap copy with some settings changed, sharing the httpx client (and its
        connection pool) and the converter. Closing a copy never closes the shared client.

        ``default_headers`` are merged into the current ones. Typed ``Any`` so subclasses
        keep their own type: subclasses should re-declare it returning ``Self``.
        """
        new = copy.copy(self)
        new._owns_client = False
        if not isinstance(base_url, NotGiven):
            new._base_url = _with_trailing_slash(httpx.URL(str(base_url)))
        if not isinstance(api_key, NotGiven):
            new._api_key = api_key
        if not isinstance(bearer_token, NotGiven):
            new._bearer_token = bearer_token
        if not isinstance(timeout, NotGiven):
            new._timeout = to_httpx_timeout(timeout)
        if not isinstance(retry, NotGiven):
            new._retry = retry
        if not isinstance(max_retries, NotGiven):
            new._retry = attrs.evolve(new._retry, max_retries=max_retries)
        if default_headers:
            new._custom_headers = {**self._custom_headers, **default_headers}
        if not isinstance(steller_version, NotGiven):
            new._steller_version = steller_version
        new._headers = new._build_default_headers()
        return new

    copy = with_options

    def __repr__(self) -> str:
        auth = "api_key" if self._api_key else "bearer" if self._bearer_token else "anonymous"
        return f"<{type(self).__name__} base_url={str(self._base_url)!r} auth={auth}>"

    # -- building a call --------------------------------------------------------------------

    def _prepare(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None,
        json: object,
        headers: Mapping[str, str] | None,
        idempotency_key: str | NotGiven | None,
        options: RequestOptions | None,
        stream: bool,
    ) -> _Call:
        method = method.upper()
        options = options or RequestOptions()
        merged: dict[str, str] = dict(self._headers)
        merged.update(options.extra_headers or {})
        merged.update(headers or {})
        key = self._idempotency_key(method, merged, idempotency_key)
        if key is not None:
            merged[IDEMPOTENCY_HEADER] = key

        query = {**(params or {}), **(options.extra_query or {})}
        timeout = self._timeout
        if not isinstance(options.timeout, NotGiven):
            timeout = to_httpx_timeout(options.timeout)
        policy = self._retry if isinstance(options.retry, NotGiven) else options.retry
        if not isinstance(options.max_retries, NotGiven):
            policy = attrs.evolve(policy, max_retries=options.max_retries)

        url = self._url(path)
        encoded = self._encode_params(query) or None
        if encoded is not None and not self._client.params:
            # What httpx would build from (url, encoded), cached: see _url_with_query.
            with_query = _url_with_query(url, encoded)
            if with_query is not None:
                url, encoded = with_query, None
        request = self._client.build_request(
            method,
            url,
            params=encoded,
            json=self._encode_json(json) if json is not None else None,
            headers=merged,
            timeout=timeout,
        )
        return _Call(
            request=request,
            idempotency_key=key,
            policy=policy,
            stream=stream,
            replay_safe=method in IDEMPOTENT_METHODS or key is not None,
        )

    @staticmethod
    def _idempotency_key(
        method: str, headers: dict[str, str], given: str | NotGiven | None
    ) -> str | None:
        # Any spelling of the header set by the caller counts as "given".
        existing = [name for name in headers if name.lower() == "idempotency-key"]
        found = headers[existing[-1]] if existing else None
        for name in existing:
            del headers[name]
        if isinstance(given, NotGiven):
            if found is not None:
                return found
            return str(uuid.uuid4()) if method in MUTATING_METHODS else None
        return given

    def _url(self, path: str) -> httpx.URL:
        return _join_url(self._base_url, path)

    def _encode_params(self, params: Mapping[str, object]) -> dict[str, Any]:
        # None and NOT_GIVEN mean "no filter"; values like dates and enums use the wire form.
        out: dict[str, Any] = {}
        for name, value in params.items():
            if value is None or isinstance(value, NotGiven):
                continue
            if isinstance(value, list | tuple):
                out[name] = [self._converter.unstructure(v) for v in value]
            else:
                out[name] = self._converter.unstructure(value)
        return out

    def _encode_json(self, body: object) -> object:
        # Top-level NOT_GIVEN entries are left out, so resources can pass optional arguments
        # straight through; None stays an explicit JSON null.
        if isinstance(body, Mapping):
            body = {k: v for k, v in body.items() if not isinstance(v, NotGiven)}
        return self._converter.unstructure(body)

    # -- retry decisions (pure; shared by sync and async) -----------------------------------

    @staticmethod
    def _should_retry(call: _Call, exc: BaseException) -> bool:
        if isinstance(exc, IdempotencyInProgressError):
            return call.idempotency_key is not None
        if isinstance(exc, APIStatusError):
            status = exc.status_code
            return call.replay_safe and (status in (408, 429) or status >= 500)
        if isinstance(exc, APIConnectionError):
            cause = exc.__cause__
            if isinstance(cause, _NEVER_SENT):
                return True
            return call.replay_safe and isinstance(cause, _MAYBE_SENT)
        return False

    @staticmethod
    def _wait(call: _Call, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        hint = retry_after_from_headers(exc.headers) if isinstance(exc, APIStatusError) else None
        call.server_delay = hint is not None
        if hint is not None:
            return hint
        policy = call.policy
        backoff = policy.initial_backoff * 2.0 ** (state.attempt_number - 1)
        # Jitter spreads out clients that failed together; not a security concern.
        backoff += random.uniform(0, policy.jitter)  # noqa: S311
        return min(policy.max_backoff, backoff)

    @staticmethod
    def _stop(call: _Call, state: tenacity.RetryCallState) -> bool:
        policy = call.policy
        if state.attempt_number > policy.max_retries:
            return True
        if call.server_delay and state.upcoming_sleep > policy.max_retry_after:
            return True
        if policy.max_total_time is not None:
            elapsed = time.monotonic() - call.started
            if recorded_sleeps() is not None:  # instant retries: count the skipped waits
                elapsed += state.idle_for
            if elapsed + state.upcoming_sleep > policy.max_total_time:
                return True
        return False

    @staticmethod
    def _log_retry(call: _Call, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.info(
            "Retrying %s %s in %.2f s (retry %d of %d) after %s",
            call.request.method,
            call.request.url.path,
            state.upcoming_sleep,
            state.attempt_number,
            call.policy.max_retries,
            _describe(exc),
        )

    def _retrying_kwargs(self, call: _Call) -> dict[str, Any]:
        return {
            "retry": tenacity.retry_if_exception(functools.partial(self._should_retry, call)),
            "wait": functools.partial(self._wait, call),
            "stop": functools.partial(self._stop, call),
            "before_sleep": functools.partial(self._log_retry, call),
            "reraise": True,
        }

    # -- attempts ---------------------------------------------------------------------------

    @staticmethod
    def _begin_attempt(call: _Call) -> None:
        call.attempts += 1
        if logger.isEnabledFor(10):  # DEBUG, without building the header dict otherwise
            logger.debug(
                "Request: %s %s (attempt %d) headers=%s",
                call.request.method,
                call.request.url,
                call.attempts,
                redact_headers(call.request.headers),
            )

    @staticmethod
    def _transport_error(call: _Call, exc: httpx.RequestError) -> APIConnectionError:
        request = call.request
        where = f"{request.method} {request.url}"
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"Request timed out ({type(exc).__name__}): {where}",
                request=request,
                idempotency_key=call.idempotency_key,
            )
        return APIConnectionError(
            f"Connection error ({type(exc).__name__}: {exc}): {where}",
            request=request,
            idempotency_key=call.idempotency_key,
        )

    @staticmethod
    def _finish_error(call: _Call, exc: StellerError) -> None:
        if isinstance(exc, APIStatusError | APIConnectionError):
            exc.retries_taken = max(0, call.attempts - 1)
        logger.info("%s %s failed: %s", call.request.method, call.request.url.path, exc)

    @staticmethod
    def _log_response(call: _Call, response: httpx.Response, elapsed: dt.timedelta) -> None:
        if not logger.isEnabledFor(logging.INFO):  # building the arguments costs ~1.5 µs
            return
        logger.info(
            "%s %s -> %d (request %s, %d ms, %d retries)",
            call.request.method,
            call.request.url.path,
            response.status_code,
            response.headers.get("x-request-id", "-"),
            elapsed.total_seconds() * 1000,
            call.attempts - 1,
        )

    # -- parsing ----------------------------------------------------------------------------

    def _model_parser(self, cast_to: type[R] | None) -> Callable[[httpx.Response], R]:
        def parse(response: httpx.Response) -> R:
            if cast_to is None:
                return cast("R", None)
            if cast_to is httpx.Response:
                return cast("R", response)
            if cast_to is bytes:
                return cast("R", response.content)
            if cast_to is str:
                return cast("R", response.text)
            return self._structure(response, _json(response), cast_to)

        return parse

    def _structure(self, response: httpx.Response, data: object, cast_to: type[R]) -> R:
        try:
            return self._converter.structure(data, cast_to)
        except cattrs.BaseValidationError as exc:
            errors = [FieldError(p, m) for p, m in structure_errors(exc)]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            errors = [FieldError("", f"{type(exc).__name__}: {exc}")]
        name = getattr(cast_to, "__name__", str(cast_to))
        raise APIResponseValidationError(
            f"The response to {response.request.method} {response.request.url.path}"
            f" is not a valid {name}",
            response=response,
            body=data,
            errors=errors,
        )

    def _page_parts(
        self, request: PageRequest[T], response: httpx.Response
    ) -> tuple[list[T], str | None]:
        body = _json(response)
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            errors = [FieldError("/data", "expected an object with a 'data' list")]
            raise APIResponseValidationError(
                f"The response to GET {request.path} is not a page",
                response=response,
                body=body,
                errors=errors,
            )
        cursor = body.get("nextCursor")
        item_list: Any = GenericAlias(list, (request.item_type,))
        data: list[T] = self._structure(response, body["data"], item_list)
        return data, cursor if isinstance(cursor, str) and cursor else None


class SyncAPIClient(_BaseAPIClient[httpx.Client]):
    """The synchronous request layer, wrapping one :class:`httpx.Client`.

    ::

        api = SyncAPIClient(base_url="http://127.0.0.1:8000", api_key="stlr_test_…")
        order = api.request("GET", "/api/orders/ord_1", cast_to=Order)

    ``http_client=`` uses your own httpx client (never closed by the SDK); ``transport=`` builds
    one on that transport (e.g. ``httpx.MockTransport`` in tests); otherwise a new client is
    created and closed by :meth:`close`.
    """

    def __init__(
        self,
        *,
        base_url: str | httpx.URL,
        api_key: str | None = None,
        bearer_token: str | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        steller_version: str | None = None,
        converter: cattrs.Converter | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.Client):
            msg = f"http_client must be an httpx.Client, got {type(http_client).__name__}"
            raise TypeError(msg)
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            bearer_token=bearer_token,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=steller_version,
            converter=converter,
            http_client=http_client,
            transport=transport,
        )
        self._client = http_client or httpx.Client(transport=transport, timeout=self._timeout)

    @overload
    def request(
        self,
        method: str,
        path: str,
        *,
        cast_to: type[R],
        params: Mapping[str, object] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> R: ...
    @overload
    def request(
        self,
        method: str,
        path: str,
        *,
        cast_to: None = None,
        params: Mapping[str, object] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> None: ...
    def request(
        self,
        method: str,
        path: str,
        *,
        cast_to: type[R] | None = None,
        params: Mapping[str, object] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> R | None:
        """Send a request (with retries) and return the body structured as ``cast_to``.

        ``cast_to=None`` ignores the body; ``httpx.Response``, ``bytes``, ``str`` give it
        unparsed; any other type goes through the converter. ``params`` entries and top-level
        ``json`` entries that are ``NOT_GIVEN`` are left out (``None`` params too). Raises an
        :class:`~steller.APIStatusError` subclass for 4xx/5xx, :class:`~steller.APIConnectionError`
        when no response came. Inside a ``to_raw_response_wrapper`` call, returns the
        :class:`~steller.APIResponse` instead.
        """
        raw = take_raw_response_flag()
        response = self.request_raw(
            method,
            path,
            cast_to=cast_to,
            params=params,
            json=json,
            headers=headers,
            idempotency_key=idempotency_key,
            options=options,
        )
        return cast("R", response) if raw else response.parse()

    def request_raw(
        self,
        method: str,
        path: str,
        *,
        cast_to: type[R] | None = None,
        params: Mapping[str, object] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
        stream: bool = False,
    ) -> APIResponse[R]:
        """Like :meth:`request` but return the :class:`APIResponse`; with ``stream=True`` the
        body is not read yet (use the response as a context manager)."""
        call = self._prepare(
            method,
            path,
            params=params,
            json=json,
            headers=headers,
            idempotency_key=idempotency_key,
            options=options,
            stream=stream,
        )
        return self._send(call, self._model_parser(cast_to))

    def get_page(
        self,
        path: str,
        *,
        item_type: type[T],
        params: Mapping[str, object] | None = None,
        options: RequestOptions | None = None,
    ) -> SyncPage[T]:
        """GET the first page of a cursor-paginated list of ``item_type``."""
        return self.fetch_page(
            PageRequest(path=path, item_type=item_type, params=dict(params or {}), options=options)
        )

    def fetch_page(self, page_request: PageRequest[T]) -> SyncPage[T]:
        """GET the page described by ``page_request`` (used by :class:`SyncPage`)."""
        raw = take_raw_response_flag()
        call = self._prepare(
            "GET",
            page_request.path,
            params=page_request.params,
            json=None,
            headers=None,
            idempotency_key=NOT_GIVEN,
            options=page_request.options,
            stream=False,
        )

        def parse(response: httpx.Response) -> SyncPage[T]:
            data, cursor = self._page_parts(page_request, response)
            return SyncPage(data=data, next_cursor=cursor, client=self, request=page_request)

        response = self._send(call, parse)
        return cast("SyncPage[T]", response) if raw else response.parse()

    def _send(self, call: _Call, parser: Callable[[httpx.Response], R]) -> APIResponse[R]:
        try:
            response = self._attempts(call)
        except StellerError as exc:
            self._finish_error(call, exc)
            raise
        elapsed = dt.timedelta(seconds=time.monotonic() - call.started)
        self._log_response(call, response, elapsed)
        return APIResponse(
            http_response=response,
            parser=parser,
            idempotency_key=call.idempotency_key,
            retries_taken=call.attempts - 1,
            elapsed=elapsed,
        )

    def _attempts(self, call: _Call) -> httpx.Response:
        # Most calls succeed at once: the first attempt runs without building a
        # tenacity.Retrying (~30 µs). A failure tenacity would retry becomes its attempt 1.
        try:
            return self._attempt(call)
        except StellerError as exc:
            if not self._should_retry(call, exc):
                raise
            failed = [exc]

        def attempt() -> httpx.Response:
            if failed:
                raise failed.pop()
            return self._attempt(call)

        retrying = tenacity.Retrying(sleep=_sleep, **self._retrying_kwargs(call))
        return retrying(attempt)

    def _attempt(self, call: _Call) -> httpx.Response:
        self._begin_attempt(call)
        try:
            response = self._client.send(call.request, stream=call.stream)
            if response.status_code >= 400:
                try:
                    response.read()
                finally:
                    response.close()
        except httpx.RequestError as exc:
            raise self._transport_error(call, exc) from exc
        if response.status_code >= 400:
            raise make_status_error(response, call.idempotency_key)
        return response

    def close(self) -> None:
        """Close the underlying httpx client, if this object created it."""
        if self._owns_client:
            self._client.close()

    @property
    def is_closed(self) -> bool:
        """Whether the underlying httpx client is closed."""
        return self._client.is_closed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncAPIClient(_BaseAPIClient[httpx.AsyncClient]):
    """The asynchronous request layer, wrapping one :class:`httpx.AsyncClient`.

    Same arguments and behaviour as :class:`SyncAPIClient`; ``request`` is a coroutine and
    ``get_page`` returns an :class:`AsyncPaginator` (await it, or ``async for`` over it).
    """

    def __init__(
        self,
        *,
        base_url: str | httpx.URL,
        api_key: str | None = None,
        bearer_token: str | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        steller_version: str | None = None,
        converter: cattrs.Converter | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            msg = f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            raise TypeError(msg)
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            bearer_token=bearer_token,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            steller_version=steller_version,
            converter=converter,
            http_client=http_client,
            transport=transport,
        )
        self._client = http_client or httpx.AsyncClient(transport=transport, timeout=self._timeout)

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        cast_to: type[R],
        params: Mapping[str, object] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> R: ...
    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        cast_to: None = None,
        params: Mapping[str, object] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> None: ...
    async def request(
        self,
        method: str,
        path: str,
        *,
        cast_to: type[R] | None = None,
        params: Mapping[str, object] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> R | None:
        """Send a request (with retries) and return the body structured as ``cast_to``;
        see :meth:`SyncAPIClient.request`."""
        raw = take_raw_response_flag()
        response = await self.request_raw(
            method,
            path,
            cast_to=cast_to,
            params=params,
            json=json,
            headers=headers,
            idempotency_key=idempotency_key,
            options=options,
        )
        return cast("R", response) if raw else await response.parse()

    async def request_raw(
        self,
        method: str,
        path: str,
        *,
        cast_to: type[R] | None = None,
        params: Mapping[str, object] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
        stream: bool = False,
    ) -> AsyncAPIResponse[R]:
        """Like :meth:`request` but return the :class:`AsyncAPIResponse`."""
        call = self._prepare(
            method,
            path,
            params=params,
            json=json,
            headers=headers,
            idempotency_key=idempotency_key,
            options=options,
            stream=stream,
        )
        return await self._send(call, self._model_parser(cast_to))

    def get_page(
        self,
        path: str,
        *,
        item_type: type[T],
        params: Mapping[str, object] | None = None,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[T]:
        """The first page of a cursor-paginated list, lazily: await it or ``async for`` it."""
        page_request = PageRequest(
            path=path, item_type=item_type, params=dict(params or {}), options=options
        )
        return AsyncPaginator(client=self, request=page_request)

    async def fetch_page(self, page_request: PageRequest[T]) -> AsyncPage[T]:
        """GET the page described by ``page_request`` (used by :class:`AsyncPage`)."""
        raw = take_raw_response_flag()
        call = self._prepare(
            "GET",
            page_request.path,
            params=page_request.params,
            json=None,
            headers=None,
            idempotency_key=NOT_GIVEN,
            options=page_request.options,
            stream=False,
        )

        def parse(response: httpx.Response) -> AsyncPage[T]:
            data, cursor = self._page_parts(page_request, response)
            return AsyncPage(data=data, next_cursor=cursor, client=self, request=page_request)

        response = await self._send(call, parse)
        return cast("AsyncPage[T]", response) if raw else await response.parse()

    async def _send(
        self, call: _Call, parser: Callable[[httpx.Response], R]
    ) -> AsyncAPIResponse[R]:
        try:
            response = await self._attempts(call)
        except StellerError as exc:
            self._finish_error(call, exc)
            raise
        elapsed = dt.timedelta(seconds=time.monotonic() - call.started)
        self._log_response(call, response, elapsed)
        return AsyncAPIResponse(
            http_response=response,
            parser=parser,
            idempotency_key=call.idempotency_key,
            retries_taken=call.attempts - 1,
            elapsed=elapsed,
        )

    async def _attempts(self, call: _Call) -> httpx.Response:
        # As in SyncAPIClient._attempts: tenacity only once a retryable failure happened.
        try:
            return await self._attempt(call)
        except StellerError as exc:
            if not self._should_retry(call, exc):
                raise
            failed = [exc]

        async def attempt() -> httpx.Response:
            if failed:
                raise failed.pop()
            return await self._attempt(call)

        retrying = tenacity.AsyncRetrying(sleep=_async_sleep, **self._retrying_kwargs(call))
        return await retrying(attempt)

    async def _attempt(self, call: _Call) -> httpx.Response:
        self._begin_attempt(call)
        try:
            response = await self._client.send(call.request, stream=call.stream)
            if response.status_code >= 400:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
        except httpx.RequestError as exc:
            raise self._transport_error(call, exc) from exc
        if response.status_code >= 400:
            raise make_status_error(response, call.idempotency_key)
        return response

    async def close(self) -> None:
        """Close the underlying httpx client, if this object created it."""
        if self._owns_client:
            await self._client.aclose()

    @property
    def is_closed(self) -> bool:
        """Whether the underlying httpx client is closed."""
        return self._client.is_closed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _sleep(seconds: float) -> None:
    sleeps = recorded_sleeps()
    if sleeps is not None:
        sleeps.append(seconds)
        return
    time.sleep(seconds)


async def _async_sleep(seconds: float) -> None:
    sleeps = recorded_sleeps()
    if sleeps is not None:
        sleeps.append(seconds)
        return
    await asyncio.sleep(seconds)


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError as exc:
        errors = [FieldError("", f"the body is not JSON ({exc})")]
        msg = f"The response to {response.request.method} {response.request.url.path} is not JSON"
        raise APIResponseValidationError(
            msg, response=response, body=response.text, errors=errors
        ) from exc


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, APIStatusError):
        return f"{exc.status_code} {exc.code or exc.title or ''}".strip()
    if isinstance(exc, APIConnectionError) and exc.__cause__ is not None:
        return type(exc.__cause__).__name__
    return type(exc).__name__


@functools.lru_cache(maxsize=1024)
def _join_url(base: httpx.URL, path: str) -> httpx.URL:
    """``path`` under ``base``, keeping any path prefix of the base URL like httpx's base_url
    merging (an absolute URL is returned as is). URLs are immutable, so the result is cached:
    parsing them was over a third of the time spent preparing a request."""
    url = httpx.URL(path)
    if url.is_absolute_url:
        return url
    return base.copy_with(raw_path=base.raw_path + url.raw_path.lstrip(b"/"))


# Query values cached by exact class: True == 1 == 1.0, but httpx writes "true", "1", "1.0".
_QUERY_SCALARS: Final = frozenset({str, int, bool})


def _url_with_query(url: httpx.URL, params: Mapping[str, Any]) -> httpx.URL | None:
    """``url`` with ``params`` merged in, as httpx's ``Request`` would make it, for scalar
    str/int/bool values (None otherwise: httpx does it). Cached like :func:`_join_url`: the
    same list call (first page, same filters) is repeated, and merging the query parses the
    URL again (about 20 µs of a 40 µs request build)."""
    items = []
    for name, value in params.items():
        if value.__class__ not in _QUERY_SCALARS:
            return None
        items.append((name, value.__class__, value))
    return _merge_query(url, tuple(items))


@functools.lru_cache(maxsize=1024)
def _merge_query(url: httpx.URL, items: tuple[tuple[str, type, Any], ...]) -> httpx.URL:
    return url.copy_merge_params({name: value for name, _, value in items})


def _with_trailing_slash(url: httpx.URL) -> httpx.URL:
    if url.raw_path.endswith(b"/"):
        return url
    return url.copy_with(raw_path=url.raw_path + b"/")
