"""A scripted partner history with known answers, built through the domain functions.

Timeline (UTC), prices at discount -5 (Amazon 50.00 → 52.50) and 0 (Steam 25.00 → 25.00):

    2026-02-03 09:00  credit        +1000.00
    2026-02-10 10:00  order A       Amazon x1   -52.50   completed
    2026-02-20 11:00  order B       Amazon x2  -105.00   failed 11:05, refund +105.00
    2026-02-28 23:59:59 adjustment    -10.00
    2026-03-01 00:00  order C       Steam x1    -25.00   completed
    2026-03-05 15:00  order D       Amazon x3  -157.50   2 of 3 delivered 15:10, refund +52.50
    2026-03-09 09:00  credit         +200.00
    2026-03-10 08:00  order E       Amazon x1   -52.50   processing
    NOW = 2026-03-10 12:00

February: opening 0.00, credits 1000.00, debits -157.50, refunds 105.00, adjustments -10.00,
closing 937.50. March (in progress): opening 937.50, credits 200.00, debits -235.00, refunds
52.50, adjustments 0.00, closing 955.00 (= the wallet balance now).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from steller_server.db.engine import Database
from steller_server.domain import ledger
from steller_server.domain import orders as order_ops
from steller_server.domain.crypto import Cipher
from steller_server.domain.models import Card, Partner, Wallet
from steller_server.settings import Settings

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
AMAZON = "AMAZON-US-50"
STEAM = "STEAM-US-25"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class History:
    partner: Partner
    wallet: Wallet
    orders: dict[str, str]  # label -> order id


async def _order(
    db: Database,
    settings: Settings,
    partner: Partner,
    sku: str,
    face: str,
    quantity: int,
    ref: str,
    when: datetime,
) -> str:
    order, created = await order_ops.place_order(
        db,
        partner=partner,
        sku=sku,
        face_value=Decimal(face),
        quantity=quantity,
        reference_id=ref,
        request_hash=order_ops.order_request_hash(
            sku=sku, face_value=Decimal(face), quantity=quantity, expected_total=None
        ),
        actor=f"partner:{partner.id}",
        order_fee=settings.order_fee,
        now=when,
    )
    assert created
    return order.id


def _cards(n: int) -> list[Card]:
    return [Card(serial_number=f"SN{i}", code=f"CODE-{i}") for i in range(n)]


async def build_history(factory: Any, database: Database, settings: Settings) -> History:
    await factory.product(AMAZON)
    await factory.product(
        STEAM,
        name="Steam US",
        brand_name="Steam",
        min_face_minor=2500,
        max_face_minor=2500,
        cost_min_minor=2300,
        cost_max_minor=2300,
    )
    partner, wallet = await factory.partner(approve={AMAZON: "-5", STEAM: "0"})
    cipher = Cipher(settings.effective_secret_key)
    system = "admin:usr_test"
    async with database.write() as conn:
        await ledger.credit(
            conn,
            wallet_id=wallet.id,
            amount_minor=100_000,
            description="Initial funding",
            actor=system,
            now=at("2026-02-03T09:00:00"),
        )
    ids: dict[str, str] = {}
    ids["A"] = await _order(
        database, settings, partner, AMAZON, "50", 1, "A", at("2026-02-10T10:00:00")
    )
    ids["B"] = await _order(
        database, settings, partner, AMAZON, "50", 2, "B", at("2026-02-20T11:00:00")
    )
    async with database.write() as conn:
        await order_ops.complete_order(
            conn, order_id=ids["A"], cards=_cards(1), cipher=cipher, now=at("2026-02-10T10:01:00")
        )
        await order_ops.fail_order(
            conn, order_id=ids["B"], reason="vendor refused", now=at("2026-02-20T11:05:00")
        )
        await ledger.adjust(
            conn,
            wallet_id=wallet.id,
            amount_minor=-1000,
            description="Correction",
            actor=system,
            now=at("2026-02-28T23:59:59.999999"),
        )
    ids["C"] = await _order(
        database, settings, partner, STEAM, "25", 1, "C", at("2026-03-01T00:00:00")
    )
    ids["D"] = await _order(
        database, settings, partner, AMAZON, "50", 3, "D", at("2026-03-05T15:00:00")
    )
    async with database.write() as conn:
        await order_ops.complete_order(
            conn, order_id=ids["C"], cards=_cards(1), cipher=cipher, now=at("2026-03-01T00:02:00")
        )
        await order_ops.complete_order(
            conn, order_id=ids["D"], cards=_cards(2), cipher=cipher, now=at("2026-03-05T15:10:00")
        )
        await ledger.credit(
            conn,
            wallet_id=wallet.id,
            amount_minor=20_000,
            description='=HYPERLINK("http://x") top-up',
            actor=system,
            now=at("2026-03-09T09:00:00"),
        )
    ids["E"] = await _order(
        database, settings, partner, AMAZON, "50", 1, "E", at("2026-03-10T08:00:00")
    )
    return History(partner=partner, wallet=wallet, orders=ids)
