"""Helpers for the SDK end-to-end tests: a synchronous httpx transport onto an ASGI app, and the
sandbox (API + in-process fulfilment worker + Bamboo simulator) the tests run against.

Why not ``starlette.testclient.TestClient``: Starlette 1.x warns (``StarletteDeprecationWarning``)
when its test client is imported on ``httpx`` instead of ``httpx2``, and the SDK takes an
``httpx.Client``. :class:`PortalTransport` does what the test client does, with nothing
deprecated: the app runs in an anyio blocking portal (an event loop in its own thread, where
the app's lifespan, the worker and the simulator's ticker keep running between requests) and
each request is handed to ``httpx.ASGITransport`` in that loop::

    with serve_in_portal(sandbox.app) as server:
        client = steller.Steller(api_key=key, http_client=server.http)
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anyio.from_thread
import httpx
from anyio.from_thread import BlockingPortal

from steller_sandbox import SimulatorConfig
from steller_server.api.contract import Contract
from steller_server.sandbox_mode import Sandbox, build_sandbox
from steller_server.settings import Settings
from steller_server.vendor import BambooLimits

T = TypeVar("T")

BASE_URL = "http://steller.test"

#: The simulator finishes an order in ~0.2 s; the worker polls every 20 ms; no vendor limits.
FAST_SIMULATOR = SimulatorConfig(
    latency=0.2,
    slow_seconds=2.0,
    limits_enabled=False,
    tick_interval=0.02,
    timeout_hang_seconds=0.5,
    scenario_retry_after_seconds=1,
)


def make_sandbox(settings: Settings, contract: Contract, **kwargs: Any) -> Sandbox:
    """The sandbox app on ``settings``' database, with a fast simulator (nothing runs yet)."""
    return build_sandbox(
        settings,
        contract=contract,
        simulator_config=FAST_SIMULATOR,
        worker_poll_interval=0.02,
        vendor_options={"limits": BambooLimits(enabled=False)},
        **kwargs,
    )


def raise_signup_limit(app: Any) -> None:
    """Lift the signup quota (5/min per address) for this app only: the tests sign up from
    127.0.0.1 more often than that."""
    limiter = app.state.steller.limiter
    hit = limiter.hit

    async def generous_hit(policy: str, identity: str, **kwargs: Any) -> Any:
        if policy == "signup":
            kwargs["limit"] = 10_000
        return await hit(policy, identity, **kwargs)

    limiter.hit = generous_hit


class PortalTransport(httpx.BaseTransport):
    """A synchronous httpx transport that serves each request with ``httpx.ASGITransport`` in
    the portal's event loop. The response body is read there in full (raw, still encoded) and
    handed back as a byte stream, so streamed downloads work too."""

    def __init__(self, app: Any, portal: BlockingPortal) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()

        async def send() -> tuple[int, httpx.Headers, bytes]:
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=content
            )
            response = await self._inner.handle_async_request(forwarded)
            try:
                assert isinstance(response.stream, httpx.AsyncByteStream)
                raw = b"".join([chunk async for chunk in response.stream])
            finally:
                await response.aclose()
            return response.status_code, response.headers, raw

        status, headers, raw = self._portal.call(send)
        return httpx.Response(
            status, headers=headers, stream=httpx.ByteStream(raw), request=request
        )


@dataclasses.dataclass(frozen=True)
class PortalServer:
    """An app running in a blocking portal, with an ``httpx.Client`` bound to it."""

    app: Any
    portal: BlockingPortal
    http: httpx.Client

    def call(self, func: Callable[[], Awaitable[T]]) -> T:
        """Run ``await func()`` in the app's event loop (e.g. to flush the request logs)."""
        return self.portal.call(func)


@contextlib.contextmanager
def serve_in_portal(app: Any, *, base_url: str = BASE_URL) -> Iterator[PortalServer]:
    """Start ``app``'s lifespan in a fresh portal; yield the server; stop it all at exit."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
        httpx.Client(transport=PortalTransport(app, portal), base_url=base_url) as http,
    ):
        yield PortalServer(app=app, portal=portal, http=http)


async def flush_request_logs(app: Any) -> None:
    """Write the buffered request logs now (the sink otherwise writes every 0.5 s)."""
    await app.state.steller.extras["request_logs"].flush()
