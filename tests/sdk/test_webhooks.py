"""Webhook verification and signing (steller/webhooks.py), per Standard Webhooks, including
interoperability with the reference ``standardwebhooks`` library in both directions."""

from __future__ import annotations

import ast
import base64
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from steller import _errors, webhooks
from steller.webhooks import (
    WebhookEvent,
    WebhookMissingHeaderError,
    WebhookSignatureError,
    WebhookTimestampError,
    WebhookVerificationError,
    WebhookVerifier,
    generate_secret,
    sign,
    verify,
)

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
NOW = 1_700_000_000
EVENT = {
    "id": "evt_1",
    "type": "order.completed",
    "timestamp": "2023-11-14T22:13:20Z",
    "data": {"id": "ord_1", "status": "completed", "total": "52.50"},
}
BODY = json.dumps(EVENT).encode()


def signed(body: bytes = BODY, secret: str | list[str] = SECRET, ts: int = NOW) -> dict[str, str]:
    return sign(body, secret, msg_id="msg_1", timestamp=ts)


def test_a_valid_delivery_verifies_and_gives_the_event():
    event = verify(BODY, signed(), SECRET, now=NOW)
    assert event == WebhookEvent(
        id="evt_1",
        type="order.completed",
        timestamp=dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC),
        data={"id": "ord_1", "status": "completed", "total": "52.50"},
        raw=EVENT,
    )


def test_a_str_payload_is_verified_as_its_utf8_bytes():
    body = json.dumps({**EVENT, "data": {"brand": "Café"}}, ensure_ascii=False)
    headers = signed(body.encode())
    assert verify(body, headers, SECRET, now=NOW).data == {"brand": "Café"}


def test_a_parsed_dict_is_refused_because_its_bytes_are_lost():
    with pytest.raises(TypeError, match="raw request body"):
        verify(EVENT, signed(), SECRET, now=NOW)  # type: ignore[arg-type]


def test_header_names_are_matched_case_insensitively():
    headers = {k.title(): v for k, v in signed().items()}
    assert "Webhook-Signature" in headers
    assert verify(BODY, headers, SECRET, now=NOW).id == "evt_1"


def test_a_tampered_body_is_rejected():
    tampered = BODY.replace(b"52.50", b"99.99")
    with pytest.raises(WebhookSignatureError):
        verify(tampered, signed(), SECRET, now=NOW)


def test_a_wrong_secret_is_rejected():
    with pytest.raises(WebhookSignatureError):
        verify(BODY, signed(), OTHER_SECRET, now=NOW)


def test_a_changed_id_or_timestamp_breaks_the_signature():
    headers = signed()
    with pytest.raises(WebhookSignatureError):
        verify(BODY, {**headers, "webhook-id": "msg_2"}, SECRET, now=NOW)
    with pytest.raises(WebhookSignatureError):
        verify(BODY, {**headers, "webhook-timestamp": str(NOW + 1)}, SECRET, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301, -10_000, 10_000])
def test_timestamps_outside_the_tolerance_are_rejected_both_ways(offset):
    headers = signed(ts=NOW + offset)
    with pytest.raises(WebhookTimestampError, match="too old" if offset < 0 else "future"):
        verify(BODY, headers, SECRET, now=NOW)


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_within_the_tolerance_are_accepted(offset):
    assert verify(BODY, signed(ts=NOW + offset), SECRET, now=NOW).id == "evt_1"


def test_tolerance_and_now_are_configurable():
    headers = signed(ts=NOW - 100)
    with pytest.raises(WebhookTimestampError):
        verify(BODY, headers, SECRET, tolerance=60, now=NOW)
    now_dt = dt.datetime.fromtimestamp(NOW, tz=dt.UTC)
    assert verify(BODY, headers, SECRET, now=now_dt).id == "evt_1"


