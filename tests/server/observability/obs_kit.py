"""Helpers for the observability tests: scrape parsing, ordering through the API, settling."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from steller_server.domain.models import Order
from steller_server.jobs.worker import Worker

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def scrape(api: httpx.AsyncClient, token: str) -> Samples:
    response = await api.get("/metrics", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def place(
    api: httpx.AsyncClient,
    key: str,
    sku: str,
    face: str,
    quantity: int = 1,
    request_id: str | None = None,
) -> dict[str, Any]:
    headers = {"x-api-key": key}
    if request_id:
        headers["x-request-id"] = request_id
    response = await api.post(
        "/api/orders",
        headers=headers,
        json={
            "sku": sku,
            "faceValue": face,
            "quantity": quantity,
            "referenceId": secrets.token_hex(6),
        },
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def settle(
    worker: Worker, shop: Any, order_id: str, *, step: float = 2.0, limit: float = 120.0
) -> Order:
    """Run the worker, moving the manual clock until the order is terminal."""
    waited = 0.0
    await worker.run_until_idle()
    order: Order = await shop.get(order_id)
    while order.status == "processing":
        assert waited < limit, "order still processing"
        shop.clocks.advance(step)
        waited += step
        await worker.run_until_idle()
        order = await shop.get(order_id)
    return order
