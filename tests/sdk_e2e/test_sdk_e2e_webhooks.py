"""Webhook signatures across implementations, on what the server really sends.

tests/sdk/test_webhooks.py already checks ``steller.webhooks`` against the ``standardwebhooks``
library on synthetic payloads in both directions. Added here: deliveries signed by the running
server during a secret rotation (two ``v1`` signatures) verify with either secret in both
libraries, and re-signing the received bytes with the SDK reproduces the server's header
exactly; and non-ASCII bodies (signed as UTF-8 bytes) interoperate both ways.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError as StandardVerificationError

import steller
from steller import webhooks
from steller_server.sandbox_mode import Sandbox
from tests.sdk_e2e.sdk_e2e_support import PortalServer
from tests.server.webhooks.webhook_support import Received, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


def delivery_of(receiver: Receiver, event_id: str, *, within: float = 15.0) -> Received:
    cond: threading.Condition = receiver._cond
    with cond:
        assert cond.wait_for(
            lambda: any(event_id.encode() in r.body for r in receiver.requests), within
        )
    return next(r for r in receiver.requests if event_id.encode() in r.body)


def test_server_deliveries_during_a_rotation_verify_in_both_libraries(
    sync_server: PortalServer, sandbox: Sandbox, receiver: Receiver
) -> None:
    assert sandbox.demo is not None
    with steller.Steller(api_key=sandbox.demo.api_key, http_client=sync_server.http) as client:
        endpoint = client.webhook.update(url=receiver.url(), event_types=["webhook.test"])
        old = endpoint.secret
        assert old is not None
        new = client.webhook.rotate_secret(grace_period_hours=1).secret
        assert new != old
        assert client.webhook.get().secret_rotation_ends_at is not None
        event = client.webhook.test()

    received = delivery_of(receiver, event.id)
    body, headers = received.body, received.headers
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(s.startswith("v1,") for s in signatures)

    for secret in (new, old):
        payload = StandardWebhook(secret).verify(body, headers)
        assert payload["id"] == event.id
        assert payload["type"] == "webhook.test"
        assert webhooks.verify(body, headers, secret=secret).id == event.id
    assert webhooks.verify(body, headers, secret=[new, old]).type == "webhook.test"

    stranger = webhooks.generate_secret()
    with pytest.raises(StandardVerificationError):
        StandardWebhook(stranger).verify(body, headers)
    with pytest.raises(webhooks.WebhookSignatureError):
        webhooks.verify(body, headers, secret=stranger)

    # The SDK's signer, given the same message id and timestamp, writes the server's header.
    again = webhooks.sign(
        body,
        [new, old],
        msg_id=headers["webhook-id"],
        timestamp=int(headers["webhook-timestamp"]),
    )
    assert set(again["webhook-signature"].split(" ")) == set(signatures)


BODY_UTF8 = json.dumps(
    {"id": "evt_ü", "type": "order.completed", "data": {"note": "Café ✓ — 東京 🎁"}},
    ensure_ascii=False,
).encode()


def test_non_ascii_bodies_interoperate_both_ways() -> None:
    secret = webhooks.generate_secret()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    ours = webhooks.sign(BODY_UTF8, secret, msg_id="msg_u", timestamp=now)
    assert StandardWebhook(secret).verify(BODY_UTF8, ours)["data"]["note"] == "Café ✓ — 東京 🎁"

    theirs = {
        "webhook-id": "msg_u",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": StandardWebhook(secret).sign("msg_u", now, BODY_UTF8.decode()),
    }
    assert theirs["webhook-signature"] == ours["webhook-signature"]
    assert webhooks.verify(BODY_UTF8, theirs, secret=secret).id == "evt_ü"
