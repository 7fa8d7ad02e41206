"""Typed results of the Bamboo client, parsed from Bamboo's camelCase JSON.

Amounts are ``Decimal`` (the client parses JSON numbers with ``parse_float=Decimal``); datetimes
are aware UTC (Bamboo sends naive .NET timestamps in UTC). Unknown fields are ignored and unknown
status strings are kept as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from steller_server.vendor.errors import VendorProtocolError

__all__ = [
    "FINAL_ORDER_STATUSES",
    "Account",
    "Brand",
    "Card",
    "CatalogPage",
    "Category",
    "ExchangeRates",
    "NotificationConfig",
    "OrderItem",
    "OrderLine",
    "OrderReportRow",
    "Price",
    "Product",
    "TransactionRow",
    "VendorOrder",
]

FINAL_ORDER_STATUSES = frozenset({"Succeeded", "Failed", "PartialFailed"})


def _dec(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        return Decimal(value)
    raise VendorProtocolError(f"expected a number, got {value!r}")


def _opt_dec(value: Any) -> Decimal | None:
    return None if value is None else _dec(value)


def _dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise VendorProtocolError(f"bad datetime {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of a checkout: ``value`` is the *face value*, not the price."""

    product_id: int
    quantity: int
    value: Decimal

    def to_wire(self) -> dict[str, Any]:
        return {"ProductId": self.product_id, "Quantity": self.quantity, "Value": self.value}


@dataclass(frozen=True, slots=True)
class Price:
    min: Decimal
    max: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    name: str
    min_face_value: Decimal
    max_face_value: Decimal
    count: int | None
    """Stock: None = unlimited, 0 = out of stock."""
    price: Price
    modified: datetime | None
    sku: str | None
    status: str | None

    @property
    def is_range(self) -> bool:
        return self.min_face_value < self.max_face_value

    @property
    def in_stock(self) -> bool:
        return self.count is None or self.count > 0

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Product:
        price = data.get("price") or {}
        return cls(
            id=int(data["id"]),
            name=str(data.get("name") or ""),
            min_face_value=_dec(data["minFaceValue"]),
            max_face_value=_dec(data["maxFaceValue"]),
            count=None if data.get("count") is None else int(data["count"]),
            price=Price(_dec(price["min"]), _dec(price["max"]), str(price["currencyCode"])),
            modified=_dt(data.get("modifiedDate")),
            sku=data.get("sku"),
            status=data.get("status"),
        )


@dataclass(frozen=True, slots=True)
class Brand:
    internal_id: str
    name: str
    country_code: str
    currency_code: str
    description: str
    redemption_instructions: str
    terms: str
    logo_url: str | None
    modified: datetime | None
    products: tuple[Product, ...]
    categories: tuple[int, ...] = ()
    """Category ids (``items[].categories[]``); :class:`Category` names them."""

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Brand:
        return cls(
            internal_id=str(data["internalId"]),
            name=str(data.get("name") or ""),
            country_code=str(data.get("countryCode") or ""),
            currency_code=str(data.get("currencyCode") or ""),
            description=str(data.get("description") or ""),
            redemption_instructions=str(data.get("redemptionInstructions") or ""),
            terms=str(data.get("terms") or ""),
            logo_url=data.get("logoUrl"),
            modified=_dt(data.get("modifiedDate")),
            products=tuple(Product.from_wire(p) for p in data.get("products") or ()),
            categories=_category_ids(data.get("categories")),
        )


def _category_ids(raw: Any) -> tuple[int, ...]:
    """Ids from ``[1, 2]``; ``[{"id": 1, …}]`` and numeric strings are tolerated, the rest
    skipped (the field is undocumented, so its shape must not break a catalog read)."""
    ids: list[int] = []
    for item in raw if isinstance(raw, list) else ():
        value = item.get("id") if isinstance(item, dict) else item
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            ids.append(value)
        elif isinstance(value, str) and value.strip().isdigit():
            ids.append(int(value))
    return tuple(ids)


@dataclass(frozen=True, slots=True)
class Category:
    id: int
    name: str
    description: str

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Category:
        return cls(
            id=int(data["id"]),
            name=str(data.get("name") or ""),
            description=str(data.get("description") or ""),
        )


@dataclass(frozen=True, slots=True)
class CatalogPage:
    page_index: int
    page_size: int
    count: int
    """Total number of matching brands, across every page."""
    items: tuple[Brand, ...]

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> CatalogPage:
        # One SDK example spells it ``pageindex``.
        index = data.get("pageIndex", data.get("pageindex", 0))
        return cls(
            page_index=int(index),
            page_size=int(data["pageSize"]),
            count=int(data["count"]),
            items=tuple(Brand.from_wire(b) for b in data.get("items") or ()),
        )


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    currency: str
    balance: Decimal
    is_active: bool
    sandbox_mode: bool

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Account:
        return cls(
            id=int(data["id"]),
            currency=str(data["currency"]),
            balance=_dec(data["balance"]),
            is_active=bool(data.get("isActive", True)),
            sandbox_mode=bool(data.get("sandboxMode", False)),
        )


