"""Webhook test fixtures: the API fixtures of tests/server/api, a real HTTP receiver on loopback,
and a delivery worker driven by the test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from steller_server.db.engine import Database
from steller_server.domain import jobs
from steller_server.jobs.delivery import CLIENT_KEY, CONFIG_KEY, DeliveryConfig
from steller_server.jobs.worker import Worker
from steller_server.settings import Settings
from tests.server.api import conftest as api_fixtures
from tests.server.webhooks.webhook_support import Receiver

# Re-use the HTTP-layer fixtures (app over ASGI, test clock, keys, admin tokens).
clock = api_fixtures.clock
app = api_fixtures.app
api = api_fixtures.api
partner_key = api_fixtures.partner_key
admin_token = api_fixtures.admin_token


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 (its own thread) that records every request."""
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def worker(
    database: Database, settings: Settings, clock: api_fixtures.TestClock
) -> AsyncIterator[Worker]:
    """A webhook-only worker on the test clock: `await worker.run_until_idle()` delivers every
    due event; move the clock to make retries due. Short timeout so hang tests stay fast."""
    extras: dict[str, object] = {CONFIG_KEY: DeliveryConfig(timeout=2.0)}
    runner = Worker(
        database, settings, kinds=[jobs.WEBHOOK_DELIVERY], clock=clock, concurrency=4, extras=extras
    )
    try:
        yield runner
    finally:
        client = extras.get(CLIENT_KEY)
        if client is not None:
            await api_fixtures.bounded(client.aclose(), "webhook client close")  # type: ignore[attr-defined]
