"""Shared helpers for the HTTP benchmarks (``bench/orders.py``, ``catalog.py``, ``fulfilment.py``).

* throwaway databases (a SQLite file in a temp dir, or ``steller_bench_<hex>`` on PostgreSQL,
  created and dropped around the run), migrated and seeded through the domain functions;
* server processes (``steller-server serve``, the bare Starlette ceiling app below, the Bamboo
  simulator, job workers) on free loopback ports, each in its own process group, waited for with
  a timeout and always stopped (also on Ctrl-C, SIGTERM and errors);
* ``wrk --latency`` runs and the parsing of their output, pgbench runs with per-transaction logs;
* medians of interleaved repetitions, the load average, a plain-text table.

Only loopback addresses are used. Every run is bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
LUA_DIR = BENCH_DIR / "lua"
SECRET = "bench-secret-key-0123456789abcdef0123456789abcdef"
HOST = "127.0.0.1"
#: Per-partner rate-limit overrides for benchmark partners, so limits never throttle.
NO_LIMIT = 10_000
READY_TIMEOUT = 60.0


def pg_admin_url() -> str:
    """The PostgreSQL server to create throwaway databases on (a database to connect to first)."""
    return (
        os.environ.get("STELLER_BENCH_POSTGRES_URL")
        or os.environ.get("STELLER_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def venv_bin(name: str) -> str:
    """A console script next to the running interpreter (the dev virtualenv), else from PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed")
    return found


def machine_note() -> dict[str, Any]:
    """What the figures were measured on: cores and the load average before the run."""
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "loadavg_1_5_15": [round(x, 2) for x in load],
        "python": sys.version.split()[0],
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- databases --------------------------------------------------------------------------------


def _pg_parts(url: str) -> tuple[str, str]:
    """``(url without the database name, database name)``."""
    base, _, name = url.rpartition("/")
    return base, name.split("?")[0]


