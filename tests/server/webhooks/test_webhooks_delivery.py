"""End to end: a state change → the durable job → a real HTTP POST to a loopback receiver.

Signatures are checked with two independent verifiers: the `standardwebhooks` reference library
and `steller.webhooks.verify` (what partners use)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import standardwebhooks
from sqlalchemy import select

from steller import webhooks as sdk_webhooks
from steller_server.db.tables import webhook_attempts
from steller_server.domain import webhooks
from steller_server.domain.serialize import order_public
from steller_server.jobs.delivery import CONFIG_KEY, DeliveryConfig
from steller_server.jobs.worker import Worker
from tests.server.api.contract_check import assert_conforms
from tests.server.webhooks.webhook_support import (
    HANG,
    Receiver,
    complete,
    place_order,
    schema_errors,
)

SKU = "AMAZON-US-50"


async def _setup(
    api: httpx.AsyncClient, factory, partner_key, url: str, **body: object
) -> tuple[object, dict[str, str], str]:
    await factory.product(SKU)
    partner, _wallet = await factory.partner(balance="500.00", approve={SKU: "-5"})
    headers = {"x-api-key": await partner_key(partner)}
    created = await api.put("/api/partner/webhook", json={"url": url, **body}, headers=headers)
    assert created.status_code == 201, created.text
    return partner, headers, created.json()["secret"]


def _verify_both(received, secret: str | list[str], *, now: float) -> dict[str, object]:
    secrets = [secret] if isinstance(secret, str) else secret
    event = sdk_webhooks.verify(received.body, received.headers, secrets, now=now)
    for s in secrets:  # the reference implementation takes one secret at a time
        try:
            standardwebhooks.Webhook(s).verify(received.body, received.headers)
            break
        except standardwebhooks.webhooks.WebhookVerificationError:
            continue
    else:
        pytest.fail("no secret verifies with the standardwebhooks library")
    return event.raw


async def test_completed_order_is_delivered_once_signed_and_verifiable(
    api,
    factory,
    partner_key,
    database,
    settings,
    clock,
    worker: Worker,
    receiver: Receiver,
) -> None:
    partner, _headers, secret = await _setup(api, factory, partner_key, receiver.url())
    order = await place_order(database, settings, partner, now=clock())
    done = await complete(database, settings, order, now=clock())

    await worker.run_until_idle()
    assert receiver.wait_for(1)
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.path == "/hooks"
    assert got.headers["content-type"] == "application/json"
    now = clock().timestamp()
    payload = _verify_both(got, secret, now=now)

    assert list(payload) == ["id", "type", "timestamp", "data"]
    assert payload["type"] == "order.completed"
    assert payload["id"] == got.headers["webhook-id"]
    assert payload["data"] == order_public(done)
    assert "cards" not in payload["data"]
    assert not schema_errors(payload, "WebhookOrderCompleted")
    assert got.headers["webhook-timestamp"] == str(int(now))
    assert got.headers["webhook-signature"].count("v1,") == 1

    # Tampered body, wrong secret, stale timestamp: refused by both verifiers.
    tampered = got.body.replace(b'"completed"', b'"cancelled"', 1)
    with pytest.raises(sdk_webhooks.WebhookSignatureError):
        sdk_webhooks.verify(tampered, got.headers, secret, now=now)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(tampered, got.headers)
    other = sdk_webhooks.generate_secret()
    with pytest.raises(sdk_webhooks.WebhookSignatureError):
        sdk_webhooks.verify(got.body, got.headers, other, now=now)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(other).verify(got.body, got.headers)
    with pytest.raises(sdk_webhooks.WebhookTimestampError):
        sdk_webhooks.verify(got.body, got.headers, secret, now=now + 301)
    stale = {**got.headers, "webhook-timestamp": str(int(now) - 3600)}
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(got.body, stale)

    # The event is delivered, with one successful attempt; nothing is sent again.
    event_id = str(payload["id"])
    view = await api.get(f"/api/partner/webhook/events/{event_id}", headers=_headers)
    assert_conforms(view, "getWebhookEvent")
    body = view.json()
    assert body["deliveryStatus"] == "delivered"
    assert body["nextAttemptAt"] is None
    assert [(a["statusCode"], a["success"], a["error"]) for a in body["attempts"]] == [
        (204, True, None)
    ]
    clock.advance(days=4)
    await worker.run_until_idle()
    assert len(receiver.requests) == 1


async def test_rotation_signs_with_both_secrets_during_grace_then_only_the_new(
    api,
    factory,
    partner_key,
    database,
    settings,
    clock,
    worker: Worker,
    receiver: Receiver,
) -> None:
    _partner, headers, old = await _setup(api, factory, partner_key, receiver.url())
    rotated = await api.post(
        "/api/partner/webhook/rotate-secret", json={"gracePeriodHours": 24}, headers=headers
    )
    assert_conforms(rotated, "rotateWebhookSecret")
    new = rotated.json()["secret"]
    assert new != old

    assert (await api.post("/api/partner/webhook/test", headers=headers)).status_code == 202
    await worker.run_until_idle()
    assert receiver.wait_for(1)
    during = receiver.requests[0]
    assert during.headers["webhook-signature"].count("v1,") == 2
    now = clock().timestamp()
    for secret in (old, new):  # each secret alone verifies, with both libraries
        _verify_both(during, secret, now=now)

    clock.advance(hours=24, seconds=1)
    assert (await api.post("/api/partner/webhook/test", headers=headers)).status_code == 202
    await worker.run_until_idle()
    assert receiver.wait_for(2)
    after = receiver.requests[1]
    now = clock().timestamp()
    assert after.headers["webhook-signature"].count("v1,") == 1
    sdk_webhooks.verify(after.body, after.headers, new, now=now)
    with pytest.raises(sdk_webhooks.WebhookSignatureError):
        sdk_webhooks.verify(after.body, after.headers, old, now=now)
    endpoint = (await api.get("/api/partner/webhook", headers=headers)).json()
    assert endpoint["secretRotationEndsAt"] is None


async def test_failures_are_retried_on_the_schedule_with_the_same_id(
    api,
    factory,
    partner_key,
    clock,
    worker: Worker,
    receiver: Receiver,
) -> None:
    receiver.plan = [500, 503]
    _partner, headers, secret = await _setup(api, factory, partner_key, receiver.url())
    sent = await api.post("/api/partner/webhook/test", headers=headers)
    event_id = sent.json()["id"]

    await worker.run_until_idle()  # attempt 1 (immediately): 500
    assert len(receiver.requests) == 1
    event = (await api.get(f"/api/partner/webhook/events/{event_id}", headers=headers)).json()
    assert event["deliveryStatus"] == "pending"
    assert event["nextAttemptAt"] is not None
    clock.advance(seconds=4)
    await worker.run_until_idle()  # not due before 5 s
    assert len(receiver.requests) == 1
    clock.advance(seconds=1)
    await worker.run_until_idle()  # attempt 2 (after 5 s): 503
    assert len(receiver.requests) == 2
    clock.advance(minutes=5)
    await worker.run_until_idle()  # attempt 3 (after 5 min): 204
    assert receiver.wait_for(3)
    assert len(receiver.requests) == 3
    assert {r.headers["webhook-id"] for r in receiver.requests} == {event_id}
    for r in receiver.requests:
        assert r.body == receiver.requests[0].body  # the same bytes on every retry
    # The test clock is 5 min ahead of real time now: only the SDK verifier takes a `now`.
    sdk_webhooks.verify(
        receiver.requests[2].body, receiver.requests[2].headers, secret, now=clock().timestamp()
    )

    view = await api.get(f"/api/partner/webhook/events/{event_id}", headers=headers)
    assert_conforms(view, "getWebhookEvent")
    body = view.json()
    assert body["deliveryStatus"] == "delivered"
    assert [(a["statusCode"], a["success"], a["error"]) for a in body["attempts"]] == [
        (500, False, "HTTP 500"),
        (503, False, "HTTP 503"),
        (204, True, None),
    ]
    assert all(a["latencyMs"] >= 0 for a in body["attempts"])
    clock.advance(days=4)
    await worker.run_until_idle()
    assert len(receiver.requests) == 3  # delivered once, never again


async def test_a_receiver_down_for_the_whole_window_ends_failed_and_can_be_redelivered(
    api,
    factory,
    partner_key,
    clock,
    worker: Worker,
    receiver: Receiver,
) -> None:
    receiver.default = 500
    _partner, headers, _secret = await _setup(api, factory, partner_key, receiver.url())
    event_id = (await api.post("/api/partner/webhook/test", headers=headers)).json()["id"]
    start = clock()
    await worker.run_until_idle()
    for delay in webhooks.RETRY_SCHEDULE[1:]:
        clock.advance(seconds=delay.total_seconds())
        await worker.run_until_idle()
    assert len(receiver.requests) == 10
    assert clock() - start == sum(webhooks.RETRY_SCHEDULE, timedelta())  # ~3 days, 3 h
    body = (await api.get(f"/api/partner/webhook/events/{event_id}", headers=headers)).json()
    assert body["deliveryStatus"] == "failed"
    assert body["nextAttemptAt"] is None
    assert len(body["attempts"]) == 10
    failed = await api.get(
        "/api/partner/webhook/events", params={"status": "failed"}, headers=headers
    )
    assert [e["id"] for e in failed.json()["data"]] == [event_id]

    clock.advance(days=1)
    await worker.run_until_idle()
    assert len(receiver.requests) == 10  # nothing more once failed

    receiver.default = 200  # the partner fixed the receiver
    again = await api.post(f"/api/partner/webhook/events/{event_id}/redeliver", headers=headers)
    assert_conforms(again, "redeliverWebhookEvent")
    assert again.status_code == 202
    assert again.json()["deliveryStatus"] == "pending"
    await worker.run_until_idle()
    assert receiver.wait_for(11)
    assert receiver.requests[10].headers["webhook-id"] == event_id
    body = (await api.get(f"/api/partner/webhook/events/{event_id}", headers=headers)).json()
    assert body["deliveryStatus"] == "delivered"
    assert len(body["attempts"]) == 11


async def test_timeouts_redirects_and_refused_connections_are_failed_attempts(
    api,
    factory,
    partner_key,
    database,
    clock,
    worker: Worker,
    receiver: Receiver,
) -> None:
    worker.context.extras[CONFIG_KEY] = DeliveryConfig(timeout=0.3)
    receiver.plan = [HANG, (302, "/elsewhere")]
    _partner, headers, _secret = await _setup(api, factory, partner_key, receiver.url())
    event_id = (await api.post("/api/partner/webhook/test", headers=headers)).json()["id"]
    await worker.run_until_idle()  # hangs → timeout
    clock.advance(seconds=5)
    await worker.run_until_idle()  # 302 → not followed
    assert [r.path for r in receiver.requests] == ["/hooks", "/hooks"]

    # Point the endpoint at a closed port: connection refused.
    closed = Receiver()
    dead_url = closed.url()
    closed.close()
    put = await api.put("/api/partner/webhook", json={"url": dead_url}, headers=headers)
    assert put.status_code == 200
    clock.advance(minutes=5)
    await worker.run_until_idle()

    body = (await api.get(f"/api/partner/webhook/events/{event_id}", headers=headers)).json()
    attempts = body["attempts"]
    assert [(a["statusCode"], a["success"]) for a in attempts] == [
        (None, False),
        (302, False),
        (None, False),
    ]
    assert attempts[0]["error"] == "timeout after 0.3 s"
    assert attempts[0]["latencyMs"] >= 300
    assert attempts[1]["error"] == "HTTP 302 (redirects are not followed)"
    assert attempts[2]["error"].startswith("connection failed")
    async with database.read() as conn:
        urls = (
            (
                await conn.execute(
                    select(webhook_attempts.c.url).order_by(webhook_attempts.c.attempted_at)
                )
            )
            .scalars()
            .all()
        )
    assert urls[-1] == dead_url
    assert body["deliveryStatus"] == "pending"


async def test_an_endpoint_failing_for_days_is_disabled_and_the_partner_can_re_enable_it(
    api,
    factory,
    partner_key,
    clock,
    worker: Worker,
    receiver: Receiver,
) -> None:
    worker.context.extras[CONFIG_KEY] = DeliveryConfig(timeout=2.0, disable_after=timedelta(days=5))
    receiver.default = 500
    _partner, headers, _secret = await _setup(api, factory, partner_key, receiver.url())
    first = (await api.post("/api/partner/webhook/test", headers=headers)).json()["id"]
    await worker.run_until_idle()
    clock.advance(days=4)
    second = (await api.post("/api/partner/webhook/test", headers=headers)).json()["id"]
    await worker.run_until_idle()
    assert (await api.get("/api/partner/webhook", headers=headers)).json()["status"] == "active"

    clock.advance(days=1)
    await worker.run_until_idle()  # second's retry, 5 days after the first failure → disabled
    endpoint = await api.get("/api/partner/webhook", headers=headers)
    assert_conforms(endpoint, "getWebhookEndpoint")
    shown = endpoint.json()
    assert shown["status"] == "disabled"
    assert "5 days" in shown["disabledReason"]
    sent = len(receiver.requests)

    # While disabled, pending events stop (failed, redeliverable) and redelivery is refused.
    # (A failing endpoint has one delivery in flight at a time; the others are put back for up
    # to 5 minutes, hence the second round.)
    clock.advance(days=1)
    await worker.run_until_idle()
    clock.advance(minutes=6)
    await worker.run_until_idle()
    assert len(receiver.requests) == sent
    for event_id in (first, second):
        body = (await api.get(f"/api/partner/webhook/events/{event_id}", headers=headers)).json()
        assert body["deliveryStatus"] == "failed"
    refused = await api.post(f"/api/partner/webhook/events/{first}/redeliver", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "invalid_state"

    receiver.default = 204
    enabled = await api.put(
        "/api/partner/webhook", json={"url": receiver.url(), "enabled": True}, headers=headers
    )
    assert_conforms(enabled, "putWebhookEndpoint")
    assert enabled.json()["status"] == "active"
    assert enabled.json()["disabledReason"] is None
    assert (
        await api.post(f"/api/partner/webhook/events/{first}/redeliver", headers=headers)
    ).status_code == 202
    await worker.run_until_idle()
    body = (await api.get(f"/api/partner/webhook/events/{first}", headers=headers)).json()
    assert body["deliveryStatus"] == "delivered"


async def test_only_subscribed_types_are_delivered(
    api,
    factory,
    partner_key,
    database,
    settings,
    clock,
    worker: Worker,
    receiver: Receiver,
) -> None:
    partner, headers, _secret = await _setup(
        api, factory, partner_key, receiver.url(), eventTypes=["order.failed"]
    )
    order = await place_order(database, settings, partner, now=clock())
    await complete(database, settings, order, now=clock())
    await worker.run_until_idle()
    assert receiver.requests == []
    listed = (await api.get("/api/partner/webhook/events", headers=headers)).json()["data"]
    assert [(e["type"], e["deliveryStatus"]) for e in listed] == [
        ("order.completed", "not_subscribed")
    ]

    # A test event goes out whatever the types.
    assert (await api.post("/api/partner/webhook/test", headers=headers)).status_code == 202
    await worker.run_until_idle()
    assert receiver.wait_for(1)
    assert [json.loads(r.body)["type"] for r in receiver.requests] == ["webhook.test"]

    # A partner who switches the endpoint off gets nothing; a test is refused until re-enabled.
    await api.put(
        "/api/partner/webhook", json={"url": receiver.url(), "enabled": False}, headers=headers
    )
    order = await place_order(database, settings, partner, now=clock())
    await complete(database, settings, order, now=clock())
    refused = await api.post("/api/partner/webhook/test", headers=headers)
    assert_conforms(refused, "sendTestWebhook")
    assert refused.status_code == 409
    await worker.run_until_idle()
    assert len(receiver.requests) == 1
