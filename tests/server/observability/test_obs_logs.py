"""Structured logs: the request id travels from the partner's request to its fulfilment job and
the vendor calls, and no key, token, webhook secret or card data is ever logged."""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
from decimal import Decimal
from typing import Any

import httpx
import pytest

from steller_server.db.engine import Database
from steller_server.domain import catalog
from steller_server.observability import logging as obs_logging
from steller_server.settings import Settings
from tests.server.observability.conftest import LogCapture
from tests.server.observability.obs_kit import place, settle

pytestmark = pytest.mark.usefixtures("sim")


async def test_a_sandbox_journey_logs_one_trace_and_no_secret(
    obs_api: httpx.AsyncClient,
    shop: Any,
    admin_token: Any,
    worker_for: Any,
    obs_settings: Settings,
    log_capture: LogCapture,
    database: Database,
) -> None:
    await shop.products("SIM-US-VAR")
    signup = await obs_api.post(
        "/api/public/signup", json={"name": "Logco", "email": "ops@logco.test"}
    )
    assert signup.status_code == 201, signup.text
    partner_id = signup.json()["partner"]["id"]
    key = signup.json()["apiKey"]["key"]
    async with database.write() as conn:
        await catalog.approve_products(
            conn,
            partner_id=partner_id,
            actor="admin:usr_test",
            items=[catalog.ApprovalItem(sku="SIM-US-VAR", discount_percent=Decimal("-5"))],
            order_fee=obs_settings.order_fee,
        )
    trace = f"req_trace_{secrets.token_hex(6)}"

    order = await place(obs_api, key, "SIM-US-VAR", "25.00", quantity=2, request_id=trace)
    done = await settle(worker_for(obs_settings), shop, order["id"])
    assert done.status == "completed"
    detail = await obs_api.get(f"/api/orders/{order['id']}", headers={"x-api-key": key})
    cards = detail.json()["cards"]
    assert len(cards) == 2
    card_secrets = [c[f] for c in cards for f in ("code", "serialNumber") if c.get(f)]
    assert len(card_secrets) == 4
    pins = [c["pin"] for c in cards if c.get("pin")]

    hook = await obs_api.put(
        "/api/partner/webhook",
        headers={"x-api-key": key},
        json={
            "url": "http://127.0.0.1:9/hooks",
            "enabled": True,
            "eventTypes": ["order.completed"],
        },
    )
    assert hook.status_code == 201, hook.text
    rotated_secret = await obs_api.post(
        "/api/partner/webhook/rotate-secret",
        headers={"x-api-key": key},
        json={"gracePeriodHours": 1},
    )
    assert rotated_secret.status_code == 200, rotated_secret.text
    rotated_key = await obs_api.post(
        "/api/partner/keys/rotate", headers={"x-api-key": key}, json={"gracePeriodHours": 1}
    )
    assert rotated_key.status_code in (200, 201), rotated_key.text
    token = await admin_token("admin")
    assert (
        await obs_api.get("/metrics", headers={"authorization": f"Bearer {token}"})
    ).status_code == 200
    # A failed authentication must not echo the presented credential either.
    assert (
        await obs_api.get("/api/wallet/me", headers={"x-api-key": key + "x"})
    ).status_code == 401

    text = log_capture.text
    never = [
        key,
        key + "x",
        hook.json()["secret"],
        rotated_secret.json()["secret"],
        rotated_key.json()["key"],
        token,
        *card_secrets,
        obs_settings.secret_key or "",
    ]
    assert all(secret and secret not in text for secret in never)
    # Sandbox PINs are 3 digits, so they occur in timestamps by chance: no PIN *as a PIN*.
    assert not any(re.search(rf"pin\W{{1,4}}{pin}\b", text, re.IGNORECASE) for pin in pins)

    lines = log_capture.lines()
    request_line = [
        line
        for line in lines
        if line["logger"] == "steller.http" and line.get("route") == "createOrder"
    ]
    assert len(request_line) == 1
    assert request_line[0]["request_id"] == trace
    assert request_line[0]["partner_id"] == partner_id
    assert request_line[0]["status"] == 202
    assert request_line[0]["level"] == "info"
    assert request_line[0]["latency_ms"] > 0
    assert request_line[0]["time"].endswith("Z")
    job_lines = [
        line
        for line in lines
        if line["logger"] == "steller.jobs" and line.get("job_kind") == "fulfilment"
    ]
    assert job_lines
    assert {line["request_id"] for line in job_lines} == {trace}
    assert {line["order_id"] for line in job_lines} == {order["id"]}
    assert {line["step"] for line in job_lines} == {"start", "finish"}
    vendor_lines = [
        line
        for line in lines
        if line["logger"] == "steller.vendor" and line.get("order_id") == order["id"]
    ]
    assert {line["vendor_endpoint"] for line in vendor_lines} >= {"checkout"}
    assert {line["request_id"] for line in vendor_lines} == {trace}
    assert all(line["outcome"] == "ok" for line in vendor_lines)


