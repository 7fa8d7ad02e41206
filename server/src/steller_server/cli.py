"""``steller-server``: serve, worker, migrate, rebuild-usage, create-admin, sandbox.

    steller-server sandbox                      # everything in one process, demo data printed
    steller-server migrate                      # apply the database migrations
    steller-server serve --workers 4            # API processes (PostgreSQL: run workers too)
    steller-server worker --concurrency 16      # a job worker process (PostgreSQL)
    steller-server create-admin --email a@b.c   # prompts for the password
    steller-server rebuild-usage                # recompute the usage rollup from the orders

Configuration comes from ``STELLER_*`` variables (:meth:`Settings.from_env`). A configuration
error (:class:`ConfigError`) prints ``error: <message>`` and exits with status 2.

``serve`` runs uvicorn with ``factory=True`` on :func:`create_server_app` (uvloop + httptools), and
expects ``migrate`` to have run. On SQLite it also runs ONE in-process worker (SQLite has one
writer; more server processes are refused); on PostgreSQL run ``worker`` processes beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import getpass
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from steller_server.settings import ConfigError, Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from steller_server.api.state import AppState
    from steller_server.jobs.worker import WorkerService

# Each command imports what it needs when it runs (noqa: PLC0415 below): `worker` processes start
# without loading the HTTP layer, uvicorn or the simulator.

__all__ = ["create_server_app", "main"]

log = logging.getLogger("steller.cli")

EXIT_CONFIG = 2


def create_server_app() -> Starlette:
    """The app ``serve`` runs (uvicorn factory): settings from the environment, the vendor client
    from ``STELLER_BAMBOO_*`` when configured, and on SQLite the in-process worker."""
    from steller_server.api.vendor_callback import WORKER_EXTRA  # noqa: PLC0415
    from steller_server.app import create_app  # noqa: PLC0415
    from steller_server.jobs.scheduler import Scheduler  # noqa: PLC0415
    from steller_server.jobs.worker import (  # noqa: PLC0415
        Worker,
        WorkerService,
        vendor_from_settings,
    )

    settings = Settings.from_env().validate()
    _configure_logging(settings)  # again: `serve --workers N` children start fresh
    vendor = vendor_from_settings(settings)

    async def attach_vendor(state: AppState) -> None:
        state.extras["vendor"] = vendor

    class _VendorCloser:
        async def start(self) -> None:
            return None

        async def stop(self) -> None:
            if vendor is not None:
                await vendor.aclose()

    def in_process_worker(state: AppState) -> WorkerService:
        worker = Worker(
            state.db,
            settings,
            worker_id="server-worker",
            vendor=vendor,
            clock=state.clock,
            scheduler=Scheduler(),
        )
        state.extras[WORKER_EXTRA] = worker
        return WorkerService(worker)

    services: list[Callable[[AppState], Any]] = [lambda _state: _VendorCloser()]
    if settings.is_sqlite:
        services.append(in_process_worker)
    app = create_app(settings, services=services, on_startup=[attach_vendor])
    # Everything built so far (modules, the parsed contract, routes) lives as long as the
    # process: keep it out of the cyclic collector so full collections do not rescan it during
    # requests. Only here, in the serving process: tests build many apps and must free them.
    gc.collect()
    gc.freeze()
    return app


# -- commands -------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env().validate()
    if settings.is_sqlite and args.workers > 1:
        raise ConfigError("SQLite serves from one process: use PostgreSQL for --workers > 1")
    import uvicorn  # noqa: PLC0415

    with _metrics_dir(shared=args.workers > 1):
        uvicorn.run(
            "steller_server.cli:create_server_app",
            factory=True,
            host=args.host or settings.host,
            port=args.port or settings.port,
            workers=args.workers,
            loop="uvloop",
            http="httptools",
            log_level=args.log_level,
            proxy_headers=True,
            log_config=None,
            access_log=False,
        )
    return 0


@contextlib.contextmanager
def _metrics_dir(*, shared: bool) -> Iterator[None]:
    """Multiprocess metrics: an operator-set ``PROMETHEUS_MULTIPROC_DIR`` is used as is (share it
    between ``serve`` and ``worker`` processes on one host); ``serve --workers N`` without one
    gets a private temporary directory for its N processes, removed on exit."""
    from steller_server.observability import metrics  # noqa: PLC0415

    configured = os.environ.get(metrics.MULTIPROC_ENV)
    if configured:
        metrics.prepare_multiprocess_dir(configured, wipe=False)
        yield
        return
    if not shared:
        yield
        return
    directory = metrics.prepare_multiprocess_dir(
        tempfile.mkdtemp(prefix="steller-metrics-"), wipe=True
    )
    try:
        yield
    finally:
        os.environ.pop(metrics.MULTIPROC_ENV, None)
        metrics.remove_multiprocess_dir(directory)


def _configure_logging(settings: Settings) -> None:
    from steller_server.observability.logging import configure  # noqa: PLC0415

    configure(settings)


async def _run_worker(settings: Settings, args: argparse.Namespace) -> None:
    from steller_server.db.engine import Database  # noqa: PLC0415
    from steller_server.jobs.scheduler import Scheduler  # noqa: PLC0415
    from steller_server.jobs.worker import Worker, vendor_from_settings  # noqa: PLC0415
    from steller_server.vendor import BambooLimits  # noqa: PLC0415

    options: dict[str, Any] = {}
    if args.no_vendor_limits:
        options["limits"] = BambooLimits(enabled=False)
    vendor = vendor_from_settings(settings, required=True, **options)
    db = Database.from_settings(settings, pool_size=max(args.concurrency + 2, 5))
    worker = Worker(
        db,
        settings,
        vendor=vendor,
        concurrency=args.concurrency,
        poll_interval=args.poll_interval,
        lease=timedelta(seconds=args.lease),
        scheduler=None if args.no_schedule else Scheduler(),
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, worker.stop)
    try:
        await worker.run_forever()
    finally:
        if vendor is not None:
            await vendor.aclose()
        await db.dispose()


def _worker(args: argparse.Namespace) -> int:
    settings = Settings.from_env().validate()
    if settings.is_sqlite:
        raise ConfigError(
            "on SQLite the worker runs inside `serve`/`sandbox` (one writer); "
            "separate worker processes need PostgreSQL (STELLER_DATABASE_URL=postgresql://…)"
        )
    with _metrics_dir(shared=False):
        asyncio.run(_run_worker(settings, args))
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from steller_server.db.migrate import current_revision, upgrade  # noqa: PLC0415

    settings = Settings.from_env().validate()
    upgrade(settings)
    print(f"database at revision {current_revision(settings)}")
    return 0


def _rebuild_usage(_args: argparse.Namespace) -> int:
    # After a rolling deploy across migration 0004, processes that predate it changed orders
    # without maintaining the rollup; this makes it equal to the orders again (one transaction).
    from steller_server.db.engine import Database  # noqa: PLC0415
    from steller_server.domain import usage_rollup  # noqa: PLC0415

    settings = Settings.from_env().validate()

    async def rebuild() -> None:
        db = Database.from_settings(settings)
        try:
            async with db.write() as conn:
                await usage_rollup.rebuild(conn)
        finally:
            await db.dispose()

    asyncio.run(rebuild())
    print("usage rollup rebuilt from the orders")
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    from steller_server.db.engine import Database  # noqa: PLC0415
    from steller_server.domain import admins  # noqa: PLC0415
    from steller_server.domain.errors import DomainError  # noqa: PLC0415

    settings = Settings.from_env().validate()
    password = args.password
    if not password:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat password: "):
            raise ConfigError("the passwords do not match")
    if len(password) < 12:
        raise ConfigError("the password must be at least 12 characters")

    async def create() -> tuple[Any, bool]:
        db = Database.from_settings(settings)
        try:
            return await admins.ensure_user(
                db,
                email=args.email,
                name=args.name or args.email,
                role=args.role,
                password=password,
            )
        finally:
            await db.dispose()

    try:
        user, created = asyncio.run(create())
    except DomainError as exc:
        raise ConfigError(str(exc)) from exc
    if created:
        print(f"created {user.role} {user.email} ({user.id})")
    else:
        print(f"{user.email} already exists ({user.role}); password unchanged")
    return 0


def _sandbox(_args: argparse.Namespace) -> int:
    from steller_server.sandbox_mode import run_sandbox  # noqa: PLC0415

    run_sandbox(Settings.from_env())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="steller-server", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (expects `migrate` to have run)")
    serve.add_argument("--host", help="interface (default STELLER_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default STELLER_PORT or 8000)")
    serve.add_argument("--workers", type=int, default=1, help="server processes (PostgreSQL)")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=_serve)

    worker = sub.add_parser("worker", help="run a job worker (PostgreSQL; run any number)")
    worker.add_argument("--concurrency", type=int, default=8, help="jobs run at once")
    worker.add_argument("--poll-interval", type=float, default=1.0, help="seconds between polls")
    worker.add_argument(
        "--lease",
        type=float,
        default=60.0,
        help="seconds a claimed job stays leased without a heartbeat",
    )
    worker.add_argument(
        "--no-schedule",
        action="store_true",
        help="do not enqueue periodic work (catalog sync, reconciliation)",
    )
    worker.add_argument(
        "--no-vendor-limits",
        action="store_true",
        help="skip the client-side Bamboo limits (only against the simulator)",
    )
    worker.set_defaults(func=_worker)

    migrate = sub.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(func=_migrate)

    rebuild = sub.add_parser(
        "rebuild-usage", help="recompute the usage rollup from the orders (after a rolling deploy)"
    )
    rebuild.set_defaults(func=_rebuild_usage)

    admin = sub.add_parser("create-admin", help="create an admin user (idempotent)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name")
    admin.add_argument("--role", choices=("admin", "support", "finance"), default="admin")
    admin.add_argument("--password", help="prompted for when omitted")
    admin.set_defaults(func=_create_admin)

    sandbox = sub.add_parser("sandbox", help="API + worker + Bamboo simulator, with demo data")
    sandbox.set_defaults(func=_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _configure_logging(Settings.from_env())
    except ConfigError:  # reported by the command itself, below
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
