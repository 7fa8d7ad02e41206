"""Bamboo's integration endpoints. Each handler parses, asks the Simulator, and renders."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from steller_sandbox.catalog import CATEGORIES
from steller_sandbox.config import Credential, Environment
from steller_sandbox.ratelimit import wait_message
from steller_sandbox.state import RateLimited, Rejected, Simulator, Unavailable
from steller_sandbox.views import brand_json, order_json, order_report_rows, transaction_json
from steller_sandbox.wire import BambooJSONResponse, message

__all__ = ["vendor_routes"]

Handler = Callable[[Request, Simulator, Credential], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _authenticate(request: Request, sim: Simulator) -> Credential | Response:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    unauthorized = BambooJSONResponse(
        {"message": "Authorization has been denied for this request."},
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="Bamboo"'},
    )
    if scheme.lower() != "basic" or not encoded:
        return unauthorized
    try:
        client_id, sep, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return unauthorized
    cred = sim.config.credential(client_id)
    if not sep or cred is None or cred.client_secret != secret:
        return unauthorized
    if not cred.has_access:
        return BambooJSONResponse(
            {"error": "The client is not allowed to access this resource."}, status_code=403
        )
    return cred


def _too_many(seconds: int) -> Response:
    return BambooJSONResponse({"message": wait_message(seconds)}, status_code=429)


def vendor_endpoint(name: str, handler: Handler) -> Endpoint:
    """Wrap a handler with auth, lazy lifecycle, chaos faults, rate limits and error mapping."""

    async def endpoint(request: Request) -> Response:
        sim: Simulator = request.app.state.simulator
        arrived = sim.now()
        cred = _authenticate(request, sim)
        if isinstance(cred, Response):
            return cred
        response = await _guarded(request, sim, cred, name, handler)
        sim.record_request(cred.client_id, name, arrived, response.status_code)
        return response

    return endpoint


async def _guarded(
    request: Request, sim: Simulator, cred: Credential, name: str, handler: Handler
) -> Response:
    sim.deliver_later(sim.advance())
    fault = sim.draw_fault()
    if fault == "429":
        return _too_many(sim.faults.burst_429_seconds)
    if fault == "error":
        return message("ServiceUnavailable", sim.faults.error_status)
    wait = sim.check_limit(cred.client_id, name)
    if wait is not None:
        return _too_many(wait)
    if fault == "timeout" and name != "checkout":
        await asyncio.sleep(sim.config.timeout_hang_seconds)
    request.state.forced_timeout = fault == "timeout"
    try:
        return await handler(request, sim, cred)
    except Rejected as exc:
        return message(exc.reason)
    except RateLimited as exc:
        return _too_many(exc.seconds)
    except Unavailable as exc:
        return message("ServiceUnavailable", exc.status_code)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = _param(request, name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise Rejected(f"Invalid{name}") from None


def _param(request: Request, name: str) -> str | None:
    """Query parameters are matched case-insensitively, like ASP.NET model binding."""
    wanted = name.lower()
    return next((v for k, v in request.query_params.multi_items() if k.lower() == wanted), None)


async def catalog_v2(request: Request, sim: Simulator, cred: Credential) -> Response:
    page_size = _int_param(request, "PageSize", 100)
    page_index = _int_param(request, "PageIndex", 0)
    if page_size < 1 or page_index < 0:
        raise Rejected("InvalidPaging")
    currency = (_param(request, "CurrencyCode") or "").upper()
    country = (_param(request, "CountryCode") or "").upper()
    name = (_param(request, "Name") or "").lower()
    brand_id = _param(request, "BrandId") or ""
    product_id = _int_param(request, "ProductId", 0)
    target = (_param(request, "TargetCurrency") or "").upper() or None
    if target and target not in sim.config.usd_rates:
        raise Rejected("InvalidTargetCurrency")
    modified_raw = _param(request, "ModifiedDate")
    try:
        since = datetime.fromisoformat(modified_raw) if modified_raw else None
    except ValueError:
        raise Rejected("InvalidModifiedDate") from None
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    items: list[dict[str, Any]] = []
    brands = sim.catalog.brands if cred.catalog_exists else []
    for brand in brands:
        products = brand.products
        if currency and brand.currency != currency:
            continue
        if country and brand.country != country:
            continue
        if name and name not in brand.name.lower():
            continue
        if brand_id and brand.internal_id != brand_id:
            continue
        if product_id:
            products = [p for p in products if p.id == product_id]
            if not products:
                continue
        if since is not None and max([brand.modified, *(p.modified for p in products)]) < since:
            continue
        items.append(brand_json(sim, brand, products=products, target_currency=target))
    start = page_index * page_size
    return BambooJSONResponse(
        {
            "pageIndex": page_index,
            "pageSize": page_size,
            "count": len(items),
            "items": items[start : start + page_size],
        }
    )


async def catalog_v1(_request: Request, sim: Simulator, cred: Credential) -> Response:
    brands = sim.catalog.brands if cred.catalog_exists else []
    return BambooJSONResponse({"brands": [brand_json(sim, b) for b in brands]})


async def categories(_request: Request, _sim: Simulator, _cred: Credential) -> Response:
    return BambooJSONResponse(
        [{"id": c.id, "name": c.name, "description": c.description} for c in CATEGORIES]
    )


async def accounts(_request: Request, sim: Simulator, cred: Credential) -> Response:
    return BambooJSONResponse(
        {
            "accounts": [
                {
                    "id": a.id,
                    "currency": a.currency,
                    "balance": a.balance.quantize(Decimal("0.0001")),
                    "isActive": a.is_active,
                    "sandboxMode": a.environment is Environment.SANDBOX,
                }
                for a in sim.accounts_for(cred)
            ]
        }
    )


async def checkout(request: Request, sim: Simulator, cred: Credential) -> Response:
    try:
        body = json.loads(await request.body(), parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise Rejected("InvalidRequest") from None
    accepted = sim.checkout(cred, body, forced_timeout=request.state.forced_timeout)
    if accepted.hang_seconds:
        # The order exists and is charged; the caller just never hears back in time.
        await asyncio.sleep(accepted.hang_seconds)
    return BambooJSONResponse(accepted.request_id)


async def get_order(request: Request, sim: Simulator, cred: Credential) -> Response:
    try:
        key = str(uuid.UUID(request.path_params["request_id"]))
    except ValueError:
        return message("OrderNotFound", 404)
    order = sim.orders.get((cred.client_name, cred.environment, key))
    if order is None:
        # Bamboo does not document this case; the simulator answers 404 with the table's code.
        return message("OrderNotFound", 404)
    return BambooJSONResponse(order_json(sim, order, sim.now()))


async def exchange_rates(request: Request, sim: Simulator, _cred: Credential) -> Response:
    base = (_param(request, "baseCurrency") or "USD").upper()
    only = (_param(request, "currency") or "").upper()
    known = sim.config.usd_rates
    if base not in known or (only and only not in known):
        raise Rejected("InvalidCurrency")
    currencies = [only] if only else [c for c in known if c != base]
    return BambooJSONResponse(
        {
            "baseCurrencyCode": base,
            "rates": [{"currencyCode": c, "value": sim.rate(base, c)} for c in currencies],
        }
    )


def _window(request: Request) -> tuple[datetime, datetime]:
    try:
        start = date.fromisoformat(_param(request, "startDate") or "")
        end = date.fromisoformat(_param(request, "endDate") or "")
    except ValueError:
        raise Rejected("InvalidDateRange") from None
    if end < start:
        raise Rejected("InvalidDateRange")
    first = datetime.combine(start, time.min, tzinfo=UTC)
    last = datetime.combine(end, time.min, tzinfo=UTC) + timedelta(days=1)
    return first, last


def _report_window_json(first: datetime, last: datetime) -> dict[str, str]:
    return {
        "startDate": f"{first:%Y-%m-%d}T00:00:00",
        "endDate": f"{last - timedelta(days=1):%Y-%m-%d}T23:59:59",
    }


async def transactions(request: Request, sim: Simulator, cred: Credential) -> Response:
    first, last = _window(request)
    rows = [
        transaction_json(sim, tx)
        for tx in list(sim.transactions)
        if tx.order.client_name == cred.client_name
        and tx.order.environment == cred.environment
        and first <= tx.date < last
    ]
    return BambooJSONResponse(
        {
            **_report_window_json(first, last),
            "clients": [{"clientName": cred.client_name, "transactions": rows}],
        }
    )


async def orders_report(request: Request, sim: Simulator, cred: Credential) -> Response:
    first, last = _window(request)
    now = sim.now()
    rows: list[dict[str, Any]] = []
    for order in list(sim.orders.values()):
        mine = order.client_name == cred.client_name and order.environment == cred.environment
        if mine and first <= order.created < last:
            rows.extend(order_report_rows(order, now))
    return BambooJSONResponse(rows)


NOTIFICATION_KEYS = ("notificationUrl", "notificationUrlSandbox", "secretKey")


async def set_notification(request: Request, sim: Simulator, cred: Credential) -> Response:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise Rejected("InvalidRequest") from None
    if not isinstance(body, dict):
        raise Rejected("InvalidRequest")
    lowered = {str(k).lower(): v for k, v in body.items()}
    config = sim.client(cred.client_name).notification
    for key in NOTIFICATION_KEYS:
        value = lowered.get(key.lower())
        config[key] = "" if value is None else str(value)
    return BambooJSONResponse(dict(config))


async def get_notification(_request: Request, sim: Simulator, cred: Credential) -> Response:
    return BambooJSONResponse(dict(sim.client(cred.client_name).notification))


def vendor_routes() -> list[Route]:
    """Routes on normalised paths (lower case, ``v1`` rewritten to ``v1.0``)."""
    base = "/api/integration"
    return [
        Route(f"{base}/v2.0/catalog", vendor_endpoint("catalog", catalog_v2)),
        Route(f"{base}/v1.0/catalog", vendor_endpoint("catalog_v1", catalog_v1)),
        Route(f"{base}/v2.0/categories", vendor_endpoint("categories", categories)),
        Route(f"{base}/v1.0/accounts", vendor_endpoint("accounts", accounts)),
        Route(
            f"{base}/v1.0/orders/checkout",
            vendor_endpoint("checkout", checkout),
            methods=["POST"],
        ),
        Route(f"{base}/v1.0/orders/{{request_id}}", vendor_endpoint("get_order", get_order)),
        Route(f"{base}/v1.0/exchange-rates", vendor_endpoint("exchange_rates", exchange_rates)),
        Route(f"{base}/v1.0/transactions", vendor_endpoint("transactions", transactions)),
        Route(f"{base}/v1.0/orders", vendor_endpoint("orders_report", orders_report)),
        Route(
            f"{base}/v1.0/notification",
            vendor_endpoint("notification", set_notification),
            methods=["POST"],
        ),
        Route(
            f"{base}/v1.0/notification",
            vendor_endpoint("notification", get_notification),
            methods=["GET"],
        ),
    ]
