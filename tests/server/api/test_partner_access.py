"""Who may call the partner routes: roles per the contract, revoked keys, suspended partners."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from steller_server.db.engine import Database
from steller_server.domain import keys, partners
from steller_server.settings import Settings
from tests.server.api.contract_check import _operation, assert_conforms
from tests.server.api.partner_support import onboard, order_body

QUOTE = {"sku": "AMAZON-US-50", "faceValue": "50.00", "quantity": 1}
# (operationId, method, path, body); {order} is replaced by a real order id.
ROUTES: list[tuple[str, str, str, Any]] = [
    ("getPartner", "GET", "/api/partner/me", None),
    ("updatePartner", "PATCH", "/api/partner/me", {"name": "Renamed"}),
    ("getCatalog", "GET", "/api/brand/getCatalog", None),
    ("quoteOrder", "POST", "/api/orders/quote", QUOTE),
    ("createOrder", "POST", "/api/orders", order_body("roles")),
    ("listOrders", "GET", "/api/orders", None),
    ("getOrder", "GET", "/api/orders/{order}", None),
    ("getOrderTrail", "GET", "/api/orders/{order}/trail", None),
    ("getWallet", "GET", "/api/wallet/me", None),
    ("listWalletTransactions", "GET", "/api/wallet/transactions", None),
    ("exportWalletTransactions", "GET", "/api/wallet/transactions/export", None),
]


@pytest.fixture
async def setup(api: httpx.AsyncClient, factory: Any, partner_key: Any) -> dict[str, Any]:
    await factory.product()
    partner, _, developer = await onboard(
        factory, partner_key, balance="1000.00", approve={"AMAZON-US-50": "-5"}
    )
    order = (await api.post("/api/orders", headers=developer, json=order_body("seed"))).json()
    return {"partner": partner, "order": order["id"], "developer": developer}


async def _call(
    api: httpx.AsyncClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    return await api.request(method, path, headers=headers, json=body)


@pytest.mark.parametrize("role", ["developer", "ordering", "finance"])
async def test_each_role_gets_exactly_what_the_contract_grants(
    api: httpx.AsyncClient, partner_key: Any, setup: dict[str, Any], role: str
) -> None:
    headers = {"x-api-key": await partner_key(setup["partner"], role=role)}
    for operation_id, method, template, body in ROUTES:
        path = template.format(order=setup["order"])
        allowed = role in _operation(operation_id)["x-steller-roles"]
        response = await _call(api, method, path, body, headers)
        assert_conforms(response, operation_id)
        if allowed:
            assert response.status_code < 400, (role, operation_id, response.text)
        else:
            assert response.status_code == 403, (role, operation_id, response.status_code)
            assert response.json()["code"] == "insufficient_role"


async def test_revoked_key_and_missing_key_are_401(
    api: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    partner_key: Any,
    setup: dict[str, Any],
) -> None:
    raw = await partner_key(setup["partner"])
    async with database.write() as conn:
        found = await keys.authenticate(conn, raw_key=raw, secret_key=settings.effective_secret_key)
        assert found is not None
        await keys.revoke_key(conn, key_id=found.key.id)
    for operation_id, method, template, body in ROUTES:
        path = template.format(order=setup["order"])
        revoked = await _call(api, method, path, body, {"x-api-key": raw})
        assert revoked.status_code == 401, (operation_id, revoked.text)
        assert_conforms(revoked, operation_id)
        assert revoked.json()["code"] == "invalid_api_key"
        missing = await _call(api, method, path, body, {})
        assert missing.status_code == 401
        assert missing.json()["code"] == "unauthenticated"


async def test_suspended_partner_is_403_everywhere_and_cannot_order(
    api: httpx.AsyncClient, database: Database, setup: dict[str, Any]
) -> None:
    await partners.update_partner(
        database,
        partner_id=setup["partner"].id,
        actor="admin:usr_1",
        status="suspended",
        reason="unpaid invoice",
    )
    for operation_id, method, template, body in ROUTES:
        path = template.format(order=setup["order"])
        response = await _call(api, method, path, body, setup["developer"])
        assert response.status_code == 403, (operation_id, response.text)
        assert_conforms(response, operation_id)
        assert response.json()["code"] == "partner_suspended"


async def test_another_partners_order_is_404_not_403(
    api: httpx.AsyncClient, factory: Any, partner_key: Any, setup: dict[str, Any]
) -> None:
    _, _, other = await onboard(factory, partner_key, name="Other")
    for operation_id, suffix in (("getOrder", ""), ("getOrderTrail", "/trail")):
        response = await api.get(f"/api/orders/{setup['order']}{suffix}", headers=other)
        assert response.status_code == 404
        assert_conforms(response, operation_id)
        assert response.json()["code"] == "not_found"
    listed = await api.get("/api/orders", headers=other, params={"referenceId": "seed"})
    assert listed.json()["data"] == []
