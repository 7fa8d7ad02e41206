"""Fixtures for the SDK end-to-end tests: the real sandbox app (API, in-process fulfilment worker,
Bamboo simulator, demo data) on a fresh SQLite database per test.

* ``sandbox``: the assembled app, not started (each test starts it the way it needs: in a
  blocking portal for the sync client, in the test's event loop for the async one).
* ``sync_server``: the sandbox running in a portal with an ``httpx.Client`` bound to it
  (``server.http``), for ``Steller(http_client=...)``.
* ``async_sandbox``: the sandbox with its lifespan running in the test's event loop, for
  ``AsyncSteller(transport=httpx.ASGITransport(app))``.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from steller_server.api.contract import Contract
from steller_server.db.migrate import upgrade
from steller_server.sandbox_mode import Sandbox
from steller_server.settings import Settings
from tests.sdk_e2e.sdk_e2e_support import (
    PortalServer,
    make_sandbox,
    raise_signup_limit,
    serve_in_portal,
)
from tests.server.api.admin_kit import cheap_password_hashing

__all__ = ["cheap_password_hashing"]  # autouse: argon2 at minimal cost (admin login, bootstrap)

SECRET_KEY = "sdk-e2e-secret-key-0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="session")
def e2e_contract() -> Contract:
    """openapi.yaml parsed once for the session."""
    return Contract.load()


@pytest.fixture(scope="session")
def e2e_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sdk-e2e-template") / "template.sqlite3"
    upgrade(
        Settings(mode="sandbox", secret_key=SECRET_KEY).replace(database_url=f"sqlite:///{path}")
    )
    return path


@pytest.fixture
def e2e_settings(e2e_sqlite_template: Path, tmp_path: Path) -> Settings:
    path = tmp_path / "steller.sqlite3"
    shutil.copyfile(e2e_sqlite_template, path)
    return Settings(mode="sandbox", secret_key=SECRET_KEY).replace(database_url=f"sqlite:///{path}")


@pytest.fixture
def sandbox(e2e_settings: Settings, e2e_contract: Contract) -> Sandbox:
    built = make_sandbox(e2e_settings, e2e_contract)
    raise_signup_limit(built.app)
    return built


@pytest.fixture
def sync_server(sandbox: Sandbox) -> Iterator[PortalServer]:
    with serve_in_portal(sandbox.app) as server:
        yield server


@pytest.fixture
async def async_sandbox(sandbox: Sandbox) -> AsyncIterator[Sandbox]:
    async with sandbox.app.router.lifespan_context(sandbox.app):
        yield sandbox
