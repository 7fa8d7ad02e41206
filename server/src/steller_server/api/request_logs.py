"""Partner request logs, written off the request path.

The middleware hands each finished partner request to `RequestLogSink.record`, which only appends to
a bounded in-memory buffer; a background task writes the buffer in batches. Under overload the
oldest records are dropped (and counted) rather than slowing requests down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.driver import psycopg_connection
from steller_server.db.engine import Database
from steller_server.db.tables import request_logs
from steller_server.domain.ids import new_id

log = logging.getLogger("steller.request_logs")

_COLUMNS = (
    "id",
    "request_id",
    "partner_id",
    "key_id",
    "method",
    "path",
    "status",
    "latency_ms",
    "created_at",
)
_COPY = f"COPY request_logs ({', '.join(_COLUMNS)}) FROM STDIN"


class RequestLogSink:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        max_buffer: int = 50_000,
        interval: float = 0.5,
    ) -> None:
        self._db = db
        self._clock = clock
        self._buffer: deque[dict[str, Any]] = deque(maxlen=max_buffer)
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def record(self, entry: dict[str, Any]) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(
            {
                "id": new_id("log"),
                "request_id": entry["request_id"],
                "partner_id": entry.get("partner_id"),
                "key_id": entry.get("key_id"),
                "method": entry["method"],
                "path": entry["path"][:2048],
                "status": entry["status"],
                "latency_ms": round(entry["latency_ms"]),
                "created_at": self._clock(),
            }
        )

    async def flush(self) -> int:
        """Write everything buffered so far; returns the number of rows written."""
        batch: list[dict[str, Any]] = []
        while self._buffer:
            batch.append(self._buffer.popleft())
        if not batch:
            return 0
        try:
            async with self._db.write() as conn:
                if self._db.is_postgres:
                    await _copy(conn, batch)
                else:
                    await conn.execute(request_logs.insert(), batch)
        except Exception:
            self._buffer.extendleft(reversed(batch))
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Cancelled mid-write: SQLAlchemy surfaces it as an ordinary error; swallowing it
                # would keep the flush loop alive and make stop() wait for ever.
                raise asyncio.CancelledError from None
            log.exception("could not write %d request log rows; will retry", len(batch))
            return 0
        return len(batch)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="request-log-sink")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


async def _copy(conn: AsyncConnection, batch: list[dict[str, Any]]) -> None:
    """PostgreSQL: the batch through ``COPY … FROM STDIN`` on the transaction's psycopg
    connection. A flush of a few hundred rows then costs a fraction of an ``INSERT`` with
    SQLAlchemy's per-row parameter processing, a burst that otherwise delays the requests the
    event loop is serving meanwhile."""
    async with psycopg_connection(conn).cursor() as cursor, cursor.copy(_COPY) as copy:
        for row in batch:
            await copy.write_row([row[name] for name in _COLUMNS])