@dataclass(frozen=True, slots=True)
class Card:
    id: int
    serial_number: str | None
    card_code: str | None
    pin: str | None
    expiration: datetime | None
    status: str

    @property
    def is_sold(self) -> bool:
        return self.status == "Sold"

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Card:
        return cls(
            id=int(data["id"]),
            serial_number=data.get("serialNumber"),
            card_code=data.get("cardCode"),
            pin=data.get("pin"),
            expiration=_dt(data.get("expirationDate")),
            status=str(data.get("status") or ""),
        )


@dataclass(frozen=True, slots=True)
class OrderItem:
    product_id: int
    face_value: Decimal
    quantity: int
    country_code: str | None
    currency_code: str | None
    status: str | None
    cards: tuple[Card, ...]

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> OrderItem:
        return cls(
            product_id=int(data["productId"]),
            face_value=_dec(data["productFaceValue"]),
            quantity=int(data["quantity"]),
            country_code=data.get("countryCode"),
            currency_code=data.get("currencyCode"),
            status=data.get("status"),
            cards=tuple(Card.from_wire(c) for c in data.get("cards") or ()),
        )


@dataclass(frozen=True, slots=True)
class VendorOrder:
    order_id: int
    request_id: str
    status: str
    items: tuple[OrderItem, ...]
    created: datetime | None
    total: Decimal
    """Charged to the account, in ``currency`` (the account's currency)."""
    currency: str
    error_message: str | None
    order_type: str | None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_ORDER_STATUSES

    @property
    def sold_cards(self) -> list[Card]:
        """Only Sold cards carry usable codes."""
        return [card for item in self.items for card in item.cards if card.is_sold]

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> VendorOrder:
        return cls(
            order_id=int(data["orderId"]),
            request_id=str(data["requestId"]),
            status=str(data["status"]),
            items=tuple(OrderItem.from_wire(i) for i in data.get("items") or ()),
            created=_dt(data.get("createdDate")),
            total=_dec(data.get("total") or 0),
            currency=str(data.get("currency") or ""),
            error_message=data.get("errorMessage"),
            order_type=data.get("orderType"),
        )


@dataclass(frozen=True, slots=True)
class ExchangeRates:
    base: str
    rates: dict[str, Decimal]

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ExchangeRates:
        return cls(
            base=str(data["baseCurrencyCode"]),
            rates={str(r["currencyCode"]): _dec(r["value"]) for r in data.get("rates") or ()},
        )


@dataclass(frozen=True, slots=True)
class TransactionRow:
    client_name: str
    order_id: int
    request_id: str
    order_number: str
    transaction_id: str
    transaction_type: str
    amount: Decimal
    currency: str
    available_balance: Decimal
    date: datetime | None

    @classmethod
    def from_wire(cls, client_name: str, data: dict[str, Any]) -> TransactionRow:
        amount = data.get("transactionAmount") or {}
        balance = data.get("availableBalance") or {}
        return cls(
            client_name=client_name,
            order_id=int(data["orderId"]),
            request_id=str(data["requestId"]),
            order_number=str(data.get("orderNumber") or ""),
            transaction_id=str(data.get("transactionId") or "").strip(),
            transaction_type=str(data.get("transactionType") or ""),
            amount=_dec(amount.get("value", 0)),
            currency=str(amount.get("currencyCode") or ""),
            available_balance=_dec(balance.get("value", 0)),
            date=_dt(data.get("transactionDate")),
        )


@dataclass(frozen=True, slots=True)
class OrderReportRow:
    order_number: str
    order_date: datetime | None
    request_id: str
    channel: str
    product_name: str
    denomination: str
    quantity: int
    unit_price: Decimal
    sub_total: Decimal
    total: Decimal
    account_currency: str
    status: str

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> OrderReportRow:
        return cls(
            order_number=str(data["orderNumber"]),
            order_date=_dt(data.get("orderDate")),
            request_id=str(data["clientReferenceNumber"]),
            channel=str(data.get("channel") or ""),
            product_name=str(data.get("productName") or ""),
            denomination=str(data.get("denomination") or ""),
            quantity=int(data.get("quantity") or 0),
            unit_price=_dec(data.get("unitPrice") or 0),
            sub_total=_dec(data.get("subTotal") or 0),
            total=_dec(data.get("total") or 0),
            account_currency=str(data.get("accountCurrency") or ""),
            status=str(data.get("status") or ""),
        )


@dataclass(frozen=True, slots=True)
class NotificationConfig:
    notification_url: str
    notification_url_sandbox: str
    secret_key: str

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> NotificationConfig:
        return cls(
            notification_url=str(data.get("notificationUrl") or ""),
            notification_url_sandbox=str(data.get("notificationUrlSandbox") or ""),
            secret_key=str(data.get("secretKey") or ""),
        )
