"""Partners: self-service signup, admin creation, updates and suspension.

:func:`signup` creates partner + wallet + a ``developer`` key in ONE transaction. In sandbox mode
it also credits the trial money (a ledger row, ``entry_key`` ``trial:{partner}``) and approves the
sandbox catalog: every available product that passes the profit guard at the default discount.
A duplicate email (case-insensitive, enforced by a unique index on ``lower(email)``) raises
:class:`EmailTaken`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.engine import Database
from steller_server.db.tables import partners, products, wallets
from steller_server.domain import audit, catalog, jobs, keys, ledger, money, pricing
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import (
    EmailTaken,
    InvalidState,
    NotFound,
    PriceBelowCost,
    ProductNotAvailable,
    ValidationFailed,
)
from steller_server.domain.ids import new_id
from steller_server.domain.models import Partner, Product, Wallet
from steller_server.domain.serialize import partner_public
from steller_server.settings import Settings

__all__ = [
    "API_VERSION",
    "SIGNUP_CURRENCIES",
    "UNSET",
    "SignupResult",
    "create_partner",
    "get_partner",
    "list_partners",
    "signup",
    "update_partner",
]

API_VERSION = "2026-11-01"
SIGNUP_CURRENCIES = ("USD", "EUR", "GBP", "AED")
DEFAULT_NOTIFICATIONS: Final[dict[str, Any]] = {
    "emails": [],
    "lowBalance": True,
    "orderFailed": True,
    "keyChanges": True,
    "webhookDisabled": True,
}


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: "Not given" for :func:`update_partner` (``None`` may be a real value).
UNSET: Final = _Unset()


@dataclass(frozen=True, kw_only=True)
class SignupResult:
    partner: Partner
    wallet: Wallet
    api_key: keys.CreatedKey


async def _email_taken(conn: AsyncConnection, email: str) -> bool:
    found = await conn.scalar(
        select(partners.c.id).where(func.lower(partners.c.email) == email.lower())
    )
    return found is not None


async def _insert_partner(
    conn: AsyncConnection,
    *,
    name: str,
    email: str,
    currency: str,
    environment: str,
    company: str | None,
    threshold_minor: int,
    now: datetime,
) -> tuple[Partner, Wallet]:
    if currency not in SIGNUP_CURRENCIES:
        raise ValidationFailed(
            f"currency must be one of {', '.join(SIGNUP_CURRENCIES)}",
            errors=[{"pointer": "/currency", "message": "unsupported"}],
        )
    if await _email_taken(conn, email):
        raise EmailTaken("a partner with this email already exists")
    partner_row = {
        "id": new_id("ptn"),
        "name": name,
        "email": email,
        "company": company,
        "status": "active",
        "environment": environment,
        "currency": currency,
        "api_version": API_VERSION,
        "low_balance_threshold_minor": threshold_minor,
        "low_balance_notified": False,
        "notifications": dict(DEFAULT_NOTIFICATIONS),
        "rate_limit_catalog": None,
        "rate_limit_orders": None,
        "rate_limit_default": None,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(insert(partners).values(**partner_row))
    wallet_row = {
        "id": new_id("wal"),
        "partner_id": partner_row["id"],
        "currency": currency,
        "balance_minor": 0,
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(insert(wallets).values(**wallet_row))
    return Partner.from_row(partner_row), Wallet.from_row(wallet_row)


async def signup(
    db: Database,
    *,
    name: str,
    email: str,
    settings: Settings,
    currency: str = "USD",
    company: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> SignupResult:
    """Self-service signup; environment follows the server mode."""
    now = now or utcnow()
    environment = settings.mode
    try:
        async with db.write() as conn:
            partner, wallet = await _insert_partner(
                conn,
                name=name,
                email=email,
                currency=currency,
                environment=environment,
                company=company,
                now=now,
                threshold_minor=money.to_minor(settings.low_balance_threshold, currency),
            )
            created = await keys.create_key(
                conn,
                partner_id=partner.id,
                environment=environment,
                role="developer",
                secret_key=settings.effective_secret_key,
                now=now,
            )
            if settings.is_sandbox:
                trial = money.to_minor(settings.sandbox_trial_credit, currency)
                if trial > 0:
                    await ledger.credit(
                        conn,
                        wallet_id=wallet.id,
                        amount_minor=trial,
                        description="Sandbox trial credit",
                        actor="system",
                        entry_key=f"trial:{partner.id}",
                        request_id=request_id,
                        now=now,
                    )
                await _approve_sandbox_catalog(conn, partner=partner, settings=settings, now=now)
            await audit.record(
                conn,
                actor=f"partner:{partner.id}",
                action="partner.signup",
                target_type="partner",
                target_id=partner.id,
                after=partner_public(partner),
                request_id=request_id,
                now=now,
            )
            wallet = Wallet.from_row(
                (await conn.execute(select(wallets).where(wallets.c.id == wallet.id)))
                .mappings()
                .one()
            )
    except IntegrityError as exc:
        if "email" in str(exc.orig).lower():
            raise EmailTaken("a partner with this email already exists") from exc
        raise
    return SignupResult(partner=partner, wallet=wallet, api_key=created)


async def _approve_sandbox_catalog(
    conn: AsyncConnection, *, partner: Partner, settings: Settings, now: datetime
) -> int:
    fx = await pricing.FxTable.load(conn)
    discount = settings.sandbox_default_discount
    approved = []
    rows = (
        await conn.execute(
            select(products).where(products.c.available.is_(True)).order_by(products.c.sku)
        )
    ).mappings()
    for row in rows:
        product = Product.from_row(row)
        try:
            pricing.approval_guard(
                product=product,
                discount_percent=discount,
                wallet_currency=partner.currency,
                fx=fx,
                order_fee=settings.order_fee,
                fee_currency=settings.order_fee_currency,
            )
        except (PriceBelowCost, ProductNotAvailable):
            continue
        approved.append(catalog.ApprovalItem(sku=product.sku, discount_percent=discount))
    if approved:
        await catalog.approve_products(
            conn,
            partner_id=partner.id,
            items=approved,
            actor="system",
            order_fee=settings.order_fee,
            fee_currency=settings.order_fee_currency,
            audit_log=False,
            now=now,
        )
    return len(approved)


async def create_partner(
    db: Database,
    *,
    name: str,
    email: str,
    actor: str,
    settings: Settings,
    currency: str = "USD",
    environment: str | None = None,
    low_balance_threshold: Decimal | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> tuple[Partner, Wallet]:
    """Admin creation: partner + empty wallet (+ audit). Keys and funding are separate steps."""
    now = now or utcnow()
    environment = environment or settings.mode
    if environment not in ("sandbox", "live"):
        raise ValidationFailed("environment must be sandbox or live")
    threshold = (
        settings.low_balance_threshold if low_balance_threshold is None else low_balance_threshold
    )
    try:
        async with db.write() as conn:
            partner, wallet = await _insert_partner(
                conn,
                name=name,
                email=email,
                currency=currency,
                environment=environment,
                company=None,
                threshold_minor=money.to_minor(threshold, currency),
                now=now,
            )
            await audit.record(
                conn,
                actor=actor,
                action="partner.create",
                target_type="partner",
                target_id=partner.id,
                after={**partner_public(partner), "walletId": wallet.id},
                request_id=request_id,
                now=now,
            )
    except IntegrityError as exc:
        if "email" in str(exc.orig).lower():
            raise EmailTaken("a partner with this email already exists") from exc
        raise
    return partner, wallet


async def get_partner(conn: AsyncConnection, *, partner_id: str) -> Partner:
    row = (
        (await conn.execute(select(partners).where(partners.c.id == partner_id)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound("partner not found")
    return Partner.from_row(row)


async def list_partners(
    conn: AsyncConnection,
    *,
    limit: int = 50,
    after: tuple[datetime, str] | None = None,
    query: str | None = None,
    status: str | None = None,
) -> list[Partner]:
    """Newest first, keyset-paged by ``(created_at, id)``; ``query`` is a literal substring of
    name or email (``%`` and ``_`` match themselves); ``status`` filters exactly."""
    stmt = select(partners)
    if query:
        like = (
            "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        stmt = stmt.where(
            or_(
                func.lower(partners.c.name).like(like, escape="\\"),
                func.lower(partners.c.email).like(like, escape="\\"),
            )
        )
    if status is not None:
        stmt = stmt.where(partners.c.status == status)
    if after is not None:
        created, pid = after
        stmt = stmt.where(
            or_(
                partners.c.created_at < created,
                (partners.c.created_at == created) & (partners.c.id < pid),
            )
        )
    stmt = stmt.order_by(partners.c.created_at.desc(), partners.c.id.desc()).limit(limit)
    return [Partner.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def update_partner(
    db: Database,
    *,
    partner_id: str,
    actor: str,
    name: Any = UNSET,
    low_balance_threshold: Any = UNSET,
    notifications: Any = UNSET,
    status: Any = UNSET,
    rate_limits: Any = UNSET,
    reason: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
    action: str | None = None,
) -> Partner:
    """Change the given fields (``UNSET`` = keep) and audit the diff. A status change needs a
    ``reason``; suspending blocks the partner's keys at authentication (403 partner_suspended).

    ``low_balance_threshold`` is a Decimal in the partner's currency; ``rate_limits`` a mapping
    with ``catalog`` / ``orders`` / ``default`` (ints or None for the default). ``action`` names
    the audit entry (default: ``partner.update``, or ``partner.suspend`` / ``partner.reactivate``
    for a status change).
    """
    now = now or utcnow()
    async with db.write() as conn:
        current = await get_partner(conn, partner_id=partner_id)
        values: dict[str, Any] = {}
        if name is not UNSET:
            values["name"] = name
        if low_balance_threshold is not UNSET:
            if low_balance_threshold < 0:
                raise ValidationFailed("lowBalanceThreshold must not be negative")
            values["low_balance_threshold_minor"] = money.to_minor(
                low_balance_threshold, current.currency
            )
        if notifications is not UNSET:
            values["notifications"] = {**current.notifications, **dict(notifications)}
        if status is not UNSET:
            if status not in ("active", "suspended"):
                raise ValidationFailed("status must be active or suspended")
            if status != current.status and not reason:
                raise ValidationFailed(
                    "a reason is required to change the status",
                    errors=[{"pointer": "/reason", "message": "required"}],
                )
            values["status"] = status
        if rate_limits is not UNSET:
            for cls in ("catalog", "orders", "default"):
                if cls in rate_limits:
                    values[f"rate_limit_{cls}"] = rate_limits[cls]
        if not values:
            raise InvalidState("nothing to change")
        values["updated_at"] = now
        await conn.execute(update(partners).where(partners.c.id == partner_id).values(**values))
        fresh = await get_partner(conn, partner_id=partner_id)
        if fresh.low_balance_threshold_minor != current.low_balance_threshold_minor:
            # The threshold itself can cross the balance: re-check (emits wallet.low_balance, or
            # re-arms it) in a job committed with the change.
            await jobs.enqueue(
                conn,
                kind=jobs.LOW_BALANCE_CHECK,
                payload={"partnerId": partner_id},
                request_id=request_id,
                now=now,
            )
        before, after = _diff(_admin_view(current), _admin_view(fresh))
        if action is None:
            action = "partner.update"
            if status is not UNSET and status != current.status:
                action = "partner.suspend" if status == "suspended" else "partner.reactivate"
        await audit.record(
            conn,
            actor=actor,
            action=action,
            target_type="partner",
            target_id=partner_id,
            before=before,
            after=after,
            reason=reason,
            request_id=request_id,
            now=now,
        )
        return fresh


def _admin_view(partner: Partner) -> dict[str, Any]:
    view = partner_public(partner)
    view["rateLimits"] = {
        "catalog": partner.rate_limit_catalog,
        "orders": partner.rate_limit_orders,
        "default": partner.rate_limit_default,
    }
    return view


def _diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys_changed = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys_changed}, {k: after[k] for k in keys_changed}
