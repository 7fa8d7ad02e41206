"""Admin roles come from the contract: every admin operation answers 403 `insufficient_role`
exactly to the roles its `x-steller-roles` leaves out, and the handlers declare the same roles."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from steller_server.api.admin import audit, auth, orders, partners, products, users, wallets
from steller_server.api.routing import EndpointSpec
from tests.server.api.admin_kit import (
    app,
    bearer,
    cheap_password_hashing,
    shared_contract,
    staff_token,
)
from tests.server.api.contract_check import assert_conforms

__all__ = ["app", "cheap_password_hashing", "staff_token"]  # fixtures used by this module

ROLES = ("admin", "support", "finance")
MINE = [
    spec
    for module in (auth, users, partners, wallets, products, orders, audit)
    for spec in module.endpoints.specs
]
# Well-formed ids that name nothing: allowed roles get past authorisation (and then a 404 or a
# 400 for the deliberately empty body), excluded roles are stopped before any of that.
PATH_VALUES = {
    "partnerId": "ptn_" + "Z" * 20,
    "keyId": "key_" + "Z" * 20,
    "orderId": "ord_" + "Z" * 20,
    "sku": "NO-SUCH-SKU",
}


def _contract_ops() -> dict[str, tuple[str, str, dict[str, Any]]]:
    spec = shared_contract().spec
    return {
        op["operationId"]: (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }


def _role_cases() -> list[tuple[str, str]]:
    ops = _contract_ops()
    return [
        (s.operation_id, role)
        for s in MINE
        if ops[s.operation_id][2]["x-steller-roles"]
        for role in ROLES
    ]


def test_handlers_declare_the_roles_the_contract_gives() -> None:
    ops = _contract_ops()
    for spec in MINE:
        contract_roles = ops[spec.operation_id][2]["x-steller-roles"]
        assert any(t.startswith("Admin") for t in ops[spec.operation_id][2]["tags"])
        if not contract_roles:
            assert spec.auth == "public", spec.operation_id
            continue
        assert spec.auth == "admin", spec.operation_id
        assert spec.roles == frozenset(contract_roles), spec.operation_id


def test_every_admin_operation_i_own_is_served() -> None:
    owned = {
        "adminLogin",
        "adminLogout",
        "adminListUsers",
        "adminCreateUser",
        "adminListPartners",
        "adminCreatePartner",
        "adminGetPartner",
        "adminUpdatePartner",
        "adminListPartnerKeys",
        "adminCreatePartnerKey",
        "adminRevokePartnerKey",
        "adminGetPartnerWallet",
        "adminListPartnerTransactions",
        "adminCreditPartnerWallet",
        "adminDebitPartnerWallet",
        "adminListPartnerProducts",
        "adminSetPartnerProducts",
        "adminRevokePartnerProduct",
        "adminListVendorProducts",
        "adminListOrders",
        "adminGetOrder",
        "adminCancelOrder",
        "adminRefundOrder",
        "adminMarkOrderFailedAndRefund",
        "adminListAuditLog",
        "adminVerifyAuditLog",
    }
    served: list[EndpointSpec] = MINE
    assert sorted(s.operation_id for s in served) == sorted(owned)


async def test_each_role_is_refused_exactly_where_the_contract_excludes_it(
    api: httpx.AsyncClient, app: Any, staff_token: Callable[..., Awaitable[str]]
) -> None:
    ops = _contract_ops()
    tokens = {role: await staff_token(role=role) for role in ROLES}
    limiter = app.state.steller.limiter
    checked = 0
    for operation_id, role in _role_cases():
        method, path, op = ops[operation_id]
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        token = tokens[role]
        if operation_id == "adminLogout":  # would end the shared session: use a fresh one
            token = await staff_token(role=role)
        await limiter.clear()
        kwargs: dict[str, Any] = {"headers": bearer(token)}
        if "requestBody" in op:
            kwargs["json"] = {}
        response = await api.request(method, url, **kwargs)
        refused = response.status_code == 403 and response.json()["code"] == "insufficient_role"
        allowed = role in op["x-steller-roles"]
        assert refused is not allowed, (operation_id, role, response.status_code, response.text)
        assert response.status_code != 401, (operation_id, role, response.text)
        assert response.status_code < 500, (operation_id, role, response.text)
        if refused:
            assert_conforms(response, operation_id)
        checked += 1
    assert checked == 3 * (len(MINE) - 1)


@pytest.mark.parametrize("role", ["support", "finance"])
async def test_a_refused_mutation_changes_nothing(
    api: httpx.AsyncClient, factory: Any, staff_token: Callable[..., Awaitable[str]], role: str
) -> None:
    partner, _ = await factory.partner(balance="10.00")
    token = await staff_token(role=role)
    response = await api.post(
        f"/api/admin/partners/{partner.id}/keys", json={"role": "developer"}, headers=bearer(token)
    )
    assert response.status_code == 403
    admin = await staff_token(role="admin")
    keys = await api.get(f"/api/admin/partners/{partner.id}/keys", headers=bearer(admin))
    assert keys.json()["data"] == []
