"""The one price function and its guards (pure: no database)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from steller_server.domain import pricing
from steller_server.domain.errors import (
    InvalidFaceValue,
    PriceAboveExpectedTotal,
    PriceBelowCost,
    ProductNotAvailable,
    ValidationFailed,
)
from steller_server.domain.models import Product

FEE = Decimal("0.10")


class _Approval:
    def __init__(self, discount: str) -> None:
        self.discount_percent = Decimal(discount)


def _product(**overrides: Any) -> Product:
    values: dict[str, Any] = {
        "sku": "AMAZON-US-50",
        "vendor_product_id": "1",
        "name": "Amazon US",
        "brand_name": "Amazon",
        "country_code": "US",
        "categories": [],
        "face_currency": "USD",
        "denomination_type": "fixed",
        "min_face_minor": 5000,
        "max_face_minor": 5000,
        "cost_min_minor": 4750,
        "cost_max_minor": 4750,
        "cost_currency": "USD",
        "stock": None,
        "available": True,
    }
    values.update(overrides)
    return Product(**values)


def _price(
    product: Product,
    discount: str = "-5",
    face: str = "50.00",
    quantity: int = 1,
    wallet: str = "USD",
    fx: pricing.FxTable | None = None,
) -> pricing.Price:
    return pricing.price(
        product=product,
        approval=_Approval(discount),
        face_value=Decimal(face),
        quantity=quantity,
        wallet_currency=wallet,
        fx=fx or pricing.FxTable(),
        order_fee=FEE,
    )


def test_worked_example_50_card_at_minus_5_costs_52_50() -> None:
    result = _price(_product())
    assert (result.unit_price_minor, result.total_minor) == (5250, 5250)
    assert result.vendor_cost_minor == Decimal(4750)
    assert result.fee_minor == Decimal(10)


def test_rounding_happens_once_per_unit_then_multiplies() -> None:
    # 10.00 at 3.333% off = 9.6667 -> 9.67 per unit; 3 units = 29.01 (not round(29.0001)).
    product = _product(
        min_face_minor=1000, max_face_minor=1000, cost_min_minor=900, cost_max_minor=900
    )
    result = _price(product, discount="3.333", face="10.00", quantity=3)
    assert (result.unit_price_minor, result.total_minor) == (967, 2901)


def test_fx_converts_face_value_and_cost_to_the_wallet_currency() -> None:
    fx = pricing.FxTable({("EUR", "USD"): Decimal("1.10")})
    product = _product(
        face_currency="EUR", cost_currency="EUR", cost_min_minor=4500, cost_max_minor=4500
    )
    result = _price(product, discount="0", wallet="USD", fx=fx)
    assert result.unit_price_minor == 5500
    assert result.vendor_cost_minor == Decimal("4950.00")
    # Missing direct pairs are derived: inverse of a stored pair, or a cross through USD.
    cross = pricing.FxTable({("USD", "EUR"): Decimal("0.9"), ("USD", "GBP"): Decimal("0.8")})
    exact = Decimal("0.8") / Decimal("0.9")
    assert abs(cross.rate("EUR", "GBP") - exact) < Decimal("1e-20")
    assert abs(cross.rate("EUR", "USD") * Decimal("0.9") - 1) < Decimal("1e-20")
    with pytest.raises(ProductNotAvailable, match="exchange rate"):
        _price(product, wallet="JPY", fx=fx)


def test_range_product_cost_scales_with_the_face_value() -> None:
    product = _product(
        denomination_type="range",
        min_face_minor=1000,
        max_face_minor=20000,
        cost_min_minor=950,
        cost_max_minor=19000,
    )
    result = _price(product, discount="0", face="100.00")
    assert result.vendor_cost_minor == Decimal("9500.00")
    with pytest.raises(InvalidFaceValue):
        _price(product, face="200.01")
    with pytest.raises(InvalidFaceValue):
        _price(product, face="25.005")


def test_fixed_product_only_sells_its_denomination() -> None:
    with pytest.raises(InvalidFaceValue):
        _price(_product(), face="25.00")


def test_profit_guard_refuses_price_below_cost_plus_fee() -> None:
    product = _product(cost_min_minor=4995, cost_max_minor=4995)
    with pytest.raises(PriceBelowCost):
        _price(product, discount="0")  # 50.00 < 49.95 + 0.10
    assert _price(product, discount="-0.1").total_minor == 5005  # 50.05 = 49.95 + 0.10
    # The fee is per order: more units cover it.
    assert _price(product, discount="0", quantity=2).total_minor == 10000


def test_unavailable_unapproved_and_out_of_stock() -> None:
    with pytest.raises(ProductNotAvailable):
        pricing.price(
            product=_product(),
            approval=None,
            face_value=Decimal(50),
            quantity=1,
            wallet_currency="USD",
            fx=pricing.FxTable(),
            order_fee=FEE,
        )
    with pytest.raises(ProductNotAvailable):
        _price(_product(available=False))
    with pytest.raises(ProductNotAvailable, match="out of stock"):
        _price(_product(stock=2), quantity=3)
    assert _price(_product(stock=3), quantity=3).total_minor == 3 * 5250
    with pytest.raises(ValidationFailed):
        _price(_product(), quantity=101)


def test_expected_total_guard() -> None:
    result = _price(_product())
    pricing.check_expected_total(result, None)
    pricing.check_expected_total(result, Decimal("52.50"))
    with pytest.raises(PriceAboveExpectedTotal):
        pricing.check_expected_total(result, Decimal("52.49"))


def test_approval_guard_checks_the_worst_end_of_a_range() -> None:
    # Cost ratio 0.95 at 10.00 but 0.97 at 200.00: at discount 4 the top end loses money.
    product = _product(
        denomination_type="range",
        min_face_minor=1000,
        max_face_minor=20000,
        cost_min_minor=950,
        cost_max_minor=19400,
    )
    low, high = pricing.approval_guard(
        product=product,
        discount_percent=Decimal("2"),
        wallet_currency="USD",
        fx=pricing.FxTable(),
        order_fee=FEE,
    )
    assert (low.unit_price_minor, high.unit_price_minor) == (980, 19600)
    with pytest.raises(PriceBelowCost):
        pricing.approval_guard(
            product=product,
            discount_percent=Decimal("4"),
            wallet_currency="USD",
            fx=pricing.FxTable(),
            order_fee=FEE,
        )
    # The per-order fee bites at the cheap end: 1.00 card, cost 0.95, at 0% margin 0.05 < 0.10.
    small = _product(min_face_minor=100, max_face_minor=100, cost_min_minor=95, cost_max_minor=95)
    with pytest.raises(PriceBelowCost):
        pricing.approval_guard(
            product=small,
            discount_percent=Decimal("0"),
            wallet_currency="USD",
            fx=pricing.FxTable(),
            order_fee=FEE,
        )
