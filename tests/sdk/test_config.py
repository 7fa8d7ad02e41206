"""Configuration objects (steller/_config.py) and the instant-retries switch (testing.py)."""

from __future__ import annotations

import asyncio
import pickle

import attrs
import httpx
import pytest

from steller._config import (
    DEFAULT_RETRY_POLICY,
    DEFAULT_TIMEOUT,
    ENVIRONMENTS,
    LIVE_BASE_URL,
    NOT_GIVEN,
    SANDBOX_BASE_URL,
    NotGiven,
    RetryPolicy,
    Timeout,
    base_url_for,
    to_httpx_timeout,
)
from steller.testing import instant_retries, recorded_sleeps


def test_not_given_is_distinct_from_none_and_falsy():
    assert NOT_GIVEN is not None
    assert not NOT_GIVEN
    assert isinstance(NOT_GIVEN, NotGiven)
    assert repr(NOT_GIVEN) == "NOT_GIVEN"
    assert pickle.loads(pickle.dumps(NOT_GIVEN)) is NOT_GIVEN


def test_default_timeout_and_conversions():
    assert Timeout(connect=5.0, read=30.0, write=30.0, pool=10.0) == DEFAULT_TIMEOUT
    assert to_httpx_timeout(DEFAULT_TIMEOUT) == httpx.Timeout(connect=5, read=30, write=30, pool=10)
    assert to_httpx_timeout(3) == httpx.Timeout(3)
    assert to_httpx_timeout(None) == httpx.Timeout(None)
    custom = httpx.Timeout(1, read=9)
    assert to_httpx_timeout(custom) is custom
    assert Timeout(read=None).to_httpx().read is None


@pytest.mark.parametrize("bad", [{"connect": -1}, {"read": -0.1}])
def test_negative_timeouts_are_refused(bad):
    with pytest.raises(ValueError, match="non-negative"):
        Timeout(**bad)


def test_default_retry_policy():
    assert DEFAULT_RETRY_POLICY.max_retries == 2
    assert DEFAULT_RETRY_POLICY.max_retry_after == 60
    assert DEFAULT_RETRY_POLICY.max_total_time is not None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        DEFAULT_RETRY_POLICY.max_retries = 5  # type: ignore[misc]


@pytest.mark.parametrize("bad", [{"max_retries": -1}, {"jitter": -1}, {"max_total_time": -5}])
def test_invalid_retry_policies_are_refused(bad):
    with pytest.raises(ValueError, match="non-negative"):
        RetryPolicy(**bad)


def test_environment_base_urls():
    assert base_url_for("sandbox") == SANDBOX_BASE_URL == "http://127.0.0.1:8000"
    assert base_url_for("live") == LIVE_BASE_URL == "https://api.steller.example"
    with pytest.raises(ValueError, match="unknown environment 'staging'"):
        base_url_for("staging")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ENVIRONMENTS["sandbox"] = "http://elsewhere"  # type: ignore[index]


def test_instant_retries_records_only_inside_the_block():
    assert recorded_sleeps() is None
    with instant_retries() as outer:
        assert recorded_sleeps() is outer
        with instant_retries() as inner:
            assert recorded_sleeps() is inner
        assert recorded_sleeps() is outer
    assert recorded_sleeps() is None


async def test_instant_retries_do_not_leak_into_other_tasks():
    seen: list[object] = []

    async def other() -> None:
        seen.append(recorded_sleeps())

    task = asyncio.create_task(other())  # context copied before the block starts
    with instant_retries():
        await task
    assert seen == [None]
