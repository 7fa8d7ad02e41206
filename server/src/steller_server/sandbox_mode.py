"""Sandbox mode: the API, ONE in-process worker and the Bamboo simulator in one process.

``steller-server sandbox`` calls :func:`run_sandbox`; tests call :func:`build_sandbox` and drive the
app over ASGI. The layout:

* The simulator (``steller_sandbox``) is a second ASGI app in the same process. The vendor client
  talks to it through an in-process transport (``http://bamboo.sandbox``, no socket) with a real
  read deadline (:class:`TimeoutTransport`; httpx's ASGI transport has none), so the simulator's
  timeout scenario behaves like a real timeout. For humans it is also mounted at ``/_bamboo``
  (e.g. ``GET /_bamboo/_sim/orders``).
* The simulator's order callbacks go to our own ``POST /api/vendor/bamboo/notification``, also in
  process (:class:`LateASGITransport`), with a secret derived from the server secret.
* One :class:`~steller_server.jobs.worker.Worker` runs as an app service (SQLite has one writer)
  with the scheduler (catalog sync hourly, reconciliation every 15 minutes).
* On start (idempotent, so a restart finds the same data): migrations, an admin user
  (``STELLER_ADMIN_EMAIL``/``STELLER_ADMIN_PASSWORD`` or printed defaults), a catalog sync from the
  simulator, a demo partner funded with 1,000.00 USD with the sandbox catalog approved, and a
  demo API key derived from the server secret (the same key after every restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import logging
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

import httpx
import uvicorn
from sqlalchemy import func, insert, select
from starlette.applications import Starlette
from starlette.routing import Mount

from steller_sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SimulatorConfig
from steller_sandbox import create_app as create_simulator_app
from steller_sandbox.state import Simulator
from steller_server.api.contract import Contract
from steller_server.api.state import AppState
from steller_server.api.vendor_callback import WORKER_EXTRA
from steller_server.app import create_app
from steller_server.db.dialect import insert_ignore
from steller_server.db.engine import Database
from steller_server.db.migrate import upgrade
from steller_server.db.tables import (
    api_keys,
    ledger_entries,
    partner_products,
    partners,
    products,
    wallets,
)
from steller_server.domain import admins, catalog, ledger, money, pricing
from steller_server.domain.clock import utcnow
from steller_server.domain.crypto import derive_key, hash_api_key
from steller_server.domain.errors import PriceBelowCost, ProductNotAvailable
from steller_server.domain.ids import BASE62, new_id
from steller_server.domain.models import Partner, Product
from steller_server.domain.partners import create_partner
from steller_server.jobs.catalog_sync import start_and_sync
from steller_server.jobs.scheduler import Scheduler
from steller_server.jobs.worker import Worker, WorkerService
from steller_server.settings import ConfigError, Settings
from steller_server.vendor import BambooClient, BambooLimits, RetryPolicy, VendorError

__all__ = [
    "DEFAULT_ADMIN_EMAIL",
    "DEFAULT_ADMIN_PASSWORD",
    "DEMO_PARTNER_EMAIL",
    "SIMULATOR_BASE_URL",
    "SIMULATOR_MOUNT",
    "DemoData",
    "LateASGITransport",
    "Sandbox",
    "TimeoutTransport",
    "bootstrap_demo",
    "build_sandbox",
    "demo_api_key",
    "run_sandbox",
    "running",
    "sandbox_settings",
]

log = logging.getLogger("steller.sandbox")

SIMULATOR_BASE_URL = "http://bamboo.sandbox"
SIMULATOR_MOUNT = "/_bamboo"
SANDBOX_ACCOUNT_ID = 1001  # the simulator's USD sandbox account
DEFAULT_ADMIN_EMAIL = "admin@steller.sandbox"
DEFAULT_ADMIN_PASSWORD = "steller-sandbox-admin"  # noqa: S105 - printed, sandbox only
DEMO_PARTNER_EMAIL = "demo@steller.sandbox"
DEMO_PARTNER_NAME = "Demo Partner"
DEMO_FUNDING = Decimal("1000.00")
DEMO_CURRENCY = "USD"
VENDOR_TIMEOUT = 10.0


# -- in-process transports -----------------------------------------------------------------------


class TimeoutTransport(httpx.AsyncBaseTransport):
    """Wraps a transport with a deadline per request (``httpx.ReadTimeout`` when it passes).

    ``httpx.ASGITransport`` ignores httpx timeouts; the vendor client needs them to treat a hung
    checkout like a real one (retry with the same RequestId)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, timeout: float) -> None:
        self.inner = inner
        self.timeout = timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await asyncio.wait_for(self.inner.handle_async_request(request), self.timeout)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {self.timeout} s", request=request) from None

    async def aclose(self) -> None:
        await self.inner.aclose()


