"""The cross-cutting behaviour every endpoint shares: request ids, versions, problems, body cap."""

from __future__ import annotations

import httpx

from steller_server.api import versioning


async def test_health_answers_with_request_id_and_version(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers["steller-version"] == versioning.CURRENT
    assert response.headers["ratelimit-policy"] == '"default";q=30;w=1'


async def test_incoming_request_id_is_echoed(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/health", headers={"X-Request-Id": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"


async def test_readiness_reports_database(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


async def test_unknown_version_is_a_400_problem(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/health", headers={"Steller-Version": "1999-01-01"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "unsupported_version"
    assert body["requestId"] == response.headers["x-request-id"]


async def test_unknown_path_is_a_404_problem_with_headers(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "x-request-id" in response.headers


async def test_unknown_query_parameter_is_rejected(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/health?verbose=1")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["errors"] == [{"pointer": "/query/verbose", "message": "unknown query parameter"}]


async def test_oversized_body_is_413(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/public/signup",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_contract_is_served(api: httpx.AsyncClient) -> None:
    response = await api.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.text.lstrip().startswith("#") or "openapi: 3.1.0" in response.text
    assert "openapi: 3.1.0" in response.text


async def test_health_conforms_to_the_contract(api: httpx.AsyncClient) -> None:
    from tests.server.api.contract_check import assert_conforms

    assert_conforms(await api.get("/api/health"), "getHealth")
    assert_conforms(await api.get("/api/health?x=1"), "getHealth")


async def test_docs_page_serves_redoc_and_its_bundled_asset(api: httpx.AsyncClient) -> None:
    page = await api.get("/docs")
    assert page.status_code == 200
    assert 'spec-url="/openapi.yaml"' in page.text
    assert "http" not in page.text.split("<body>")[1]  # nothing loaded from another host
    asset = await api.get("/docs/redoc.standalone.js")
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("application/javascript")
    assert len(asset.content) > 500_000


async def test_replayed_responses_are_encrypted_at_rest(api: httpx.AsyncClient, database) -> None:
    """A signup's stored response holds the new API key: the store keeps it sealed."""
    from sqlalchemy import select

    from steller_server.db.tables import idempotency_keys

    body = {"name": "Sealed Ltd", "email": "sealed@example.com"}
    headers = {"Idempotency-Key": "signup-sealed-1"}
    first = await api.post("/api/public/signup", json=body, headers=headers)
    assert first.status_code == 201, first.text
    secret = first.json()["apiKey"]["key"]
    async with database.read() as conn:
        stored = (await conn.execute(select(idempotency_keys.c.response_body))).scalars().all()
    assert stored, "the response was not stored for replay"
    assert all(secret.encode() not in bytes(row or b"") for row in stored)
    again = await api.post("/api/public/signup", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["apiKey"]["key"] == secret


async def test_status_page_is_served_by_every_app(api: httpx.AsyncClient) -> None:
    response = await api.get("/status")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Order fulfilment" in response.text or "fulfilment" in response.text.lower()
