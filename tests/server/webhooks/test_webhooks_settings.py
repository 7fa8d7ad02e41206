"""Delivery knobs are ``STELLER_WEBHOOK_*`` settings: the attempt deadline, how many attempts an
event gets, and how long an endpoint may fail before it is disabled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from steller_server.db.engine import Database
from steller_server.domain import jobs, webhooks
from steller_server.jobs.delivery import CLIENT_KEY, DeliveryConfig, retry_schedule
from steller_server.jobs.worker import Worker
from steller_server.settings import ConfigError, Settings
from tests.server.api import conftest as api_fixtures
from tests.server.webhooks.test_webhooks_delivery import _setup
from tests.server.webhooks.webhook_support import Receiver


def test_the_settings_come_from_the_environment_with_the_documented_defaults() -> None:
    default = DeliveryConfig.from_settings(Settings())
    assert default.timeout == 10.0
    assert default.schedule == webhooks.RETRY_SCHEDULE
    assert default.disable_after == timedelta(days=5)

    settings = Settings.from_env(
        {
            "STELLER_WEBHOOK_TIMEOUT_SECONDS": "2.5",
            "STELLER_WEBHOOK_MAX_ATTEMPTS": "3",
            "STELLER_WEBHOOK_DISABLE_AFTER_DAYS": "2",
        }
    )
    config = DeliveryConfig.from_settings(settings)
    assert config.timeout == 2.5
    assert config.schedule == webhooks.RETRY_SCHEDULE[:3]
    assert config.disable_after == timedelta(days=2)


def test_more_attempts_than_the_schedule_repeat_its_last_delay() -> None:
    longer = retry_schedule(12)
    assert longer[:10] == webhooks.RETRY_SCHEDULE
    assert longer[10:] == (timedelta(hours=24), timedelta(hours=24))
    assert retry_schedule(1) == (timedelta(0),)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STELLER_WEBHOOK_TIMEOUT_SECONDS", "0"),
        ("STELLER_WEBHOOK_TIMEOUT_SECONDS", "61"),
        ("STELLER_WEBHOOK_TIMEOUT_SECONDS", "soon"),
        ("STELLER_WEBHOOK_MAX_ATTEMPTS", "0"),
        ("STELLER_WEBHOOK_DISABLE_AFTER_DAYS", "0"),
    ],
)
def test_unusable_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value}).validate()


async def test_the_worker_uses_the_settings_when_no_config_is_given(
    api,
    factory,
    partner_key,
    database: Database,
    settings: Settings,
    clock: api_fixtures.TestClock,
    receiver: Receiver,
) -> None:
    """STELLER_WEBHOOK_MAX_ATTEMPTS=2: a receiver that always fails gets two attempts, then the
    event is failed."""
    receiver.default = 500
    runner = Worker(
        database,
        settings.replace(webhook_max_attempts=2, webhook_timeout_seconds=2),
        kinds=[jobs.WEBHOOK_DELIVERY],
        clock=clock,
        concurrency=2,
    )
    try:
        _partner, headers, _secret = await _setup(api, factory, partner_key, receiver.url())
        event_id = (await api.post("/api/partner/webhook/test", headers=headers)).json()["id"]
        await runner.run_until_idle()
        clock.advance(seconds=5)
        await runner.run_until_idle()
        clock.advance(days=2)
        await runner.run_until_idle()
    finally:
        client = runner.context.extras.get(CLIENT_KEY)
        if client is not None:
            await client.aclose()  # type: ignore[attr-defined]
    assert receiver.wait_for(2)
    assert len(receiver.requests) == 2
    body = (await api.get(f"/api/partner/webhook/events/{event_id}", headers=headers)).json()
    assert body["deliveryStatus"] == "failed"
    assert len(body["attempts"]) == 2
