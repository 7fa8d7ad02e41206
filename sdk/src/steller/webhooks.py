"""Verify (and sign) Steller webhooks, per the Standard Webhooks specification.

Each delivery carries three headers: ``webhook-id`` (the message id, the same on every retry of
a delivery), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: space-separated
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` entries, one per active secret during a
rotation. Secrets look like ``whsec_<base64>``.

Verify the **raw body bytes**, before any JSON parsing (re-serialising changes the bytes)::

    from steller import webhooks

    @app.post("/steller/webhooks")
    async def receive(request):
        try:
            event = webhooks.verify(await request.body(), request.headers, secret=SECRET)
        except webhooks.WebhookVerificationError:
            return Response(status_code=400)
        if event.type == "order.completed":
            ...
        return Response(status_code=204)

Deliveries are at least once: use ``event.id`` to ignore duplicates. During a secret rotation
pass both secrets: ``secret=[NEW_SECRET, OLD_SECRET]``.

This module depends on nothing but the standard library and attrs, so the Steller server
signs its deliveries with :func:`sign` from here.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import secrets as _secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._errors import StellerError

__all__ = [
    "SECRET_PREFIX",
    "WebhookEvent",
    "WebhookMissingHeaderError",
    "WebhookSignatureError",
    "WebhookTimestampError",
    "WebhookVerificationError",
    "WebhookVerifier",
    "generate_secret",
    "sign",
    "verify",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(StellerError):
    """The webhook could not be verified: answer 400 and do not process it."""


class WebhookMissingHeaderError(WebhookVerificationError):
    """A required ``webhook-*`` header is missing or empty."""


class WebhookTimestampError(WebhookVerificationError):
    """``webhook-timestamp`` is malformed, too old, or too far in the future (replay guard)."""


class WebhookSignatureError(WebhookVerificationError):
    """No ``v1`` signature in ``webhook-signature`` matches the body with any given secret."""


@attrs.frozen
class WebhookEvent:
    """A verified webhook event.

    ``id`` (``evt_…``) is stable across redeliveries: use it to deduplicate. ``type`` is e.g.
    ``"order.completed"``; ``data`` is the event's object (an order, a wallet…) as JSON;
    ``raw`` is the whole decoded payload.
    """

    id: str
    type: str
    timestamp: dt.datetime
    data: dict[str, Any]
    raw: dict[str, Any] = attrs.field(repr=False)


def _decode_secret(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret:
        msg = "a webhook secret must be a non-empty string like 'whsec_…'"
        raise ValueError(msg)
    body = secret.removeprefix(SECRET_PREFIX)
    body += "=" * (-len(body) % 4)  # tolerate unpadded base64, as other implementations do
    try:
        key = base64.b64decode(body, validate=True)
    except binascii.Error:
        msg = "a webhook secret must be 'whsec_' followed by base64"
        raise ValueError(msg) from None
    if not key:
        msg = "a webhook secret must not be empty"
        raise ValueError(msg)
    return key


def _keys(secret: str | Sequence[str]) -> tuple[bytes, ...]:
    if isinstance(secret, str):
        return (_decode_secret(secret),)
    keys = tuple(_decode_secret(s) for s in secret)
    if not keys:
        msg = "at least one webhook secret is required"
        raise ValueError(msg)
    return keys


def _as_bytes(payload: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, bytearray | memoryview):
        return bytes(payload)
    msg = (
        f"the webhook payload must be the raw request body (bytes or str), not "
        f"{type(payload).__name__}: parsed JSON cannot be verified"
    )
    raise TypeError(msg)


def _signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    # hmac.digest is the one-shot C implementation: several times faster than hmac.new().
    return base64.b64encode(hmac.digest(key, f"{msg_id}.{timestamp}.".encode() + body, "sha256"))


class WebhookVerifier:
    """Verifies webhooks with secrets decoded once; :func:`verify` is the one-shot form.

    ::

        verifier = WebhookVerifier([NEW_SECRET, OLD_SECRET])
        event = verifier.verify(body, headers)
    """

    def __init__(self, secret: str | Sequence[str], *, tolerance: int = DEFAULT_TOLERANCE) -> None:
        self._keys = _keys(secret)
        self.tolerance = tolerance

    def verify(
        self,
        payload: bytes | str,
        headers: Mapping[str, str],
        *,
        now: float | dt.datetime | None = None,
    ) -> WebhookEvent:
        """Check headers, timestamp and signature; return the event. See :func:`verify`."""
        body = _as_bytes(payload)
        msg_id, timestamp, signatures = _required_headers(headers)
        sent_at = _check_timestamp(timestamp, now, self.tolerance)
        candidates = [
            entry[3:].encode() for entry in signatures.split(" ") if entry.startswith("v1,")
        ]
        if not candidates:
            msg = "webhook-signature holds no v1 signature"
            raise WebhookSignatureError(msg)
        for key in self._keys:
            expected = _signature(key, msg_id, timestamp, body)
            for candidate in candidates:
                if hmac.compare_digest(expected, candidate):
                    return _event(body, msg_id, sent_at)
        msg = "no webhook signature matches the payload and secret"
        raise WebhookSignatureError(msg)


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | dt.datetime | None = None,
) -> WebhookEvent:
    """Verify a webhook delivery and return its :class:`WebhookEvent`.

    Args:
        payload: the raw request body, as received (``str`` is encoded as UTF-8). A parsed
            ``dict`` is refused with ``TypeError``: its bytes cannot be reconstructed.
        headers: the request headers; names are matched case-insensitively.
        secret: the endpoint secret (``whsec_…``), or several during a rotation.
        tolerance: how many seconds the timestamp may differ from ``now``, either way.
        now: the current time (Unix seconds or an aware datetime); for tests.

    Raises:
        WebhookMissingHeaderError, WebhookTimestampError, WebhookSignatureError: all subclasses
            of :class:`WebhookVerificationError`.
        ValueError: a secret is not ``whsec_`` + base64.
    """
    return WebhookVerifier(secret, tolerance=tolerance).verify(payload, headers, now=now)


def sign(
    payload: bytes | str,
    secret: str | Sequence[str],
    *,
    msg_id: str,
    timestamp: int | dt.datetime,
) -> dict[str, str]:
    """The Standard Webhooks headers for ``payload``: one ``v1`` signature per secret.

    ::

        headers = sign(body, secret, msg_id="msg_1", timestamp=int(time.time()))
        # {"webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": "v1,…"}
    """
    ts = str(int(timestamp.timestamp()) if isinstance(timestamp, dt.datetime) else int(timestamp))
    body = _as_bytes(payload)
    signatures = " ".join(
        "v1," + _signature(key, msg_id, ts, body).decode() for key in _keys(secret)
    )
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": signatures}


def generate_secret(nbytes: int = 32) -> str:
    """A new endpoint secret: ``whsec_`` + base64 of ``nbytes`` (24 to 64) random bytes."""
    if not 24 <= nbytes <= 64:
        msg = f"nbytes must be between 24 and 64, got {nbytes}"
        raise ValueError(msg)
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(nbytes)).decode()


_HEADER_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")


def _required_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    # Fast path: frameworks usually hand over lower-case (or case-insensitive) headers.
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if msg_id is None or timestamp is None or signatures is None:
        lowered = {name.lower(): value for name, value in headers.items()}
        msg_id = lowered.get("webhook-id")
        timestamp = lowered.get("webhook-timestamp")
        signatures = lowered.get("webhook-signature")
    msg_id = (msg_id or "").strip()
    timestamp = (timestamp or "").strip()
    signatures = (signatures or "").strip()
    if not (msg_id and timestamp and signatures):
        name = next(
            n for n, v in zip(_HEADER_NAMES, (msg_id, timestamp, signatures), strict=True) if not v
        )
        msg = f"missing required header {name}"
        raise WebhookMissingHeaderError(msg)
    return msg_id, timestamp, signatures


def _check_timestamp(value: str, now: float | dt.datetime | None, tolerance: int) -> int:
    if not value.isascii() or not value.isdigit():
        msg = f"webhook-timestamp is not a Unix time in seconds: {value[:32]!r}"
        raise WebhookTimestampError(msg)
    sent = int(value)
    if now is None:
        current = time.time()
    elif isinstance(now, dt.datetime):
        current = now.timestamp()
    else:
        current = float(now)
    if current - sent > tolerance:
        msg = f"webhook-timestamp is too old ({int(current - sent)} s > {tolerance} s)"
        raise WebhookTimestampError(msg)
    if sent - current > tolerance:
        ahead = int(sent - current)
        msg = f"webhook-timestamp is too far in the future ({ahead} s > {tolerance} s)"
        raise WebhookTimestampError(msg)
    return sent


def _event(body: bytes, msg_id: str, sent_at: int) -> WebhookEvent:
    try:
        raw = json.loads(body)
    except ValueError:
        msg = "the webhook payload is not valid JSON"
        raise WebhookVerificationError(msg) from None
    if not isinstance(raw, dict):
        msg = "the webhook payload is not a JSON object"
        raise WebhookVerificationError(msg)
    data = raw.get("data")
    return WebhookEvent(
        id=str(raw.get("id") or msg_id),
        type=str(raw.get("type") or ""),
        timestamp=_event_time(raw.get("timestamp"), sent_at),
        data=data if isinstance(data, dict) else {},
        raw=raw,
    )


def _event_time(value: object, fallback: int) -> dt.datetime:
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(fallback, tz=dt.UTC)
