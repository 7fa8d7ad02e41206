"""The one price function: catalog, quote and order all call :func:`price`.

    unit price   = faceValue * FX(face → wallet) * (1 - discountPercent / 100)  [rounded ONCE]
    total        = unit price * quantity
    vendor cost  = cost(faceValue) * FX(cost currency → wallet) * quantity        (exact, unrounded)
    profit guard : total < vendor cost + order fee * FX(fee currency → wallet)  → PriceBelowCost

Worked example: a 50.00 USD card approved at discountPercent -5 for a USD wallet costs
50.00 * 1 * 1.05 = 52.50.

Range products price any face value in [min, max]; their cost scales with the face value at the
product's cost/face ratio (the higher of the ratios at min and at max, so the guard errs on the
safe side). :func:`approval_guard` checks an approval's worst case (both ends of the range,
quantity 1, where the per-order fee weighs most).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import fx_rates
from steller_server.domain import money
from steller_server.domain.errors import (
    InvalidFaceValue,
    PriceAboveExpectedTotal,
    PriceBelowCost,
    ProductNotAvailable,
    ValidationFailed,
)
from steller_server.domain.models import Product

__all__ = [
    "MAX_QUANTITY",
    "Discounted",
    "FxTable",
    "Price",
    "approval_guard",
    "check_expected_total",
    "cost_per_unit",
    "price",
    "unit_price_range",
]

MAX_QUANTITY = 100
HUNDRED = Decimal(100)
ONE = Decimal(1)


class Discounted(Protocol):
    """Anything carrying a ``discount_percent`` (an :class:`Approval`, usually)."""

    @property
    def discount_percent(self) -> Decimal: ...


class FxTable:
    """Exchange rates, ``rate(a, b)`` = units of ``b`` per unit of ``a``.

    Direct pairs are used as stored; the inverse of a stored pair and a cross through a common
    base (USD first) are derived. A missing rate raises :class:`ProductNotAvailable` (we cannot
    price it, so it cannot be sold).
    """

    def __init__(self, rates: Mapping[tuple[str, str], Decimal] | None = None) -> None:
        self._rates: dict[tuple[str, str], Decimal] = dict(rates or {})
        self._fingerprint: frozenset[tuple[tuple[str, str], Decimal]] | None = None

    @property
    def fingerprint(self) -> frozenset[tuple[tuple[str, str], Decimal]]:
        """Hashable value of the table: two tables with equal fingerprints price alike (a key
        for memoising prices)."""
        if self._fingerprint is None:
            self._fingerprint = frozenset(self._rates.items())
        return self._fingerprint

    @classmethod
    async def load(cls, conn: AsyncConnection) -> FxTable:
        rows = await conn.execute(select(fx_rates.c.base, fx_rates.c.quote, fx_rates.c.rate))
        return cls({(r.base, r.quote): r.rate for r in rows})

    def _direct(self, base: str, quote: str) -> Decimal | None:
        if base == quote:
            return ONE
        rate = self._rates.get((base, quote))
        if rate is not None:
            return rate
        inverse = self._rates.get((quote, base))
        if inverse is not None and inverse != 0:
            return ONE / inverse
        return None

    def find(self, base: str, quote: str) -> Decimal | None:
        direct = self._direct(base, quote)
        if direct is not None:
            return direct
        pivots = ["USD", *sorted({b for b, _ in self._rates} - {"USD"})]
        for pivot in pivots:
            leg1 = self._direct(base, pivot)
            leg2 = self._direct(pivot, quote)
            if leg1 is not None and leg2 is not None:
                return leg1 * leg2
        return None

    def rate(self, base: str, quote: str) -> Decimal:
        found = self.find(base, quote)
        if found is None:
            raise ProductNotAvailable(f"no exchange rate from {base} to {quote}")
        return found

    def pairs(self) -> Iterable[tuple[tuple[str, str], Decimal]]:
        return self._rates.items()


@dataclass(frozen=True, kw_only=True)
class Price:
    """The outcome of :func:`price`; money in minor units of ``currency`` (the wallet's)."""

    sku: str
    face_value: Decimal
    face_value_minor: int
    face_currency: str
    quantity: int
    currency: str
    exchange_rate: Decimal
    discount_percent: Decimal
    unit_price_minor: int
    total_minor: int
    #: Exact vendor cost of the whole order in wallet minor units (not rounded).
    vendor_cost_minor: Decimal
    #: Exact per-order fee in wallet minor units (not rounded).
    fee_minor: Decimal

    @property
    def margin_minor(self) -> Decimal:
        return Decimal(self.total_minor) - self.vendor_cost_minor - self.fee_minor

    @property
    def below_cost(self) -> bool:
        return self.margin_minor < 0


def cost_per_unit(product: Product, face_value: Decimal) -> Decimal:
    """What one card of ``face_value`` costs us, exactly, in major units of the cost currency."""
    ratio_min = Decimal(product.cost_min_minor) / Decimal(product.min_face_minor)
    ratio_max = Decimal(product.cost_max_minor) / Decimal(product.max_face_minor)
    face_exp = money.exponent(product.face_currency)
    cost_exp = money.exponent(product.cost_currency)
    # ratio is cost-minor per face-minor; rescale to major units of each currency.
    ratio = max(ratio_min, ratio_max).scaleb(face_exp - cost_exp)
    return face_value * ratio


def _check_face_value(product: Product, face_value: Decimal) -> int:
    if not face_value.is_finite() or face_value <= 0:
        raise InvalidFaceValue(f"faceValue must be positive, got {face_value}")
    try:
        face_minor = money.to_minor_exact(face_value, product.face_currency)
    except ValueError:
        raise InvalidFaceValue(
            f"faceValue {face_value} has more decimals than {product.face_currency} allows"
        ) from None
    low = money.format_amount(product.min_face_minor, product.face_currency)
    high = money.format_amount(product.max_face_minor, product.face_currency)
    if product.denomination_type == "fixed" and face_minor != product.min_face_minor:
        raise InvalidFaceValue(f"{product.sku} is only sold at {low} {product.face_currency}")
    if not product.min_face_minor <= face_minor <= product.max_face_minor:
        raise InvalidFaceValue(
            f"faceValue for {product.sku} must be between {low} and {high} {product.face_currency}"
        )
    return face_minor


def price(
    *,
    product: Product | None,
    approval: Discounted | None,
    face_value: Decimal,
    quantity: int,
    wallet_currency: str,
    fx: FxTable,
    order_fee: Decimal,
    fee_currency: str = "USD",
    check_profit: bool = True,
    check_stock: bool = True,
) -> Price:
    """Price ``quantity`` * ``product`` at ``face_value`` for a wallet in ``wallet_currency``.

    ``approval`` is the partner's :class:`~steller_server.domain.models.Approval` (anything with a
    ``discount_percent``); ``None`` means not approved. Raises :class:`ProductNotAvailable`
    (unknown, unapproved, unavailable, out of stock, no FX rate), :class:`InvalidFaceValue`,
    :class:`ValidationFailed` (quantity) and, with ``check_profit``, :class:`PriceBelowCost`.
    """
    if product is None or approval is None:
        raise ProductNotAvailable("this product is not available to you")
    if not product.available:
        raise ProductNotAvailable(f"{product.sku} is not available")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationFailed(
            f"quantity must be between 1 and {MAX_QUANTITY}",
            errors=[{"pointer": "/quantity", "message": f"must be 1..{MAX_QUANTITY}"}],
        )
    if check_stock and product.stock is not None and product.stock < quantity:
        raise ProductNotAvailable(f"{product.sku} is out of stock")
    discount = approval.discount_percent
    face_minor = _check_face_value(product, face_value)

    rate = fx.rate(product.face_currency, wallet_currency)
    factor = ONE - discount / HUNDRED
    unit_exact_minor = (face_value * rate * factor).scaleb(money.exponent(wallet_currency))
    unit_minor = money.round_minor(unit_exact_minor)
    total_minor = unit_minor * quantity

    wallet_exp = money.exponent(wallet_currency)
    cost = cost_per_unit(product, face_value) * fx.rate(product.cost_currency, wallet_currency)
    vendor_cost_minor = (cost * quantity).scaleb(wallet_exp)
    fee_minor = (order_fee * fx.rate(fee_currency, wallet_currency)).scaleb(wallet_exp)

    result = Price(
        sku=product.sku,
        face_value=face_value,
        face_value_minor=face_minor,
        face_currency=product.face_currency,
        quantity=quantity,
        currency=wallet_currency,
        exchange_rate=rate,
        discount_percent=discount,
        unit_price_minor=unit_minor,
        total_minor=total_minor,
        vendor_cost_minor=vendor_cost_minor,
        fee_minor=fee_minor,
    )
    if check_profit and (unit_minor <= 0 or result.below_cost):
        raise PriceBelowCost(
            f"price {money.format_amount(total_minor, wallet_currency)} {wallet_currency} for "
            f"{quantity} \u00d7 {product.sku} is below vendor cost plus the per-order fee",
            sku=product.sku,
        )
    return result


def unit_price_range(
    *,
    product: Product,
    approval: Discounted,
    wallet_currency: str,
    fx: FxTable,
    order_fee: Decimal,
    fee_currency: str = "USD",
) -> tuple[Price, Price]:
    """Prices of one card at the lowest and highest face value (the catalog's unitPriceMin/Max).

    No profit or stock check: the catalog shows what an order would cost.
    """
    ends = []
    for face_minor in (product.min_face_minor, product.max_face_minor):
        ends.append(
            price(
                product=product,
                approval=approval,
                face_value=money.from_minor(face_minor, product.face_currency),
                quantity=1,
                wallet_currency=wallet_currency,
                fx=fx,
                order_fee=order_fee,
                fee_currency=fee_currency,
                check_profit=False,
                check_stock=False,
            )
        )
    return ends[0], ends[1]


@dataclass(frozen=True)
class _Discount:
    discount_percent: Decimal


def approval_guard(
    *,
    product: Product,
    discount_percent: Decimal,
    wallet_currency: str,
    fx: FxTable,
    order_fee: Decimal,
    fee_currency: str = "USD",
) -> tuple[Price, Price]:
    """Refuse an approval that could sell below cost: the worst case over the denomination range.

    Checks one card at the minimum and at the maximum face value (margin is linear in the face
    value, so the ends bound it; quantity 1 carries the whole per-order fee). Returns the two
    prices; raises :class:`PriceBelowCost` or :class:`ProductNotAvailable` (no FX rate).
    """
    if not Decimal(-100) <= discount_percent <= HUNDRED:
        raise ValidationFailed("discountPercent must be between -100 and 100")
    approval = _Discount(discount_percent)
    ends = []
    for face_minor in (product.min_face_minor, product.max_face_minor):
        ends.append(
            price(
                product=product,
                approval=approval,
                face_value=money.from_minor(face_minor, product.face_currency),
                quantity=1,
                wallet_currency=wallet_currency,
                fx=fx,
                order_fee=order_fee,
                fee_currency=fee_currency,
                check_profit=False,
                check_stock=False,
            )
        )
    for end in ends:
        if end.unit_price_minor <= 0 or end.below_cost:
            raise PriceBelowCost(
                f"discountPercent {money.format_decimal(discount_percent)} sells {product.sku} at "
                f"{money.format_amount(end.unit_price_minor, wallet_currency)} {wallet_currency} "
                f"for face value {end.face_value} {product.face_currency}, below vendor cost "
                "plus the per-order fee",
                sku=product.sku,
            )
    return ends[0], ends[1]


def check_expected_total(result: Price, expected_total: Decimal | None) -> None:
    """:class:`PriceAboveExpectedTotal` when the computed total exceeds ``expected_total``."""
    if expected_total is None:
        return
    total = money.from_minor(result.total_minor, result.currency)
    if total > expected_total:
        raise PriceAboveExpectedTotal(
            f"total {total} {result.currency} is above expectedTotal {expected_total}",
            total=str(total),
            currency=result.currency,
        )
