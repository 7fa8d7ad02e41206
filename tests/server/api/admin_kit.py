"""Helpers for the admin API tests (test_admin_*.py): headers, orders in a given state, and a
partner-route probe that does not depend on the partner route modules being written."""

from __future__ import annotations

import copy
import functools
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from steller_server.api.contract import Contract
from steller_server.api.routing import Ctx, Endpoints, Reply, build_routes
from steller_server.app import create_app
from steller_server.db.engine import Database
from steller_server.domain import admins, crypto, orders
from steller_server.domain.crypto import Cipher
from steller_server.domain.keys import Capability
from steller_server.domain.models import Card, Order, Partner
from steller_server.settings import Settings
from tests.server.api import contract_check

PROBE_PATH = "/_test/partner-probe"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def place_order(
    db: Database,
    settings: Settings,
    partner: Partner,
    *,
    sku: str = "AMAZON-US-50",
    face_value: str = "50.00",
    quantity: int = 1,
    reference_id: str = "ref-1",
) -> Order:
    order, created = await orders.place_order(
        db,
        partner=partner,
        sku=sku,
        face_value=Decimal(face_value),
        quantity=quantity,
        reference_id=reference_id,
        request_hash=orders.order_request_hash(
            sku=sku, face_value=Decimal(face_value), quantity=quantity, expected_total=None
        ),
        actor=f"partner:{partner.id}",
        order_fee=settings.order_fee,
    )
    assert created
    return order


async def complete_order(
    db: Database, settings: Settings, order: Order, *, codes: list[str]
) -> Order:
    """Deliver ``codes`` as cards (fewer than the quantity → partially completed)."""
    cipher = Cipher(settings.effective_secret_key)
    cards = [
        Card(serial_number=f"SER-{i}", code=code, pin=f"PIN-{i}") for i, code in enumerate(codes)
    ]
    async with db.write() as conn:
        return await orders.complete_order(
            conn,
            order_id=order.id,
            cards=cards,
            cipher=cipher,
            vendor_order_id="880011",
            vendor_status="Succeeded",
        )


async def balance(api: httpx.AsyncClient, token: str, partner_id: str) -> str:
    response = await api.get(f"/api/admin/partners/{partner_id}/wallet", headers=bearer(token))
    assert response.status_code == 200, response.text
    return str(response.json()["balance"])


# -- a partner route of our own, to observe partner authentication -----------------------------

_probe = Endpoints()


@_probe.op("getWallet", auth="partner", capability=Capability.WALLET_READ)
async def _probe_handler(ctx: Ctx) -> Reply:
    assert ctx.partner is not None
    return Reply(200, {"partnerId": ctx.partner.partner_id})


@functools.cache
def _probe_contract() -> Contract:
    contract = copy.copy(shared_contract())
    operation = replace(contract.operations["getWallet"], path=PROBE_PATH)
    contract.operations = {"getWallet": operation}
    return contract


@functools.cache
def shared_contract() -> Contract:
    """One parsed openapi.yaml for every admin test and for `assert_conforms` (parsing it takes
    a second or two)."""
    return contract_check._contract()


def probe_routes() -> list[BaseRoute]:
    """``GET /_test/partner-probe`` behind partner auth (the same wrapper as every partner route:
    401 for a bad key, 403 for a suspended partner)."""
    return list(build_routes(_probe_contract(), [_probe]))


@pytest.fixture
async def app(settings: Settings, database: Database, clock: Any) -> AsyncIterator[Starlette]:
    """The conftest ``app`` plus the partner probe, built on the shared parsed contract."""
    application = create_app(
        settings,
        database=database,
        clock=clock,
        contract=shared_contract(),
        extra_routes=probe_routes(),
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with minimal cost: the tests check behaviour, not the production work factor."""
    monkeypatch.setattr(
        crypto, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def staff_token(database: Database, settings: Settings, clock: Any) -> Any:
    """``await staff_token(role="admin")`` → a bearer token for a fresh admin user of that role.

    Like conftest's ``admin_token`` but with collision-free emails (``id(object())`` repeats once
    the object is freed, so two tokens of one role in a test can collide)."""

    async def issue(role: str = "admin") -> str:
        email = f"{role}-{secrets.token_hex(6)}@steller.test"
        async with database.write() as conn:
            await admins.create_user(
                conn,
                email=email,
                name=role.title(),
                role=role,
                password="correct horse battery",
                now=clock(),
            )
        login = await admins.login(
            database,
            email=email,
            password="correct horse battery",
            secret_key=settings.effective_secret_key,
            ttl=timedelta(hours=settings.admin_token_ttl_hours),
            now=clock(),
        )
        assert login is not None
        return login.token

    return issue