@contextlib.contextmanager
def throwaway_database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh, empty database URL (``sqlite:///…`` or ``postgresql://…``), removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'bench-{secrets.token_hex(4)}.sqlite3'}"
        return
    if kind != "postgres":
        raise ValueError(f"unknown database kind {kind!r}")
    import psycopg  # noqa: PLC0415

    admin = pg_admin_url()
    name = f"steller_bench_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{_pg_parts(admin)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(url: str, **changes: Any) -> Any:
    from steller_server.settings import Settings  # noqa: PLC0415

    return Settings(mode="sandbox", secret_key=SECRET).replace(database_url=url, **changes)


def migrate(url: str) -> None:
    from steller_server.db.migrate import upgrade  # noqa: PLC0415

    upgrade(settings_for(url))


def server_env(url: str, **extra: str) -> dict[str, str]:
    """The environment a benchmark server process gets (sandbox mode, the bench secret)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLER_")}
    env.update(
        STELLER_DATABASE_URL=url, STELLER_SECRET_KEY=SECRET, STELLER_MODE="sandbox",
        PYTHONUNBUFFERED="1",
    )  # fmt: skip
    env.update(extra)
    return env


# -- seeding ------------------------------------------------------------------------------------


def bench_product(index: int, *, face_minor: int = 500) -> dict[str, Any]:
    """A fixed-denomination USD product; cost 95 % of face (the profit guard passes at -5 %)."""
    return {
        "sku": f"BENCH-US-USD-{index:03d}", "vendor_product_id": str(900000 + index),
        "name": f"Bench Card {index:03d}", "brand_name": f"Bench Brand {index:03d}",
        "country_code": "US", "categories": ["shopping", "bench"], "face_currency": "USD",
        "denomination_type": "fixed", "min_face_minor": face_minor, "max_face_minor": face_minor,
        "cost_min_minor": face_minor * 95 // 100, "cost_max_minor": face_minor * 95 // 100,
        "cost_currency": "USD", "stock": None, "available": True,
        "redemption_instructions": "Redeem at the brand's site with the card code shown.",
        "terms": "Not redeemable for cash. No expiry.", "logo_url": None,
    }  # fmt: skip


@dataclass
class Seeded:
    keys: list[str]
    partner_ids: list[str]
    wallet_ids: list[str]
    skus: list[str]


async def seed(
    url: str,
    *,
    partners: int,
    products: int = 1,
    funds: Decimal = Decimal("100000000.00"),
    extra_products: Sequence[dict[str, Any]] = (),
) -> Seeded:
    """``partners`` funded USD partners, each with one developer key and every product approved
    (discount -5 %), rate limits lifted to :data:`NO_LIMIT`."""
    from sqlalchemy import update  # noqa: PLC0415

    from steller_server.db.engine import Database  # noqa: PLC0415
    from steller_server.db.tables import partners as partners_table  # noqa: PLC0415
    from steller_server.domain import catalog, keys, ledger, money  # noqa: PLC0415
    from steller_server.domain.partners import create_partner  # noqa: PLC0415

    settings = settings_for(url)
    db = Database.from_settings(settings)
    items = [bench_product(i) for i in range(products)] + list(extra_products)
    skus = [str(item["sku"]) for item in items]
    out = Seeded([], [], [], skus)
    tag = secrets.token_hex(3)
    try:
        async with db.write() as conn:
            await catalog.store_rates(conn, base="USD", rates={"EUR": Decimal("0.92")})
            await catalog.upsert_products(conn, items=items)
        for index in range(partners):
            partner, wallet = await create_partner(
                db, name=f"Bench {index}", email=f"bench-{tag}-{index}@example.com",
                actor="system", settings=settings, currency="USD",
                low_balance_threshold=Decimal("0"),
            )  # fmt: skip
            async with db.write() as conn:
                await ledger.credit(
                    conn, wallet_id=wallet.id, amount_minor=money.to_minor(funds, "USD"),
                    description="Benchmark funding", actor="system",
                )  # fmt: skip
                await catalog.approve_products(
                    conn, partner_id=partner.id, actor="system",
                    items=[catalog.ApprovalItem(sku=s, discount_percent=Decimal("-5"))
                           for s in skus],
                    order_fee=settings.order_fee,
                )  # fmt: skip
                created = await keys.create_key(
                    conn, partner_id=partner.id, environment=partner.environment,
                    role="developer", secret_key=settings.effective_secret_key,
                )  # fmt: skip
            out.keys.append(created.raw)
            out.partner_ids.append(partner.id)
            out.wallet_ids.append(wallet.id)
        async with db.write() as conn:
            await conn.execute(
                update(partners_table).values(
                    rate_limit_orders=NO_LIMIT, rate_limit_catalog=NO_LIMIT,
                    rate_limit_default=NO_LIMIT,
                )
            )  # fmt: skip
    finally:
        await db.dispose()
    return out


def seed_sync(url: str, **kwargs: Any) -> Seeded:
    return asyncio.run(seed(url, **kwargs))


# -- processes ----------------------------------------------------------------------------------


class StopBench(Exception):
    """SIGTERM during a run: unwind like Ctrl-C so every process is stopped."""


def install_sigterm() -> None:
    def handler(_signo: int, _frame: Any) -> None:
        raise StopBench("terminated")

    signal.signal(signal.SIGTERM, handler)


@dataclass
class Proc:
    """A child process in its own process group (uvicorn workers included), output to a log."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    ready_path: str = "/api/health"
    popen: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = READY_TIMEOUT) -> Proc:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, cwd=REPO,
            )  # fmt: skip
        if self.port is not None:
            self.wait_ready(timeout)
        return self

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float) -> None:
        if self.popen is None or self.port is None:
            raise RuntimeError(f"{self.name} was not started with a port")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}"
                )
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", self.ready_path)
                status = conn.getresponse().status
                conn.close()
                if status < 500:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} not ready within {timeout} s:\n{self.log_tail()}")

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        popen = self.popen
        if popen is None:
            return
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(5)
        # uvicorn's worker processes share the group, also when the leader died first: make sure
        # none is left behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)

    @property
    def pids(self) -> list[int]:
        """The process and its children (uvicorn workers), for py-spy."""
        if self.popen is None:
            return []
        out = [self.popen.pid]
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            children = subprocess.run(
                ["pgrep", "-g", str(self.popen.pid)], capture_output=True, text=True,
                check=False, timeout=5,
            ).stdout.split()  # fmt: skip
            out += [int(c) for c in children if int(c) != self.popen.pid]
        return out


@contextlib.contextmanager
def running(proc: Proc, timeout: float = READY_TIMEOUT) -> Iterator[Proc]:
    try:
        proc.start(timeout)
        yield proc
    finally:
        proc.stop()


