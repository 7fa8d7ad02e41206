"""Helpers shared by the partner API tests (test_partner_*.py): onboarding, counts, the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from starlette.applications import Starlette

from steller_server.app import create_app
from steller_server.db.engine import Database
from steller_server.db.tables import jobs, ledger_entries, orders, wallets
from steller_server.domain import ledger, partners
from steller_server.domain.models import Partner, Wallet
from steller_server.settings import Settings

#: Limits high enough that bursts in tests are never throttled (the limiter uses real time).
UNTHROTTLED = {"catalog": 100_000, "orders": 100_000, "default": 100_000}


@asynccontextmanager
async def running_app(
    settings: Settings, database: Database, clock: Any
) -> AsyncIterator[Starlette]:
    """The app with its lifespan running (for tests that need other settings than `app`)."""
    application = create_app(settings, database=database, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


async def onboard(
    factory: Any,
    partner_key: Any,
    *,
    name: str = "Acme",
    balance: str | None = "500.00",
    approve: dict[str, str] | None = None,
    role: str = "developer",
    currency: str = "USD",
    unthrottled: bool = True,
) -> tuple[Partner, Wallet, dict[str, str]]:
    """An admin-onboarded partner (funded, approved) and the headers of a fresh key."""
    partner, wallet = await factory.partner(
        name=name, balance=balance, approve=approve, currency=currency
    )
    if unthrottled:
        partner = await partners.update_partner(
            factory.db, partner_id=partner.id, actor="admin:usr_test", rate_limits=UNTHROTTLED
        )
    raw = await partner_key(partner, role=role)
    return partner, wallet, {"x-api-key": raw}


def order_body(
    ref: str = "acme-order-1",
    *,
    sku: str = "AMAZON-US-50",
    face: str = "50.00",
    quantity: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    return {"sku": sku, "faceValue": face, "quantity": quantity, "referenceId": ref, **extra}


async def counts(db: Database) -> dict[str, int]:
    async with db.read() as conn:
        return {
            name: int(await conn.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in {"orders": orders, "ledger": ledger_entries, "jobs": jobs}.items()
        }


async def balance_and_ledger_sum(db: Database, wallet_id: str) -> tuple[int, int]:
    async with db.read() as conn:
        balance = int(
            await conn.scalar(select(wallets.c.balance_minor).where(wallets.c.id == wallet_id)) or 0
        )
        total = await ledger.ledger_sum(conn, wallet_id=wallet_id)
    return balance, total


def money(text: str) -> Decimal:
    return Decimal(text)
