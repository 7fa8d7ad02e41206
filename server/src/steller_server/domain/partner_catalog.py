"""A partner's catalog: the products an admin approved for it, priced in its wallet currency.

One keyset page is ONE query (approved products joined to the catalog, ordered by SKU, filters in
SQL) plus, only when a product or the per-order fee is in another currency than the wallet, ONE
read of the FX table for the whole page. Every price comes from
:func:`steller_server.domain.pricing.price`, the function quotes and orders use (through
:func:`~steller_server.domain.pricing.unit_price_range` for range products; a fixed product's two
ends are one price, computed once). Products the vendor no longer offers (``available`` false)
are not listed; out-of-stock products are listed with ``inStock`` false. A product that cannot be
priced (no FX rate) cannot be sold and is left out.

The cursor is base64url of ``{"s": "<last sku>"}``: opaque to clients, stable under inserts.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, cast, exists, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import partner_products, products
from steller_server.domain import money, pricing
from steller_server.domain.errors import InvalidCursor, ProductNotAvailable
from steller_server.domain.models import Product
from steller_server.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

__all__ = [
    "CatalogEntry",
    "CatalogFilters",
    "decode_catalog_cursor",
    "encode_catalog_cursor",
    "list_catalog",
]


@dataclass(frozen=True, kw_only=True)
class CatalogFilters:
    currency: str | None = None
    country: str | None = None
    brand: str | None = None
    category: str | None = None
    sku: str | None = None


@dataclass(frozen=True, kw_only=True)
class CatalogEntry:
    """One ``CatalogProduct``: the product, the partner's discount and its two end prices."""

    product: Product
    discount_percent: Decimal
    currency: str
    unit_price_min_minor: int
    unit_price_max_minor: int

    def public(self) -> dict[str, Any]:
        p, cur = self.product, self.currency
        fmt = money.format_amount
        face_min = fmt(p.min_face_minor, p.face_currency)
        face_max = (
            face_min
            if p.max_face_minor == p.min_face_minor
            else fmt(p.max_face_minor, p.face_currency)
        )
        price_min = fmt(self.unit_price_min_minor, cur)
        price_max = (
            price_min
            if self.unit_price_max_minor == self.unit_price_min_minor
            else fmt(self.unit_price_max_minor, cur)
        )
        return {
            "sku": p.sku,
            "name": p.name,
            "brandName": p.brand_name,
            "countryCode": p.country_code,
            "categories": list(p.categories),
            "faceCurrency": p.face_currency,
            "denominationType": p.denomination_type,
            "minFaceValue": face_min,
            "maxFaceValue": face_max,
            "currency": cur,
            "discountPercent": money.format_decimal(self.discount_percent, min_places=2),
            "unitPriceMin": price_min,
            "unitPriceMax": price_max,
            "inStock": p.in_stock,
            "stock": p.stock,
            "redemptionInstructions": p.redemption_instructions,
            "terms": p.terms,
            "logoUrl": p.logo_url,
        }


_PRODUCT_FIELDS = tuple(f.name for f in fields(Product))


@dataclass(frozen=True)
class _Discount:
    discount_percent: Decimal