def steller_server(
    url: str,
    *,
    workers: int,
    logs: Path,
    name: str = "steller",
    extra_env: dict[str, str] | None = None,
) -> Proc:
    """``steller-server serve`` (uvloop + httptools, access log off via ``--log-level warning``)."""
    port = free_port()
    argv = [
        venv_bin("steller-server"),
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    return Proc(
        f"{name}-{workers}w",
        argv,
        server_env(url, **(extra_env or {})),
        logs / f"{name}-{workers}w-{port}.log",
        port,
    )


def bare_server(*, workers: int, logs: Path, catalog_body: Path | None = None) -> Proc:
    """The ceiling: a bare Starlette app under the same uvicorn settings as ``serve``."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "_common:create_bare_app",
        "--factory",
        "--app-dir",
        str(BENCH_DIR),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--log-level",
        "warning",
        "--proxy-headers",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLER_")}
    if catalog_body is not None:
        env["STELLER_BENCH_BARE_CATALOG"] = str(catalog_body)
    return Proc(
        f"bare-{workers}w",
        argv,
        env,
        logs / f"bare-{workers}w-{port}.log",
        port,
        ready_path="/health",
    )


def create_bare_app() -> Any:
    """Bare Starlette: ``POST /api/orders`` parses the JSON body and answers 202 with a small
    JSON document; ``GET /api/brand/getCatalog`` serialises the catalog page stored in
    ``STELLER_BENCH_BARE_CATALOG`` (a real response body) on every request."""
    from starlette.applications import Starlette  # noqa: PLC0415
    from starlette.requests import Request  # noqa: PLC0415
    from starlette.responses import JSONResponse, Response  # noqa: PLC0415
    from starlette.routing import Route  # noqa: PLC0415

    source = os.environ.get("STELLER_BENCH_BARE_CATALOG")
    page: Any = json.loads(Path(source).read_text()) if source else {"data": []}

    async def order(request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"id": "ord_bare", "status": "processing", **body}, status_code=202)

    async def catalog_page(_request: Request) -> Response:
        return JSONResponse(page)

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route("/api/orders", order, methods=["POST"]),
        Route("/api/brand/getCatalog", catalog_page, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ])  # fmt: skip


# -- wrk ----------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """One load run: throughput and latency (ms), errors counted."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> LoadResult:
    """Parse ``wrk --latency`` output (latency distribution, totals, non-2xx, socket errors)."""
    pct = {
        m.group(1): _ms(m.group(2))
        for m in re.finditer(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.M)
    }
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if total is None or rps is None or "50" not in pct or "99" not in pct:
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sock:
        errors += sum(int(x) for x in sock.groups())
    statuses = {
        m.group(1): int(m.group(2)) for m in re.finditer(r"^status (\d{3}): (\d+)$", output, re.M)
    }
    return LoadResult(
        requests=int(total.group(1)),
        seconds=_ms(total.group(2) + total.group(3)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=pct["50"], p90_ms=pct.get("90", pct["99"]), p99_ms=pct["99"],
        errors=errors, extra={"statuses": statuses} if statuses else {},
    )  # fmt: skip


def run_wrk(
    url: str,
    *,
    duration: float,
    connections: int = 32,
    threads: int = 2,
    script: Path | None = None,
    script_args: Sequence[str] = (),
    timeout_s: int = 10,
) -> LoadResult:
    argv = [
        venv_bin("wrk") if (Path(sys.executable).parent / "wrk").exists() else "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        f"--timeout={timeout_s}s",
    ]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}\n{done.stdout}")
    return parse_wrk(done.stdout)


# -- CPU accounting -----------------------------------------------------------------------------


def _cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far (Linux ``/proc``), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """The local PostgreSQL server's processes (postmaster and every backend)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    out.append(int(entry.name))
    return out


class CpuMeter:
    """CPU seconds that groups of processes spend over a block:
    ``with CpuMeter({"server": pids, "postgres": postgres_pids}) as m: …``, then ``m.seconds``.

    Each group is a callable listing its pids. A thread re-reads them every ``interval`` s and
    keeps each process's latest figure, so a process that appears during the block counts whole
    and one that exits (a pgbench connection's backend) counts up to its last reading."""

    def __init__(
        self, groups: dict[str, Callable[[], Sequence[int]]], *, interval: float = 0.2
    ) -> None:
        self._groups = groups
        self._interval = interval
        self._first: dict[str, dict[int, float]] = {}
        self._last: dict[str, dict[int, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="cpu-meter", daemon=True)
        self.seconds: dict[str, float] = {}

    def _read(self) -> None:
        for name, pids in self._groups.items():
            last = self._last.setdefault(name, {})
            for pid in pids():
                cpu = _cpu_of(pid)
                if cpu is not None:
                    last[pid] = cpu

    def _poll(self) -> None:
        while not self._stop.wait(self._interval):
            self._read()

    def __enter__(self) -> CpuMeter:
        self._read()
        self._first = {name: dict(last) for name, last in self._last.items()}
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._read()
        for name in self._groups:
            first, last = self._first.get(name, {}), self._last.get(name, {})
            self.seconds[name] = sum(cpu - first.get(pid, 0.0) for pid, cpu in last.items())


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


# -- statistics and output ------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def median_result(results: Sequence[LoadResult]) -> dict[str, Any]:
    """Per-metric medians of repetitions, and the spread of the throughput."""
    if not results:
        return {}
    rps = [r.rps for r in results]
    return {
        "rps": round(statistics.median(rps), 1),
        "p50_ms": round(statistics.median(r.p50_ms for r in results), 2),
        "p90_ms": round(statistics.median(r.p90_ms for r in results), 2),
        "p99_ms": round(statistics.median(r.p99_ms for r in results), 2),
        "errors": sum(r.errors for r in results),
        "requests": sum(r.requests for r in results),
        "rps_runs": [round(x, 1) for x in rps],
    }


def interleave(
    configs: Sequence[str], repeat: int, measure: Callable[[str, int], LoadResult | None]
) -> dict[str, list[LoadResult]]:
    """Run ``measure(config, rep)`` for every config, ``repeat`` rounds, configs interleaved."""
    out: dict[str, list[LoadResult]] = {c: [] for c in configs}
    for rep in range(repeat):
        for config in configs:
            result = measure(config, rep)
            if result is not None:
                out[config].append(result)
    return out


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (readable in a terminal too)."""
    text_rows = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in text_rows)) if text_rows else len(h)
        for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [
            line(headers),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(line(r) for r in text_rows),
        ]
    )


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def write_json(path: str | None, document: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(document, indent=2, default=str) + "\n")


def result_dict(result: LoadResult) -> dict[str, Any]:
    return asdict(result)


def temp_folder(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=prefix)
