"""Admin partner management: onboarding, suspension, rate-limit overrides and API keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from steller_server.db.engine import Database
from steller_server.db.tables import audit_log
from steller_server.domain.serialize import iso
from tests.server.api.admin_kit import (
    PROBE_PATH,
    app,
    bearer,
    cheap_password_hashing,
    staff_token,
)
from tests.server.api.contract_check import assert_conforms

__all__ = ["app", "cheap_password_hashing", "staff_token"]  # fixtures used by this module


@pytest.fixture
async def admin(staff_token: Any) -> dict[str, str]:
    return bearer(await staff_token(role="admin"))


async def _audit(database: Database, **where: str) -> list[dict[str, Any]]:
    query = select(audit_log).order_by(audit_log.c.sequence)
    for column, value in where.items():
        query = query.where(audit_log.c[column] == value)
    async with database.read() as conn:
        return [dict(r) for r in (await conn.execute(query)).mappings()]


async def test_admin_created_and_signed_up_partners_get_the_same_low_balance_threshold(
    api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Both take ``STELLER_LOW_BALANCE_THRESHOLD`` unless the admin sends one."""
    created = await api.post(
        "/api/admin/partners", headers=admin, json={"name": "Initech", "email": "a@initech.example"}
    )
    signed_up = await api.post(
        "/api/public/signup", json={"name": "Initrode", "email": "b@initrode.example"}
    )
    assert (created.status_code, signed_up.status_code) == (201, 201), signed_up.text
    threshold = signed_up.json()["partner"]["lowBalanceThreshold"]
    assert created.json()["lowBalanceThreshold"] == threshold == "100.00"
    explicit = await api.post(
        "/api/admin/partners",
        headers=admin,
        json={"name": "Quiet", "email": "c@quiet.example", "lowBalanceThreshold": "0"},
    )
    assert explicit.json()["lowBalanceThreshold"] == "0.00"  # 0 still turns warnings off


