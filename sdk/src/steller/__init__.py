"""The Python SDK for the Steller gift-card API.

::

    import steller

    with steller.Steller(api_key="stlr_test_…", environment="sandbox") as client:
        for product in client.catalog.list(country="US"):
            print(product.sku, product.unit_price_min, product.currency)
        order = client.orders.create_and_wait(
            sku="AMZ-US", face_value="50.00", quantity=1, reference_id="cart-1234"
        )

Public modules: ``steller`` (clients, errors, configuration, pages, raw responses),
``steller.models`` (the data models), ``steller.webhooks`` (verify deliveries),
``steller.admin`` (the staff client) and ``steller.testing`` (instant retries in tests).
Everything else (modules starting with ``_``) is private and may change in any release.
"""

from ._client import API_VERSION, AsyncSteller, Steller, signup
from ._config import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_POLICY,
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    Environment,
    NotGiven,
    RequestOptions,
    RetryPolicy,
    Timeout,
)
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FieldError,
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    InsufficientFundsError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PriceAboveExpectedTotalError,
    RateLimitError,
    ReferenceConflictError,
    ServiceUnavailableError,
    StellerError,
    UnprocessableEntityError,
    ValidationFailedError,
)
from ._pagination import AsyncPage, AsyncPaginator, SyncPage
from ._resources.orders import FINAL_ORDER_STATUSES, OrderWaitTimeout
from ._response import APIResponse, AsyncAPIResponse
from ._version import __version__

__all__ = [
    "API_VERSION",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_TIMEOUT",
    "FINAL_ORDER_STATUSES",
    "NOT_GIVEN",
    "APIConnectionError",
    "APIResponse",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncAPIResponse",
    "AsyncPage",
    "AsyncPaginator",
    "AsyncSteller",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "Environment",
    "FieldError",
    "IdempotencyInProgressError",
    "IdempotencyKeyReusedError",
    "InsufficientFundsError",
    "InternalServerError",
    "NotFoundError",
    "NotGiven",
    "OrderWaitTimeout",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PriceAboveExpectedTotalError",
    "RateLimitError",
    "ReferenceConflictError",
    "RequestOptions",
    "RetryPolicy",
    "ServiceUnavailableError",
    "Steller",
    "StellerError",
    "SyncPage",
    "Timeout",
    "UnprocessableEntityError",
    "ValidationFailedError",
    "__version__",
    "signup",
]
