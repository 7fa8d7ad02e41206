"""Helpers for the webhook tests: a loopback HTTP receiver, orders driven through the domain, and
contract checks of delivery bodies."""

from __future__ import annotations

import functools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jsonschema import Draft202012Validator

from steller_server.api.contract import Contract
from steller_server.db.engine import Database
from steller_server.domain import orders
from steller_server.domain.crypto import Cipher
from steller_server.domain.models import Card, Order, Partner
from steller_server.settings import Settings

HANG = "hang"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A threaded HTTP server on 127.0.0.1. ``plan`` holds the answers to give, in order (a status
    code, ``HANG`` to block until closed, or ``(302, "/elsewhere")`` for a redirect); once it is
    used up every request gets ``default``. Every request is recorded before it is answered."""

    default: int = 204
    plan: list[Any] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with owner._cond:
                    owner.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    answer = owner.plan.pop(0) if owner.plan else owner.default
                    owner._cond.notify_all()
                if answer == HANG:
                    owner._release.wait(30)
                    return
                if isinstance(answer, tuple):
                    self.send_response(answer[0])
                    self.send_header("Location", answer[1])
                else:
                    self.send_response(int(answer))
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait (bounded) until ``count`` requests arrived; True if they did."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= count, timeout)

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()


async def place_order(
    database: Database,
    settings: Settings,
    partner: Partner,
    sku: str = "AMAZON-US-50",
    face_value: str = "50.00",
    quantity: int = 1,
    reference: str | None = None,
    now: datetime | None = None,
) -> Order:
    order, created = await orders.place_order(
        database,
        partner=partner,
        sku=sku,
        face_value=Decimal(face_value),
        quantity=quantity,
        reference_id=reference or f"ref-{secrets.token_hex(6)}",
        request_hash=orders.order_request_hash(
            sku=sku, face_value=Decimal(face_value), quantity=quantity, expected_total=None
        ),
        actor=f"partner:{partner.id}",
        order_fee=settings.order_fee,
        now=now,
    )
    assert created
    return order


async def complete(
    database: Database, settings: Settings, order: Order, now: datetime | None = None
) -> Order:
    """End the order as the fulfilment worker would: every card delivered."""
    cipher = Cipher(settings.effective_secret_key, purpose="cards")
    cards = [Card(serial_number=f"SN{i}", code=f"CODE-{i}") for i in range(order.quantity)]
    async with database.write() as conn:
        return await orders.complete_order(
            conn, order_id=order.id, cards=cards, cipher=cipher, now=now
        )


@functools.cache
def _contract() -> Contract:
    return Contract.load()


def schema_errors(value: Any, schema_name: str) -> list[str]:
    """Where ``value`` violates ``#/components/schemas/<schema_name>`` (empty when it conforms)."""
    contract = _contract()
    schema = contract._rebase({"$ref": f"#/components/schemas/{schema_name}"})
    validator = Draft202012Validator(
        schema, registry=contract._registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)
    ]
