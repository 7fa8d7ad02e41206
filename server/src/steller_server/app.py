"""`create_app(settings)`: the only place that assembles the server. No import-time globals.

    from steller_server.app import create_app
    from steller_server.settings import Settings
    app = create_app(Settings.from_env())

The middleware list is explicit and short: the request context (request id, version, body cap,
request logs) around the router. Routes come from the contract: each handler module declares its
operations and `build_routes` binds them to the paths in openapi.yaml.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from steller_server.api import groups
from steller_server.api.contract import Contract
from steller_server.api.limits import RateLimiter
from steller_server.api.metrics import metrics_route
from steller_server.api.middleware import RequestContextMiddleware
from steller_server.api.problems import problem_response
from steller_server.api.public import docs_asset, docs_page, openapi_yaml
from steller_server.api.request_logs import RequestLogSink
from steller_server.api.routing import build_routes
from steller_server.api.sandbox_outbox import outbox_routes
from steller_server.api.state import AppState, utcnow
from steller_server.api.status import status_page_routes
from steller_server.db.engine import Database
from steller_server.domain.crypto import Cipher
from steller_server.observability import metrics
from steller_server.observability.http import RequestObserver
from steller_server.settings import Settings

log = logging.getLogger("steller")


class BackgroundService(Protocol):
    """Something the app runs for its lifetime (the in-process worker, schedulers)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return problem_response(
            request,
            "method_not_allowed",
            "Method not allowed on this path",
            headers=dict(exc.headers or {}),
        )
    return problem_response(request, "not_found", "No such resource")


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Callable[[], datetime] | None = None,
    contract: Contract | None = None,
    services: Sequence[Callable[[AppState], BackgroundService]] = (),
    extra_routes: Sequence[BaseRoute] = (),
    on_startup: Sequence[Callable[[AppState], Awaitable[None]]] = (),
) -> Starlette:
    """Build the ASGI app. `database`, `clock` and `contract` are injectable for tests."""
    settings = (settings or Settings.from_env()).validate()
    contract = contract or Contract.load()
    db = database or Database.from_settings(settings)
    limiter = RateLimiter(settings.redis_url or "async+memory://")
    state = AppState(
        settings=settings,
        db=db,
        contract=contract,
        limiter=limiter,
        replay_cipher=Cipher(settings.effective_secret_key, "idempotent-responses"),
        clock=clock or utcnow,
    )
    sink = RequestLogSink(db, state.clock)
    state.extras["request_logs"] = sink
    owns_db = database is None

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for hook in on_startup:
                await hook(state)
            sink.start()
            stack.push_async_callback(sink.stop)
            for make in services:
                service = make(state)
                await service.start()
                stack.push_async_callback(service.stop)
            if owns_db:
                stack.push_async_callback(db.dispose)
            yield

    routes: list[BaseRoute] = [
        *build_routes(contract, groups.all_groups()),
        Route("/openapi.yaml", openapi_yaml, methods=["GET"]),
        Route("/docs", docs_page, methods=["GET"]),
        Route("/docs/redoc.standalone.js", docs_asset, methods=["GET"]),
        *status_page_routes(),
        metrics_route(),
        *(outbox_routes() if settings.is_sandbox else ()),
        *extra_routes,
    ]
    metrics.set_enabled(settings.metrics_enabled)
    observer = RequestObserver(routes, contract, metrics_enabled=settings.metrics_enabled)
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                RequestContextMiddleware,
                max_body=settings.max_body_bytes,
                on_request_done=sink.record,
                observer=observer,
            )
        ],
        exception_handlers={HTTPException: _not_found},
        lifespan=lifespan,
    )
    app.state.steller = state
    return app
