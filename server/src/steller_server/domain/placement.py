"""PostgreSQL: an accepted order written by ONE statement.

``domain.orders.place_order`` prices the order from one read, then writes everything an accepted
order consists of with a single data-modifying CTE::

    WITH placed AS (INSERT INTO orders … ON CONFLICT (partner_id, reference_id) DO NOTHING
                    RETURNING id),
         job    AS (INSERT INTO jobs … SELECT … FROM placed),
         moved  AS (UPDATE wallets SET balance_minor = balance_minor - :total, version + 1 …
                     WHERE id = :wallet AND EXISTS (SELECT FROM placed)
                    RETURNING version, partner_id, currency, balance_minor),
         entry  AS (INSERT INTO ledger_entries … SELECT … FROM moved),
         usage  AS (INSERT INTO order_usage_daily … SELECT … FROM moved
                    ON CONFLICT … DO UPDATE SET order_count = … + 1, …)
    SELECT version, partner_id, currency, balance_minor FROM moved

One statement is atomic on its own, so it needs no ``BEGIN``/``COMMIT``: an order is two round
trips (the pricing read and this) instead of six. All or nothing holds as in a transaction:

* a ``referenceId`` already taken inserts no order, so nothing else is written and no row comes
  back (the caller answers the replay);
* the debit is unconditional once the order row exists; a debit that would overdraw violates the
  ``wallets`` CHECK ``balance_minor >= 0`` and the whole statement fails, nothing written
  (:func:`is_overdraft` recognises that error). The caller refuses an order the pricing read
  already shows unaffordable without writing, so the CHECK decides only races between orders
  of one wallet — the row lock orders them and each sees the balance the previous one left.

Lock order is the transactional path's (order, job, wallet row, ledger row, rollup row): the
rollup row is taken last, after the wallet row, as ``usage_rollup`` requires.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Select, Table, bindparam, exists, literal, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from steller_server.db.tables import jobs, ledger_entries, orders, wallets
from steller_server.db.tables import order_usage_daily as rollup

__all__ = ["JOB_FIELDS", "is_overdraft", "parameters", "statement"]

#: The fulfilment job's own values, passed as ``j_<name>`` parameters.
JOB_FIELDS = ("kind", "payload", "max_attempts", "dedupe_key", "request_id")
_ENTRY_FIELDS = ("id", "description", "actor", "entry_key", "request_id")
_OVERDRAFT_CONSTRAINTS = frozenset(
    {"ck_wallets_balance_non_negative", "ck_ledger_entries_balance_after_non_negative"}
)


def is_overdraft(exc: IntegrityError) -> bool:
    """True when ``exc`` is the statement's debit refused by the balance CHECK."""
    diag = getattr(exc.orig, "diag", None)
    return getattr(exc.orig, "sqlstate", None) == "23514" and (
        getattr(diag, "constraint_name", None) in _OVERDRAFT_CONSTRAINTS
    )


@lru_cache(maxsize=1)
def statement() -> Select[Any]:
    """The statement, built once (SQLAlchemy then caches its compilation).

    Parameters: every ``orders`` column as ``o_<name>``; the job's ``j_*`` (:data:`JOB_FIELDS`); the
    ledger row's ``e_*`` (``id``, ``description``, ``actor``, ``entry_key``, ``request_id``);
    ``u_day`` (the order's UTC day). The total, wallet, partner, SKU and time are the order's.
    """
    now = bindparam("o_created_at", type_=orders.c.created_at.type)
    total = bindparam("o_total_minor", type_=BigInteger)
    placed = (
        postgresql.insert(orders)
        .values({c.name: bindparam(f"o_{c.name}", type_=c.type) for c in orders.c})
        .on_conflict_do_nothing(index_elements=["partner_id", "reference_id"])
        .returning(orders.c.id)
        .cte("placed")
    )

    job_values: dict[str, Any] = {
        name: bindparam(f"j_{name}", type_=jobs.c[name].type) for name in JOB_FIELDS
    }
    job_values.update(
        status=literal("pending", jobs.c.status.type),
        attempts=literal(0, jobs.c.attempts.type),
        run_at=now,
        created_at=now,
        updated_at=now,
    )
    job = _insert_from(jobs, job_values, placed).returning(jobs.c.id).cte("job")

    moved = (
        update(wallets)
        .where(
            wallets.c.id == bindparam("o_wallet_id", type_=wallets.c.id.type),
            exists(select(placed.c.id)),
        )
        .values(
            balance_minor=wallets.c.balance_minor - total,
            version=wallets.c.version + 1,
            updated_at=now,
        )
        .returning(
            wallets.c.version, wallets.c.partner_id, wallets.c.currency, wallets.c.balance_minor
        )
        .cte("moved")
    )

    entry_values: dict[str, Any] = {
        name: bindparam(f"e_{name}", type_=ledger_entries.c[name].type) for name in _ENTRY_FIELDS
    }
    entry_values.update(
        wallet_id=bindparam("o_wallet_id", type_=wallets.c.id.type),
        wallet_seq=moved.c.version,
        partner_id=moved.c.partner_id,
        type=literal("debit", ledger_entries.c.type.type),
        amount_minor=-total,
        currency=moved.c.currency,
        balance_before_minor=moved.c.balance_minor + total,
        balance_after_minor=moved.c.balance_minor,
        order_id=bindparam("o_id", type_=orders.c.id.type),
        created_at=now,
    )
    entry = (
        _insert_from(ledger_entries, entry_values, moved)
        .returning(ledger_entries.c.id)
        .cte("entry")
    )

    usage_values: dict[str, Any] = {
        "partner_id": moved.c.partner_id,
        "day": bindparam("u_day", type_=rollup.c.day.type),
        "sku": bindparam("o_sku", type_=rollup.c.sku.type),
        "status": bindparam("o_status", type_=rollup.c.status.type),
        "order_count": literal(1, BigInteger),
        "total_minor": total,
        "refunded_minor": literal(0, BigInteger),
    }
    usage_insert = _insert_from(rollup, usage_values, moved)
    usage = (
        usage_insert.on_conflict_do_update(
            index_elements=["partner_id", "day", "sku", "status"],
            set_={
                "order_count": rollup.c.order_count + usage_insert.excluded.order_count,
                "total_minor": rollup.c.total_minor + usage_insert.excluded.total_minor,
                "refunded_minor": rollup.c.refunded_minor + usage_insert.excluded.refunded_minor,
            },
        )
        .returning(rollup.c.order_count)
        .cte("usage")
    )

    return (
        select(moved.c.version, moved.c.partner_id, moved.c.currency, moved.c.balance_minor)
        .select_from(moved)
        .add_cte(job, entry, usage)
    )


def _insert_from(table: Table, values: dict[str, Any], source: Any) -> postgresql.Insert:
    """``INSERT INTO table (<values' keys>) SELECT <values> FROM source``: one row per row of
    ``source`` (a CTE), none when it is empty."""
    return postgresql.insert(table).from_select(
        list(values), select(*values.values()).select_from(source)
    )


def parameters(
    row: dict[str, Any],
    *,
    job: dict[str, Any],
    entry: dict[str, Any],
    day: date,
) -> dict[str, Any]:
    """The statement's parameters: the order ``row`` plus the job's and ledger row's values."""
    # Prefixed: an UPDATE compiled with parameters named like its table's columns would SET them.
    params = {f"o_{k}": v for k, v in row.items()}
    params.update({f"j_{k}": v for k, v in job.items()})
    params.update({f"e_{k}": v for k, v in entry.items()})
    params["u_day"] = day
    return params
