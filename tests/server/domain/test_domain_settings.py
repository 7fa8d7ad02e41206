"""Settings from the environment: normalisation and the live-mode secret key rule."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from steller_server.settings import DEV_SECRET_KEY, ConfigError, Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite+aiosqlite:///./steller.sqlite3"
    assert settings.mode == "sandbox"
    assert settings.order_fee == Decimal("0.10")
    assert settings.idempotency_retention_hours == 24
    assert settings.sandbox_trial_credit == Decimal("1000.00")
    assert settings.port == 8000
    assert settings.redis_url is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/steller", "postgresql+psycopg://u:p@db:5432/steller"),
        ("postgres://u@db/steller", "postgresql+psycopg://u@db/steller"),
        ("sqlite:///./data.sqlite3", "sqlite+aiosqlite:///./data.sqlite3"),
        ("sqlite+aiosqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
    ],
)
def test_database_urls_are_normalised_to_async_drivers(given: str, expected: str) -> None:
    assert Settings.from_env({"STELLER_DATABASE_URL": given}).database_url == expected


def test_live_mode_refuses_to_start_without_a_secret_key() -> None:
    settings = Settings.from_env({"STELLER_MODE": "live"})
    with pytest.raises(
        ConfigError, match="refusing to start in live mode without STELLER_SECRET_KEY"
    ):
        settings.validate()
    with pytest.raises(ConfigError, match="at least 32"):
        Settings.from_env({"STELLER_MODE": "live", "STELLER_SECRET_KEY": "short"}).validate()
    ok = Settings.from_env({"STELLER_MODE": "live", "STELLER_SECRET_KEY": "k" * 40}).validate()
    assert ok.effective_secret_key == "k" * 40


def test_sandbox_falls_back_to_the_dev_key_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        settings = Settings.from_env({}).validate()
    assert settings.effective_secret_key == DEV_SECRET_KEY
    assert "STELLER_SECRET_KEY is not set" in caplog.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STELLER_MODE", "prod"),
        ("STELLER_PORT", "eighty"),
        ("STELLER_ORDER_FEE", "-1"),
        ("STELLER_ORDER_FEE", "ten cents"),
        ("STELLER_IDEMPOTENCY_RETENTION_HOURS", "1"),
    ],
)
def test_bad_values_are_config_errors_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_money_settings_are_decimals() -> None:
    settings = Settings.from_env(
        {"STELLER_ORDER_FEE": "0.25", "STELLER_SANDBOX_TRIAL_CREDIT": "50"}
    )
    assert settings.order_fee == Decimal("0.25")
    assert settings.sandbox_trial_credit == Decimal("50")
