"""Signup and the partner profile over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from steller_server.db.engine import Database
from steller_server.db.tables import audit_log, idempotency_keys, ledger_entries
from steller_server.settings import Settings
from tests.server.api.contract_check import assert_conforms
from tests.server.api.partner_support import onboard, order_body, running_app

SIGNUP = "/api/public/signup"


async def test_sandbox_signup_key_works_at_once_with_trial_money_and_catalog(
    api: httpx.AsyncClient, database: Database, factory: Any
) -> None:
    await factory.product()
    await factory.product("LOSS-MAKER", cost_min_minor=5000, cost_max_minor=5000)  # guard

    response = await api.post(
        SIGNUP, json={"name": "Acme", "email": "dev@acme.example", "company": "Acme Gifts Ltd"}
    )

    assert response.status_code == 201, response.text
    assert_conforms(response, "signup")
    body = response.json()
    assert body["partner"]["environment"] == "sandbox"
    assert body["partner"]["currency"] == "USD"
    assert body["apiKey"]["role"] == "developer"
    assert body["apiKey"]["key"].startswith("stlr_test_")
    assert body["apiKey"]["key"].endswith(body["apiKey"]["last4"])
    assert body["wallet"]["balance"] == "1000.00"  # the sandbox trial credit
    assert body["wallet"]["partnerId"] == body["partner"]["id"]

    headers = {"x-api-key": body["apiKey"]["key"]}
    me = await api.get("/api/partner/me", headers=headers)
    assert me.status_code == 200
    assert me.json() == body["partner"]
    catalog = (await api.get("/api/brand/getCatalog", headers=headers)).json()["data"]
    assert [p["sku"] for p in catalog] == ["AMAZON-US-50"]  # below-cost product not approved
    order = await api.post("/api/orders", headers=headers, json=order_body())
    assert order.status_code == 202
    wallet = (await api.get("/api/wallet/me", headers=headers)).json()
    assert wallet["balance"] == "950.00"

    async with database.read() as conn:
        actions = (await conn.execute(select(audit_log.c.action))).scalars().all()
        assert "partner.signup" in actions


async def test_signup_replay_returns_the_same_key_never_stored_in_clear(
    api: httpx.AsyncClient, database: Database
) -> None:
    request = {"name": "Acme", "email": "idem@acme.example"}
    first = await api.post(SIGNUP, json=request, headers={"Idempotency-Key": "s-1"})
    retry = await api.post(SIGNUP, json=request, headers={"Idempotency-Key": "s-1"})
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.headers["idempotent-replayed"] == "true"
    assert_conforms(retry, "signup")
    assert retry.json() == first.json()  # one partner, one key
    secret = first.json()["apiKey"]["key"].encode()
    async with database.read() as conn:
        stored = (await conn.execute(select(idempotency_keys.c.response_body))).scalars().all()
    assert stored
    assert all(secret not in bytes(row or b"") for row in stored)
    other = await api.post(
        SIGNUP, json={**request, "name": "Else"}, headers={"Idempotency-Key": "s-1"}
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


async def test_duplicate_email_is_409_whatever_the_case(api: httpx.AsyncClient) -> None:
    first = await api.post(SIGNUP, json={"name": "Acme", "email": "ops@acme.example"})
    assert first.status_code == 201
    again = await api.post(SIGNUP, json={"name": "Other", "email": "OPS@Acme.example"})
    assert again.status_code == 409
    assert_conforms(again, "signup")
    assert again.json()["code"] == "email_taken"


async def test_sixth_signup_from_one_address_within_a_minute_is_429(
    api: httpx.AsyncClient,
) -> None:
    for i in range(5):
        ok = await api.post(SIGNUP, json={"name": f"P{i}", "email": f"p{i}@example.com"})
        assert ok.status_code == 201
        assert ok.headers["ratelimit-policy"] == '"signup";q=5;w=60'
    throttled = await api.post(SIGNUP, json={"name": "P6", "email": "p6@example.com"})
    assert throttled.status_code == 429
    assert_conforms(throttled, "signup")
    assert throttled.json()["code"] == "rate_limited"
    assert 1 <= int(throttled.headers["retry-after"]) <= 60


@pytest.mark.parametrize(
    ("request_body", "pointer"),
    [
        ({"name": "Acme"}, "/email"),
        ({"name": "Acme", "email": "not-an-email"}, "/email"),
        ({"name": "Acme", "email": "a@b.example", "currency": "JPY"}, "/currency"),
        ({"name": "Acme", "email": "a@b.example", "plan": "gold"}, "/plan"),
    ],
)
async def test_invalid_signup_is_400_with_a_pointer(
    api: httpx.AsyncClient, request_body: dict[str, Any], pointer: str
) -> None:
    response = await api.post(SIGNUP, json=request_body)
    assert response.status_code == 400
    assert_conforms(response, "signup")
    assert pointer in [e["pointer"] for e in response.json()["errors"]]


async def test_live_signup_gets_no_trial_money(
    settings: Settings, database: Database, clock: Any, factory: Any
) -> None:
    await factory.product()
    async with running_app(settings.replace(mode="live"), database, clock) as live:
        transport = httpx.ASGITransport(app=live)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                SIGNUP, json={"name": "Live", "email": "l@x.example", "currency": "EUR"}
            )
            assert response.status_code == 201
            assert_conforms(response, "signup")
            body = response.json()
            assert body["apiKey"]["key"].startswith("stlr_live_")
            assert (body["wallet"]["balance"], body["wallet"]["currency"]) == ("0.00", "EUR")
            catalog = await client.get(
                "/api/brand/getCatalog", headers={"x-api-key": body["apiKey"]["key"]}
            )
            assert catalog.json()["data"] == []
    async with database.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(ledger_entries)) == 0


async def test_profile_update_is_merged_audited_and_developer_only(
    api: httpx.AsyncClient, database: Database, factory: Any, partner_key: Any
) -> None:
    partner, _, headers = await onboard(factory, partner_key)
    patch = {
        "name": "Acme Gifts",
        "lowBalanceThreshold": "150.00",
        "notifications": {"emails": ["ops@acme.example"], "orderFailed": False},
    }

    response = await api.patch("/api/partner/me", headers=headers, json=patch)

    assert response.status_code == 200, response.text
    assert_conforms(response, "updatePartner")
    body = response.json()
    assert (body["name"], body["lowBalanceThreshold"]) == ("Acme Gifts", "150.00")
    assert body["notifications"] == {
        "emails": ["ops@acme.example"],
        "lowBalance": True,
        "orderFailed": False,
        "keyChanges": True,
        "webhookDisabled": True,
    }
    me = await api.get("/api/partner/me", headers=headers)
    assert_conforms(me, "getPartner")
    assert me.json() == body
    wallet = (await api.get("/api/wallet/me", headers=headers)).json()
    assert wallet["lowBalanceThreshold"] == "150.00"
    async with database.read() as conn:
        row = (
            (
                await conn.execute(
                    select(audit_log)
                    .where(
                        audit_log.c.target_id == partner.id, audit_log.c.action == "partner.update"
                    )
                    .order_by(audit_log.c.sequence.desc())
                )
            )
            .mappings()
            .first()
        )
    assert row is not None
    assert row["actor"] == f"partner:{partner.id}"
    assert row["after"]["name"] == "Acme Gifts"
    assert row["before"]["lowBalanceThreshold"] == "0.00"

    for bad, pointer in (
        ({}, "/"),
        ({"status": "active"}, "/status"),
        ({"lowBalanceThreshold": "1.005"}, "/lowBalanceThreshold"),
        ({"notifications": {"sms": True}}, "/notifications/sms"),
    ):
        refused = await api.patch("/api/partner/me", headers=headers, json=bad)
        assert refused.status_code == 400, (bad, refused.text)
        assert_conforms(refused, "updatePartner")
        assert pointer in [e["pointer"] for e in refused.json()["errors"]], refused.json()

    _, _, ordering = await onboard(factory, partner_key, name="Ordering", role="ordering")
    forbidden = await api.patch("/api/partner/me", headers=ordering, json={"name": "X"})
    assert forbidden.status_code == 403
    assert_conforms(forbidden, "updatePartner")
    assert forbidden.json()["code"] == "insufficient_role"
