"""Admin orders: cross-partner reads without card codes, and cancel / refund / mark-failed, each
exactly once with the balance restored exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from steller_server.db.engine import Database
from steller_server.db.tables import audit_log, events, ledger_entries
from steller_server.domain import orders
from steller_server.domain.serialize import iso
from tests.server.api.admin_kit import (
    app,
    balance,
    bearer,
    cheap_password_hashing,
    complete_order,
    place_order,
    staff_token,
)
from tests.server.api.contract_check import assert_conforms

__all__ = ["app", "cheap_password_hashing", "staff_token"]  # fixtures used by this module


@pytest.fixture
async def tokens(staff_token: Any) -> dict[str, str]:
    return {role: await staff_token(role=role) for role in ("admin", "support", "finance")}


@pytest.fixture
async def acme(factory: Any) -> Any:
    await factory.product("AMAZON-US-50")
    partner, _ = await factory.partner(
        name="Acme", balance="100.00", approve={"AMAZON-US-50": "-5"}
    )
    return partner


async def _refunds(database: Database, order_id: str) -> int:
    async with database.read() as conn:
        return int(
            await conn.scalar(
                select(func.count())
                .select_from(ledger_entries)
                .where(ledger_entries.c.order_id == order_id, ledger_entries.c.type == "refund")
            )
            or 0
        )


async def test_cancel_restores_the_balance_exactly_once(
    api: httpx.AsyncClient, database: Database, settings: Any, acme: Any, tokens: dict[str, str]
) -> None:
    order = await place_order(database, settings, acme)
    assert await balance(api, tokens["admin"], acme.id) == "47.50"
    url = f"/api/admin/orders/{order.id}/cancel"
    headers = {**bearer(tokens["support"]), "Idempotency-Key": "cancel-1"}
    response = await api.post(url, headers=headers, json={"reason": "Customer asked"})
    assert response.status_code == 200, response.text
    assert_conforms(response, "adminCancelOrder")
    assert response.json()["status"] == "cancelled"
    assert response.json()["refundedAmount"] == "52.50"
    assert await balance(api, tokens["admin"], acme.id) == "100.00"

    replay = await api.post(url, headers=headers, json={"reason": "Customer asked"})
    assert replay.headers["idempotent-replayed"] == "true"
    second = await api.post(url, headers=bearer(tokens["admin"]), json={"reason": "again"})
    assert second.status_code == 409
    assert second.json()["code"] == "invalid_state"
    assert_conforms(second, "adminCancelOrder")
    assert await balance(api, tokens["admin"], acme.id) == "100.00"
    assert await _refunds(database, order.id) == 1
    async with database.read() as conn:
        (entry,) = (
            (await conn.execute(select(audit_log).where(audit_log.c.action == "order.cancel")))
            .mappings()
            .all()
        )
        cancelled_events = await conn.scalar(
            select(func.count())
            .select_from(events)
            .where(events.c.order_id == order.id, events.c.type == "order.cancelled")
        )
    assert cancelled_events == 1
    assert entry["reason"] == "Customer asked"
    assert entry["target_id"] == order.id
    assert entry["after"]["status"] == "cancelled"


async def test_cancel_after_vendor_submission_is_refused(
    api: httpx.AsyncClient, database: Database, settings: Any, acme: Any, tokens: dict[str, str]
) -> None:
    order = await place_order(database, settings, acme)
    async with database.write() as conn:
        await orders.begin_vendor_submission(conn, order_id=order.id)
    response = await api.post(
        f"/api/admin/orders/{order.id}/cancel",
        headers=bearer(tokens["admin"]),
        json={"reason": "too late"},
    )
    assert response.status_code == 409
    assert await balance(api, tokens["admin"], acme.id) == "47.50"


async def test_refund_of_a_delivered_order_happens_once(
    api: httpx.AsyncClient, database: Database, settings: Any, acme: Any, tokens: dict[str, str]
) -> None:
    order = await place_order(database, settings, acme, quantity=1)
    processing = await api.post(
        f"/api/admin/orders/{order.id}/refund",
        headers=bearer(tokens["finance"]),
        json={"reason": "early"},
    )
    assert processing.status_code == 409
    await complete_order(database, settings, order, codes=["AMZ-CODE-1"])
    url = f"/api/admin/orders/{order.id}/refund"
    response = await api.post(
        url, headers=bearer(tokens["finance"]), json={"reason": "Goodwill INC-7"}
    )
    assert response.status_code == 200, response.text
    assert_conforms(response, "adminRefundOrder")
    assert response.json()["status"] == "completed"
    assert response.json()["refundedAmount"] == response.json()["total"] == "52.50"
    assert "cards" not in response.json()
    assert await balance(api, tokens["admin"], acme.id) == "100.00"
    second = await api.post(url, headers=bearer(tokens["finance"]), json={"reason": "again"})
    assert second.status_code == 409
    assert_conforms(second, "adminRefundOrder")
    assert await balance(api, tokens["admin"], acme.id) == "100.00"
    assert await _refunds(database, order.id) == 1


async def test_mark_failed_and_refund_happens_once(
    api: httpx.AsyncClient, database: Database, settings: Any, acme: Any, tokens: dict[str, str]
) -> None:
    order = await place_order(database, settings, acme)
    url = f"/api/admin/orders/{order.id}/mark-failed-and-refund"
    response = await api.post(
        url, headers=bearer(tokens["finance"]), json={"reason": "Stuck at vendor for 3 days"}
    )
    assert response.status_code == 200, response.text
    assert_conforms(response, "adminMarkOrderFailedAndRefund")
    assert response.json()["status"] == "failed"
    assert response.json()["failureReason"] == "Stuck at vendor for 3 days"
    assert await balance(api, tokens["admin"], acme.id) == "100.00"
    second = await api.post(url, headers=bearer(tokens["admin"]), json={"reason": "again"})
    assert second.status_code == 409
    assert_conforms(second, "adminMarkOrderFailedAndRefund")
    assert await balance(api, tokens["admin"], acme.id) == "100.00"
    assert await _refunds(database, order.id) == 1
    async with database.read() as conn:
        (entry,) = (
            (
                await conn.execute(
                    select(audit_log).where(audit_log.c.action == "order.mark_failed_and_refund")
                )
            )
            .mappings()
            .all()
        )
    assert entry["before"] == {"status": "processing", "refundedAmount": "0.00"}
    assert entry["after"] == {"status": "failed", "refundedAmount": "52.50"}
    missing = await api.post(
        "/api/admin/orders/ord_" + "Q" * 20 + "/mark-failed-and-refund",
        headers=bearer(tokens["admin"]),
        json={"reason": "x"},
    )
    assert missing.status_code == 404


async def test_admin_order_never_shows_card_codes(
    api: httpx.AsyncClient, database: Database, settings: Any, acme: Any, tokens: dict[str, str]
) -> None:
    credit = await api.post(
        f"/api/admin/partners/{acme.id}/wallet/credit",
        headers=bearer(tokens["finance"]),
        json={"amount": "100.00", "reason": "top-up"},
    )
    assert credit.status_code == 201
    order = await place_order(database, settings, acme, quantity=2, reference_id="two")
    await complete_order(database, settings, order, codes=["SECRET-CODE-ONE"])  # 1 of 2
    for role in ("admin", "support", "finance"):
        one = await api.get(f"/api/admin/orders/{order.id}", headers=bearer(tokens[role]))
        assert one.status_code == 200
        assert_conforms(one, "adminGetOrder")
        listed = await api.get("/api/admin/orders", headers=bearer(tokens[role]))
        assert_conforms(listed, "adminListOrders")
        for text in (one.text, listed.text):
            assert "SECRET-CODE-ONE" not in text
            assert "PIN-0" not in text
            assert "SER-0" not in text
            assert "cards" not in text
    body = one.json()
    assert body["status"] == "partially_completed"
    assert body["quantityFulfilled"] == 1
    assert body["refundedAmount"] == "52.50"
    assert body["partnerId"] == acme.id
    assert body["partnerName"] == "Acme"
    assert body["vendorOrderId"] == 880011
    assert body["vendorStatus"] == "Succeeded"
    assert body["vendorRequestId"] == order.vendor_request_id
    assert len(body["events"]) == 1
    assert body["events"][0].startswith("evt_")


async def test_order_list_filters(
    api: httpx.AsyncClient,
    database: Database,
    settings: Any,
    factory: Any,
    acme: Any,
    tokens: dict[str, str],
    clock: Any,
) -> None:
    await factory.product("STEAM-US-50", name="Steam", brand_name="Valve")
    globex, _ = await factory.partner(
        name="Globex", balance="500.00", approve={"AMAZON-US-50": "-5", "STEAM-US-50": "-5"}
    )
    first = await place_order(database, settings, acme, reference_id="a1")
    second = await place_order(database, settings, globex, reference_id="g1")
    third = await place_order(database, settings, globex, sku="STEAM-US-50", reference_id="g2")
    await api.post(
        f"/api/admin/orders/{second.id}/cancel",
        headers=bearer(tokens["admin"]),
        json={"reason": "x"},
    )
    headers = bearer(tokens["support"])

    async def ids(**params: Any) -> set[str]:
        response = await api.get("/api/admin/orders", params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert_conforms(response, "adminListOrders")
        return {o["id"] for o in response.json()["data"]}

    assert await ids() == {first.id, second.id, third.id}
    assert await ids(partnerId=globex.id) == {second.id, third.id}
    assert await ids(status="cancelled") == {second.id}
    assert await ids(sku="STEAM-US-50") == {third.id}
    assert await ids(partnerId=acme.id, status="cancelled") == set()
    later = iso(first.created_at + timedelta(days=1))
    earlier = iso(first.created_at - timedelta(days=1))
    assert await ids(to=later, **{"from": earlier}) == {first.id, second.id, third.id}
    assert await ids(**{"from": later}) == set()
    bad = await api.get("/api/admin/orders", params={"status": "lost"}, headers=headers)
    assert bad.status_code == 400
    assert_conforms(bad, "adminListOrders")