async def test_onboarding_creates_partner_and_empty_wallet_audited(
    api: httpx.AsyncClient, database: Database, admin: dict[str, str]
) -> None:
    response = await api.post(
        "/api/admin/partners",
        headers=admin,
        json={"name": "Globex Perks GmbH", "email": "api@globex.example", "currency": "EUR"},
    )
    assert response.status_code == 201, response.text
    assert_conforms(response, "adminCreatePartner")
    body = response.json()
    assert body["balance"] == "0.00"
    assert body["currency"] == "EUR"
    assert body["status"] == "active"
    assert body["lowBalanceThreshold"] == "100.00"  # the signup default (settings)
    assert body["rateLimits"] == {"catalog": 50, "orders": 10, "default": 30}
    wallet = await api.get(f"/api/admin/partners/{body['id']}/wallet", headers=admin)
    assert wallet.json()["balance"] == "0.00"
    (entry,) = await _audit(database, action="partner.create", target_id=body["id"])
    assert entry["after"]["walletId"] == wallet.json()["id"]
    assert entry["actor"].startswith("admin:usr_")
    assert entry["request_id"] == response.headers["x-request-id"]

    again = await api.post(
        "/api/admin/partners", headers=admin, json={"name": "Other", "email": "API@globex.example"}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"
    assert_conforms(again, "adminCreatePartner")


async def test_list_filters_pages_and_get(
    api: httpx.AsyncClient, factory: Any, admin: dict[str, str]
) -> None:
    acme, _ = await factory.partner(name="Acme Rewards", balance="447.50")
    globex, _ = await factory.partner(name="Globex")
    await api.patch(
        f"/api/admin/partners/{globex.id}",
        headers=admin,
        json={"status": "suspended", "reason": "INC-1"},
    )

    found = await api.get("/api/admin/partners", params={"q": "acme"}, headers=admin)
    assert_conforms(found, "adminListPartners")
    assert [p["id"] for p in found.json()["data"]] == [acme.id]
    assert found.json()["data"][0]["balance"] == "447.50"
    suspended = await api.get("/api/admin/partners", params={"status": "suspended"}, headers=admin)
    assert [p["id"] for p in suspended.json()["data"]] == [globex.id]

    first = await api.get("/api/admin/partners", params={"limit": 1}, headers=admin)
    assert first.json()["nextCursor"] is not None
    second = await api.get(
        "/api/admin/partners",
        params={"limit": 1, "cursor": first.json()["nextCursor"]},
        headers=admin,
    )
    assert_conforms(second, "adminListPartners")
    assert {first.json()["data"][0]["id"], second.json()["data"][0]["id"]} == {acme.id, globex.id}
    assert second.json()["nextCursor"] is None

    one = await api.get(f"/api/admin/partners/{acme.id}", headers=admin)
    assert_conforms(one, "adminGetPartner")
    assert one.json()["name"] == "Acme Rewards"
    missing = await api.get("/api/admin/partners/ptn_" + "Q" * 20, headers=admin)
    assert missing.status_code == 404
    assert_conforms(missing, "adminGetPartner")


async def test_suspension_blocks_partner_routes_until_reactivated(
    api: httpx.AsyncClient,
    database: Database,
    factory: Any,
    partner_key: Any,
    admin: dict[str, str],
) -> None:
    partner, _ = await factory.partner()
    key = {"x-api-key": await partner_key(partner)}
    assert (await api.get(PROBE_PATH, headers=key)).status_code == 200

    no_reason = await api.patch(
        f"/api/admin/partners/{partner.id}", headers=admin, json={"status": "suspended"}
    )
    assert no_reason.status_code == 400
    assert_conforms(no_reason, "adminUpdatePartner")

    suspended = await api.patch(
        f"/api/admin/partners/{partner.id}",
        headers=admin,
        json={"status": "suspended", "reason": "Chargeback INC-2291"},
    )
    assert suspended.status_code == 200
    assert_conforms(suspended, "adminUpdatePartner")
    assert suspended.json()["status"] == "suspended"
    blocked = await api.get(PROBE_PATH, headers=key)
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "partner_suspended"
    (entry,) = await _audit(database, target_id=partner.id, action="partner.update")
    assert entry["before"] == {"status": "active"}
    assert entry["after"] == {"status": "suspended"}
    assert entry["reason"] == "Chargeback INC-2291"
    assert entry["request_id"] == suspended.headers["x-request-id"]

    # Repeating it converges: same state, no second entry.
    repeat = await api.patch(
        f"/api/admin/partners/{partner.id}",
        headers=admin,
        json={"status": "suspended", "reason": "again"},
    )
    assert repeat.status_code == 200
    assert len(await _audit(database, target_id=partner.id, action="partner.update")) == 1

    await api.patch(
        f"/api/admin/partners/{partner.id}",
        headers=admin,
        json={"status": "active", "reason": "Resolved"},
    )
    assert (await api.get(PROBE_PATH, headers=key)).status_code == 200


async def test_rate_limit_override_applies_to_the_partner(
    api: httpx.AsyncClient,
    database: Database,
    factory: Any,
    partner_key: Any,
    admin: dict[str, str],
) -> None:
    partner, _ = await factory.partner()
    key = {"x-api-key": await partner_key(partner)}
    response = await api.patch(
        f"/api/admin/partners/{partner.id}",
        headers=admin,
        json={
            "rateLimits": {"catalog": 50, "orders": 25, "default": 2},
            "reason": "Black Friday volume",
            "lowBalanceThreshold": "75.5",
        },
    )
    assert response.status_code == 200
    assert_conforms(response, "adminUpdatePartner")
    assert response.json()["rateLimits"] == {"catalog": 50, "orders": 25, "default": 2}
    assert response.json()["lowBalanceThreshold"] == "75.50"
    probe = await api.get(PROBE_PATH, headers=key)
    assert probe.headers["ratelimit-policy"] == '"default";q=2;w=1'
    (entry,) = await _audit(database, target_id=partner.id, action="partner.update")
    assert entry["after"]["rateLimits"] == {"catalog": 50, "orders": 25, "default": 2}
    assert entry["reason"] == "Black Friday volume"


async def test_issuing_a_key_with_revoke_existing_kills_old_keys_at_once(
    api: httpx.AsyncClient,
    database: Database,
    factory: Any,
    partner_key: Any,
    admin: dict[str, str],
) -> None:
    partner, _ = await factory.partner()
    old = {"x-api-key": await partner_key(partner)}
    assert (await api.get(PROBE_PATH, headers=old)).status_code == 200

    response = await api.post(
        f"/api/admin/partners/{partner.id}/keys",
        headers=admin,
        json={"role": "ordering", "revokeExisting": True, "ipAllowlist": ["127.0.0.1/32"]},
    )
    assert response.status_code == 201, response.text
    assert_conforms(response, "adminCreatePartnerKey")
    created = response.json()
    assert created["key"].startswith("stlr_test_")
    assert created["status"] == "active"
    assert created["ipAllowlist"] == ["127.0.0.1/32"]

    dead = await api.get(PROBE_PATH, headers=old)
    assert dead.status_code == 401
    assert dead.json()["code"] == "invalid_api_key"
    assert (await api.get(PROBE_PATH, headers={"x-api-key": created["key"]})).status_code == 200

    listed = await api.get(f"/api/admin/partners/{partner.id}/keys", headers=admin)
    assert_conforms(listed, "adminListPartnerKeys")
    statuses = {k["id"]: k["status"] for k in listed.json()["data"]}
    assert statuses[created["id"]] == "active"
    assert sorted(statuses.values()) == ["active", "revoked"]
    assert "key" not in listed.json()["data"][0]

    (create,) = await _audit(database, action="key.create")
    assert create["target_type"] == "api_key"
    assert create["target_id"] == created["id"]
    assert created["key"] not in str(create["after"])
    (revoke,) = await _audit(database, action="key.revoke")
    assert revoke["after"] == {"status": "revoked"}


async def test_key_replay_with_idempotency_key_returns_the_same_key(
    api: httpx.AsyncClient, factory: Any, admin: dict[str, str]
) -> None:
    partner, _ = await factory.partner()
    headers = {**admin, "Idempotency-Key": "issue-1"}
    first = await api.post(
        f"/api/admin/partners/{partner.id}/keys", headers=headers, json={"role": "developer"}
    )
    second = await api.post(
        f"/api/admin/partners/{partner.id}/keys", headers=headers, json={"role": "developer"}
    )
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    listed = await api.get(f"/api/admin/partners/{partner.id}/keys", headers=admin)
    assert len(listed.json()["data"]) == 1


async def test_key_validation_and_tenant_isolation(
    api: httpx.AsyncClient, factory: Any, partner_key: Any, admin: dict[str, str], clock: Any
) -> None:
    partner, _ = await factory.partner()
    other, _ = await factory.partner(name="Other")
    past = await api.post(
        f"/api/admin/partners/{partner.id}/keys",
        headers=admin,
        json={"role": "developer", "expiresAt": iso(clock.now - timedelta(minutes=1))},
    )
    assert past.status_code == 400
    assert past.json()["errors"][0]["pointer"] == "/expiresAt"
    assert_conforms(past, "adminCreatePartnerKey")
    unknown = await api.post(
        "/api/admin/partners/ptn_" + "Q" * 20 + "/keys", headers=admin, json={"role": "developer"}
    )
    assert unknown.status_code == 404

    created = (
        await api.post(
            f"/api/admin/partners/{partner.id}/keys", headers=admin, json={"role": "finance"}
        )
    ).json()
    wrong_owner = await api.delete(
        f"/api/admin/partners/{other.id}/keys/{created['id']}", headers=admin
    )
    assert wrong_owner.status_code == 404
    assert_conforms(wrong_owner, "adminRevokePartnerKey")


async def test_revoking_a_key_is_immediate_and_happens_once(
    api: httpx.AsyncClient, database: Database, factory: Any, admin: dict[str, str]
) -> None:
    partner, _ = await factory.partner()
    created = (
        await api.post(
            f"/api/admin/partners/{partner.id}/keys", headers=admin, json={"role": "developer"}
        )
    ).json()
    url = f"/api/admin/partners/{partner.id}/keys/{created['id']}"
    response = await api.delete(url, headers=admin)
    assert response.status_code == 204
    assert_conforms(response, "adminRevokePartnerKey")
    assert (await api.get(PROBE_PATH, headers={"x-api-key": created["key"]})).status_code == 401
    again = await api.delete(url, headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_state"
    assert_conforms(again, "adminRevokePartnerKey")
    revokes = await _audit(database, action="key.revoke", target_id=created["id"])
    assert len(revokes) == 1
    assert revokes[0]["before"] == {"status": "active"}
