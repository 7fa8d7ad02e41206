"""Errors raised by the Bamboo vendor client.

VendorError                     any failure talking to Bamboo
├── VendorRejected              400 with a Bamboo reason code (``reason_code``)
│   └── VendorOrderNotFound     Get Order for an unknown RequestId
├── VendorAuthError             401 / 403: credentials wrong or without access
├── VendorRateLimited           429 whose wait exceeds ``max_wait``, or our own limiter
│                               could not get a slot within ``max_wait``
├── VendorUnavailable           connect errors, timeouts, 5xx after every retry;
│                               ``outcome_unknown`` says a checkout may have been created
└── VendorProtocolError         a response we could not understand
"""

from __future__ import annotations

__all__ = [
    "VendorAuthError",
    "VendorError",
    "VendorOrderNotFound",
    "VendorProtocolError",
    "VendorRateLimited",
    "VendorRejected",
    "VendorUnavailable",
]


class VendorError(Exception):
    """Base class; ``status_code`` is the HTTP status when there was a response."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class VendorRejected(VendorError):
    """Bamboo refused the request (400) with ``reason_code``, e.g. ``InsufficientBalance``."""

    def __init__(self, reason_code: str, *, status_code: int = 400) -> None:
        super().__init__(f"Bamboo rejected the request: {reason_code}", status_code=status_code)
        self.reason_code = reason_code


class VendorOrderNotFound(VendorRejected):
    def __init__(self, *, status_code: int = 404) -> None:
        super().__init__("OrderNotFound", status_code=status_code)


class VendorAuthError(VendorError):
    pass


class VendorRateLimited(VendorError):
    """A limit we will not wait out; ``retry_after`` is in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status_code=429)
        self.retry_after = retry_after


class VendorUnavailable(VendorError):
    """Transient failures outlasted the retry policy.

    ``outcome_unknown`` is True for a checkout whose request may have reached Bamboo (a timeout or
    a 5xx after sending): retry later with the same RequestId, or call Get Order.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, outcome_unknown: bool = False
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.outcome_unknown = outcome_unknown


class VendorProtocolError(VendorError):
    pass
