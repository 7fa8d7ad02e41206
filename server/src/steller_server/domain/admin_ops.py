"""What the admin API needs beyond the core engine: audited staff actions and admin-only reads.

Every mutation here writes its audit entry in the same transaction as the change, with the action
names and targets the contract gives each admin operation:

    admin.login / admin.logout          target admin_user (actor: the user)
    admin_user.create                   target admin_user (after = the user, no password)
    key.create / key.revoke             target api_key (after = the key, never the secret)

(Approvals, order actions, wallet movements and partner changes audit themselves in
``catalog``, ``orders``, ``wallets`` and ``partners``.)

Reads are keyset-paged like everything else: newest first by ``(created_at, id)`` unless a list
has a natural order of its own (admin users oldest first, products and approvals by SKU, the audit
log by descending ``sequence``); those use small cursors of their own, opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.engine import Database
from steller_server.db.tables import (
    admin_sessions,
    admin_users,
    api_keys,
    audit_log,
    events,
    partner_products,
    partners,
    products,
    wallets,
)
from steller_server.domain import admins, audit, catalog, keys, money, pricing
from steller_server.domain import partners as partners_domain
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import (
    InvalidCursor,
    InvalidState,
    NotFound,
    ProductNotAvailable,
    ValidationFailed,
)
from steller_server.domain.models import ApiKey, Approval, AuditEntry, Partner, Product
from steller_server.domain.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    decode_cursor,
    encode_cursor,
)
from steller_server.domain.serialize import iso

__all__ = [
    "ApprovedProductView",
    "IssuedKey",
    "approved_products",
    "balances",
    "create_admin_user",
    "issue_key",
    "key_public",
    "list_admin_users",
    "list_audit",
    "list_keys",
    "list_partners",
    "list_vendor_products",
    "logout",
    "order_events",
    "partner_names",
    "record_login",
    "revoke_approval",
    "revoke_partner_key",
    "set_approvals",
]

log = logging.getLogger("steller.admin")


# -- cursors ------------------------------------------------------------------------------------


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, prefix: str) -> str:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor("the cursor is not valid") from None
    if not raw.startswith(prefix) or len(raw) == len(prefix):
        raise InvalidCursor("the cursor is not valid")
    return raw[len(prefix) :]


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")


# -- admin users and sessions -------------------------------------------------------------------


async def list_admin_users(
    conn: AsyncConnection, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[admins.AdminUser]:
    """Staff accounts, oldest first (keyset on ``(created_at, id)`` ascending)."""
    _check_limit(limit)
    query = select(admin_users)
    if cursor is not None:
        created, user_id = decode_cursor(cursor)
        query = query.where(
            or_(
                admin_users.c.created_at > created,
                and_(admin_users.c.created_at == created, admin_users.c.id > user_id),
            )
        )
    query = query.order_by(admin_users.c.created_at, admin_users.c.id).limit(limit + 1)
    rows = (await conn.execute(query)).mappings().all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last["created_at"], last["id"])
    return Page([admins.AdminUser.from_row(r) for r in rows[:limit]], next_cursor)


async def create_admin_user(
    db: Database,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    actor: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> admins.AdminUser:
    """A new staff account + ``admin_user.create``; :class:`EmailTaken` when the email is used."""
    now = now or utcnow()
    async with db.write() as conn:
        user = await admins.create_user(
            conn, email=email, name=name, role=role, password=password, now=now
        )
        await audit.record(
            conn,
            actor=actor,
            action="admin_user.create",
            target_type="admin_user",
            target_id=user.id,
            before=None,
            after=user.public(),
            request_id=request_id,
            now=now,
        )
    return user


async def record_login(
    db: Database, *, user_id: str, request_id: str | None, now: datetime | None = None
) -> None:
    """``admin.login`` for a successful login (actor and target: the user)."""
    async with db.write() as conn:
        await audit.record(
            conn,
            actor=f"admin:{user_id}",
            action="admin.login",
            target_type="admin_user",
            target_id=user_id,
            request_id=request_id,
            now=now,
        )


async def logout(
    db: Database,
    *,
    token_id: str,
    user_id: str,
    request_id: str | None,
    now: datetime | None = None,
) -> None:
    """End the session behind ``token_id`` (its stored hash) and write ``admin.logout``."""
    async with db.write() as conn:
        await conn.execute(delete(admin_sessions).where(admin_sessions.c.token_hash == token_id))
        await audit.record(
            conn,
            actor=f"admin:{user_id}",
            action="admin.logout",
            target_type="admin_user",
            target_id=user_id,
            request_id=request_id,
            now=now,
        )


# -- partners -----------------------------------------------------------------------------------


def _newest_first_page(rows: Sequence[Any], limit: int) -> Page[Any]:
    """A page from ``limit + 1`` rows fetched newest first by ``(created_at, id)``."""
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.created_at, last.id)
    return Page(list(rows[:limit]), next_cursor)


async def list_partners(
    conn: AsyncConnection,
    *,
    status: str | None = None,
    query: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[Partner]:
    """Partners newest first; ``query`` is a case-insensitive substring of name or email."""
    _check_limit(limit)
    rows = await partners_domain.list_partners(
        conn,
        limit=limit + 1,
        after=decode_cursor(cursor) if cursor else None,
        query=query,
        status=status,
    )
    return _newest_first_page(rows, limit)


async def balances(conn: AsyncConnection, partner_ids: Iterable[str]) -> dict[str, int]:
    """Wallet balance (minor units) per partner id."""
    ids = list(set(partner_ids))
    if not ids:
        return {}
    rows = await conn.execute(
        select(wallets.c.partner_id, wallets.c.balance_minor).where(wallets.c.partner_id.in_(ids))
    )
    return {r.partner_id: int(r.balance_minor) for r in rows}


async def partner_names(conn: AsyncConnection, partner_ids: Iterable[str]) -> dict[str, str]:
    ids = list(set(partner_ids))
    if not ids:
        return {}
    rows = await conn.execute(select(partners.c.id, partners.c.name).where(partners.c.id.in_(ids)))
    return {r.id: r.name for r in rows}


# -- API keys -----------------------------------------------------------------------------------


def key_public(key: ApiKey, now: datetime) -> dict[str, Any]:
    """The ``ApiKey`` schema (never the secret)."""
    return {
        "id": key.id,
        "role": key.role,
        "prefix": key.prefix,
        "last4": key.last4,
        "status": key.status_at(now),
        "createdAt": iso(key.created_at),
        "lastUsedAt": iso(key.last_used_at),
        "expiresAt": iso(key.expires_at),
        "revokedAt": iso(key.revoked_at),
        "ipAllowlist": list(key.ip_allowlist),
    }


async def list_keys(
    conn: AsyncConnection, *, partner_id: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[ApiKey]:
    """Every key of the partner (revoked and expired too), newest first."""
    _check_limit(limit)
    rows = await keys.list_keys(
        conn,
        partner_id=partner_id,
        limit=limit + 1,
        after=decode_cursor(cursor) if cursor else None,
    )
    return _newest_first_page(rows, limit)


@dataclass(frozen=True, kw_only=True)
class IssuedKey:
    created: keys.CreatedKey
    revoked: list[ApiKey]


async def issue_key(
    db: Database,
    *,
    partner_id: str,
    role: str,
    secret_key: str,
    actor: str,
    ip_allowlist: Sequence[str] = (),
    expires_at: datetime | None = None,
    revoke_existing: bool = False,
    request_id: str | None = None,
    now: datetime | None = None,
) -> IssuedKey:
    """Issue a key in the partner's environment; with ``revoke_existing`` every other live key
    is revoked in the same transaction (dead at once). Audits ``key.create`` and one
    ``key.revoke`` per revoked key."""
    now = now or utcnow()
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed(
            "expiresAt must be in the future",
            errors=[{"pointer": "/expiresAt", "message": "must be in the future"}],
        )
    async with db.write() as conn:
        environment = await conn.scalar(
            select(partners.c.environment).where(partners.c.id == partner_id)
        )
        if environment is None:
            raise NotFound("partner not found")
        revoked: list[ApiKey] = []
        if revoke_existing:
            live = (
                (
                    await conn.execute(
                        select(api_keys)
                        .where(api_keys.c.partner_id == partner_id, api_keys.c.revoked_at.is_(None))
                        .order_by(api_keys.c.created_at, api_keys.c.id)
                    )
                )
                .mappings()
                .all()
            )
            for row in live:
                old = ApiKey.from_row(row)
                if old.status_at(now) == "expired":
                    continue
                fresh = await keys.revoke_key(conn, key_id=old.id, partner_id=partner_id, now=now)
                revoked.append(fresh)
                await audit.record(
                    conn,
                    actor=actor,
                    action="key.revoke",
                    target_type="api_key",
                    target_id=old.id,
                    before={"status": old.status_at(now)},
                    after={"status": "revoked"},
                    reason="revoked by a new key with revokeExisting",
                    request_id=request_id,
                    now=now,
                )
        created = await keys.create_key(
            conn,
            partner_id=partner_id,
            environment=environment,
            role=role,
            secret_key=secret_key,
            ip_allowlist=ip_allowlist,
            expires_at=expires_at,
            now=now,
        )
        await audit.record(
            conn,
            actor=actor,
            action="key.create",
            target_type="api_key",
            target_id=created.key.id,
            before=None,
            after={**key_public(created.key, now), "partnerId": partner_id},
            request_id=request_id,
            now=now,
        )
    return IssuedKey(created=created, revoked=revoked)


async def revoke_partner_key(
    db: Database,
    *,
    partner_id: str,
    key_id: str,
    actor: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> ApiKey:
    """Revoke now; :class:`InvalidState` when it is already revoked or expired."""
    now = now or utcnow()
    async with db.write() as conn:
        key = await keys.get_key(conn, key_id=key_id, partner_id=partner_id)
        status = key.status_at(now)
        if status in ("revoked", "expired"):
            raise InvalidState(f"this key is already {status}")
        fresh = await keys.revoke_key(conn, key_id=key_id, partner_id=partner_id, now=now)
        await audit.record(
            conn,
            actor=actor,
            action="key.revoke",
            target_type="api_key",
            target_id=key_id,
            before={"status": status},
            after={"status": "revoked"},
            request_id=request_id,
            now=now,
        )
    return fresh


# -- product approvals --------------------------------------------------------------------------


async def set_approvals(
    db: Database,
    *,
    partner_id: str,
    items: Sequence[catalog.ApprovalItem],
    replace_all: bool,
    actor: str,
    order_fee: Decimal,
    fee_currency: str = "USD",
    request_id: str | None = None,
    now: datetime | None = None,
) -> list[Approval]:
    """Approve (or re-price) SKUs all-or-nothing through the profit guard
    (:func:`catalog.approve_products`, audited per SKU); a SKU listed twice is a 400."""
    seen: set[str] = set()
    dupes = []
    for index, item in enumerate(items):
        if item.sku in seen:
            dupes.append(
                {
                    "pointer": f"/products/{index}/sku",
                    "message": f"{item.sku} is listed more than once",
                }
            )
        seen.add(item.sku)
    if dupes:
        raise ValidationFailed("each SKU may appear only once", errors=dupes)
    async with db.write() as conn:
        return await catalog.approve_products(
            conn,
            partner_id=partner_id,
            items=items,
            actor=actor,
            order_fee=order_fee,
            fee_currency=fee_currency,
            replace=replace_all,
            request_id=request_id,
            now=now,
        )


async def revoke_approval(
    db: Database,
    *,
    partner_id: str,
    sku: str,
    actor: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> None:
    """Remove one SKU from the partner's approved set (audited); :class:`NotFound` when it is
    not approved."""
    async with db.write() as conn:
        await catalog.remove_approval(
            conn, partner_id=partner_id, sku=sku, actor=actor, request_id=request_id, now=now
        )


@dataclass(frozen=True, kw_only=True)
class ApprovedProductView:
    approval: Approval
    product: Product
    currency: str
    unit_price_min_minor: int
    unit_price_max_minor: int

    def public(self) -> dict[str, Any]:
        return {
            "sku": self.product.sku,
            "name": self.product.name,
            "brandName": self.product.brand_name,
            "faceCurrency": self.product.face_currency,
            "discountPercent": money.format_decimal(self.approval.discount_percent, min_places=2),
            "unitPriceMin": money.format_amount(self.unit_price_min_minor, self.currency),
            "unitPriceMax": money.format_amount(self.unit_price_max_minor, self.currency),
            "currency": self.currency,
            "approvedAt": iso(self.approval.approved_at),
            "approvedBy": self.approval.approved_by,
        }


async def approved_products(
    conn: AsyncConnection,
    *,
    partner: Partner,
    order_fee: Decimal,
    fee_currency: str = "USD",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ApprovedProductView]:
    """The partner's approvals by SKU with unit prices in the wallet currency.

    An approval whose product has no FX rate to the wallet currency cannot be priced; it is
    left out of the page (and logged) rather than shown with a made-up price.
    """
    _check_limit(limit)
    query = (
        select(partner_products, products)
        .join(products, products.c.sku == partner_products.c.sku)
        .where(partner_products.c.partner_id == partner.id)
    )
    if cursor is not None:
        query = query.where(partner_products.c.sku > _decode(cursor, "sku:"))
    query = query.order_by(partner_products.c.sku).limit(limit + 1)
    rows = (await conn.execute(query)).mappings().all()
    fx = await pricing.FxTable.load(conn)
    views = []
    for row in rows[:limit]:
        approval = Approval.from_row(row)
        product = Product.from_row(row)
        try:
            low, high = pricing.unit_price_range(
                product=replace(product, available=True),
                approval=approval,
                wallet_currency=partner.currency,
                fx=fx,
                order_fee=order_fee,
                fee_currency=fee_currency,
            )
        except ProductNotAvailable as exc:
            log.warning(
                "approved product %s of %s cannot be priced: %s", product.sku, partner.id, exc
            )
            continue
        views.append(
            ApprovedProductView(
                approval=approval,
                product=product,
                currency=partner.currency,
                unit_price_min_minor=low.unit_price_minor,
                unit_price_max_minor=high.unit_price_minor,
            )
        )
    next_cursor = _encode("sku:" + rows[limit - 1]["sku"]) if len(rows) > limit else None
    return Page(views, next_cursor)


async def list_vendor_products(
    conn: AsyncConnection,
    *,
    query: str | None = None,
    currency: str | None = None,
    available: bool | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[Product]:
    """Our copy of the vendor catalog, by SKU."""
    _check_limit(limit)
    stmt: Select[Any] = select(products)
    if query:
        like = (
            "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        stmt = stmt.where(
            or_(
                func.lower(products.c.sku).like(like, escape="\\"),
                func.lower(products.c.name).like(like, escape="\\"),
                func.lower(products.c.brand_name).like(like, escape="\\"),
            )
        )
    if currency is not None:
        stmt = stmt.where(products.c.face_currency == currency)
    if available is not None:
        stmt = stmt.where(products.c.available.is_(available))
    if cursor is not None:
        stmt = stmt.where(products.c.sku > _decode(cursor, "sku:"))
    rows = (await conn.execute(stmt.order_by(products.c.sku).limit(limit + 1))).mappings().all()
    next_cursor = _encode("sku:" + rows[limit - 1]["sku"]) if len(rows) > limit else None
    return Page([Product.from_row(r) for r in rows[:limit]], next_cursor)


# -- orders -------------------------------------------------------------------------------------


async def order_events(conn: AsyncConnection, order_ids: Iterable[str]) -> dict[str, list[str]]:
    """Ids of the events emitted for each order, oldest first."""
    ids = list(set(order_ids))
    out: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = await conn.execute(
        select(events.c.order_id, events.c.id)
        .where(events.c.order_id.in_(ids))
        .order_by(events.c.created_at, events.c.id)
    )
    for row in rows:
        out[row.order_id].append(row.id)
    return out


# -- audit log ----------------------------------------------------------------------------------


async def list_audit(
    conn: AsyncConnection,
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AuditEntry]:
    """Audit entries newest first (descending ``sequence``), filtered."""
    _check_limit(limit)
    stmt: Select[Any] = select(audit_log)
    if actor is not None:
        stmt = stmt.where(audit_log.c.actor == actor)
    if action is not None:
        stmt = stmt.where(audit_log.c.action == action)
    if target_type is not None:
        stmt = stmt.where(audit_log.c.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(audit_log.c.target_id == target_id)
    if created_from is not None:
        stmt = stmt.where(audit_log.c.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(audit_log.c.created_at < created_to)
    if cursor is not None:
        raw = _decode(cursor, "seq:")
        if not raw.isdigit():
            raise InvalidCursor("the cursor is not valid")
        stmt = stmt.where(audit_log.c.sequence < int(raw))
    rows = (
        (await conn.execute(stmt.order_by(audit_log.c.sequence.desc()).limit(limit + 1)))
        .mappings()
        .all()
    )
    next_cursor = _encode(f"seq:{rows[limit - 1]['sequence']}") if len(rows) > limit else None
    return Page([AuditEntry.from_row(r) for r in rows[:limit]], next_cursor)
