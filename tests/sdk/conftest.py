"""Shared fixtures for the SDK tests: a scripted MockTransport and problem+json builders."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from steller._config import RetryPolicy
from steller._http import AsyncAPIClient, SyncAPIClient
from steller.testing import instant_retries

BASE_URL = "https://api.steller.test"
API_KEY = "stlr_test_s3cr3t_key_value"

Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """A MockTransport handler that plays ``steps`` in order and records every request.

    The last step repeats once the others are used up, so ``Script([resp])`` answers any
    number of requests.
    """

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            if isinstance(step, httpx.RequestError):
                step = type(step)(str(step), request=request)
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    @property
    def count(self) -> int:
        return len(self.requests)

    def header(self, name: str) -> list[str | None]:
        return [r.headers.get(name) for r in self.requests]


def ok(
    body: Any = None, *, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json={} if body is None else body, headers=headers)


def problem(
    status: int,
    code: str | None = None,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": "Problem", "status": status}
    if code:
        body["code"] = code
    if detail:
        body["detail"] = detail
    body.update(extra)
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/problem+json", **(headers or {})},
    )


# jitter=0 makes every backoff exact, so tests can assert on the recorded sleeps.
EXACT = RetryPolicy(jitter=0)


def sync_client(script: Script, **kwargs: Any) -> SyncAPIClient:
    kwargs.setdefault("retry", EXACT)
    return SyncAPIClient(
        base_url=BASE_URL, api_key=API_KEY, transport=httpx.MockTransport(script), **kwargs
    )


def async_client(script: Script, **kwargs: Any) -> AsyncAPIClient:
    kwargs.setdefault("retry", EXACT)
    return AsyncAPIClient(
        base_url=BASE_URL, api_key=API_KEY, transport=httpx.MockTransport(script), **kwargs
    )


@pytest.fixture
def sleeps() -> Iterator[list[float]]:
    """Retries are instant within the test; the list records what would have been slept."""
    with instant_retries() as recorded:
        yield recorded


@pytest.fixture
def steller_logger() -> Iterator[logging.Logger]:
    """The ``steller`` logger, restored (handlers and level) after the test."""
    logger = logging.getLogger("steller")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.fixture
def helpers() -> Any:
    class H:
        Script = Script
        ok = staticmethod(ok)
        problem = staticmethod(problem)
        sync_client = staticmethod(sync_client)
        async_client = staticmethod(async_client)
        BASE_URL = BASE_URL
        API_KEY = API_KEY
        EXACT = EXACT

    return H
