"""Observability fixtures: the real app over ASGI on the jobs tests' manual clock, with the
in-process Bamboo simulator as its vendor, a worker, a loopback SMTP server (aiosmtpd), and a
log capture through the production handler (JSON, redacting).

    async def test_x(obs_api, obs_worker, shop, smtp, log_capture): ...
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from steller_server.api.contract import Contract
from steller_server.api.state import AppState
from steller_server.app import create_app
from steller_server.db.engine import Database
from steller_server.jobs.worker import Worker
from steller_server.observability import logging as obs_logging
from steller_server.settings import Settings
from steller_server.vendor import BambooClient
from tests.server.api.admin_kit import cheap_password_hashing
from tests.server.api.conftest import admin_token, bounded, partner_key
from tests.server.jobs.conftest import (
    Clocks,
    Shop,
    clocks,
    contract,
    job_settings,
    sim,
    sim_app,
    sim_config,
    vendor,
)

__all__ = [
    "admin_token",
    "cheap_password_hashing",
    "clocks",
    "contract",
    "job_settings",
    "partner_key",
    "sim",
    "sim_app",
    "sim_config",
    "vendor",
]


@pytest.fixture
def clock(clocks: Clocks) -> Clocks:
    """The api fixtures' clock is the jobs tests' manual clock (one time for everything)."""
    return clocks


@pytest.fixture
def shop(
    database: Database, obs_settings: Settings, sim: Any, clocks: Clocks, factory: Any
) -> Shop:
    return Shop(database, obs_settings, sim, clocks, factory)


@pytest.fixture
def obs_settings(job_settings: Settings) -> Settings:
    return job_settings


def build_app(
    settings: Settings, database: Database, clocks: Clocks, vendor: BambooClient, contract: Contract
) -> Any:
    async def attach(state: AppState) -> None:
        state.extras["vendor"] = vendor

    return create_app(
        settings, database=database, clock=clocks, contract=contract, on_startup=[attach]
    )


@pytest.fixture
async def obs_app(
    obs_settings: Settings,
    database: Database,
    clocks: Clocks,
    vendor: BambooClient,
    contract: Contract,
) -> AsyncIterator[Any]:
    app = build_app(obs_settings, database, clocks, vendor, contract)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        yield app
    finally:
        await bounded(lifespan.__aexit__(None, None, None), "app shutdown")


@pytest.fixture
async def obs_api(obs_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=obs_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def worker_for(database: Database, clocks: Clocks, vendor: BambooClient) -> Callable[..., Worker]:
    """``worker_for(settings, extras=…)`` → a worker on the manual clock with the simulator."""

    def make(settings: Settings, **kwargs: Any) -> Worker:
        options: dict[str, Any] = {
            "worker_id": f"obs-{secrets.token_hex(3)}",
            "vendor": vendor,
            "clock": clocks,
            "concurrency": 4,
            "poll_interval": 0.05,
        }
        options.update(kwargs)
        return Worker(database, settings, **options)

    return make


# -- SMTP ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Inbox:
    """What the loopback SMTP server received."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message}
        )
        return "250 OK"

    def texts(self) -> list[str]:
        out = []
        for item in self.messages:
            part = item["message"].get_body(preferencelist=("plain",))
            out.append(part.get_content() if part is not None else "")
        return out


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        # aiosmtpd logs each session at INFO from its own thread, into whatever handler a test
        # configured last — often a stream pytest already closed ("--- Logging error ---").
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self, settings: Settings) -> Settings:
        return settings.replace(
            smtp_host="127.0.0.1",
            smtp_port=self.port,
            smtp_tls="none",
            smtp_from="Steller <alerts@steller.test>",
        )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- logs ---------------------------------------------------------------------------------------


class LogCapture:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]


@pytest.fixture
def log_capture(obs_settings: Settings) -> Iterator[LogCapture]:
    """Every log record of the test, through the production handler (JSON, redaction filter)."""
    stream = io.StringIO()
    handler = obs_logging.build_handler(obs_settings.replace(log_format="json"), stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield LogCapture(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
