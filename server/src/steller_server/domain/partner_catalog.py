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

import asyncio
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

from steller_server.db.engine import Database, WatchedCache
from steller_server.db.tables import partner_products, products
from steller_server.domain import money, pricing
from steller_server.domain.errors import InvalidCursor, ProductNotAvailable
from steller_server.domain.models import Product
from steller_server.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

__all__ = [
    "CATALOG_PAGE_TTL_SECONDS",
    "CatalogEntry",
    "CatalogFilters",
    "catalog_page",
    "decode_catalog_cursor",
    "encode_catalog_cursor",
    "list_catalog",
    "page_cache",
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
        fmt = _format_amount
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
            "discountPercent": _format_percent(self.discount_percent),
            "unitPriceMin": price_min,
            "unitPriceMax": price_max,
            "inStock": p.in_stock,
            "stock": p.stock,
            "redemptionInstructions": p.redemption_instructions,
            "terms": p.terms,
            "logoUrl": p.logo_url,
        }


_PRODUCT_FIELDS = tuple(f.name for f in fields(Product))

# A page renders ~200 amounts, mostly the same few: the formatting is pure, so memoise it.
_format_amount = lru_cache(maxsize=8192)(money.format_amount)


@lru_cache(maxsize=1024)
def _format_percent(value: Decimal) -> str:
    return money.format_decimal(value, min_places=2)


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
        prices = _memo_end_prices(
            product,
            discount,
            wallet_currency=wallet_currency,
            fx=fx,
            order_fee=order_fee,
            fee_currency=fee_currency,
        )
        if prices is None:
            continue  # no FX rate: it cannot be priced, so it cannot be sold
        low, high = prices
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


#: (everything :func:`_end_prices` reads) → its result, or None when it cannot be priced.
_PRICE_MEMO: dict[tuple[Any, ...], tuple[int, int] | None] = {}
_PRICE_MEMO_MAX = 50_000


def _memo_end_prices(
    product: Product,
    discount: Decimal,
    *,
    wallet_currency: str,
    fx: pricing.FxTable,
    order_fee: Decimal,
    fee_currency: str,
) -> tuple[int, int] | None:
    """:func:`_end_prices`, memoised per process on every input it depends on.

    Pricing 50 rows was over a third of a page's CPU, and a partner's prices change only when a
    product's denomination or cost, the discount, the FX table or the fee change. The key holds
    all of those values (not ids or versions), so an entry can never be stale: any change makes
    a new key. Stock and availability do not enter the catalog price (no stock or profit check).
    """
    key = (
        product.face_currency,
        product.cost_currency,
        product.denomination_type,
        product.min_face_minor,
        product.max_face_minor,
        product.cost_min_minor,
        product.cost_max_minor,
        product.available,
        discount,
        wallet_currency,
        fx.fingerprint,
        order_fee,
        fee_currency,
    )
    try:
        return _PRICE_MEMO[key]
    except KeyError:
        pass
    prices: tuple[int, int] | None
    try:
        prices = _end_prices(
            product,
            discount,
            wallet_currency=wallet_currency,
            fx=fx,
            order_fee=order_fee,
            fee_currency=fee_currency,
        )
    except ProductNotAvailable:
        prices = None
    if len(_PRICE_MEMO) >= _PRICE_MEMO_MAX:
        _PRICE_MEMO.clear()
    _PRICE_MEMO[key] = prices
    return prices


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


# -- the rendered page, memoised per process ----------------------------------------------------

#: How long one process serves a rendered page without asking the database (see
#: :func:`catalog_page`).
CATALOG_PAGE_TTL_SECONDS = 1.0
#: What a page is made of (with the partner id and currency in the key): a write naming one of
#: these in this process drops every page.
_PAGE_TABLES = ("products", "partner_products", "fx_rates")

_PageKey = tuple[Any, ...]


class _PageCache(WatchedCache[_PageKey, bytes]):
    """Rendered pages, plus the page being rendered per key: when an entry expires under load,
    ONE request reads and renders it and the others wait for that result (no stampede of 32
    identical queries, which showed as a ~100 ms p99)."""

    def __init__(self) -> None:
        super().__init__(_PAGE_TABLES, ttl=CATALOG_PAGE_TTL_SECONDS)
        self.rendering: dict[_PageKey, asyncio.Future[bytes]] = {}

    def invalidate(self) -> None:
        super().invalidate()
        # A render begun before the write must not serve requests that arrive after it.
        self.rendering = {}


def page_cache(db: Database) -> WatchedCache[_PageKey, bytes]:
    """The process's rendered-page cache for ``db``."""
    return _page_cache(db)


def _page_cache(db: Database) -> _PageCache:
    return db.cache("catalog_pages", _PageCache)


async def catalog_page(
    db: Database,
    *,
    partner_id: str,
    wallet_currency: str,
    order_fee: Decimal,
    fee_currency: str = "USD",
    filters: CatalogFilters | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> bytes:
    """One page as ``{"data": [CatalogProduct…], "nextCursor": …}`` JSON (compact, UTF-8).

    A page is the same for every request of a partner with the same filters, so each process
    keeps the rendered JSON for :data:`CATALOG_PAGE_TTL_SECONDS` (1 s), and concurrent misses
    of one page share one read. Staleness bound
    (:class:`~steller_server.db.engine.WatchedCache`): a product, approval or FX change made by
    this process shows on the next request; one made by another process (the catalog sync in a
    worker, another ``serve`` worker) shows at most 1 s later in this one. Nothing charged
    depends on it: quotes and orders always price from the database.
    """
    filters = filters or CatalogFilters()
    cache = _page_cache(db)
    key = (partner_id, wallet_currency, order_fee, fee_currency, filters, limit, cursor)
    body = cache.get(key)
    if body is not None:
        return body
    pending = cache.rendering.get(key)
    if pending is not None:
        try:
            return await asyncio.shield(pending)
        except asyncio.CancelledError:
            if not pending.cancelled():
                raise  # this request itself was cancelled
            # The request rendering it went away: render it here.
    generation = cache.generation
    rendering: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    # Mark the outcome retrieved so an error nobody else waited for is not logged at GC.
    rendering.add_done_callback(lambda f: f.cancelled() or f.exception())
    cache.rendering[key] = rendering
    try:
        body = await _render_page(
            db,
            partner_id=partner_id,
            wallet_currency=wallet_currency,
            order_fee=order_fee,
            fee_currency=fee_currency,
            filters=filters,
            limit=limit,
            cursor=cursor,
        )
    except Exception as exc:
        rendering.set_exception(exc)
        raise
    except BaseException:
        rendering.cancel()
        raise
    finally:
        if cache.rendering.get(key) is rendering:
            del cache.rendering[key]
    rendering.set_result(body)
    cache.put(key, body, generation=generation)
    return body


async def _render_page(
    db: Database,
    *,
    partner_id: str,
    wallet_currency: str,
    order_fee: Decimal,
    fee_currency: str,
    filters: CatalogFilters,
    limit: int,
    cursor: str | None,
) -> bytes:
    async with db.statement() as conn:
        page = await list_catalog(
            conn,
            partner_id=partner_id,
            wallet_currency=wallet_currency,
            order_fee=order_fee,
            fee_currency=fee_currency,
            filters=filters,
            limit=limit,
            cursor=cursor,
        )
    rendered = {"data": [e.public() for e in page.data], "nextCursor": page.next_cursor}
    return json.dumps(rendered, separators=(",", ":"), ensure_ascii=False).encode()
