"""Partner request logs: what was recorded, filters, paging, developer only, 30-day retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select

from steller_server.db.engine import Database
from steller_server.db.tables import request_logs
from steller_server.domain.ids import new_id
from steller_server.domain.request_log_queries import (
    api_call_counts,
    purge_request_logs,
    rollup_request_logs,
)
from tests.server.api.contract_check import assert_conforms


async def _flush(app: Any) -> None:
    await app.state.steller.extras["request_logs"].flush()


@pytest.fixture
async def traffic(
    api: httpx.AsyncClient, app: Any, factory: Any, partner_key: Any, clock: Any
) -> dict[str, Any]:
    partner, _ = await factory.partner(name="Acme")
    developer = {"x-api-key": await partner_key(partner)}
    finance = {"x-api-key": await partner_key(partner, role="finance")}
    calls = [
        ("GET", "/api/partner/usage", developer, 200),
        ("GET", "/api/partner/statements/2999-01", developer, 404),
        ("GET", "/api/partner/keys", developer, 200),
        ("POST", "/api/partner/keys/rotate", developer, 400),
    ]
    ids = []
    for method, path, headers, expected in calls:
        clock.advance(seconds=1)
        kwargs: dict[str, Any] = {"json": {"gracePeriodHours": -1}} if method == "POST" else {}
        response = await api.request(method, path, headers=headers, **kwargs)
        assert response.status_code == expected, response.text
        ids.append(response.headers["x-request-id"])
    other, _ = await factory.partner(name="Other")
    await api.get("/api/partner/usage", headers={"x-api-key": await partner_key(other)})
    await _flush(app)
    clock.advance(seconds=1)
    return {"partner": partner, "developer": developer, "finance": finance, "ids": ids}


async def test_logs_list_own_requests_newest_first(
    api: httpx.AsyncClient, traffic: dict[str, Any]
) -> None:
    response = await api.get("/api/partner/logs", headers=traffic["developer"])
    assert response.status_code == 200, response.text
    assert_conforms(response, "listRequestLogs")
    data = response.json()["data"]
    assert [row["requestId"] for row in data] == list(reversed(traffic["ids"]))
    assert [(r["method"], r["path"], r["status"]) for r in data] == [
        ("POST", "/api/partner/keys/rotate", 400),
        ("GET", "/api/partner/keys", 200),
        ("GET", "/api/partner/statements/2999-01", 404),
        ("GET", "/api/partner/usage", 200),
    ]
    assert all(row["latencyMs"] >= 0 for row in data)
    assert len({row["keyId"] for row in data}) == 1
    assert data[0]["keyId"].startswith("key_")


async def test_role_refusals_are_logged_for_the_partner(
    api: httpx.AsyncClient, app: Any, traffic: dict[str, Any]
) -> None:
    refused = await api.get("/api/partner/keys", headers=traffic["finance"])
    assert refused.status_code == 403
    await _flush(app)
    found = await api.get(
        "/api/partner/logs",
        params={"requestId": refused.headers["x-request-id"]},
        headers=traffic["developer"],
    )
    assert [row["status"] for row in found.json()["data"]] == [403]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=404", ["/api/partner/statements/2999-01"]),
        ("method=POST", ["/api/partner/keys/rotate"]),
        ("pathPrefix=/api/partner/keys", ["/api/partner/keys/rotate", "/api/partner/keys"]),
        ("status=200&method=GET", ["/api/partner/keys", "/api/partner/usage"]),
        ("pathPrefix=/api/partner/k%25", []),  # a literal %, not a wildcard
    ],
)
async def test_logs_filters(
    api: httpx.AsyncClient, traffic: dict[str, Any], query: str, expected: list[str]
) -> None:
    response = await api.get(f"/api/partner/logs?{query}", headers=traffic["developer"])
    assert response.status_code == 200
    assert [row["path"] for row in response.json()["data"]] == expected


async def test_logs_find_a_request_by_id_and_by_time(
    api: httpx.AsyncClient, traffic: dict[str, Any], clock: Any
) -> None:
    wanted = traffic["ids"][1]
    found = (
        await api.get(f"/api/partner/logs?requestId={wanted}", headers=traffic["developer"])
    ).json()["data"]
    assert [row["requestId"] for row in found] == [wanted]
    # The calls were made at now-4s … now-1s: [now-3s, now-1s) holds the 2nd and 3rd.
    start = (clock.now - timedelta(seconds=3)).isoformat().replace("+00:00", "Z")
    end = (clock.now - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    window = (
        await api.get(
            "/api/partner/logs", params={"from": start, "to": end}, headers=traffic["developer"]
        )
    ).json()["data"]
    assert [row["requestId"] for row in window] == [traffic["ids"][2], traffic["ids"][1]]


async def test_logs_page_with_a_cursor(api: httpx.AsyncClient, traffic: dict[str, Any]) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        body = (
            await api.get("/api/partner/logs", params=params, headers=traffic["developer"])
        ).json()
        seen += [row["requestId"] for row in body["data"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(traffic["ids"]))


async def test_logs_need_a_developer_key(api: httpx.AsyncClient, traffic: dict[str, Any]) -> None:
    response = await api.get("/api/partner/logs", headers=traffic["finance"])
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_role"
    assert_conforms(response, "listRequestLogs")
    bad = await api.get("/api/partner/logs?status=99", headers=traffic["developer"])
    assert bad.status_code == 400
    assert_conforms(bad, "listRequestLogs")


async def test_retention_hides_and_purges_rows_older_than_30_days(
    api: httpx.AsyncClient, app: Any, traffic: dict[str, Any], database: Database, clock: Any
) -> None:
    partner_id = traffic["partner"].id
    async with database.write() as conn:
        for age in (timedelta(days=31), timedelta(days=29)):
            await conn.execute(
                insert(request_logs).values(
                    id=new_id("log"),
                    request_id=f"old-{age.days}",
                    partner_id=partner_id,
                    key_id=None,
                    method="GET",
                    path="/api/orders",
                    status=200,
                    latency_ms=3,
                    created_at=clock.now - age,
                )
            )
    listed = (
        await api.get("/api/partner/logs?pathPrefix=/api/orders", headers=traffic["developer"])
    ).json()["data"]
    assert [row["requestId"] for row in listed] == ["old-29"]  # 31 days old: hidden already

    assert await purge_request_logs(database, clock.now, batch_size=1) == 1
    async with database.read() as conn:
        left = await conn.scalar(
            select(func.count())
            .select_from(request_logs)
            .where(request_logs.c.request_id.like("old-%"))
        )
    assert left == 1
    assert await purge_request_logs(database, clock.now) == 0
    # 31 days later everything is gone: the 4 + 1 calls of the fixture, this test's listing
    # call and the 29-day-old row.
    await _flush(app)
    assert await purge_request_logs(database, clock.now + timedelta(days=31)) == 7


async def test_api_call_counts_mix_rollups_and_live_rows(database: Database, clock: Any) -> None:
    now = clock.now.replace(minute=30, second=0, microsecond=0)
    start = now.replace(minute=0) - timedelta(hours=6)
    async with database.write() as conn:
        await conn.execute(
            insert(request_logs),
            [
                {
                    "id": new_id("log"),
                    "request_id": f"r{h}",
                    "partner_id": "ptn_counts000001",
                    "key_id": None,
                    "method": "GET",
                    "path": "/api/orders",
                    "status": 500 if h % 3 == 0 else 200,
                    "latency_ms": 1,
                    "created_at": start + timedelta(hours=h, minutes=5),
                }
                for h in range(7)
            ],
        )
    end = now.replace(minute=0) + timedelta(hours=1)
    async with database.read() as conn:
        live = await api_call_counts(conn, partner_id="ptn_counts000001", start=start, end=end)
    assert live == (7, 3)
    # Roll up hours 2..4 only (as if the task ran then), then everything: same answer each time.
    assert await rollup_request_logs(database, start + timedelta(hours=5, minutes=10)) > 0
    async with database.read() as conn:
        assert (
            await api_call_counts(conn, partner_id="ptn_counts000001", start=start, end=end) == live
        )
    assert await rollup_request_logs(database, now + timedelta(hours=2)) > 0
    async with database.read() as conn:
        assert (
            await api_call_counts(conn, partner_id="ptn_counts000001", start=start, end=end) == live
        )
        # A window that starts inside the rolled range.
        assert await api_call_counts(
            conn, partner_id="ptn_counts000001", start=start + timedelta(hours=3), end=end
        ) == (4, 2)
