"""``create_app(config)``: the Starlette application serving the simulated Bamboo API."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from steller_sandbox.admin import admin_routes
from steller_sandbox.config import SimulatorConfig
from steller_sandbox.routes import vendor_routes
from steller_sandbox.state import Simulator

__all__ = ["NormalisePathMiddleware", "create_app"]

_V1 = re.compile(r"^/api/integration/v1(?=/)")


class NormalisePathMiddleware:
    """Bamboo's paths differ in case (``Integration``) and version (``v1``/``v1.0``) per endpoint.

    Match them case-insensitively and accept both version spellings.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = _V1.sub("/api/integration/v1.0", scope["path"].lower()).rstrip("/") or "/"
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """Build a simulator app with its own fresh ``Simulator`` at ``app.state.simulator``.

    In-process use: ``httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=...)``.
    Under uvicorn (``steller-sandbox``), a background task finalises orders and sends callbacks
    even when nobody polls; in-process, every request (or ``await simulator.tick()``) does it.
    """
    simulator = Simulator(config or SimulatorConfig())

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async def ticker() -> None:
            while True:
                await asyncio.sleep(simulator.config.tick_interval)
                simulator.deliver_later(simulator.advance())

        task = asyncio.create_task(ticker())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(
        routes=[*vendor_routes(), *admin_routes()],
        middleware=[Middleware(NormalisePathMiddleware)],
        lifespan=lifespan,
    )
    app.state.simulator = simulator
    return app
