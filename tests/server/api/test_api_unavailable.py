"""A dropped database connection answers the documented 503 ``service_unavailable`` with
``Retry-After``, also when the disconnect surfaces as a later SQLAlchemy error raised while cleaning
up after it (seen in the e2e run: ``PendingRollbackError`` from the rollback of the invalidated
connection, after ``pg_terminate_backend``, chained or not); another error stays a 500."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.exc import OperationalError, PendingRollbackError

from steller_server.domain import wallets
from tests.server.api.partner_support import onboard


def _chained(*, invalidated: bool) -> Exception:
    try:
        try:
            raise OperationalError(
                "SELECT 1", {}, psycopg.OperationalError("server closed the connection"),
                connection_invalidated=invalidated,
            )  # fmt: skip
        except OperationalError:
            raise PendingRollbackError("Can't reconnect until invalid transaction is rolled back")  # noqa: B904
    except PendingRollbackError as exc:
        return exc


def _bare_rollback_error() -> Exception:
    # What a rollback listener raises inside SQLAlchemy's greenlet: the disconnect is not chained.
    return PendingRollbackError("Can't reconnect until invalid transaction is rolled back")


def _bug_after_a_disconnect() -> Exception:
    try:
        try:
            raise OperationalError("SELECT 1", {}, psycopg.OperationalError("gone"))
        except OperationalError:
            raise RuntimeError("a bug in the handler")  # noqa: B904
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (lambda: _chained(invalidated=True), 503, "service_unavailable"),
        (lambda: _chained(invalidated=False), 503, "service_unavailable"),
        (_bare_rollback_error, 503, "service_unavailable"),
        (_bug_after_a_disconnect, 500, "internal_error"),
    ],
    ids=["invalidated-then-rollback-error", "operational-then-rollback-error",
         "bare-rollback-error", "other-error-after-disconnect"],
)  # fmt: skip
async def test_a_dropped_connection_is_503_with_retry_after(
    api: httpx.AsyncClient,
    factory: Any,
    partner_key: Any,
    monkeypatch: pytest.MonkeyPatch,
    error: Any,
    status: int,
    code: str,
) -> None:
    _, _, headers = await onboard(factory, partner_key, approve={})

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise error()

    monkeypatch.setattr(wallets, "wallet_view", broken)
    response = await api.get("/api/wallet/me", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert ("retry-after" in response.headers) is (status == 503)
