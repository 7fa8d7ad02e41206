"""Simulator-only endpoints under ``/_sim/`` (no auth): inspect, reset, top up, inject faults.

These are not Bamboo features; never call them from production code paths.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from steller_sandbox.state import Simulator
from steller_sandbox.wire import BambooJSONResponse, message

__all__ = ["admin_routes"]


def _sim(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


async def health(_request: Request) -> Response:
    return BambooJSONResponse({"status": "ok"})


async def list_orders(request: Request) -> Response:
    sim = _sim(request)
    sim.deliver_later(sim.advance())
    now = sim.now()
    return BambooJSONResponse(
        [
            {
                "requestId": o.request_id,
                "orderId": o.order_id,
                "status": o.status_at(now),
                "clientName": o.client_name,
                "environment": o.environment.value,
                "accountId": o.account_id,
                "total": o.charged,
                "currency": o.currency,
                "totalCards": o.total_cards,
                "scenarios": sorted(s.value for s in o.scenarios),
                "checkoutAttempts": sim.checkout_attempts[str(uuid.UUID(o.request_id))],
            }
            for o in list(sim.orders.values())
        ]
    )


async def list_accounts(request: Request) -> Response:
    return BambooJSONResponse(
        [
            {
                "id": a.id,
                "currency": a.currency,
                "balance": a.balance,
                "environment": a.environment.value,
                "owner": a.owner,
                "isActive": a.is_active,
            }
            for a in _sim(request).accounts.values()
        ]
    )


async def top_up(request: Request) -> Response:
    sim = _sim(request)
    try:
        account_id = int(request.path_params["account_id"])
        body = json.loads(await request.body())
        amount = Decimal(str(body["amount"]))
    except (ValueError, KeyError, TypeError, InvalidOperation):
        return message("InvalidRequest")
    if account_id not in sim.accounts:
        return message("AccountNotFound", 404)
    account = sim.top_up(account_id, amount)
    return BambooJSONResponse({"id": account.id, "balance": account.balance})


async def faults(request: Request) -> Response:
    sim = _sim(request)
    if request.method == "POST":
        try:
            body: Any = json.loads(await request.body())
            names = {f.name for f in dataclasses.fields(sim.faults)}
            unknown = set(body) - names
            if unknown:
                return message(f"UnknownFault: {', '.join(sorted(unknown))}")
            sim.faults = dataclasses.replace(sim.faults, **body)
        except (ValueError, TypeError):
            return message("InvalidRequest")
    return BambooJSONResponse(sim.faults.to_json())


async def limits(request: Request) -> Response:
    sim = _sim(request)
    if request.method == "POST":
        try:
            body = json.loads(await request.body())
            sim.limits_enabled = bool(body["enabled"])
        except (ValueError, KeyError, TypeError):
            return message("InvalidRequest")
    return BambooJSONResponse({"enabled": sim.limits_enabled})


async def reset(request: Request) -> Response:
    _sim(request).reset()
    return BambooJSONResponse({"status": "reset"})


def admin_routes() -> list[Route]:
    return [
        Route("/_sim/health", health),
        Route("/_sim/orders", list_orders),
        Route("/_sim/accounts", list_accounts),
        Route("/_sim/accounts/{account_id}/topup", top_up, methods=["POST"]),
        Route("/_sim/faults", faults, methods=["GET", "POST"]),
        Route("/_sim/limits", limits, methods=["GET", "POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]
