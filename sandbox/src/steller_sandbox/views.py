"""Render simulator state in Bamboo's wire shapes (camelCase, decimals, .NET datetimes)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from steller_sandbox.catalog import Brand, Product
from steller_sandbox.config import Environment
from steller_sandbox.state import Order, OrderLine, Simulator, Transaction
from steller_sandbox.wire import format_date, format_datetime

__all__ = ["brand_json", "order_json", "order_report_rows", "transaction_json"]

FOUR_PLACES = Decimal("0.0001")


def _money(value: Decimal, currency: str) -> dict[str, Any]:
    return {"value": value, "currencyCode": currency}


def product_json(sim: Simulator, product: Product, target_currency: str | None) -> dict[str, Any]:
    low = product.unit_price(product.min_face_value)
    high = product.unit_price(product.max_face_value)
    currency = product.currency
    if target_currency and target_currency != currency:
        low = sim.convert(low, currency, target_currency)
        high = sim.convert(high, currency, target_currency)
        currency = target_currency
    return {
        "id": product.id,
        "name": product.name,
        "minFaceValue": product.min_face_value,
        "maxFaceValue": product.max_face_value,
        "count": product.count,
        "price": {"min": low, "max": high, "currencyCode": currency},
        "modifiedDate": format_datetime(product.modified),
        "sku": product.sku,
        "status": product.status,
        "isDeleted": False,
    }


def brand_json(
    sim: Simulator,
    brand: Brand,
    *,
    products: list[Product] | None = None,
    target_currency: str | None = None,
) -> dict[str, Any]:
    return {
        "internalId": brand.internal_id,
        "name": brand.name,
        "countryCode": brand.country,
        "currencyCode": brand.currency,
        "description": f"{brand.name} digital gift card.",
        "disclaimer": "",
        "redemptionInstructions": f"Redeem the code at {brand.name} before it expires.",
        "terms": "",
        "logoUrl": brand.logo_url,
        "modifiedDate": format_datetime(brand.modified),
        "categories": brand.category_ids,
        "products": [
            product_json(sim, p, target_currency)
            for p in (brand.products if products is None else products)
        ],
    }


def _card_status(order_status: str, sold: bool) -> str:
    if order_status == "Created":
        return "Created"
    if order_status in {"Processing", "Pending"}:
        return "Processing"
    return "Sold" if sold else "Failed"


def _line_status(order: Order, line: OrderLine, order_status: str) -> str:
    if not order.finalized:
        return order_status
    if line.sold == line.quantity:
        return "Succeeded"
    return "Failed" if line.sold == 0 else "PartialFailed"


def order_json(sim: Simulator, order: Order, now: datetime) -> dict[str, Any]:
    status = order.status_at(now)
    expires = format_datetime(_one_year_later(order.created))
    items = []
    for line in order.lines:
        brand = sim.catalog.brand_of[line.product.id]
        cards = []
        for card in line.cards:
            card_status = _card_status(status, card.sold)
            sold = card_status == "Sold"
            cards.append(
                {
                    "id": card.id,
                    "serialNumber": card.serial_number if sold else None,
                    "cardCode": card.card_code if sold else None,
                    "pin": card.pin if sold else None,
                    "expirationDate": expires if sold else None,
                    "status": card_status,
                }
            )
        items.append(
            {
                "brandCode": None,
                "productId": line.product.id,
                "productFaceValue": line.face_value,
                "quantity": line.quantity,
                "pictureUrl": None,
                "countryCode": brand.country,
                "currencyCode": line.product.currency,
                "status": _line_status(order, line, status),
                "cards": cards,
            }
        )
    return {
        "orderId": order.order_id,
        "requestId": order.request_id,
        "items": items,
        "status": status,
        "createdDate": format_datetime(order.created),
        "total": order.charged.quantize(FOUR_PLACES),
        "errorMessage": order.error_message if order.finalized else None,
        "orderType": _channel(order.environment),
        "currency": order.currency,
    }


def _one_year_later(when: datetime) -> datetime:
    try:
        return when.replace(year=when.year + 1)
    except ValueError:  # 29 February
        return when.replace(year=when.year + 1, day=28)


def _channel(environment: Environment) -> str:
    return "Sandbox" if environment is Environment.SANDBOX else "Production"


def transaction_json(sim: Simulator, tx: Transaction) -> dict[str, Any]:
    order = tx.order
    total = _money(order.charged.quantize(FOUR_PLACES), order.currency)
    order_items = []
    for line in order.lines:
        product = line.product
        brand = sim.catalog.brand_of[product.id]
        rate = sim.rate(product.currency, order.currency)
        order_items.append(
            {
                "createdDate": "0001-01-01T00:00:00",
                "productName": product.name,
                "brandName": brand.name,
                "brandCurrencyCode": brand.currency,
                "brandWithDenominationCurrency": f"{brand.name} {product.currency}",
                "denomination": _money(line.face_value, product.currency),
                "clientDiscountType": "Percentage",
                "clientDiscountValue": product.discount,
                "clientTransactionFeeType": "Fixed",
                "clientTransactionFeeValue": 0,
                "clientPrice": _money(line.unit_price, product.currency),
                "estimatedPrice": _money(line.unit_price, product.currency),
                "quantity": line.quantity,
                "clientTotal": line.unit_price * line.quantity,
                "clientExchangeRate": {
                    "fromCurrency": product.currency,
                    "toCurrency": order.currency,
                    # Bamboo's quirk: 0 when no conversion happened.
                    "exchangeRate": 0 if product.currency == order.currency else rate,
                },
            }
        )
    return {
        "orderId": order.order_id,
        "requestId": order.request_id,
        "productId": order.lines[0].product.id,
        "orderNumber": order.order_number,
        "orderTotal": total,
        "orderTotalForSelectedProducts": total,
        "currencyCode": None,
        "orderDate": format_datetime(order.created),
        # Bamboo's quirk: a string with a trailing space.
        "transactionId": f"{tx.id} ",
        "transactionType": tx.type,
        "comment": None,
        "notes": None,
        "availableBalance": _money(tx.balance_after.quantize(FOUR_PLACES), order.currency),
        "transactionAmount": _money(tx.amount.quantize(FOUR_PLACES), order.currency),
        "transactionDate": format_datetime(tx.date),
        "orderItems": order_items,
        "clientName": None,
        "orderType": None,
        "xeroCreditNoteNumber": None,
    }


def order_report_rows(order: Order, now: datetime) -> list[dict[str, Any]]:
    status = order.status_at(now)
    return [
        {
            "clientName": order.client_name,
            "orderNumber": order.order_number,
            "orderDate": format_date(order.created),
            "clientReferenceNumber": order.request_id,
            "channel": _channel(order.environment),
            "productName": line.product.name,
            "denomination": f"{line.product.currency} {line.face_value.normalize():f}",
            "quantity": line.quantity,
            "unitPrice": line.unit_price,
            "subTotal": line.unit_price * line.quantity,
            "total": (line.unit_cost * (line.sold if order.finalized else line.quantity)).quantize(
                FOUR_PLACES
            ),
            "accountCurrency": order.currency,
            "status": status,
        }
        for line in order.lines
    ]
