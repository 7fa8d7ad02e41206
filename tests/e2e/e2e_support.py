"""Helpers the e2e tests share: SDK clients on the deployment, partners, deliveries, polling."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg

import steller
from steller import webhooks
from steller.admin import StellerAdmin
from steller.models import CatalogSyncRun
from tests.e2e.e2e_deploy import ADMIN_EMAIL, ADMIN_PASSWORD, Deployment

T = TypeVar("T")

FINAL = frozenset({"completed", "partially_completed", "failed", "cancelled"})


def wait_until(check: Callable[[], T | None], *, within: float, what: str, every: float = 0.2) -> T:
    """Poll ``check`` until it returns something truthy (bounded); that value."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        time.sleep(every)


def admin_client(deployment: Deployment) -> StellerAdmin:
    return StellerAdmin.login(ADMIN_EMAIL, ADMIN_PASSWORD, base_url=deployment.api_url)


def ensure_catalog(admin: StellerAdmin, deployment: Deployment) -> None:
    """Pull the simulator's catalog (sandbox signup approves what is in it)."""
    run = admin.catalog_sync.start()

    def finished() -> CatalogSyncRun | None:
        deployment.assert_running()  # a dead worker would never run it
        current = admin.catalog_sync.get(run.id)
        return current if current.status != "running" else None

    done = wait_until(
        finished,
        within=90,
        what="the catalog sync",
        every=0.5,
    )
    assert done.status == "succeeded", done


@dataclass
class PartnerAccount:
    """A signed-up partner: its key, ids, webhook secret and receiver path."""

    index: int
    partner_id: str
    key: str
    secret: str
    path: str


def signup_partner(deployment: Deployment, *, index: int, tag: str) -> PartnerAccount:
    """Sign up through the SDK (each partner from its own documentation-range address, as real
    partners would: the signup quota is per client address) and set its webhook endpoint."""
    address = f"198.51.100.{index % 250 + 1}"
    with httpx.Client(
        base_url=deployment.api_url, headers={"X-Forwarded-For": address}, timeout=30
    ) as http:
        account = steller.Steller.signup(
            name=f"E2E Partner {index}",
            email=f"e2e-{tag}-{index}@example.com",
            base_url=deployment.api_url,
            http_client=http,
        )
    path = f"/p/{tag}/{index}"
    with steller.Steller(api_key=account.api_key.key, base_url=deployment.api_url) as client:
        endpoint = client.webhook.update(url=deployment.receiver_url + path)
    assert endpoint.secret is not None
    return PartnerAccount(index, account.partner.id, account.api_key.key, endpoint.secret, path)


def new_tag() -> str:
    return secrets.token_hex(3)


@dataclass(frozen=True)
class Delivery:
    path: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    at: float


def read_deliveries(path: Path) -> list[Delivery]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        out.append(
            Delivery(
                record["path"],
                record["headers"].get("webhook-id", ""),
                record["headers"],
                base64.b64decode(record["body"]),
                float(record["at"]),
            )
        )
    return out


def verified(delivery: Delivery, secret: str) -> webhooks.WebhookEvent:
    """The delivery's signature verifies with the SDK and its id is the header's."""
    event = webhooks.verify(delivery.body, delivery.headers, secret=secret, now=delivery.at)
    assert event.id == delivery.webhook_id, (event.id, delivery.webhook_id)
    return event


def sql(deployment: Deployment, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read-only observation of the app's database (quiescence, the vendor-side cross-check)."""
    with psycopg.connect(deployment.database_url, autocommit=True) as conn:
        return list(conn.execute(query, params).fetchall())