def encode_catalog_cursor(sku: str) -> str:
    raw = json.dumps({"s": sku}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_catalog_cursor(cursor: str) -> str:
    """The last SKU of the previous page; :class:`InvalidCursor` when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor("the cursor is not valid") from None
    sku = data.get("s") if isinstance(data, dict) else None
    if not isinstance(sku, str) or not sku:
        raise InvalidCursor("the cursor is not valid")
    return sku


def _like_contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its wildcards taken literally (escape ``/``)."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


@lru_cache(maxsize=128)
def _page_template(
    dialect: str,
    *,
    sku: bool,
    currency: bool,
    country: bool,
    brand: bool,
    category: bool,
    after: bool,
) -> Select[Any]:
    """The page query for one combination of filters, built once and reused with new parameters
    (building and cache-keying a SELECT costs more than running this one)."""
    query = (
        select(products, partner_products.c.discount_percent)
        .select_from(partner_products.join(products, products.c.sku == partner_products.c.sku))
        .where(
            partner_products.c.partner_id == bindparam("partner_id"), products.c.available.is_(True)
        )
    )
    if sku:
        query = query.where(partner_products.c.sku == bindparam("sku"))
    if currency:
        query = query.where(products.c.face_currency == bindparam("currency"))
    if country:
        query = query.where(products.c.country_code == bindparam("country"))
    if brand:
        query = query.where(func.lower(products.c.brand_name).like(bindparam("brand"), escape="/"))
    if category:
        # ``category`` is one of the product's categories (a JSON array), per dialect.
        if dialect == "postgresql":
            query = query.where(
                cast(products.c.categories, JSONB).contains(bindparam("category_json", type_=JSONB))
            )
        else:
            each = func.json_each(products.c.categories).table_valued("value")
            query = query.where(
                exists(
                    select(literal(1))
                    .select_from(each)
                    .where(each.c.value == bindparam("category"))
                )
            )
    if after:
        query = query.where(partner_products.c.sku > bindparam("after"))
    return query.order_by(partner_products.c.sku).limit(bindparam("limit"))


def _page_query(
    conn: AsyncConnection,
    *,
    partner_id: str,
    filters: CatalogFilters,
    after_sku: str | None,
    limit: int,
) -> tuple[Select[Any], dict[str, Any]]:
    """The page query (``limit + 1`` rows, to know whether there is a next page) and its
    parameters."""
    query = _page_template(
        conn.dialect.name,
        sku=filters.sku is not None,
        currency=filters.currency is not None,
        country=filters.country is not None,
        brand=filters.brand is not None,
        category=filters.category is not None,
        after=after_sku is not None,
    )
    params: dict[str, Any] = {"partner_id": partner_id, "limit": limit + 1}
    if filters.sku is not None:
        params["sku"] = filters.sku
    if filters.currency is not None:
        params["currency"] = filters.currency
    if filters.country is not None:
        params["country"] = filters.country
    if filters.brand is not None:
        params["brand"] = _like_contains(filters.brand.lower())
    if filters.category is not None:
        params["category"] = filters.category
        params["category_json"] = [filters.category]
    if after_sku is not None:
        params["after"] = after_sku
    return query, params


async def list_catalog(
    conn: AsyncConnection,
    *,
    partner_id: str,
    wallet_currency: str,
    order_fee: Decimal,
    fee_currency: str = "USD",
    filters: CatalogFilters | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[CatalogEntry]:
    """One page of the partner's approved, available products by SKU, at the partner's prices."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    after = decode_catalog_cursor(cursor) if cursor is not None else None
    query, params = _page_query(
        conn,
        partner_id=partner_id,
        filters=filters or CatalogFilters(),
        after_sku=after,
        limit=limit,
    )
    rows = (await conn.execute(query, params)).mappings().all()
    page_rows = rows[:limit]
    next_cursor = encode_catalog_cursor(page_rows[-1]["sku"]) if len(rows) > limit else None

    needed = {fee_currency}
    for row in page_rows:
        needed.update((row["face_currency"], row["cost_currency"]))
    fx = pricing.FxTable() if needed <= {wallet_currency} else await pricing.FxTable.load(conn)

    entries = []
    for row in page_rows:
        product = _product(row)
        discount: Decimal = row["discount_percent"]
        try:
            low, high = _end_prices(
                product,
                discount,
                wallet_currency=wallet_currency,
                fx=fx,
                order_fee=order_fee,
                fee_currency=fee_currency,
            )
        except ProductNotAvailable:
            continue  # no FX rate: it cannot be priced, so it cannot be sold
        entries.append(
            CatalogEntry(
                product=product,
                discount_percent=discount,
                currency=wallet_currency,
                unit_price_min_minor=low,
                unit_price_max_minor=high,
            )
        )
    return Page(entries, next_cursor)


def _product(row: Any) -> Product:
    return Product(**{name: row[name] for name in _PRODUCT_FIELDS})


def _end_prices(
    product: Product,
    discount: Decimal,
    *,
    wallet_currency: str,
    fx: pricing.FxTable,
    order_fee: Decimal,
    fee_currency: str,
) -> tuple[int, int]:
    """One card's price at the lowest and the highest face value, in wallet minor units.

    Exactly :func:`pricing.unit_price_range` (no profit or stock check: the catalog shows what an
    order would cost), with a fixed product priced once since both ends are the same value.
    """
    if product.min_face_minor != product.max_face_minor:
        low, high = pricing.unit_price_range(
            product=product,
            approval=_Discount(discount),
            wallet_currency=wallet_currency,
            fx=fx,
            order_fee=order_fee,
            fee_currency=fee_currency,
        )
        return low.unit_price_minor, high.unit_price_minor
    one = pricing.price(
        product=product,
        approval=_Discount(discount),
        face_value=money.from_minor(product.min_face_minor, product.face_currency),
        quantity=1,
        wallet_currency=wallet_currency,
        fx=fx,
        order_fee=order_fee,
        fee_currency=fee_currency,
        check_profit=False,
        check_stock=False,
    )
    return one.unit_price_minor, one.unit_price_minor
