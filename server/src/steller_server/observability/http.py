"""The per-request observer the request middleware calls once a response is sent: one
``steller_http_*`` observation and one log line (logger ``steller.http``) per request.

Requests are labelled by their route, never by raw paths: the contract's operationId when the
path and method are an operation (``createOrder``), else the route's path template
(``/metrics``), else ``unmatched`` (404s) — so ids never become label values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Scope

from steller_server.api.contract import Contract
from steller_server.observability import metrics

__all__ = ["RequestObserver"]

log = logging.getLogger("steller.http")


class RequestObserver:
    def __init__(
        self,
        routes: Iterable[BaseRoute],
        contract: Contract,
        *,
        metrics_enabled: bool = True,
        log_requests: bool = True,
    ) -> None:
        self.by_endpoint: dict[int, str] = {}
        for route in routes:
            if isinstance(route, Route):
                self.by_endpoint[id(route.endpoint)] = route.path
            elif isinstance(route, Mount):
                self.by_endpoint[id(route.app)] = route.path + "/*"
        self.operations = {
            (op.method, op.path): op.operation_id for op in contract.operations.values()
        }
        self.metrics_enabled = metrics_enabled
        self.log_requests = log_requests

    def route_of(self, scope: Scope) -> str:
        endpoint = scope.get("endpoint")
        template = self.by_endpoint.get(id(endpoint)) if endpoint is not None else None
        if template is None:
            return "unmatched"
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        return self.operations.get((method, template), template)

    def __call__(self, scope: Scope, status: int, seconds: float) -> None:
        route = self.route_of(scope)
        method: str = scope["method"]
        if self.metrics_enabled:
            metrics.request_done(method, route, status, seconds)
        if self.log_requests and log.isEnabledFor(logging.INFO):
            state: dict[str, Any] = scope.get("state", {})
            # ``makeRecord`` + ``handle`` is what ``log.info`` does, minus the stack walk that
            # finds the caller's file and line (no formatter prints them) on every request.
            record = log.makeRecord(
                log.name,
                logging.INFO,
                __file__,
                0,
                "%s %s %d %.1fms",
                (method, scope["path"], status, seconds * 1000),
                None,
                extra={
                    "steller": {
                        "request_id": state.get("request_id"),
                        "partner_id": state.get("partner_id"),
                        "method": method,
                        "route": route,
                        "path": scope["path"],
                        "status": status,
                        "latency_ms": round(seconds * 1000, 2),
                    }
                },
            )
            log.handle(record)
