"""``GET /metrics``: Prometheus text exposition for operators (not part of the partner contract).

Allowed for an admin bearer token of any role, or without credentials from a client address in
``STELLER_METRICS_ALLOW`` (CIDRs, e.g. the Prometheus server's network). Anyone else gets a
problem+json 401/403 — a partner API key is never enough. See docs/operations.md.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from steller_server.api import auth
from steller_server.api.problems import ProblemError, problem_response
from steller_server.api.state import AppState
from steller_server.observability import metrics

__all__ = ["metrics_route"]


@lru_cache(maxsize=64)
def _networks(allow: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in allow)


def client_allowed(allow: tuple[str, ...], host: str | None) -> bool:
    """True when ``host`` is inside one of the ``allow`` networks."""
    if not allow or not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in _networks(allow))


async def metrics_endpoint(request: Request) -> Response:
    state: AppState = request.app.state.steller
    host = request.client.host if request.client else None
    if not client_allowed(state.settings.metrics_allow, host):
        try:
            await auth.resolve_admin(request, state)
        except ProblemError as exc:
            return problem_response(request, exc.code, exc.detail)
    body, content_type = await metrics.exposition(state.db, state.clock())
    return Response(body, headers={"content-type": content_type, "cache-control": "no-store"})


def metrics_route() -> Route:
    return Route("/metrics", metrics_endpoint, methods=["GET"])
