"""The e2e deployment: real processes on loopback, on a throwaway PostgreSQL database and Redis.

    with deploy(tmp, postgres_url=..., redis_url=...) as d:
        d.api_url, d.sim_url, d.receiver_url
        d.kill_worker(0); d.start_worker(0)
        d.stop_receiver(); d.start_receiver()
        d.terminate_backends()

Processes, each in its own process group (``start_new_session``) with its output in a log file:

* ``steller-sandbox`` — the Bamboo simulator on its own port, its rate limits off (the client-side
  limits are off too: Bamboo's 2 checkouts/s would otherwise be the only figure measured);
* ``steller-server serve --workers 2`` — the API, two uvicorn processes;
* two ``steller-server worker --concurrency 16`` processes (lease 10 s, so a SIGKILLed worker's
  jobs come back within seconds instead of the default minute; 16 slots each, because a hung vendor
  call holds one for the client's 30 s timeout);
* ``tests/e2e/receiver.py`` — the partners' webhook endpoint.

The database ``steller_e2e_<hex>`` is created on the server of ``STELLER_TEST_POSTGRES_URL``,
migrated with ``steller-server migrate`` and dropped (``WITH (FORCE)``) afterwards. Everything is
stopped on the way out — on success, failure, Ctrl-C and SIGTERM alike.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench._common import HOST, Proc, free_port, venv_bin

REPO = Path(__file__).resolve().parents[2]
SECRET_KEY = "e2e-secret-key-0123456789abcdef0123456789abcdef"
ADMIN_EMAIL = "ops@steller.e2e"
ADMIN_PASSWORD = "e2e-admin-password-long-enough"
SIM_CLIENT_ID = "steller-sandbox"
SIM_CLIENT_SECRET = "sandbox-secret"
SIM_ACCOUNT_ID = 1001
WORKERS = 2
WORKER_LEASE_S = 10
#: Simulated time from Created to the final vendor status (ms).
VENDOR_LATENCY_MS = 300


class _Terminated(BaseException):
    """SIGTERM while the deployment runs: unwind like Ctrl-C so every process is stopped."""


@contextlib.contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A fresh database on ``server_url``'s server; dropped afterwards."""
    base = server_url.rsplit("/", 1)[0]
    name = f"steller_e2e_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Deployment:
    """Handles on the running deployment, and the faults the load phase injects."""

    database_url: str
    admin_url: str
    redis_url: str
    logs: Path
    env: dict[str, str]
    sim: Proc
    api: Proc
    receiver: Proc
    workers: list[Proc] = field(default_factory=list)
    worker_concurrency: int = 16

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api.port}"

    @property
    def sim_url(self) -> str:
        return f"http://{HOST}:{self.sim.port}"

    @property
    def receiver_url(self) -> str:
        return f"http://{HOST}:{self.receiver.port}"

    @property
    def deliveries_path(self) -> Path:
        return self.logs / "deliveries.jsonl"

    def all_procs(self) -> list[Proc]:
        return [self.sim, self.api, self.receiver, *self.workers]

    def assert_running(self) -> None:
        dead = [p.name for p in self.all_procs() if not p.alive]
        assert not dead, f"processes exited: {dead}\n{self.log_tails()}"

    def log_tails(self, lines: int = 25) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log_tail(lines)}" for p in self.all_procs())

    # -- faults ---------------------------------------------------------------------------------

    def kill_worker(self, index: int) -> None:
        self.workers[index].kill()

    def start_worker(self, index: int) -> None:
        self.workers[index].start()

    def stop_receiver(self) -> None:
        self.receiver.kill()

    def start_receiver(self) -> None:
        self.receiver.start()

    def terminate_backends(self) -> int:
        """``pg_terminate_backend`` on every connection to the app's database; how many."""
        name = self.database_url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        return sum(1 for (ok,) in rows if ok)

    def sim_faults(self, **faults: Any) -> dict[str, Any]:
        return _sim_call(self.sim_url, "POST", "/_sim/faults", faults)

    def sim_orders(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = _sim_call(self.sim_url, "GET", "/_sim/orders", None)
        return result


def _sim_call(base: str, method: str, path: str, body: Any) -> Any:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        payload = None if body is None else json.dumps(body)
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data)
    finally:
        conn.close()


