"""Every exception the SDK raises, in one tree.

::

    StellerError                                  anything raised by this SDK
    ├── APIConnectionError                        no HTTP response (DNS, refused, reset, TLS…)
    │   └── APITimeoutError                       connect/read/write/pool timeout
    ├── APIResponseValidationError                a response did not match the SDK's models
    ├── APIStatusError                            the API answered 4xx/5xx (problem+json)
    │   ├── BadRequestError                       400
    │   │   └── ValidationFailedError             400 validation_failed (see ``.errors``)
    │   ├── AuthenticationError                   401
    │   ├── InsufficientFundsError                402 insufficient_funds
    │   ├── PermissionDeniedError                 403
    │   ├── NotFoundError                         404
    │   ├── ConflictError                         409
    │   │   ├── IdempotencyInProgressError        409 idempotency_in_progress
    │   │   └── ReferenceConflictError            409 reference_conflict
    │   ├── PayloadTooLargeError                  413
    │   ├── UnprocessableEntityError              422
    │   │   ├── IdempotencyKeyReusedError         422 idempotency_key_reused
    │   │   └── PriceAboveExpectedTotalError      422 price_above_expected_total
    │   ├── RateLimitError                        429 (see ``.retry_after``)
    │   └── InternalServerError                   5xx
    │       └── ServiceUnavailableError           503
    └── WebhookVerificationError                  (in ``steller.webhooks``)
        ├── WebhookMissingHeaderError
        ├── WebhookTimestampError
        └── WebhookSignatureError

Every :class:`APIStatusError` carries the RFC 9457 problem fields (``code``, ``title``,
``detail``, ``errors``), the ``request_id`` to quote to support, the ``idempotency_key`` the
request was sent with, the response ``headers`` and the raw ``body``::

    try:
        client.orders.create(sku="AMZ-US", face_value="50.00", quantity=1, reference_id="r1")
    except steller.InsufficientFundsError as err:
        print(err)  # 402 insufficient_funds: Wallet balance 10.00 USD is below … (request req_…)
    except steller.RateLimitError as err:
        schedule_later(err.retry_after)

This module imports nothing outside the standard library at run time, so that
``steller.webhooks`` (which builds on :class:`StellerError`) stays dependency-free.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

if TYPE_CHECKING:
    import httpx

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "FieldError",
    "IdempotencyInProgressError",
    "IdempotencyKeyReusedError",
    "InsufficientFundsError",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PriceAboveExpectedTotalError",
    "RateLimitError",
    "ReferenceConflictError",
    "ServiceUnavailableError",
    "StellerError",
    "UnprocessableEntityError",
    "ValidationFailedError",
    "make_status_error",
    "retry_after_from_headers",
]


class StellerError(Exception):
    """Base class of every exception raised by the Steller SDK."""


class APIConnectionError(StellerError):
    """The request got no HTTP response: DNS failure, connection refused or reset, TLS error.

    ``request`` is the :class:`httpx.Request` that failed; the underlying httpx exception is
    ``__cause__``. ``idempotency_key`` is the key the request carried (retry the call with the
    same key to be safe against a request that did reach the server).
    """

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request,
        idempotency_key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.idempotency_key = idempotency_key
        #: How many retries the SDK made before giving up.
        self.retries_taken = 0


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, read, write, or waiting for a pooled connection)."""


class APIResponseValidationError(StellerError):
    """A successful response did not match the model the SDK expected.

    ``errors`` lists each mismatch as a :class:`FieldError` whose pointer locates it in the
    body (``/cards/0/code``); the raw JSON is in ``body``. This usually means the SDK is older
    than the API: please upgrade, or report it.
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: object,
        errors: list[FieldError],
    ) -> None:
        if errors:
            listed = "; ".join(f"{e.pointer or '/'}: {e.message}" for e in errors[:5])
            message = f"{message}: {listed}"
        super().__init__(message)
        self.message = message
        self.response = response
        self.body = body
        self.errors = errors


class FieldError(NamedTuple):
    """One entry of a problem's ``errors`` list: which field (a JSON pointer) and what is wrong."""

    pointer: str
    message: str


