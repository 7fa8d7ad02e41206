"""Signup, admin creation and updates (with the audit trail)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from steller_server.db.engine import Database
from steller_server.db.tables import audit_log, ledger_entries, partner_products, partners
from steller_server.domain import audit, catalog, keys
from steller_server.domain import partners as partner_ops
from steller_server.domain.errors import EmailTaken, ValidationFailed
from steller_server.settings import Settings


async def test_sandbox_signup_creates_a_ready_to_order_partner(
    database: Database, factory: Any, settings: Settings
) -> None:
    await factory.product("AMAZON-US-50")
    await factory.product("EXPENSIVE", cost_min_minor=5100, cost_max_minor=5100)
    await factory.product("GONE", available=False)

    result = await partner_ops.signup(
        database, name="Acme", email="Dev@Acme.example", settings=settings
    )

    assert result.partner.environment == "sandbox"
    assert result.wallet.balance_minor == 100_000
    assert result.api_key.raw.startswith("stlr_test_")
    async with database.read() as conn:
        approved = (
            (
                await conn.execute(
                    select(partner_products.c.sku).where(
                        partner_products.c.partner_id == result.partner.id
                    )
                )
            )
            .scalars()
            .all()
        )
        auth = await keys.authenticate(
            conn, raw_key=result.api_key.raw, secret_key=settings.effective_secret_key
        )
        trial = (await conn.execute(select(ledger_entries))).mappings().one()
    assert approved == ["AMAZON-US-50"]  # the below-cost and unavailable ones are left out
    assert auth is not None
    assert auth.key.role == "developer"
    assert (trial["type"], trial["amount_minor"], trial["entry_key"]) == (
        "credit",
        100_000,
        f"trial:{result.partner.id}",
    )


async def test_duplicate_email_is_refused_case_insensitively(
    database: Database, settings: Settings
) -> None:
    await partner_ops.signup(database, name="Acme", email="ops@acme.example", settings=settings)
    with pytest.raises(EmailTaken):
        await partner_ops.signup(
            database, name="Acme 2", email="OPS@ACME.example", settings=settings
        )
    with pytest.raises(EmailTaken):
        await partner_ops.create_partner(
            database,
            name="Acme 3",
            email="Ops@acme.example",
            actor="admin:usr_1",
            settings=settings,
        )
    async with database.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(partners)) == 1


async def test_live_signup_has_no_trial_money(database: Database, settings: Settings) -> None:
    live = settings.replace(mode="live")
    result = await partner_ops.signup(
        database, name="Live Co", email="a@live.example", settings=live, currency="EUR"
    )
    assert result.partner.environment == "live"
    assert result.api_key.raw.startswith("stlr_live_")
    assert result.wallet.balance_minor == 0
    assert result.wallet.currency == "EUR"


async def test_update_and_suspend_are_audited(database: Database, factory: Any) -> None:
    partner, _ = await factory.partner(name="Acme")
    with pytest.raises(ValidationFailed):
        await partner_ops.update_partner(
            database, partner_id=partner.id, actor="admin:usr_1", status="suspended"
        )
    updated = await partner_ops.update_partner(
        database,
        partner_id=partner.id,
        actor="admin:usr_1",
        status="suspended",
        low_balance_threshold=Decimal("250.00"),
        rate_limits={"orders": 5},
        reason="fraud check",
    )
    assert updated.status == "suspended"
    assert updated.low_balance_threshold_minor == 25_000
    assert updated.rate_limit_orders == 5
    async with database.read() as conn:
        entry = (
            (await conn.execute(select(audit_log).order_by(audit_log.c.sequence.desc()).limit(1)))
            .mappings()
            .one()
        )
        assert (await audit.verify(conn)).valid
    assert entry["action"] == "partner.suspend"
    assert entry["before"]["status"] == "active"
    assert entry["after"]["status"] == "suspended"
    assert entry["reason"] == "fraud check"


async def test_approvals_run_the_profit_guard_all_or_nothing(
    database: Database, factory: Any
) -> None:
    await factory.product("OK")
    await factory.product("THIN", cost_min_minor=4995, cost_max_minor=4995)
    partner, _ = await factory.partner()
    with pytest.raises(catalog.ApprovalRejected) as caught:
        async with database.write() as conn:
            await catalog.approve_products(
                conn,
                partner_id=partner.id,
                actor="admin:usr_1",
                order_fee=Decimal("0.10"),
                items=[
                    catalog.ApprovalItem(sku="OK", discount_percent=Decimal("-5")),
                    catalog.ApprovalItem(sku="THIN", discount_percent=Decimal("0")),
                    catalog.ApprovalItem(sku="NOPE", discount_percent=Decimal("0")),
                ],
            )
    assert [(p["index"], p["code"]) for p in caught.value.problems] == [
        (1, "price_below_cost"),
        (2, "product_not_available"),
    ]
    async with database.read() as conn:
        assert await catalog.list_approvals(conn, partner_id=partner.id) == []
