"""Admin wallet funding: credits and debits are ledger rows + audit entries, once per key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from steller_server.db.engine import Database
from steller_server.db.tables import audit_log, events, ledger_entries
from tests.server.api.admin_kit import app, bearer, cheap_password_hashing, staff_token
from tests.server.api.contract_check import assert_conforms

__all__ = ["app", "cheap_password_hashing", "staff_token"]  # fixtures used by this module


@pytest.fixture
async def finance(staff_token: Any) -> dict[str, str]:
    return bearer(await staff_token(role="finance"))


async def _count(database: Database, table: Any, *where: Any) -> int:
    async with database.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def test_credit_writes_ledger_row_audit_and_event_once_per_key(
    api: httpx.AsyncClient, database: Database, factory: Any, finance: dict[str, str]
) -> None:
    partner, wallet = await factory.partner(balance="100.00")
    headers = {**finance, "Idempotency-Key": "fund-2026-11-21", "X-Request-Id": "req-fund-1"}
    body = {"amount": "250.00", "reason": "Wire transfer 2026-11-21 ref ACME-4471"}
    url = f"/api/admin/partners/{partner.id}/wallet/credit"
    response = await api.post(url, headers=headers, json=body)
    assert response.status_code == 201, response.text
    assert_conforms(response, "adminCreditPartnerWallet")
    movement = response.json()
    assert movement["entry"]["type"] == "credit"
    assert movement["entry"]["amount"] == "250.00"
    assert movement["entry"]["balanceBefore"] == "100.00"
    assert movement["entry"]["balanceAfter"] == "350.00"
    assert movement["entry"]["description"] == body["reason"]
    assert movement["wallet"]["balance"] == "350.00"

    replay = await api.post(url, headers={**headers, "X-Request-Id": "req-fund-2"}, json=body)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == movement
    reused = await api.post(url, headers=headers, json={**body, "amount": "1.00"})
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"

    wallet_now = await api.get(f"/api/admin/partners/{partner.id}/wallet", headers=finance)
    assert_conforms(wallet_now, "adminGetPartnerWallet")
    assert wallet_now.json()["balance"] == "350.00"
    assert (
        await _count(
            database,
            ledger_entries,
            ledger_entries.c.wallet_id == wallet.id,
            ledger_entries.c.type == "credit",
        )
        == 2
    )  # initial funding + this one
    assert (
        await _count(
            database, events, events.c.partner_id == partner.id, events.c.type == "wallet.credited"
        )
        == 1
    )
    async with database.read() as conn:
        (entry,) = (
            (await conn.execute(select(audit_log).where(audit_log.c.action == "wallet.credit")))
            .mappings()
            .all()
        )
    assert entry["actor"].startswith("admin:usr_")
    assert entry["target_type"] == "wallet"
    assert entry["target_id"] == wallet.id
    assert entry["before"] == {"balance": "100.00"}
    assert entry["after"]["balance"] == "350.00"
    assert entry["after"]["entry"]["id"] == movement["entry"]["id"]
    assert entry["reason"] == body["reason"]
    assert entry["request_id"] == "req-fund-1"

    txns = await api.get(
        f"/api/admin/partners/{partner.id}/wallet/transactions",
        params={"type": "credit", "limit": 1},
        headers=finance,
    )
    assert_conforms(txns, "adminListPartnerTransactions")
    assert txns.json()["nextCursor"] is not None
    rest = await api.get(
        f"/api/admin/partners/{partner.id}/wallet/transactions",
        params={"type": "credit", "cursor": txns.json()["nextCursor"]},
        headers=finance,
    )
    assert_conforms(rest, "adminListPartnerTransactions")
    seen = [e["id"] for e in txns.json()["data"] + rest.json()["data"]]
    assert len(seen) == 2
    assert movement["entry"]["id"] in seen
    assert rest.json()["nextCursor"] is None


async def test_debit_below_zero_is_402_and_writes_nothing(
    api: httpx.AsyncClient, database: Database, factory: Any, finance: dict[str, str]
) -> None:
    partner, wallet = await factory.partner(balance="20.00")
    url = f"/api/admin/partners/{partner.id}/wallet/debit"
    audits_before = await _count(database, audit_log)
    refused = await api.post(url, headers=finance, json={"amount": "20.01", "reason": "Chargeback"})
    assert refused.status_code == 402
    assert refused.json()["code"] == "insufficient_funds"
    assert_conforms(refused, "adminDebitPartnerWallet")
    assert await _count(database, ledger_entries, ledger_entries.c.wallet_id == wallet.id) == 1
    assert await _count(database, audit_log) == audits_before

    ok = await api.post(url, headers=finance, json={"amount": "20", "reason": "Chargeback"})
    assert ok.status_code == 201
    assert_conforms(ok, "adminDebitPartnerWallet")
    assert ok.json()["entry"]["type"] == "adjustment"
    assert ok.json()["entry"]["amount"] == "-20.00"
    assert ok.json()["wallet"]["balance"] == "0.00"
    assert await _count(database, audit_log, audit_log.c.action == "wallet.debit") == 1


async def test_amounts_are_never_rounded_and_unknown_partners_are_404(
    api: httpx.AsyncClient, factory: Any, finance: dict[str, str]
) -> None:
    partner, _ = await factory.partner(balance="1.00")
    url = f"/api/admin/partners/{partner.id}/wallet/credit"
    fraction = await api.post(url, headers=finance, json={"amount": "0.005", "reason": "x"})
    assert fraction.status_code == 400
    assert fraction.json()["errors"] == [
        {"pointer": "/amount", "message": "at most 2 decimals for USD"}
    ]
    assert_conforms(fraction, "adminCreditPartnerWallet")
    negative = await api.post(url, headers=finance, json={"amount": "-5.00", "reason": "x"})
    assert negative.status_code == 400
    assert (await api.get(f"/api/admin/partners/{partner.id}/wallet", headers=finance)).json()[
        "balance"
    ] == "1.00"
    missing = await api.post(
        "/api/admin/partners/ptn_" + "Q" * 20 + "/wallet/credit",
        headers=finance,
        json={"amount": "1.00", "reason": "x"},
    )
    assert missing.status_code == 404
    assert_conforms(missing, "adminCreditPartnerWallet")
    missing_wallet = await api.get(
        "/api/admin/partners/ptn_" + "Q" * 20 + "/wallet", headers=finance
    )
    assert missing_wallet.status_code == 404
