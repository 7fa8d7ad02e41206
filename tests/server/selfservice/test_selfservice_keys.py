"""Partner key self-service: list, rotate with a grace period, revoke, roles, IP allowlists."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from steller_server.db.engine import Database
from steller_server.db.tables import audit_log, idempotency_keys, jobs
from steller_server.notify.email import EMAIL_KIND
from tests.server.api.contract_check import assert_conforms


@pytest.fixture
async def acme(factory: Any) -> Any:
    partner, _ = await factory.partner(name="Acme")
    return partner


async def _audit(database: Database, action: str) -> list[Any]:
    async with database.read() as conn:
        return list(
            (
                await conn.execute(
                    select(audit_log)
                    .where(audit_log.c.action == action)
                    .order_by(audit_log.c.sequence)
                )
            ).mappings()
        )


async def test_rotation_grace_period_then_old_key_dies(
    api: httpx.AsyncClient, acme: Any, partner_key: Any, clock: Any, database: Database
) -> None:
    old = {"x-api-key": await partner_key(acme)}
    response = await api.post(
        "/api/partner/keys/rotate", headers=old, json={"gracePeriodHours": 48}
    )
    assert response.status_code == 201, response.text
    assert_conforms(response, "rotateApiKey")
    created = response.json()
    assert created["key"].startswith("stlr_test_")
    assert created["status"] == "active"
    assert created["role"] == "developer"
    new = {"x-api-key": created["key"]}

    # Both keys work during the grace period; the old one shows as expiring.
    clock.advance(hours=47, minutes=59)
    assert (await api.get("/api/partner/keys", headers=old)).status_code == 200
    listing = await api.get("/api/partner/keys", headers=new)
    assert listing.status_code == 200
    assert_conforms(listing, "listApiKeys")
    statuses = {k["id"]: k["status"] for k in listing.json()["data"]}
    assert statuses[created["id"]] == "active"
    assert sorted(statuses.values()) == ["active", "expiring"]

    # After it, only the new key does.
    clock.advance(minutes=1)
    dead = await api.get("/api/partner/keys", headers=old)
    assert dead.status_code == 401
    assert dead.json()["code"] == "invalid_api_key"
    assert (await api.get("/api/partner/keys", headers=new)).status_code == 200
    listed = (await api.get("/api/partner/keys", headers=new)).json()["data"]
    assert sorted(k["status"] for k in listed) == ["active", "expired"]

    [entry] = await _audit(database, "api_key.rotate")
    assert entry["actor"] == f"partner:{acme.id}"
    assert entry["after"]["newKeyId"] == created["id"]
    # The new secret is never stored, not even for Idempotency-Key replays.
    async with database.read() as conn:
        bodies = (await conn.execute(select(idempotency_keys.c.response_body))).scalars().all()
    assert not any(created["key"].encode() in (b or b"") for b in bodies)


async def test_default_grace_is_24_hours_and_zero_revokes_at_once(
    api: httpx.AsyncClient, acme: Any, partner_key: Any, clock: Any
) -> None:
    old = {"x-api-key": await partner_key(acme)}
    response = await api.post("/api/partner/keys/rotate", headers=old)  # no body at all
    assert response.status_code == 201
    body = response.json()
    expires = body["previousKeyExpiresAt"]
    assert expires is not None
    clock.advance(hours=24)
    assert (await api.get("/api/partner/keys", headers=old)).status_code == 401

    second = {"x-api-key": body["key"]}
    instant = await api.post(
        "/api/partner/keys/rotate", headers=second, json={"gracePeriodHours": 0}
    )
    assert instant.status_code == 201
    assert instant.json()["previousKeyExpiresAt"] is None
    assert (await api.get("/api/partner/keys", headers=second)).status_code == 401
    third = {"x-api-key": instant.json()["key"]}
    assert (await api.get("/api/partner/keys", headers=third)).status_code == 200


async def test_rotation_can_set_role_and_allowlist_for_the_new_key(
    api: httpx.AsyncClient, acme: Any, partner_key: Any, app: Any
) -> None:
    old = {"x-api-key": await partner_key(acme)}
    response = await api.post(
        "/api/partner/keys/rotate",
        headers=old,
        json={"role": "ordering", "ipAllowlist": ["10.1.2.0/24"], "gracePeriodHours": 1},
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["role"], body["ipAllowlist"]) == ("ordering", ["10.1.2.0/24"])
    new = {"x-api-key": body["key"]}

    # From 127.0.0.1 (the ASGI client address) the allowlisted key is refused …
    refused = await api.get("/api/partner/me", headers=new)
    assert refused.status_code == 403
    assert refused.json()["code"] == "ip_not_allowed"
    # … from an allowed address it works, within its role.
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as inside:
        assert (await inside.get("/api/partner/me", headers=new)).status_code == 200
        keys_call = await inside.get("/api/partner/keys", headers=new)
        assert keys_call.status_code == 403
        assert keys_call.json()["code"] == "insufficient_role"
    transport = httpx.ASGITransport(app=app, client=("10.1.3.3", 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as outside:
        assert (await outside.get("/api/partner/me", headers=new)).status_code == 403


async def test_invalid_allowlist_is_a_400(
    api: httpx.AsyncClient, acme: Any, partner_key: Any
) -> None:
    old = {"x-api-key": await partner_key(acme)}
    response = await api.post(
        "/api/partner/keys/rotate", headers=old, json={"ipAllowlist": ["999.1.1.1"]}
    )
    assert response.status_code == 400
    assert_conforms(response, "rotateApiKey")
    assert (await api.get("/api/partner/keys", headers=old)).status_code == 200  # unchanged


async def test_finance_key_rotates_itself_but_cannot_promote(
    api: httpx.AsyncClient, acme: Any, partner_key: Any
) -> None:
    finance = {"x-api-key": await partner_key(acme, role="finance")}
    promote = await api.post(
        "/api/partner/keys/rotate", headers=finance, json={"role": "developer"}
    )
    assert promote.status_code == 403
    assert promote.json()["code"] == "insufficient_role"
    assert_conforms(promote, "rotateApiKey")
    # Nothing happened: the key is not expiring.
    assert (await api.get("/api/partner/usage", headers=finance)).status_code == 200
    for method, path in (
        ("GET", "/api/partner/keys"),
        ("DELETE", "/api/partner/keys/key_abcdefgh12"),
    ):
        denied = await api.request(method, path, headers=finance)
        assert denied.status_code == 403, (method, path)
        assert denied.json()["code"] == "insufficient_role"
    # The contract lets every key rotate itself, keeping its role.
    own = await api.post("/api/partner/keys/rotate", headers=finance, json={"role": "finance"})
    assert own.status_code == 201
    assert own.json()["role"] == "finance"


async def test_revoke_is_immediate_idempotent_and_audited(
    api: httpx.AsyncClient, acme: Any, partner_key: Any, database: Database
) -> None:
    admin = {"x-api-key": await partner_key(acme)}
    victim_raw = await partner_key(acme, role="ordering")
    victim = {"x-api-key": victim_raw}
    assert (await api.get("/api/partner/me", headers=victim)).status_code == 200
    listed = (await api.get("/api/partner/keys", headers=admin)).json()["data"]
    victim_id = next(k["id"] for k in listed if k["role"] == "ordering")

    response = await api.delete(f"/api/partner/keys/{victim_id}", headers=admin)
    assert response.status_code == 204
    assert_conforms(response, "revokeApiKey")
    assert (await api.get("/api/partner/me", headers=victim)).status_code == 401
    again = await api.delete(f"/api/partner/keys/{victim_id}", headers=admin)
    assert again.status_code == 204
    [entry] = await _audit(database, "api_key.revoke")
    async with database.read() as conn:
        emails = (
            (await conn.execute(select(jobs.c.payload).where(jobs.c.kind == EMAIL_KIND)))
            .scalars()
            .all()
        )
    assert len(emails) == 1  # the keyChanges email, queued with the revocation
    assert (entry["target_id"], entry["after"]) == (victim_id, {"status": "revoked"})
    listed = (await api.get("/api/partner/keys", headers=admin)).json()["data"]
    revoked = next(k for k in listed if k["id"] == victim_id)
    assert revoked["status"] == "revoked"
    assert revoked["revokedAt"] is not None


async def test_keys_of_another_partner_are_invisible(
    api: httpx.AsyncClient, acme: Any, factory: Any, partner_key: Any
) -> None:
    other, _ = await factory.partner(name="Other")
    other_raw = await partner_key(other)
    mine = {"x-api-key": await partner_key(acme)}
    other_id = (await api.get("/api/partner/keys", headers={"x-api-key": other_raw})).json()[
        "data"
    ][0]["id"]
    listed = (await api.get("/api/partner/keys", headers=mine)).json()["data"]
    assert other_id not in {k["id"] for k in listed}
    response = await api.delete(f"/api/partner/keys/{other_id}", headers=mine)
    assert response.status_code == 404
    assert_conforms(response, "revokeApiKey")
    assert (await api.get("/api/partner/me", headers={"x-api-key": other_raw})).status_code == 200


async def test_key_list_pages_with_a_cursor(
    api: httpx.AsyncClient, acme: Any, partner_key: Any
) -> None:
    mine = {"x-api-key": await partner_key(acme)}
    for _ in range(4):
        await partner_key(acme, role="finance")
    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await api.get("/api/partner/keys" + query, headers=mine)
        assert page.status_code == 200
        body = page.json()
        assert len(body["data"]) <= 2
        seen += [k["id"] for k in body["data"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    bad = await api.get("/api/partner/keys?cursor=nonsense", headers=mine)
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_cursor"


async def test_a_retried_rotation_returns_the_same_new_key(
    api: httpx.AsyncClient, factory, partner_key
) -> None:
    """A lost rotate response must not leave the caller with a key it never saw."""
    partner, _ = await factory.partner(name="Retry Ltd")
    old = await partner_key(partner)
    headers = {"x-api-key": old, "Idempotency-Key": "rotate-once"}
    first = await api.post("/api/partner/keys/rotate", json={}, headers=headers)
    again = await api.post("/api/partner/keys/rotate", json={}, headers=headers)
    assert first.status_code == 201, first.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["key"] == first.json()["key"]
    listed = await api.get("/api/partner/keys", headers={"x-api-key": old})
    assert len(listed.json()["data"]) == 2  # the old key (in its grace period) and one new key
