"""Rate limits (per key and route class, shared through Redis) and API versioning headers."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from steller_server.api import limits, versioning
from steller_server.api.limits import RateLimiter
from steller_server.app import create_app
from steller_server.db.engine import Database
from steller_server.db.tables import partners
from steller_server.settings import Settings
from tests.server.api.contract_check import assert_conforms
from tests.server.selfservice.conftest import shared_contract

QUOTE = {"sku": "AMAZON-US-50", "faceValue": "50.00", "quantity": 1}
REDIS_ENV = "STELLER_TEST_REDIS_URL"


@pytest.fixture
async def acme(factory: Any, partner_key: Any) -> tuple[Any, dict[str, str]]:
    await factory.product()
    partner, _ = await factory.partner(balance="500.00", approve={"AMAZON-US-50": "-5"})
    return partner, {"x-api-key": await partner_key(partner)}


async def _burst(
    client: httpx.AsyncClient, headers: dict[str, str], n: int
) -> list[httpx.Response]:
    return [await client.post("/api/orders/quote", headers=headers, json=QUOTE) for _ in range(n)]


async def test_eleventh_order_request_in_a_second_is_429(
    api: httpx.AsyncClient, acme: Any, partner_key: Any
) -> None:
    partner, headers = acme
    responses = await _burst(api, headers, 11)
    assert [r.status_code for r in responses[:10]] == [200] * 10
    assert [r.headers["ratelimit"] for r in responses[:10]] == [
        f'"orders";r={9 - i};t=1' for i in range(10)
    ]
    limited = responses[10]
    assert limited.status_code == 429
    assert_conforms(limited, "quoteOrder")
    assert limited.json()["code"] == "rate_limited"
    assert limited.headers["retry-after"] == "1"
    assert limited.headers["ratelimit-policy"] == '"orders";q=10;w=1'
    assert limited.headers["ratelimit"] == '"orders";r=0;t=1'
    # Limits are per key and per class: another key, or another class, is not affected.
    other = {"x-api-key": await partner_key(partner)}
    assert (await api.post("/api/orders/quote", headers=other, json=QUOTE)).status_code == 200
    assert (await api.get("/api/partner/me", headers=headers)).status_code == 200


async def test_partner_override_of_a_class_limit(
    api: httpx.AsyncClient, acme: Any, database: Database
) -> None:
    partner, headers = acme
    async with database.write() as conn:
        await conn.execute(
            update(partners).where(partners.c.id == partner.id).values(rate_limit_orders=3)
        )
    responses = await _burst(api, headers, 4)
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0].headers["ratelimit-policy"] == '"orders";q=3;w=1'


async def test_ratelimit_headers_on_success_and_errors(api: httpx.AsyncClient, acme: Any) -> None:
    _partner, headers = acme
    cases = [
        await api.get("/api/partner/usage", headers=headers),  # 200
        await api.get("/api/partner/usage?days=999", headers=headers),  # 400
        await api.delete("/api/partner/keys/key_unknown12345", headers=headers),  # 404
        await api.get(
            "/api/partner/statements/2026-01", headers={**headers, "Accept": "image/png"}
        ),  # 406
        await api.get("/api/status"),  # public
    ]
    assert [r.status_code for r in cases] == [200, 400, 404, 406, 200]
    for response in cases:
        assert response.headers["ratelimit-policy"].startswith('"default";q=30;w=1')
        assert response.headers["ratelimit"].startswith('"default";r=')


@pytest.mark.parametrize("role", [None, "finance"])
async def test_ratelimit_headers_on_auth_errors(
    api: httpx.AsyncClient, acme: Any, partner_key: Any, role: str | None
) -> None:
    partner, _ = acme
    key = await partner_key(partner, role=role) if role else "stlr_test_nope"
    response = await api.get("/api/partner/keys", headers={"x-api-key": key})
    assert response.status_code in (401, 403)
    assert "ratelimit" in response.headers


async def test_role_refusals_count_against_the_keys_budget(
    api: httpx.AsyncClient, acme: Any, partner_key: Any, database: Database
) -> None:
    partner, _ = acme
    async with database.write() as conn:
        await conn.execute(
            update(partners).where(partners.c.id == partner.id).values(rate_limit_default=2)
        )
    finance = {"x-api-key": await partner_key(partner, role="finance")}
    responses = [await api.get("/api/partner/keys", headers=finance) for _ in range(3)]
    assert [r.status_code for r in responses] == [403, 403, 429]
    assert [r.headers["ratelimit"] for r in responses[:2]] == [
        '"default";r=1;t=1',
        '"default";r=0;t=1',
    ]
    assert responses[2].json()["code"] == "rate_limited"
    assert responses[2].headers["retry-after"] == "1"


async def test_unauthenticated_calls_are_throttled_per_client_address(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(limits.DEFAULT_POLICIES, "default", (2, 1))
    guesses = [
        await api.get("/api/partner/keys", headers={"x-api-key": f"stlr_test_guess{i}"})
        for i in range(3)
    ]
    assert [r.status_code for r in guesses] == [401, 401, 429]
    assert guesses[2].headers["ratelimit-policy"] == '"default";q=2;w=1'
    assert guesses[2].headers["retry-after"] == "1"


# -- shared through Redis --------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} not set")
    return url


@pytest.fixture
async def two_servers(
    settings: Settings, database: Database, clock: Any, redis_url: str
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two app instances (as two server processes would be), each with its own limiter and Redis
    connection pool, sharing one Redis under a key prefix private to this test."""
    prefix = f"steller-test-{secrets.token_hex(6)}"
    redis_settings = settings.replace(redis_url=redis_url)
    limiters = []
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            app = create_app(
                redis_settings, database=database, clock=clock, contract=shared_contract()
            )
            limiter = RateLimiter(redis_url, key_prefix=prefix)
            app.state.steller.limiter = limiter
            limiters.append(limiter)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            clients.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://testserver")
                )
            )
        try:
            yield clients
        finally:
            await limiters[0].clear()