def server_env(database_url: str, redis_url: str, sim_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLER_")}
    env.update(
        STELLER_DATABASE_URL=database_url, STELLER_REDIS_URL=redis_url, STELLER_MODE="sandbox",
        STELLER_SECRET_KEY=SECRET_KEY, STELLER_BAMBOO_BASE_URL=sim_url,
        STELLER_BAMBOO_CLIENT_ID=SIM_CLIENT_ID, STELLER_BAMBOO_CLIENT_SECRET=SIM_CLIENT_SECRET,
        STELLER_BAMBOO_ACCOUNT_ID=str(SIM_ACCOUNT_ID), STELLER_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )  # fmt: skip
    return env


def _run(argv: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            timeout=120, check=False, cwd=REPO,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1:3]} failed ({done.returncode}):\n{log.read_text()[-3000:]}")


def _worker_proc(env: dict[str, str], logs: Path, index: int, concurrency: int) -> Proc:
    argv = [
        venv_bin("steller-server"), "worker", "--concurrency", str(concurrency),
        "--poll-interval", "0.1", "--lease", str(WORKER_LEASE_S), "--no-vendor-limits",
    ]  # fmt: skip
    return Proc(f"worker{index}", argv, env, logs / f"worker{index}.log")


@contextlib.contextmanager
def deploy(
    logs: Path, *, postgres_url: str, redis_url: str, worker_concurrency: int = 16
) -> Iterator[Deployment]:
    """Start the whole deployment; stop everything and drop the database on the way out."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(_signo: int, _frame: Any) -> None:
        raise _Terminated("SIGTERM")

    signal.signal(signal.SIGTERM, on_sigterm)
    started: list[Proc] = []
    try:
        with throwaway_database(postgres_url) as database_url:
            sim_port = free_port()
            sim = Proc(
                "simulator",
                [venv_bin("steller-sandbox"), "--host", HOST, "--port", str(sim_port),
                 "--no-limits", "--latency-ms", str(VENDOR_LATENCY_MS), "--log-level", "warning"],
                {**os.environ, "PYTHONUNBUFFERED": "1"}, logs / "simulator.log", sim_port,
                ready_path="/_sim/health",
            )  # fmt: skip
            env = server_env(database_url, redis_url, f"http://{HOST}:{sim_port}")
            _run([venv_bin("steller-server"), "migrate"], env, logs / "migrate.log")
            _run(
                [venv_bin("steller-server"), "create-admin", "--email", ADMIN_EMAIL,
                 "--password", ADMIN_PASSWORD],
                env, logs / "migrate.log",
            )  # fmt: skip
            api_port = free_port()
            api = Proc(
                "api",
                [venv_bin("steller-server"), "serve", "--host", HOST, "--port", str(api_port),
                 "--workers", "2", "--log-level", "warning"],
                env, logs / "api.log", api_port, ready_path="/api/health",
            )  # fmt: skip
            receiver_port = free_port()
            receiver = Proc(
                "receiver",
                [sys.executable, str(Path(__file__).with_name("receiver.py")), "--port",
                 str(receiver_port), "--out", str(logs / "deliveries.jsonl")],
                {**os.environ, "PYTHONUNBUFFERED": "1"}, logs / "receiver.log", receiver_port,
                ready_path="/health",
            )  # fmt: skip
            deployment = Deployment(
                database_url=database_url, admin_url=postgres_url, redis_url=redis_url,
                logs=logs, env=env, sim=sim, api=api, receiver=receiver,
                worker_concurrency=worker_concurrency,
                workers=[_worker_proc(env, logs, i, worker_concurrency) for i in range(WORKERS)],
            )  # fmt: skip
            try:
                for proc in deployment.all_procs():
                    started.append(proc)
                    proc.start()
                yield deployment
            finally:
                for proc in reversed(deployment.all_procs()):
                    proc.stop()
    finally:
        for proc in started:  # also those restarted by a fault
            proc.stop()
        signal.signal(signal.SIGTERM, previous)
