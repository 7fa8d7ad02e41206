"""What the HTTP layer needs at run time, built once by `create_app` and kept on `app.state`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, PendingRollbackError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from steller_server.api.contract import Contract
from steller_server.api.limits import RateLimiter
from steller_server.db.engine import Database
from steller_server.domain.crypto import Cipher
from steller_server.observability import metrics
from steller_server.settings import Settings


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class AppState:
    settings: Settings
    db: Database
    contract: Contract
    limiter: RateLimiter
    #: Encrypts responses kept for Idempotency-Key replays (they may hold secrets).
    replay_cipher: Cipher
    clock: Callable[[], datetime] = utcnow
    extras: dict[str, Any] = field(default_factory=dict)
    rate_limited: dict[str, int] = field(default_factory=dict)

    def metrics_rate_limited(self, policy: str) -> None:
        self.rate_limited[policy] = self.rate_limited.get(policy, 0) + 1
        metrics.rate_limited(policy)

    def is_unavailable(self, exc: BaseException) -> bool:
        """True for errors that mean a backing service is down, not that the request was bad.

        A dropped database connection can surface as a later SQLAlchemy error raised while
        cleaning up after it (``PendingRollbackError`` from the rollback of the invalidated
        connection), with the disconnect as its ``__context__``: such chains are followed.
        """
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            if _is_disconnect(current):
                return True
            if not isinstance(current, SQLAlchemyError):
                return False
            seen.add(id(current))
            current = current.__cause__ or current.__context__
        return False


def _is_disconnect(exc: BaseException) -> bool:
    # Every transaction here is a context manager, so "rollback first" only ever means the
    # connection was invalidated under it: a disconnect (its cause is lost when a listener raises
    # it inside SQLAlchemy's greenlet).
    if isinstance(exc, (PoolTimeout, PendingRollbackError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    name = type(getattr(exc, "orig", exc)).__name__
    return name in {"OperationalError", "AdminShutdown", "ConnectionFailure", "ConnectionError"}