@pytest.mark.redis
async def test_limit_holds_across_two_servers_sharing_redis(
    two_servers: list[httpx.AsyncClient], acme: Any
) -> None:
    _partner, headers = acme
    first, second = two_servers
    statuses = []
    for index in range(11):  # alternate between the two servers
        client = first if index % 2 == 0 else second
        response = await client.post("/api/orders/quote", headers=headers, json=QUOTE)
        statuses.append(response.status_code)
    assert statuses == [200] * 10 + [429]
    assert response.headers["retry-after"] == "1"
    assert response.headers["ratelimit"] == '"orders";r=0;t=1'


# -- versioning ------------------------------------------------------------------------------------


async def test_requested_version_is_echoed_and_unknown_is_400(
    api: httpx.AsyncClient, acme: Any
) -> None:
    _partner, headers = acme
    ok = await api.get(
        "/api/partner/usage", headers={**headers, "Steller-Version": versioning.CURRENT}
    )
    assert ok.headers["steller-version"] == versioning.CURRENT
    assert "deprecation" not in ok.headers
    unknown = await api.get(
        "/api/partner/usage", headers={**headers, "Steller-Version": "2001-01-01"}
    )
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "unsupported_version"
    assert_conforms(unknown, "getUsage")
    assert unknown.headers["steller-version"] == versioning.CURRENT


async def test_pinned_and_deprecated_versions(
    api: httpx.AsyncClient, acme: Any, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = "2026-01-15"
    monkeypatch.setitem(
        versioning.VERSIONS,
        old,
        versioning.Version(old, deprecated=date(2026, 11, 1), sunset=date(2027, 5, 1)),
    )
    partner, headers = acme
    async with database.write() as conn:
        await conn.execute(
            update(partners).where(partners.c.id == partner.id).values(api_version=old)
        )
    pinned = await api.get("/api/partner/usage", headers=headers)
    assert pinned.status_code == 200
    assert pinned.headers["steller-version"] == old
    assert pinned.headers["deprecation"] == "@1793491200"  # 2026-11-01T00:00:00Z
    assert pinned.headers["sunset"] == "Sat, 01 May 2027 00:00:00 GMT"
    # Asking for the current version upgrades this request (and drops the warning).
    upgraded = await api.get(
        "/api/partner/usage", headers={**headers, "Steller-Version": versioning.CURRENT}
    )
    assert upgraded.headers["steller-version"] == versioning.CURRENT
    assert "deprecation" not in upgraded.headers
    assert "sunset" not in upgraded.headers
    # A partner on the current version asking for the deprecated one is warned too.
    public = await api.get("/api/status", headers={"Steller-Version": old})
    assert public.headers["steller-version"] == old
    assert "sunset" in public.headers
