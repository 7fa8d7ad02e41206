"""Delivery of Bamboo's legacy order-completion callback (no cards, secretKey echoed, no HMAC)."""

from __future__ import annotations

import logging
from typing import Any

import httpx

__all__ = ["deliver_callback"]

log = logging.getLogger("steller_sandbox.callbacks")


async def deliver_callback(
    url: str,
    body: dict[str, Any],
    *,
    timeout_seconds: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """POST ``body`` once; failures are swallowed and logged. Returns a log entry."""
    entry: dict[str, Any] = {"url": url, "body": body, "status_code": None, "error": None}
    try:
        async with httpx.AsyncClient(transport=transport, timeout=timeout_seconds) as client:
            response = await client.post(url, json=body)
        entry["status_code"] = response.status_code
    except httpx.HTTPError as exc:
        entry["error"] = repr(exc)
        log.warning("callback to %s for order %s failed: %r", url, body.get("requestId"), exc)
    return entry