def test_redaction_covers_messages_arguments_fields_and_exceptions() -> None:
    stream = io.StringIO()
    settings = Settings(mode="live", secret_key="s" * 40, smtp_password="smtp-pass-123")
    handler = obs_logging.build_handler(settings, stream)
    logger = logging.getLogger("steller.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "key %s used; card code=ABCD-1234 pin: 9876",
            "stlr_live_AbCdEf123456789012345678",
            extra={
                "steller": {
                    "password": "hunter22",
                    "order_id": "ord_1",
                    "body": {"secret": "whsec_Zm9vYmFy", "ok": 1},
                }
            },
        )
        try:
            raise RuntimeError("login failed with smtp-pass-123 and Bearer abc.def.ghi")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    for secret in (
        "stlr_live_AbCd",
        "ABCD-1234",
        "9876",
        "hunter22",
        "whsec_Zm9v",
        "smtp-pass-123",
        "abc.def.ghi",
        "s" * 40,
    ):
        assert secret not in out
    first, second = (json.loads(line) for line in out.splitlines() if line.startswith("{"))
    assert first["order_id"] == "ord_1"  # ids are not secrets
    assert first["body"]["ok"] == 1
    assert first["level"] == "warning"
    assert "RuntimeError" in second["exception"]


def test_sandbox_logs_are_human_and_live_logs_are_json() -> None:
    assert Settings(mode="sandbox").effective_log_format == "human"
    assert Settings(mode="live").effective_log_format == "json"
    assert (
        Settings.from_env(
            {"STELLER_MODE": "live", "STELLER_LOG_FORMAT": "human"}
        ).effective_log_format
        == "human"
    )
    stream = io.StringIO()
    handler = obs_logging.build_handler(Settings(mode="sandbox"), stream)
    record = logging.LogRecord("steller.http", logging.INFO, __file__, 1, "GET /x 200", None, None)
    record.steller = {"request_id": "req_1"}
    handler.handle(record)
    line = stream.getvalue()
    assert not line.startswith("{")
    assert "GET /x 200" in line
    assert "request_id=req_1" in line


def test_redaction_is_case_insensitive_on_ascii_and_non_ascii_text() -> None:
    # The gate before the patterns lowers ASCII text and keeps the case-insensitive scan for the
    # rest: both must still find upper-case and mixed-case triggers.
    out = obs_logging.redact(
        {
            "note": "CODE=ABCD-1234 and BEARER abc.def.ghi",
            "café": "Ünïcode PASSWORD: hunter22",
            "nested": ({"Api-Key": "k-123456"}, 7, 1.5, None, True),
        }
    )
    text = json.dumps(out, ensure_ascii=False)
    for secret in ("ABCD-1234", "abc.def.ghi", "hunter22", "k-123456"):
        assert secret not in text
    assert out["nested"][1:] == [7, 1.5, None, True]


def test_json_time_stamps_are_utc_milliseconds() -> None:
    stream = io.StringIO()
    handler = obs_logging.build_handler(Settings(mode="live"), stream)
    for created, expected in (
        (1_700_000_000.0, "2023-11-14T22:13:20.000Z"),
        (1_700_000_000.9999996, "2023-11-14T22:13:21.000Z"),  # rounds like datetime does
        (1_160_224_115.439, "2006-10-07T12:28:35.439Z"),
    ):
        record = logging.LogRecord("steller.http", logging.INFO, __file__, 1, "x", None, None)
        record.created = created
        handler.handle(record)
        assert json.loads(stream.getvalue().splitlines()[-1])["time"] == expected