class LateASGITransport(httpx.AsyncBaseTransport):
    """An ASGI transport whose app is set after construction (the simulator's callbacks go to
    the Steller app, which is built after the simulator)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.app is None:
            raise httpx.ConnectError("the Steller app is not running yet", request=request)
        return await httpx.ASGITransport(app=self.app).handle_async_request(request)


# -- settings and demo data ----------------------------------------------------------------------


def _derived(settings: Settings, purpose: str) -> bytes:
    return hmac.new(
        derive_key(settings.effective_secret_key, f"sandbox:{purpose}"),
        purpose.encode(),
        hashlib.sha256,
    ).digest()


def demo_api_key(settings: Settings) -> str:
    """The demo partner's key: ``stlr_test_`` + 40 base62 characters derived from the server
    secret, so every restart (same secret) prints the same key."""
    number = int.from_bytes(_derived(settings, "demo-api-key") + _derived(settings, "demo-2"))
    chars = []
    for _ in range(40):
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "stlr_test_" + "".join(chars)


def sandbox_settings(settings: Settings) -> Settings:
    """``settings`` with the vendor pointed at the in-process simulator."""
    if settings.mode != "sandbox":
        raise ConfigError("sandbox mode cannot run with STELLER_MODE=live")
    secret = settings.bamboo_notification_secret or _derived(settings, "bamboo-callback").hex()
    return settings.replace(
        bamboo_base_url=SIMULATOR_BASE_URL,
        bamboo_client_id=SANDBOX_CLIENT_ID,
        bamboo_client_secret=SANDBOX_CLIENT_SECRET,
        bamboo_account_id=settings.bamboo_account_id or SANDBOX_ACCOUNT_ID,
        bamboo_notification_secret=secret,
    )


@dataclass(frozen=True, kw_only=True)
class DemoData:
    admin_email: str
    admin_password: str | None
    admin_created: bool
    partner: Partner
    api_key: str
    approved: int
    balance: str
    catalog_products: int


async def _sandbox_approvals(
    conn: Any, *, partner: Partner, settings: Settings
) -> list[catalog.ApprovalItem]:
    fx = await pricing.FxTable.load(conn)
    items = []
    rows = (
        await conn.execute(
            select(products).where(products.c.available.is_(True)).order_by(products.c.sku)
        )
    ).mappings()
    for row in rows:
        product = Product.from_row(row)
        try:
            pricing.approval_guard(
                product=product,
                discount_percent=settings.sandbox_default_discount,
                wallet_currency=partner.currency,
                fx=fx,
                order_fee=settings.order_fee,
                fee_currency=settings.order_fee_currency,
            )
        except (PriceBelowCost, ProductNotAvailable):
            continue
        items.append(
            catalog.ApprovalItem(
                sku=product.sku, discount_percent=settings.sandbox_default_discount
            )
        )
    return items


async def bootstrap_demo(
    db: Database,
    settings: Settings,
    vendor: BambooClient,
    *,
    clock: Callable[[], datetime] = utcnow,
    callback_url: str | None = None,
) -> DemoData:
    """Create (or find) the sandbox demo data; safe to run on every start."""
    email = settings.admin_email or DEFAULT_ADMIN_EMAIL
    password = settings.admin_password or DEFAULT_ADMIN_PASSWORD
    _, admin_created = await admins.ensure_user(
        db, email=email, name="Sandbox Admin", role="admin", password=password
    )
    run = await start_and_sync(db, vendor, trigger="schedule", clock=clock)
    if run.status != "succeeded":
        log.warning("sandbox catalog sync failed: %s", run.error)
    if callback_url:
        with contextlib.suppress(VendorError):
            await vendor.set_notification(
                notification_url="",
                notification_url_sandbox=callback_url,
                secret_key=settings.bamboo_notification_secret or "",
            )

    async with db.read() as conn:
        row = (
            (
                await conn.execute(
                    select(partners).where(func.lower(partners.c.email) == DEMO_PARTNER_EMAIL)
                )
            )
            .mappings()
            .one_or_none()
        )
    if row is None:
        partner, _ = await create_partner(
            db,
            name=DEMO_PARTNER_NAME,
            email=DEMO_PARTNER_EMAIL,
            actor="system",
            settings=settings,
            currency=DEMO_CURRENCY,
            now=clock(),
        )
    else:
        partner = Partner.from_row(row)
    raw_key = demo_api_key(settings)
    async with db.write() as conn:
        funded = await conn.scalar(
            select(ledger_entries.c.id).where(
                ledger_entries.c.entry_key == f"demo-funding:{partner.id}"
            )
        )
        if funded is None:
            wallet = await conn.scalar(
                select(wallets.c.id).where(wallets.c.partner_id == partner.id)
            )
            await ledger.credit(
                conn,
                wallet_id=str(wallet),
                amount_minor=money.to_minor(DEMO_FUNDING, partner.currency),
                description="Sandbox demo funding",
                actor="system",
                entry_key=f"demo-funding:{partner.id}",
                now=clock(),
            )
        items = await _sandbox_approvals(conn, partner=partner, settings=settings)
        if items:
            # The profit guard ran on each item above; one executemany instead of an upsert
            # per product (this runs on every start). Existing approvals are left as they are.
            await conn.execute(
                insert_ignore(conn, partner_products, ["partner_id", "sku"]),
                [
                    {
                        "partner_id": partner.id,
                        "sku": item.sku,
                        "discount_percent": item.discount_percent,
                        "approved_by": "system",
                        "approved_at": clock(),
                    }
                    for item in items
                ],
            )
        key_hash = hash_api_key(raw_key, settings.effective_secret_key)
        if await conn.scalar(select(api_keys.c.id).where(api_keys.c.key_hash == key_hash)) is None:
            await conn.execute(
                insert(api_keys).values(
                    id=new_id("key"),
                    partner_id=partner.id,
                    key_hash=key_hash,
                    prefix=raw_key[:13],
                    last4=raw_key[-4:],
                    role="developer",
                    environment="sandbox",
                    ip_allowlist=[],
                    created_at=clock(),
                    last_used_at=None,
                    expires_at=None,
                    revoked_at=None,
                    rotated_from_id=None,
                )
            )
        balance = await conn.scalar(
            select(wallets.c.balance_minor).where(wallets.c.partner_id == partner.id)
        )
    return DemoData(
        admin_email=email,
        admin_password=password if (admin_created or settings.admin_password) else None,
        admin_created=admin_created,
        partner=partner,
        api_key=raw_key,
        approved=len(items),
        balance=f"{money.format_amount(int(balance or 0), partner.currency)} {partner.currency}",
        catalog_products=run.products,
    )


# -- the assembled sandbox ------------------------------------------------------------------------


@dataclass(kw_only=True)
class Sandbox:
    """What :func:`build_sandbox` made; ``demo`` and ``worker`` are filled when the app starts."""

    app: Starlette
    settings: Settings
    simulator_app: Starlette
    vendor: BambooClient
    demo: DemoData | None = None
    worker: Worker | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def simulator(self) -> Simulator:
        sim: Simulator = self.simulator_app.state.simulator
        return sim


class _SimulatorTicker:
    """Runs the simulator's lifespan (its background ticker finalises orders and sends
    callbacks even when nobody polls)."""

    def __init__(self, simulator_app: Starlette) -> None:
        self.simulator_app = simulator_app
        self._stack = contextlib.AsyncExitStack()

    async def start(self) -> None:
        app = self.simulator_app
        await self._stack.enter_async_context(app.router.lifespan_context(app))

    async def stop(self) -> None:
        await self._stack.aclose()


def build_sandbox(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Callable[[], datetime] | None = None,
    simulator_config: SimulatorConfig | None = None,
    in_process_worker: bool = True,
    bootstrap: bool = True,
    worker_poll_interval: float = 0.5,
    vendor_options: dict[str, Any] | None = None,
    on_ready: Callable[[Sandbox], None] | None = None,
    callback_url: str | None = None,
    contract: Contract | None = None,
) -> Sandbox:
    """Assemble the sandbox app (nothing runs until its lifespan starts)."""
    settings = sandbox_settings(settings)
    callbacks = LateASGITransport()
    config = simulator_config or SimulatorConfig(latency=2.0)
    simulator_app = create_simulator_app(
        config if config.callback_transport is not None else _with_callbacks(config, callbacks)
    )
    options: dict[str, Any] = {
        "retry": RetryPolicy(attempts=4, total_seconds=30.0),
        "max_wait": 5.0,
    }
    options.update(vendor_options or {})
    limits = options.pop("limits", None) or (
        BambooLimits() if config.limits_enabled else BambooLimits(enabled=False)
    )
    vendor = BambooClient(
        SIMULATOR_BASE_URL,
        SANDBOX_CLIENT_ID,
        SANDBOX_CLIENT_SECRET,
        transport=TimeoutTransport(httpx.ASGITransport(app=simulator_app), VENDOR_TIMEOUT),
        limiter_storage_uri="memory://",
        limits=limits,
        **options,
    )
    sandbox: Sandbox

    async def startup(state: AppState) -> None:
        state.extras["vendor"] = vendor
        if bootstrap:
            url = callback_url or (
                f"http://{settings.host}:{settings.port}/api/vendor/bamboo/notification"
            )
            sandbox.demo = await bootstrap_demo(
                state.db, settings, vendor, clock=state.clock, callback_url=url
            )
        if on_ready is not None:
            on_ready(sandbox)

    def worker_service(state: AppState) -> WorkerService:
        worker = Worker(
            state.db,
            settings,
            worker_id="sandbox-worker",
            vendor=vendor,
            clock=state.clock,
            poll_interval=worker_poll_interval,
            scheduler=Scheduler(),
        )
        state.extras[WORKER_EXTRA] = worker
        sandbox.worker = worker
        return WorkerService(worker)

    class _VendorCloser:
        async def start(self) -> None:
            return None

        async def stop(self) -> None:
            await vendor.aclose()

    services: list[Callable[[AppState], Any]] = [
        lambda _state: _VendorCloser(),
        lambda _state: _SimulatorTicker(simulator_app),
    ]
    if in_process_worker:
        services.append(worker_service)
    app = create_app(
        settings,
        database=database,
        clock=clock,
        contract=contract,
        services=services,
        extra_routes=[Mount(SIMULATOR_MOUNT, app=simulator_app)],
        on_startup=[startup],
    )
    callbacks.app = app
    sandbox = Sandbox(app=app, settings=settings, simulator_app=simulator_app, vendor=vendor)
    return sandbox


def _with_callbacks(
    config: SimulatorConfig, transport: httpx.AsyncBaseTransport
) -> SimulatorConfig:
    return dataclasses.replace(config, callback_transport=transport)


# -- the command ----------------------------------------------------------------------------------


def banner(sandbox: Sandbox, *, url: str) -> str:
    demo = sandbox.demo
    if demo is None:  # pragma: no cover - bootstrap always runs under run_sandbox
        return f"Steller sandbox on {url}"
    password = demo.admin_password or "(unchanged: the password set when it was created)"
    key = demo.api_key
    return "\n".join(
        [
            "",
            "  Steller sandbox is running",
            "  ──────────────────────────",
            f"  API            {url}   (contract: {url}/openapi.yaml)",
            f"  Bamboo sim     {url}{SIMULATOR_MOUNT}/_sim/orders  (in-process vendor)",
            f"  Database       {sandbox.settings.database_url}",
            f"  Admin          {demo.admin_email} / {password}",
            f"  Demo partner   {demo.partner.name} ({demo.partner.id}), wallet {demo.balance}, "
            f"{demo.approved} products approved",
            f"  Demo API key   {key}",
            "",
            "  Try:",
            f"    curl -s {url}/api/brand/getCatalog -H 'x-api-key: {key}'",
            f"    curl -s -X POST {url}/api/orders -H 'x-api-key: {key}' \\",
            "         -H 'content-type: application/json' \\",
            '         -d \'{"sku":"AMZ-US-50","faceValue":"50.00","quantity":1,'
            '"referenceId":"demo-1"}\'',
            "  Magic values (docs/sandbox.md): faceValue 13.13 fails, 22.22 partially fails,",
            "  33.33 is slow, 42.90 rate-limits, 50.30 gives a 503, 40.80 times out (on *-VAR SKUs).",  # noqa: E501
            "",
        ]
    )


def run_sandbox(settings: Settings, *, out: TextIO | None = None) -> None:
    """``steller-server sandbox``: migrate, build, print the banner on start, serve (blocks)."""
    stream = out or sys.stdout
    settings = sandbox_settings(settings).validate()
    if not settings.is_sqlite:
        log.info("sandbox on a non-SQLite database: the in-process worker is still the only one")
    upgrade(settings)
    url = f"http://{settings.host}:{settings.port}"

    def ready(sandbox: Sandbox) -> None:
        print(banner(sandbox, url=url), file=stream, flush=True)

    sandbox = build_sandbox(settings, on_ready=ready)
    uvicorn.run(
        sandbox.app, host=settings.host, port=settings.port, log_level="info", lifespan="on"
    )


@contextlib.asynccontextmanager
async def running(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """Start the sandbox app's lifespan and yield a client bound to it (tests, examples)."""
    app = sandbox.app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
            yield client
