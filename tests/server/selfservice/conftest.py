"""Self-service tests reuse the HTTP-layer fixtures (`api`, `partner_key`, `admin_token`) of
tests/server/api; `settings`, `database` and `factory` come from tests/server.

`app` is redefined here only to parse openapi.yaml once per session (building the contract's
validators takes seconds; the app itself is still new for every test).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest

from steller_server.api.contract import Contract
from steller_server.app import create_app
from steller_server.db.engine import Database
from steller_server.settings import Settings
from tests.server.api.conftest import (  # noqa: F401 - fixtures are registered by import
    TestClock,
    admin_token,
    api,
    partner_key,
)


@functools.cache
def shared_contract() -> Contract:
    return Contract.load()


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
async def app(settings: Settings, database: Database, clock: TestClock) -> AsyncIterator[object]:
    application = create_app(settings, database=database, clock=clock, contract=shared_contract())
    async with application.router.lifespan_context(application):
        yield application
