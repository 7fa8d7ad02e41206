"""Typed domain errors, each with the stable ``code`` of the API's problem+json.

    DomainError                      code                    status hint
    ├── ValidationFailed             validation_failed       400
    ├── InvalidCursor                invalid_cursor          400
    ├── InsufficientFunds            insufficient_funds      402
    ├── PartnerSuspended             partner_suspended       403
    ├── NotFound                     not_found               404
    ├── ReferenceConflict            reference_conflict      409
    ├── InvalidState                 invalid_state           409
    ├── IdempotencyInProgress        idempotency_in_progress 409
    ├── EmailTaken                   email_taken             409
    ├── IdempotencyKeyReused         idempotency_key_reused  422
    ├── ProductNotAvailable          product_not_available   422
    ├── InvalidFaceValue             invalid_face_value      422
    ├── PriceAboveExpectedTotal      price_above_expected_total 422
    └── PriceBelowCost               price_below_cost        422

``status`` is the HTTP status the API maps the error to (the codes map one-to-one); the domain
itself never speaks HTTP. ``detail`` is a human sentence safe to show the caller; ``extra`` holds
structured fields the problem body may add.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "DomainError",
    "EmailTaken",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "InsufficientFunds",
    "InvalidCursor",
    "InvalidFaceValue",
    "InvalidState",
    "NotFound",
    "PartnerSuspended",
    "PriceAboveExpectedTotal",
    "PriceBelowCost",
    "ProductNotAvailable",
    "ReferenceConflict",
    "ValidationFailed",
]


class DomainError(Exception):
    """Base of every rule violation the API turns into a problem response."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra: dict[str, Any] = extra
        super().__init__(self.detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, detail={self.detail!r})"


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 400
    title = "Validation failed"

    def __init__(
        self, detail: str | None = None, *, errors: list[dict[str, str]] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail, **extra)
        self.errors = errors or []


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    status = 400
    title = "Invalid cursor"


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    status = 402
    title = "Insufficient funds"


class PartnerSuspended(DomainError):
    code = "partner_suspended"
    status = 403
    title = "Partner suspended"


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class ReferenceConflict(DomainError):
    code = "reference_conflict"
    status = 409
    title = "Reference conflict"


class InvalidState(DomainError):
    code = "invalid_state"
    status = 409
    title = "Invalid state"


class IdempotencyInProgress(DomainError):
    code = "idempotency_in_progress"
    status = 409
    title = "Request with this Idempotency-Key is in progress"


class EmailTaken(DomainError):
    code = "email_taken"
    status = 409
    title = "Email already registered"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 422
    title = "Idempotency-Key reused with a different request"


class ProductNotAvailable(DomainError):
    code = "product_not_available"
    status = 422
    title = "Product not available"


class InvalidFaceValue(DomainError):
    code = "invalid_face_value"
    status = 422
    title = "Invalid face value"


class PriceAboveExpectedTotal(DomainError):
    code = "price_above_expected_total"
    status = 422
    title = "Price above expected total"


class PriceBelowCost(DomainError):
    code = "price_below_cost"
    status = 422
    title = "Price below cost"
