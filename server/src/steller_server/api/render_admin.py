"""Renderers and small parsers shared by the admin route modules (`api/admin/*`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from steller_server.api.limits import DEFAULT_POLICIES
from steller_server.domain import money
from steller_server.domain.errors import ValidationFailed
from steller_server.domain.models import AuditEntry, Order, Partner, Product
from steller_server.domain.pagination import Page
from steller_server.domain.serialize import iso, order_public, partner_public

#: Upper bound of one amount in minor units (10 trillion major units): far above any real
#: movement, far below the 64-bit columns, so a typo cannot overflow a balance.
MAX_AMOUNT_MINOR = 10**15


def page(items: list[dict[str, Any]], source: Page[Any]) -> dict[str, Any]:
    return {"data": items, "nextCursor": source.next_cursor}


def rate_limits(partner: Partner) -> dict[str, int]:
    """The partner's effective per-second limits (its overrides, else the defaults)."""
    return {
        "catalog": partner.rate_limit_catalog or DEFAULT_POLICIES["catalog"][0],
        "orders": partner.rate_limit_orders or DEFAULT_POLICIES["orders"][0],
        "default": partner.rate_limit_default or DEFAULT_POLICIES["default"][0],
    }


def admin_partner(partner: Partner, balance_minor: int) -> dict[str, Any]:
    """The ``AdminPartner`` schema."""
    return {
        **partner_public(partner),
        "balance": money.format_amount(balance_minor, partner.currency),
        "rateLimits": rate_limits(partner),
        "updatedAt": iso(partner.updated_at),
    }


def _vendor_order_id(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def admin_order(order: Order, *, partner_name: str, event_ids: list[str]) -> dict[str, Any]:
    """The ``AdminOrder`` schema: the partner's view minus cards, plus partner/vendor details.
    Cards are never rendered here, whatever the order carries."""
    body = order_public(order, include_cards=False)
    body.pop("cards", None)
    body.update(
        {
            "partnerId": order.partner_id,
            "partnerName": partner_name,
            "vendorRequestId": order.vendor_request_id,
            "vendorOrderId": _vendor_order_id(order.vendor_order_id),
            "vendorStatus": order.vendor_status,
            "events": list(event_ids),
        }
    )
    return body


def vendor_product(product: Product) -> dict[str, Any]:
    """The ``VendorProduct`` schema."""
    face, cost = product.face_currency, product.cost_currency
    return {
        "sku": product.sku,
        "vendorProductId": int(product.vendor_product_id)
        if product.vendor_product_id.isdigit()
        else 0,
        "name": product.name,
        "brandName": product.brand_name,
        "countryCode": product.country_code,
        "faceCurrency": face,
        "denominationType": product.denomination_type,
        "minFaceValue": money.format_amount(product.min_face_minor, face),
        "maxFaceValue": money.format_amount(product.max_face_minor, face),
        "costMin": money.format_amount(product.cost_min_minor, cost),
        "costMax": money.format_amount(product.cost_max_minor, cost),
        "costCurrency": cost,
        "stock": product.stock,
        "available": product.available,
        "updatedAt": iso(product.updated_at or product.created_at),
    }


def audit_entry(entry: AuditEntry) -> dict[str, Any]:
    """The ``AuditEntry`` schema (``requestId`` is null for entries written outside a request)."""
    return {
        "id": entry.id,
        "sequence": entry.sequence,
        "actor": entry.actor,
        "action": entry.action,
        "targetType": entry.target_type,
        "targetId": entry.target_id,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
        "requestId": entry.request_id,
        "createdAt": iso(entry.created_at),
        "prevHash": entry.prev_hash,
        "hash": entry.hash,
    }


def parse_instant(raw: str, pointer: str) -> datetime:
    """An RFC 3339 date-time with an offset as an aware datetime; 400 otherwise."""
    try:
        value: datetime | None = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ValidationFailed(
            f"{raw!r} is not an RFC 3339 date-time with a time zone",
            errors=[{"pointer": pointer, "message": "not an RFC 3339 date-time"}],
        )
    return value


def instant(query: dict[str, Any], name: str) -> datetime | None:
    """A ``date-time`` query parameter (``from``, ``to``) as an aware datetime, or None."""
    raw = query.get(name)
    return None if raw is None else parse_instant(str(raw), f"/query/{name}")


def amount_minor(text: str, currency: str, pointer: str) -> int:
    """A wire amount in minor units of ``currency``; more decimals than it allows is a 400
    (money is never rounded silently)."""
    value = Decimal(text)
    try:
        minor = money.to_minor_exact(value, currency)
    except ValueError:
        raise ValidationFailed(
            f"{text} has more decimals than {currency} allows",
            errors=[
                {
                    "pointer": pointer,
                    "message": f"at most {money.exponent(currency)} decimals for {currency}",
                }
            ],
        ) from None
    if abs(minor) > MAX_AMOUNT_MINOR:
        raise ValidationFailed(
            f"{text} {currency} is larger than any single movement Steller accepts",
            errors=[{"pointer": pointer, "message": "amount too large"}],
        )
    return minor
