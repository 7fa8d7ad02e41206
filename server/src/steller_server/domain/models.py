"""Plain, frozen records the domain returns (rows of the tables, money in minor units).

The HTTP layer renders them; :mod:`steller_server.domain.serialize` holds the renderings that the
domain itself needs too (webhook payloads).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Self

from sqlalchemy import RowMapping

__all__ = [
    "ApiKey",
    "Approval",
    "AuditEntry",
    "Card",
    "Event",
    "Job",
    "LedgerEntry",
    "Order",
    "Partner",
    "Product",
    "Wallet",
]


class _FromRow:
    @classmethod
    def from_row(cls, row: RowMapping | dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in dict(row).items() if k in names})


@dataclass(frozen=True, kw_only=True)
class Partner(_FromRow):
    id: str
    name: str
    email: str
    company: str | None
    status: str
    environment: str
    currency: str
    api_version: str
    low_balance_threshold_minor: int
    low_balance_notified: bool
    notifications: dict[str, Any]
    rate_limit_catalog: int | None
    rate_limit_orders: int | None
    rate_limit_default: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, kw_only=True)
class Wallet(_FromRow):
    id: str
    partner_id: str
    currency: str
    balance_minor: int
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class LedgerEntry(_FromRow):
    id: str
    wallet_id: str
    wallet_seq: int
    partner_id: str
    type: str
    amount_minor: int
    currency: str
    balance_before_minor: int
    balance_after_minor: int
    description: str
    order_id: str | None
    actor: str
    entry_key: str | None
    request_id: str | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class Product(_FromRow):
    sku: str
    vendor_product_id: str
    name: str
    brand_name: str
    country_code: str
    categories: list[str]
    face_currency: str
    denomination_type: str
    min_face_minor: int
    max_face_minor: int
    cost_min_minor: int
    cost_max_minor: int
    cost_currency: str
    stock: int | None
    available: bool
    redemption_instructions: str | None = None
    terms: str | None = None
    logo_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def in_stock(self) -> bool:
        return self.stock is None or self.stock > 0


@dataclass(frozen=True, kw_only=True)
class Approval(_FromRow):
    """A product approved for a partner, at ``discount_percent`` (negative = markup)."""

    partner_id: str
    sku: str
    discount_percent: Decimal
    approved_by: str
    approved_at: datetime


@dataclass(frozen=True, kw_only=True)
class Card:
    """A delivered card, decrypted. Only ever shown to the owning partner."""

    serial_number: str
    code: str
    pin: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Order(_FromRow):
    id: str
    partner_id: str
    wallet_id: str
    reference_id: str
    request_hash: str
    sku: str
    product_name: str
    brand_name: str
    face_value_minor: int
    face_currency: str
    quantity: int
    quantity_fulfilled: int
    unit_price_minor: int
    total_minor: int
    refunded_minor: int
    currency: str
    discount_percent: Decimal
    exchange_rate: Decimal
    status: str
    failure_reason: str | None
    vendor_request_id: str
    vendor_order_id: str | None
    vendor_status: str | None
    vendor_submitted_at: datetime | None
    request_id: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    cards: tuple[Card, ...] | None = field(default=None, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.status != "processing"


@dataclass(frozen=True, kw_only=True)
class ApiKey(_FromRow):
    id: str
    partner_id: str
    prefix: str
    last4: str
    role: str
    environment: str
    ip_allowlist: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    rotated_from_id: str | None

    def status_at(self, now: datetime) -> str:
        """active | expiring (has a future expiry, e.g. rotation grace) | revoked | expired."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None:
            return "expired" if self.expires_at <= now else "expiring"
        return "active"


@dataclass(frozen=True, kw_only=True)
class Job(_FromRow):
    id: int
    kind: str
    payload: dict[str, Any]
    status: str
    run_at: datetime
    attempts: int
    max_attempts: int
    locked_by: str | None
    locked_until: datetime | None
    last_error: str | None
    dedupe_key: str | None
    request_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class Event(_FromRow):
    id: str
    partner_id: str
    type: str
    payload: dict[str, Any]
    order_id: str | None
    delivery_status: str
    attempt_count: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class AuditEntry(_FromRow):
    id: str
    sequence: int
    actor: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    request_id: str | None
    created_at: datetime
    prev_hash: str
    hash: str
