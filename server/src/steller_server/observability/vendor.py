"""Vendor-call observation (called by ``vendor/transport.py`` once per logical call, retries
included): ``steller_vendor_calls_total{endpoint,outcome}``, the latency histogram and one log
line (logger ``steller.vendor``) carrying the request id of the request or job that made it."""

from __future__ import annotations

import logging

from steller_server.observability import metrics

__all__ = ["observe_vendor_call"]

log = logging.getLogger("steller.vendor")


def observe_vendor_call(
    endpoint: str, method: str, path: str, outcome: str, seconds: float
) -> None:
    metrics.vendor_call(endpoint, outcome, seconds)
    level = logging.INFO if outcome in ("ok", "rejected", "not_found") else logging.WARNING
    if log.isEnabledFor(level):
        log.log(
            level,
            "vendor %s %s %s %s in %.1f ms",
            endpoint,
            method,
            path,
            outcome,
            seconds * 1000,
            extra={
                "steller": {
                    "vendor_endpoint": endpoint,
                    "method": method,
                    "vendor_path": path,
                    "outcome": outcome,
                    "duration_ms": round(seconds * 1000, 2),
                }
            },
        )
