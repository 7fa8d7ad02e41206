"""HTTP-layer fixtures: the real app over ASGI, in the test's event loop, on SQLite and PostgreSQL.

    async def test_x(api, factory, partner_key): ...

`api` is an httpx.AsyncClient bound to `create_app(settings, database=database)` with its lifespan
running; `clock` is a settable test clock the app reads; `partner_key(partner)` issues a key.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from steller_server.app import create_app
from steller_server.db.engine import Database
from steller_server.domain import admins, keys
from steller_server.domain.models import Partner
from steller_server.settings import Settings


async def bounded(awaitable: Awaitable[object], what: str, seconds: float = 20.0) -> None:
    """Await a teardown step, but never for ever: a stuck teardown fails the test (a hang is a
    bug, like the request-log sink that once swallowed its cancellation) instead of stalling
    the whole run."""
    try:
        async with asyncio.timeout(seconds):
            await awaitable
    except TimeoutError:
        pytest.fail(f"teardown: {what} exceeded {seconds:g} s", pytrace=False)


class TestClock:
    """A clock tests move by hand (no sleeps)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
async def app(settings: Settings, database: Database, clock: TestClock) -> AsyncIterator[object]:
    application = create_app(settings, database=database, clock=clock)
    lifespan = application.router.lifespan_context(application)
    await lifespan.__aenter__()
    try:
        yield application
    finally:
        await bounded(lifespan.__aexit__(None, None, None), "app shutdown")


@pytest.fixture
async def api(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def partner_key(database: Database, settings: Settings):  # type: ignore[no-untyped-def]
    """`await partner_key(partner, role="developer")` → the raw key for x-api-key."""

    async def issue(partner: Partner, role: str = "developer", **kwargs: object) -> str:
        async with database.write() as conn:
            created = await keys.create_key(
                conn,
                partner_id=partner.id,
                environment=partner.environment,
                role=role,
                secret_key=settings.effective_secret_key,
                **kwargs,  # type: ignore[arg-type]
            )
        return created.raw

    return issue


@pytest.fixture
def admin_token(database: Database, settings: Settings, clock: TestClock):  # type: ignore[no-untyped-def]
    """`await admin_token(role="admin")` → a bearer token for a fresh admin user of that role."""

    async def issue(role: str = "admin") -> str:
        email = f"{role}-{uuid.uuid4().hex[:12]}@steller.test"
        async with database.write() as conn:
            await admins.create_user(
                conn, email=email, name=role.title(), role=role, password="correct horse battery"
            )
        login = await admins.login(
            database,
            email=email,
            password="correct horse battery",
            secret_key=settings.effective_secret_key,
            ttl=timedelta(hours=settings.admin_token_ttl_hours),
            now=clock(),
        )
        assert login is not None
        return login.token

    return issue
