"""Products, FX rates and per-partner approvals.

Catalog sync (jobs/) writes products and rates with :func:`upsert_products` / :func:`store_rates`;
admins approve products for a partner with :func:`approve_products`, which runs the profit guard
(:func:`steller_server.domain.pricing.approval_guard`) on every entry before writing any.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.dialect import upsert
from steller_server.db.tables import fx_rates, partner_products, partners, products
from steller_server.domain import audit, money, pricing
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import NotFound, PriceBelowCost, ProductNotAvailable
from steller_server.domain.models import Approval, Product

__all__ = [
    "ApprovalItem",
    "ApprovalRejected",
    "approval_target",
    "approve_products",
    "get_product",
    "list_approvals",
    "remove_approval",
    "store_rates",
    "upsert_products",
]


@dataclass(frozen=True, kw_only=True)
class ApprovalItem:
    sku: str
    discount_percent: Decimal


class ApprovalRejected(PriceBelowCost):
    """Some approvals failed the profit guard (or name unknown products); nothing was written.

    ``problems`` lists ``{"index", "sku", "code", "message"}`` so the API can point at
    ``/products/{index}``.
    """

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(problems)} approval(s) refused")
        self.problems = problems


async def get_product(conn: AsyncConnection, *, sku: str) -> Product:
    row = (await conn.execute(select(products).where(products.c.sku == sku))).mappings().first()
    if row is None:
        raise NotFound(f"product {sku} not found")
    return Product.from_row(row)


async def upsert_products(
    conn: AsyncConnection, *, items: Iterable[Mapping[str, Any]], now: datetime | None = None
) -> int:
    """Insert or update products by ``sku`` (columns as in the ``products`` table)."""
    now = now or utcnow()
    count = 0
    for item in items:
        values = {**item, "updated_at": now}
        values.setdefault("created_at", now)
        update_cols = {k: v for k, v in values.items() if k not in ("sku", "created_at")}
        await conn.execute(upsert(conn, products, ["sku"], update_cols).values(**values))
        count += 1
    return count


async def store_rates(
    conn: AsyncConnection,
    *,
    base: str,
    rates: Mapping[str, Decimal],
    fetched_at: datetime | None = None,
) -> int:
    """Insert or replace FX rates ``base → quote``."""
    fetched_at = fetched_at or utcnow()
    for quote, rate in rates.items():
        if rate <= 0:
            raise ValueError(f"rate {base}->{quote} must be positive")
        values = {"base": base, "quote": quote, "rate": rate, "fetched_at": fetched_at}
        await conn.execute(
            upsert(
                conn, fx_rates, ["base", "quote"], {"rate": rate, "fetched_at": fetched_at}
            ).values(**values)
        )
    return len(rates)


async def list_approvals(conn: AsyncConnection, *, partner_id: str) -> list[Approval]:
    rows = (
        await conn.execute(
            select(partner_products)
            .where(partner_products.c.partner_id == partner_id)
            .order_by(partner_products.c.sku)
        )
    ).mappings()
    return [Approval.from_row(r) for r in rows]


async def approve_products(
    conn: AsyncConnection,
    *,
    partner_id: str,
    items: Sequence[ApprovalItem],
    actor: str,
    order_fee: Decimal,
    fee_currency: str = "USD",
    replace: bool = False,
    audit_log: bool = True,
    reason: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> list[Approval]:
    """Approve (or re-price) products for a partner, all or nothing.

    Every item passes the profit guard at both ends of its denomination range in the partner's
    wallet currency, or :class:`ApprovalRejected` lists each offender and nothing is written.
    ``replace=True`` makes ``items`` the partner's whole approved set. With ``audit_log``, one
    ``product.approve`` per SKU added or re-priced and one ``product.revoke`` per SKU removed
    (target ``product_approval`` ``ptn_…/SKU``, before/after = the discount).
    """
    now = now or utcnow()
    currency = await conn.scalar(select(partners.c.currency).where(partners.c.id == partner_id))
    if currency is None:
        raise NotFound("partner not found")
    fx = await pricing.FxTable.load(conn)
    skus = [item.sku for item in items]
    found = {
        row["sku"]: Product.from_row(row)
        for row in (await conn.execute(select(products).where(products.c.sku.in_(skus)))).mappings()
    }
    problems: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        product = found.get(item.sku)
        if product is None:
            problems.append(
                {
                    "index": index,
                    "sku": item.sku,
                    "code": "product_not_available",
                    "message": f"unknown sku {item.sku}",
                }
            )
            continue
        try:
            pricing.approval_guard(
                product=product,
                discount_percent=item.discount_percent,
                wallet_currency=currency,
                fx=fx,
                order_fee=order_fee,
                fee_currency=fee_currency,
            )
        except (PriceBelowCost, ProductNotAvailable) as exc:
            problems.append(
                {"index": index, "sku": item.sku, "code": exc.code, "message": exc.detail}
            )
    if problems:
        raise ApprovalRejected(problems)

    before = {a.sku: a.discount_percent for a in await list_approvals(conn, partner_id=partner_id)}
    if replace:
        await conn.execute(
            delete(partner_products).where(
                partner_products.c.partner_id == partner_id, partner_products.c.sku.not_in(skus)
            )
        )
    for item in items:
        values = {
            "partner_id": partner_id,
            "sku": item.sku,
            "discount_percent": item.discount_percent,
            "approved_by": actor,
            "approved_at": now,
        }
        await conn.execute(
            upsert(
                conn,
                partner_products,
                ["partner_id", "sku"],
                {
                    "discount_percent": item.discount_percent,
                    "approved_by": actor,
                    "approved_at": now,
                },
            ).values(**values)
        )
    approvals = await list_approvals(conn, partner_id=partner_id)
    if audit_log:
        after = {a.sku: a.discount_percent for a in approvals}
        for sku, discount in after.items():
            old = before.get(sku)
            if old == discount:
                continue
            await audit.record(
                conn,
                actor=actor,
                action="product.approve",
                target_type="product_approval",
                target_id=approval_target(partner_id, sku),
                before=None if old is None else {"discountPercent": _percent(old)},
                after={"discountPercent": _percent(discount)},
                reason=reason,
                request_id=request_id,
                now=now,
            )
        for sku, old in before.items():
            if sku not in after:
                await audit.record(
                    conn,
                    actor=actor,
                    action="product.revoke",
                    target_type="product_approval",
                    target_id=approval_target(partner_id, sku),
                    before={"discountPercent": _percent(old)},
                    after=None,
                    reason=reason or "not in the replacing set",
                    request_id=request_id,
                    now=now,
                )
    return approvals


async def remove_approval(
    conn: AsyncConnection,
    *,
    partner_id: str,
    sku: str,
    actor: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> None:
    discount = await conn.scalar(
        select(partner_products.c.discount_percent).where(
            partner_products.c.partner_id == partner_id, partner_products.c.sku == sku
        )
    )
    result = await conn.execute(
        delete(partner_products).where(
            partner_products.c.partner_id == partner_id, partner_products.c.sku == sku
        )
    )
    if discount is None or result.rowcount != 1:
        raise NotFound("product not approved for this partner")
    await audit.record(
        conn,
        actor=actor,
        action="product.revoke",
        target_type="product_approval",
        target_id=approval_target(partner_id, sku),
        before={"discountPercent": _percent(discount)},
        after=None,
        request_id=request_id,
        now=now,
    )


def approval_target(partner_id: str, sku: str) -> str:
    """The audit ``targetId`` of an approval (``ptn_…/SKU``, as the contract names it)."""
    return f"{partner_id}/{sku}"


def _percent(value: Decimal) -> str:
    return money.format_decimal(value)
