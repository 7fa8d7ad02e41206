"""Public JSON renderings the domain needs itself (webhook payloads, audit snapshots).

The HTTP layer uses the same functions so a webhook's ``data`` and ``GET /api/orders/{id}`` agree.
Money renders at the currency exponent; timestamps as RFC 3339 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from steller_server.domain import money
from steller_server.domain.models import Card, LedgerEntry, Order, Partner, Wallet

__all__ = [
    "card_public",
    "iso",
    "ledger_entry_public",
    "order_public",
    "partner_public",
    "wallet_balance_public",
]


def iso(value: datetime | None) -> str | None:
    """RFC 3339 UTC with a ``Z`` (milliseconds trimmed to what is there)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def card_public(card: Card) -> dict[str, Any]:
    return {
        "serialNumber": card.serial_number,
        "code": card.code,
        "pin": card.pin,
        "expiresAt": iso(card.expires_at),
    }


def order_public(order: Order, *, include_cards: bool = False) -> dict[str, Any]:
    """The ``Order`` schema. Cards only with ``include_cards`` and only once delivered."""
    body: dict[str, Any] = {
        "id": order.id,
        "referenceId": order.reference_id,
        "status": order.status,
        "sku": order.sku,
        "productName": order.product_name,
        "brandName": order.brand_name,
        "faceValue": money.format_amount(order.face_value_minor, order.face_currency),
        "faceCurrency": order.face_currency,
        "quantity": order.quantity,
        "quantityFulfilled": order.quantity_fulfilled,
        "unitPrice": money.format_amount(order.unit_price_minor, order.currency),
        "total": money.format_amount(order.total_minor, order.currency),
        "refundedAmount": money.format_amount(order.refunded_minor, order.currency),
        "currency": order.currency,
        "failureReason": order.failure_reason,
        "createdAt": iso(order.created_at),
        "updatedAt": iso(order.updated_at),
        "completedAt": iso(order.completed_at),
    }
    if include_cards and order.status in ("completed", "partially_completed") and order.cards:
        body["cards"] = [card_public(card) for card in order.cards]
    return body


def ledger_entry_public(entry: LedgerEntry) -> dict[str, Any]:
    """The ``LedgerEntry`` schema (amount signed: debits negative)."""
    cur = entry.currency
    return {
        "id": entry.id,
        "walletId": entry.wallet_id,
        "type": entry.type,
        "amount": money.format_amount(entry.amount_minor, cur),
        "currency": cur,
        "balanceBefore": money.format_amount(entry.balance_before_minor, cur),
        "balanceAfter": money.format_amount(entry.balance_after_minor, cur),
        "description": entry.description,
        "orderId": entry.order_id,
        "actor": entry.actor,
        "createdAt": iso(entry.created_at),
    }


def partner_public(partner: Partner) -> dict[str, Any]:
    """The ``Partner`` schema."""
    return {
        "id": partner.id,
        "name": partner.name,
        "email": partner.email,
        "status": partner.status,
        "environment": partner.environment,
        "currency": partner.currency,
        "apiVersion": partner.api_version,
        "lowBalanceThreshold": money.format_amount(
            partner.low_balance_threshold_minor, partner.currency
        ),
        "notifications": dict(partner.notifications),
        "createdAt": iso(partner.created_at),
    }


def wallet_balance_public(wallet: Wallet) -> dict[str, Any]:
    return {
        "walletId": wallet.id,
        "balance": money.format_amount(wallet.balance_minor, wallet.currency),
        "currency": wallet.currency,
    }
