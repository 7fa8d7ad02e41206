"""The production proof (``nox -s e2e``): a multi-process deployment on PostgreSQL and Redis.

It runs only when asked for — ``pytest tests/e2e`` (what ``nox -s e2e`` runs) — so the ordinary
``pytest`` run of the whole suite skips it; it skips with a message when
``STELLER_TEST_POSTGRES_URL`` or ``STELLER_TEST_REDIS_URL`` is not set.

Knobs (environment, so CI and the documented full run differ only in numbers):

* ``STELLER_E2E_DURATION`` — seconds of load (default 30; the documented run uses 60);
* ``STELLER_E2E_RATE`` — target requests per second, all partners together (default 25);
* ``STELLER_E2E_PARTNERS`` — partners issuing the load (default 20);
* ``STELLER_E2E_FUZZ_SECONDS`` — time budget of the stateful contract fuzzing (default 25);
* ``STELLER_E2E_RESULTS`` — where the results JSON goes (default: the session's temp dir);
* ``STELLER_E2E_WORKER_CONCURRENCY`` — ``--concurrency`` of each worker process (default 16);
* ``STELLER_E2E_LOCK_WAIT`` — seconds to wait for ``/tmp/steller-bench.lock`` (the machine-wide
  benchmark lock) before loading anyway (default 300).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.e2e_deploy import Deployment, deploy

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class E2EConfig:
    duration: float
    rate: float
    partners: int
    fuzz_seconds: float
    results: Path | None
    lock_wait: float
    worker_concurrency: int


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def e2e_config() -> E2EConfig:
    results = os.environ.get("STELLER_E2E_RESULTS", "").strip()
    return E2EConfig(
        duration=_number("STELLER_E2E_DURATION", 30.0),
        rate=_number("STELLER_E2E_RATE", 25.0),
        partners=int(_number("STELLER_E2E_PARTNERS", 20)),
        fuzz_seconds=_number("STELLER_E2E_FUZZ_SECONDS", 25.0),
        results=Path(results) if results else None,
        lock_wait=_number("STELLER_E2E_LOCK_WAIT", 300.0),
        worker_concurrency=int(_number("STELLER_E2E_WORKER_CONCURRENCY", 16)),
    )


def _targets_e2e(config: pytest.Config) -> bool:
    for arg in config.args:
        path = Path(arg.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if HERE in Path(str(item.path)).parents]
    if not mine:
        return
    if not _targets_e2e(config):
        reason = "the e2e deployment runs with `nox -s e2e` (pytest tests/e2e), not in the suite"
    elif not os.environ.get("STELLER_TEST_POSTGRES_URL"):
        reason = "STELLER_TEST_POSTGRES_URL is not set: the e2e deployment needs PostgreSQL"
    elif not os.environ.get("STELLER_TEST_REDIS_URL"):
        reason = "STELLER_TEST_REDIS_URL is not set: the e2e deployment needs Redis"
    else:
        return
    for item in mine:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def e2e() -> E2EConfig:
    return e2e_config()


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory, e2e: E2EConfig) -> Iterator[Deployment]:
    logs = tmp_path_factory.mktemp("e2e")
    with deploy(
        logs,
        postgres_url=os.environ["STELLER_TEST_POSTGRES_URL"],
        redis_url=os.environ["STELLER_TEST_REDIS_URL"],
        worker_concurrency=e2e.worker_concurrency,
    ) as running:
        yield running
