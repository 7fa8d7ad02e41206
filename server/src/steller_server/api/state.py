"""What the HTTP layer needs at run time, built once by `create_app` and kept on `app.state`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError
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
        """True for errors that mean a backing service is down, not that the request was bad."""
        if isinstance(exc, PoolTimeout):
            return True
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        name = type(getattr(exc, "orig", exc)).__name__
        return name in {"OperationalError", "AdminShutdown", "ConnectionFailure", "ConnectionError"}