class APIStatusError(StellerError):
    """The API answered with an error status; the problem+json body is parsed into attributes.

    Attributes:
        status_code: the HTTP status.
        code: the stable snake_case problem code (``"insufficient_funds"``), or ``None``.
        title, detail: the problem's human-readable summary and explanation.
        errors: the per-field problems (:class:`FieldError`), empty when there are none.
        body: the decoded problem object (``None`` if the body was not JSON).
        request_id: the ``requestId`` (or ``X-Request-Id`` header) to quote to support.
        idempotency_key: the ``Idempotency-Key`` the request carried, if any.
        headers: the response headers.
        response: the :class:`httpx.Response`.
        retries_taken: how many retries the SDK made before giving up.
    """

    #: The status this class stands for (``None`` for the generic base class).
    expected_status: ClassVar[int | None] = None

    def __init__(
        self,
        message: str | None = None,
        *,
        response: httpx.Response,
        body: object = None,
        idempotency_key: str | None = None,
    ) -> None:
        problem: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
        self.response = response
        self.status_code: int = response.status_code
        self.headers: httpx.Headers = response.headers
        self.body = body
        self.idempotency_key = idempotency_key
        self.code: str | None = _str_or_none(problem.get("code"))
        self.title: str | None = _str_or_none(problem.get("title")) or (
            response.reason_phrase or None
        )
        self.detail: str | None = _str_or_none(problem.get("detail"))
        if self.detail is None and not problem and isinstance(body, str) and body.strip():
            # Not problem+json (a proxy's HTML page, say): keep a short excerpt.
            self.detail = " ".join(body.split())[:200]
        self.type: str | None = _str_or_none(problem.get("type"))
        self.instance: str | None = _str_or_none(problem.get("instance"))
        self.request_id: str | None = _str_or_none(problem.get("requestId")) or (
            response.headers.get("x-request-id")
        )
        self.errors: list[FieldError] = _field_errors(problem.get("errors"))
        self.retries_taken = 0
        self.message = message if message is not None else self._summary()
        super().__init__(self.message)

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait (``Retry-After``, or an exhausted ``RateLimit``
        policy's reset), or ``None`` when it gave no hint."""
        return retry_after_from_headers(self.headers)

    def _summary(self) -> str:
        head = f"{self.status_code} {self.code or self.title or 'error'}"
        text = self.detail or (self.title if self.code else None)
        if self.errors:
            listed = "; ".join(f"{e.pointer or '/'}: {e.message}" for e in self.errors[:5])
            more = f"; and {len(self.errors) - 5} more" if len(self.errors) > 5 else ""
            text = f"{text} [{listed}{more}]" if text else f"[{listed}{more}]"
        out = f"{head}: {text}" if text else head
        if self.request_id:
            out += f" (request {self.request_id})"
        return out


class BadRequestError(APIStatusError):
    """400: the request is malformed (unknown field, bad query parameter, unknown version)."""

    expected_status = 400


class AuthenticationError(APIStatusError):
    """401: the API key or token is missing, wrong, or revoked."""

    expected_status = 401


class InsufficientFundsError(APIStatusError):
    """402 ``insufficient_funds``: the wallet cannot pay for the order; nothing was charged."""

    expected_status = 402


class PermissionDeniedError(APIStatusError):
    """403: the key's role is too weak, the partner is suspended, or the IP is not allowed."""

    expected_status = 403


class NotFoundError(APIStatusError):
    """404: no such resource (or it belongs to another partner)."""

    expected_status = 404


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state."""

    expected_status = 409


class IdempotencyInProgressError(ConflictError):
    """409 ``idempotency_in_progress``: a request with this Idempotency-Key is still running.

    The SDK retries this one itself (with the same key); it reaches you only once the retries
    are spent. Retrying later with the same key returns the first request's result.
    """


class ReferenceConflictError(ConflictError):
    """409 ``reference_conflict``: this ``referenceId`` was used before with a different body."""


class PayloadTooLargeError(APIStatusError):
    """413: the request body is too large."""

    expected_status = 413


class UnprocessableEntityError(APIStatusError):
    """422: the request is well-formed but cannot be processed."""

    expected_status = 422


class IdempotencyKeyReusedError(UnprocessableEntityError):
    """422 ``idempotency_key_reused``: this Idempotency-Key was used with a different request."""


class PriceAboveExpectedTotalError(UnprocessableEntityError):
    """422 ``price_above_expected_total``: the price is higher than the order's expectedTotal."""


class ValidationFailedError(BadRequestError):
    """400 ``validation_failed``: some fields are invalid; ``errors`` names each by JSON pointer.

    ::

        except steller.ValidationFailedError as err:
            for pointer, message in err.errors:
                print(pointer, message)  # /quantity must be >= 1
    """


class RateLimitError(APIStatusError):
    """429: too many requests. ``retry_after`` says how many seconds to wait (or ``None``)."""

    expected_status = 429


class InternalServerError(APIStatusError):
    """5xx: the server failed. Safe-to-replay requests were already retried by the SDK."""


class ServiceUnavailableError(InternalServerError):
    """503: the service is temporarily unavailable (maintenance, overload)."""

    expected_status = 503


_BY_CODE: Mapping[str, type[APIStatusError]] = MappingProxyType(
    {
        "insufficient_funds": InsufficientFundsError,
        "idempotency_in_progress": IdempotencyInProgressError,
        "reference_conflict": ReferenceConflictError,
        "idempotency_key_reused": IdempotencyKeyReusedError,
        "price_above_expected_total": PriceAboveExpectedTotalError,
        "validation_failed": ValidationFailedError,
    }
)

_BY_STATUS: Mapping[int, type[APIStatusError]] = MappingProxyType(
    {
        400: BadRequestError,
        401: AuthenticationError,
        402: InsufficientFundsError,
        403: PermissionDeniedError,
        404: NotFoundError,
        409: ConflictError,
        413: PayloadTooLargeError,
        422: UnprocessableEntityError,
        429: RateLimitError,
        503: ServiceUnavailableError,
    }
)


def _error_class(status: int, code: str | None) -> type[APIStatusError]:
    by_code = _BY_CODE.get(code) if code else None
    # A code picks the leaf only when it agrees with the status, so ``except ConflictError``
    # can never miss a 409 because the server used a code in an unexpected place.
    if by_code is not None and by_code.expected_status == status:
        return by_code
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return InternalServerError
    return APIStatusError


def make_status_error(
    response: httpx.Response, idempotency_key: str | None = None
) -> APIStatusError:
    """Build the right :class:`APIStatusError` subclass for an error response.

    The class is chosen by the problem ``code`` first (when it belongs to the response status),
    then by the status. The response body must already be read.
    """
    body: object
    try:
        body = response.json()
    except ValueError:  # not JSON (json.JSONDecodeError and UnicodeDecodeError are ValueErrors)
        body = response.text or None
    code = body.get("code") if isinstance(body, Mapping) else None
    cls = _error_class(response.status_code, code if isinstance(code, str) else None)
    return cls(response=response, body=body, idempotency_key=idempotency_key)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _field_errors(raw: object) -> list[FieldError]:
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw:
        if isinstance(item, Mapping):
            pointer, message = item.get("pointer"), item.get("message")
            out.append(FieldError(str(pointer or ""), str(message or "")))
    return out


def retry_after_from_headers(
    headers: Mapping[str, str], *, now: float | None = None
) -> float | None:
    """Seconds to wait before retrying, from ``Retry-After`` or the ``RateLimit`` header.

    ``Retry-After`` wins; it may be delay-seconds or an HTTP-date (relative to ``now``, a Unix
    time, default the current time). Otherwise the reset (``t=``) of an exhausted (``r=0``)
    ``RateLimit`` policy is used, e.g. ``RateLimit: "default";r=0;t=3`` gives 3.0. The header
    lookup must be case-insensitive (``httpx.Headers`` is). Never negative; ``None`` if no hint.
    """
    value = headers.get("retry-after")
    if value is not None:
        seconds = _parse_retry_after(value, now)
        if seconds is not None:
            return seconds
    value = headers.get("ratelimit")
    if value is not None:
        return _parse_ratelimit_reset(value, headers.get("ratelimit-reset"))
    return None


def _parse_retry_after(value: str, now: float | None) -> float | None:
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP-date is always GMT
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _parse_ratelimit_reset(value: str, legacy_reset: str | None) -> float | None:
    """Reset of the exhausted policy in a ``RateLimit`` header (draft 8+ or the older form)."""
    exhausted: list[float] = []
    legacy: dict[str, str] = {}
    for item in value.split(","):
        parts = [p.strip() for p in item.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if "r" in params or "t" in params:  # draft 8+: "policy";r=0;t=3
            remaining, reset = _number(params.get("r")), _number(params.get("t"))
            if remaining == 0 and reset is not None:
                exhausted.append(reset)
        elif "=" in parts[0]:  # draft 6/7: limit=10, remaining=0, reset=3
            key, _, number = parts[0].partition("=")
            legacy[key.strip().lower()] = number
    if exhausted:
        return max(0.0, *exhausted)
    if legacy.get("remaining", "").strip() == "0":
        reset = _number(legacy.get("reset", legacy_reset))
        return max(0.0, reset) if reset is not None else None
    return None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip().strip('"'))
    except ValueError:
        return None