@pytest.mark.parametrize(
    "value", ["abc", "17e8", "-5", "1700000000.5", "\u0661\u0667" + "\u0660" * 8]
)
def test_a_malformed_timestamp_is_rejected(value):
    with pytest.raises(WebhookTimestampError):
        verify(BODY, {**signed(), "webhook-timestamp": value}, SECRET, now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_named(missing):
    headers = {k: v for k, v in signed().items() if k != missing}
    with pytest.raises(WebhookMissingHeaderError, match=missing):
        verify(BODY, headers, SECRET, now=NOW)
    with pytest.raises(WebhookMissingHeaderError):
        verify(BODY, {**signed(), missing: "  "}, SECRET, now=NOW)


def test_several_secrets_are_accepted_during_rotation():
    old_signed = signed(secret=OTHER_SECRET)
    new_signed = signed(secret=SECRET)
    for headers in (old_signed, new_signed):
        assert verify(BODY, headers, [SECRET, OTHER_SECRET], now=NOW).id == "evt_1"


def test_sign_with_several_secrets_sends_one_signature_per_secret():
    headers = signed(secret=[SECRET, OTHER_SECRET])
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify(BODY, headers, OTHER_SECRET, now=NOW).id == "evt_1"
    assert verify(BODY, headers, SECRET, now=NOW).id == "evt_1"


def test_malformed_signature_entries_are_skipped():
    good = signed()["webhook-signature"]
    noisy = f"garbage v1 v2,abc v1a,{good[3:]} v1,!!!not-base64 ,, {good}"
    assert verify(BODY, {**signed(), "webhook-signature": noisy}, SECRET, now=NOW).id == "evt_1"


def test_a_signature_header_without_any_v1_entry_is_rejected():
    with pytest.raises(WebhookSignatureError, match="no v1"):
        verify(BODY, {**signed(), "webhook-signature": "v2,abc garbage"}, SECRET, now=NOW)


def test_the_event_id_falls_back_to_the_webhook_id_header():
    body = json.dumps({"type": "webhook.test", "data": {}}).encode()
    event = verify(body, signed(body), SECRET, now=NOW)
    assert event.id == "msg_1"
    assert event.timestamp == dt.datetime.fromtimestamp(NOW, tz=dt.UTC)


def test_a_verified_but_non_object_payload_is_a_verification_error():
    body = b"[1, 2]"
    with pytest.raises(WebhookVerificationError, match="not a JSON object"):
        verify(body, signed(body), SECRET, now=NOW)


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_not base64!", []])
def test_an_invalid_secret_is_a_configuration_error(bad):
    with pytest.raises(ValueError, match="secret"):
        verify(BODY, signed(), bad, now=NOW)


def test_a_secret_without_prefix_or_padding_is_accepted():
    raw = SECRET.removeprefix("whsec_")
    assert verify(BODY, signed(), raw, now=NOW).id == "evt_1"
    unpadded = "whsec_" + base64.b64encode(b"x" * 25).decode().rstrip("=")
    headers = sign(BODY, unpadded, msg_id="m", timestamp=NOW)
    assert verify(BODY, headers, unpadded, now=NOW).id == "evt_1"


def test_generate_secret_gives_a_whsec_secret_of_32_random_bytes():
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert generate_secret() != secret
    assert len(base64.b64decode(generate_secret(24)[6:])) == 24
    with pytest.raises(ValueError, match="between 24 and 64"):
        generate_secret(8)


def test_sign_accepts_a_datetime_timestamp():
    when = dt.datetime.fromtimestamp(NOW, tz=dt.UTC)
    assert sign(BODY, SECRET, msg_id="m", timestamp=when) == sign(
        BODY, SECRET, msg_id="m", timestamp=NOW
    )


def test_a_verifier_decodes_secrets_once_and_verifies_many():
    verifier = WebhookVerifier([OTHER_SECRET, SECRET], tolerance=300)
    assert verifier.verify(BODY, signed(), now=NOW).type == "order.completed"


# -- interoperability with the standardwebhooks library -----------------------------------------


def test_deliveries_signed_by_standardwebhooks_verify_here():
    wh = Webhook(SECRET)
    now = dt.datetime.now(tz=dt.UTC)
    headers = {
        "webhook-id": "msg_x",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": wh.sign("msg_x", now, BODY.decode()),
    }
    assert verify(BODY, headers, SECRET).id == "evt_1"


def test_deliveries_signed_here_verify_with_standardwebhooks():
    secret = generate_secret()
    now = int(dt.datetime.now(tz=dt.UTC).timestamp())
    headers = sign(BODY, [generate_secret(), secret], msg_id="msg_y", timestamp=now)
    assert Webhook(secret).verify(BODY, headers) == EVENT


def test_both_libraries_produce_identical_signatures():
    when = dt.datetime.fromtimestamp(NOW, tz=dt.UTC)
    theirs = Webhook(SECRET).sign("msg_1", when, BODY.decode())
    assert signed()["webhook-signature"] == theirs


def test_webhooks_module_imports_only_stdlib_and_attrs():
    """The server signs deliveries with this module, so it must stay dependency-free."""
    tree = ast.parse(Path(webhooks.__file__).read_text(encoding="utf-8"))
    absolute: set[str] = set()
    relative: list[str | None] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            absolute.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                relative.append(node.module)
            elif node.module != "__future__":
                absolute.add((node.module or "").split(".")[0])
    assert absolute - set(sys.stdlib_module_names) == {"attrs"}
    assert relative == ["_errors"]


def test_errors_module_loads_without_httpx():
    """``steller._errors`` (which webhooks.py builds on) is stdlib-only at run time."""
    script = (
        "import sys, importlib.util\n"
        "sys.modules['httpx'] = None  # any import of httpx now fails\n"
        f"spec = importlib.util.spec_from_file_location('errs', {_errors.__file__!r})\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mod)\n"
        "assert issubclass(mod.APIStatusError, mod.StellerError)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
