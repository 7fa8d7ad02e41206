"""The events API: 30-day listing with filters and cursors, one event, redelivery, tenant
isolation, and the admin's retry of an order's webhook."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from steller_server.db.engine import Database
from steller_server.db.tables import audit_log, jobs
from steller_server.domain import events
from steller_server.domain.serialize import iso
from tests.server.api.contract_check import assert_conforms
from tests.server.webhooks.webhook_support import complete, place_order

SKU = "AMAZON-US-50"
URL = "http://127.0.0.1:9/hooks"  # sandbox: any URL; nothing is delivered in these tests


async def _partner_with_endpoint(api, factory, partner_key, **body):
    partner, _ = await factory.partner(balance="500.00", approve={SKU: "-5"})
    headers = {"x-api-key": await partner_key(partner)}
    response = await api.put("/api/partner/webhook", json={"url": URL, **body}, headers=headers)
    assert response.status_code == 201
    return partner, headers


async def test_list_filters_pages_and_keeps_30_days(
    api: httpx.AsyncClient,
    factory,
    partner_key,
    database: Database,
    settings,
    clock,
) -> None:
    await factory.product(SKU)
    partner, headers = await _partner_with_endpoint(api, factory, partner_key)
    async with database.write() as conn:  # one event from 31 days ago: out of the window
        await events.record_event(
            conn,
            partner_id=partner.id,
            event_type="webhook.test",
            data={"message": "old"},
            now=clock() - timedelta(days=31),
        )
    order = await place_order(database, settings, partner, now=clock())
    clock.advance(seconds=1)
    await complete(database, settings, order, now=clock())
    clock.advance(seconds=1)
    test_id = (await api.post("/api/partner/webhook/test", headers=headers)).json()["id"]

    listed = await api.get("/api/partner/webhook/events", headers=headers)
    assert_conforms(listed, "listWebhookEvents")
    data = listed.json()["data"]
    assert [e["type"] for e in data] == ["webhook.test", "order.completed"]  # newest first
    assert listed.json()["nextCursor"] is None
    assert data[1]["data"]["id"] == order.id

    first = await api.get("/api/partner/webhook/events", params={"limit": 1}, headers=headers)
    assert [e["id"] for e in first.json()["data"]] == [test_id]
    cursor = first.json()["nextCursor"]
    assert cursor
    second = await api.get(
        "/api/partner/webhook/events", params={"limit": 1, "cursor": cursor}, headers=headers
    )
    assert [e["type"] for e in second.json()["data"]] == ["order.completed"]
    assert second.json()["nextCursor"] is None

    by_type = await api.get(
        "/api/partner/webhook/events", params={"type": "order.completed"}, headers=headers
    )
    assert [e["type"] for e in by_type.json()["data"]] == ["order.completed"]
    by_status = await api.get(
        "/api/partner/webhook/events", params={"status": "delivered"}, headers=headers
    )
    assert by_status.json()["data"] == []
    window = await api.get(
        "/api/partner/webhook/events",
        params={"from": iso(clock() - timedelta(seconds=1)), "to": iso(clock())},
        headers=headers,
    )
    assert [e["type"] for e in window.json()["data"]] == ["order.completed"]
    bad = await api.get("/api/partner/webhook/events", params={"cursor": "nope"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_cursor"


async def test_another_partners_events_are_invisible(
    api: httpx.AsyncClient,
    factory,
    partner_key,
    database: Database,
) -> None:
    await factory.product(SKU)
    _owner, owner_headers = await _partner_with_endpoint(api, factory, partner_key)
    _other, other_headers = await _partner_with_endpoint(api, factory, partner_key)
    event_id = (await api.post("/api/partner/webhook/test", headers=owner_headers)).json()["id"]

    assert (await api.get("/api/partner/webhook/events", headers=other_headers)).json()[
        "data"
    ] == []
    for method, path in (
        ("GET", f"/api/partner/webhook/events/{event_id}"),
        ("POST", f"/api/partner/webhook/events/{event_id}/redeliver"),
    ):
        response = await api.request(method, path, headers=other_headers)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    async with database.read() as conn:
        queued = (await conn.execute(select(jobs.c.dedupe_key))).scalars().all()
    assert not any("redeliver" in (key or "") for key in queued)
    unknown = await api.get("/api/partner/webhook/events/evt_doesnotexist1", headers=owner_headers)
    assert_conforms(unknown, "getWebhookEvent")
    assert unknown.status_code == 404


async def test_admin_retries_an_orders_webhook(
    api: httpx.AsyncClient,
    factory,
    partner_key,
    admin_token,
    database: Database,
    settings,
    clock,
) -> None:
    await factory.product(SKU)
    partner, _headers = await _partner_with_endpoint(api, factory, partner_key)
    order = await place_order(database, settings, partner, now=clock())
    support = {"Authorization": f"Bearer {await admin_token('support')}"}

    early = await api.post(f"/api/admin/orders/{order.id}/retry-webhook", headers=support)
    assert_conforms(early, "adminRetryOrderWebhook")
    assert early.status_code == 409  # still processing: no event yet
    missing = await api.post("/api/admin/orders/ord_doesnotexist1/retry-webhook", headers=support)
    assert missing.status_code == 404

    await complete(database, settings, order, now=clock())
    finance = {"Authorization": f"Bearer {await admin_token('finance')}"}
    denied = await api.post(f"/api/admin/orders/{order.id}/retry-webhook", headers=finance)
    assert denied.status_code == 403
    assert denied.json()["code"] == "insufficient_role"

    retried = await api.post(f"/api/admin/orders/{order.id}/retry-webhook", headers=support)
    assert_conforms(retried, "adminRetryOrderWebhook")
    assert retried.status_code == 202
    body = retried.json()
    assert body["type"] == "order.completed"
    assert body["data"]["id"] == order.id
    assert body["deliveryStatus"] == "pending"
    async with database.read() as conn:
        entry = (
            (await conn.execute(select(audit_log).where(audit_log.c.action == "event.redeliver")))
            .mappings()
            .one()
        )
        delivery_jobs = (
            (await conn.execute(select(jobs.c.payload).where(jobs.c.kind == "webhook_delivery")))
            .scalars()
            .all()
        )
    assert entry["target_id"] == body["id"]
    assert entry["actor"].startswith("admin:")
    assert sum(1 for p in delivery_jobs if p["eventId"] == body["id"]) == 2  # original + retry

    # No enabled endpoint: 409.
    await api.put(
        "/api/partner/webhook",
        json={"url": URL, "enabled": False},
        headers={"x-api-key": await partner_key(partner)},
    )
    off = await api.post(f"/api/admin/orders/{order.id}/retry-webhook", headers=support)
    assert off.status_code == 409
    assert off.json()["code"] == "invalid_state"
