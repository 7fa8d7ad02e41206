"""The audit log's hash chain: verifiable, tamper-evident, never forked."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select, update

from steller_server.db.engine import Database
from steller_server.db.tables import audit_log
from steller_server.domain import audit


async def _record(database: Database, n: int) -> None:
    async with database.write() as conn:
        await audit.record(
            conn,
            actor="admin:usr_1",
            action="wallet.credit",
            target_type="wallet",
            target_id=f"wal_{n}",
            before={"balance": "0.00"},
            after={"balance": f"{n}.00"},
            reason="funding",
            request_id=f"req_{n}",
        )


async def test_chain_verifies_and_links_each_entry(database: Database) -> None:
    for n in range(5):
        await _record(database, n)
    async with database.read() as conn:
        result = await audit.verify(conn)
        rows = (await conn.execute(select(audit_log).order_by(audit_log.c.sequence))).all()
    assert result.valid
    assert result.entries_checked == 5
    assert [r.sequence for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit.GENESIS_HASH
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, 5))


async def test_editing_an_entry_is_detected(database: Database) -> None:
    for n in range(4):
        await _record(database, n)
    async with database.write() as conn:
        target = await conn.scalar(select(audit_log.c.id).where(audit_log.c.sequence == 2))
        await conn.execute(
            update(audit_log)
            .where(audit_log.c.id == target)
            .values(after={"balance": "1000000.00"})
        )
        result = await audit.verify(conn)
    assert not result.valid
    assert result.first_invalid_id == target


async def test_deleting_an_entry_is_detected(database: Database) -> None:
    for n in range(4):
        await _record(database, n)
    async with database.write() as conn:
        await conn.execute(delete(audit_log).where(audit_log.c.sequence == 2))
        after_gap = await conn.scalar(select(audit_log.c.id).where(audit_log.c.sequence == 3))
        result = await audit.verify(conn)
    assert not result.valid
    assert result.first_invalid_id == after_gap


async def test_concurrent_writers_never_fork_the_chain(database: Database) -> None:
    await asyncio.gather(*[_record(database, n) for n in range(30)])
    async with database.read() as conn:
        result = await audit.verify(conn)
    assert result.valid
    assert result.entries_checked == 30
