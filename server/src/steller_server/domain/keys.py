"""Partner API keys: create, list, rotate with grace, revoke, authenticate, roles.

Keys are ``stlr_test_…`` / ``stlr_live_…``; only ``HMAC-SHA256(secret-derived key, raw)`` is
stored, so lookup is one indexed equality on ``key_hash`` (no timing oracle on the raw key).
Unknown, revoked and expired keys all authenticate to ``None`` (the API answers the same 401).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.engine import NEUTRAL_WRITE, Database, WatchedCache
from steller_server.db.tables import api_keys, partners
from steller_server.domain.clock import utcnow
from steller_server.domain.crypto import generate_api_key, hash_api_key
from steller_server.domain.errors import InvalidState, NotFound, ValidationFailed
from steller_server.domain.ids import new_id
from steller_server.domain.models import ApiKey, Partner

__all__ = [
    "AUTH_CACHE_TTL_SECONDS",
    "ROLES",
    "AuthCache",
    "Authenticated",
    "Capability",
    "CreatedKey",
    "authenticate",
    "authenticate_cached",
    "create_key",
    "get_key",
    "ip_allowed",
    "list_keys",
    "lookup",
    "revoke_all",
    "revoke_key",
    "role_allows",
    "rotate_key",
    "touch_key",
]

ROLES = ("developer", "ordering", "finance")
MAX_ALLOWLIST = 20
MAX_GRACE_HOURS = 720
TOUCH_INTERVAL = timedelta(seconds=60)
PREFIX_VISIBLE = 3  # characters of the random part shown in ``prefix`` (stlr_test_AbC)


class Capability(StrEnum):
    """What a route needs; roles grant sets of these."""

    CATALOG = "catalog"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    WALLET_READ = "wallet:read"
    FINANCE_READ = "finance:read"  # transactions, statements, usage
    KEYS = "keys"
    WEBHOOKS = "webhooks"
    PARTNER_WRITE = "partner:write"
    LOGS = "logs"


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "developer": frozenset(Capability),
    "ordering": frozenset(
        {
            Capability.CATALOG,
            Capability.ORDERS_READ,
            Capability.ORDERS_WRITE,
            Capability.WALLET_READ,
        }
    ),
    "finance": frozenset({Capability.ORDERS_READ, Capability.WALLET_READ, Capability.FINANCE_READ}),
}


def role_allows(role: str, capability: Capability) -> bool:
    return capability in ROLE_CAPABILITIES.get(role, frozenset())


def _validate_allowlist(ip_allowlist: Sequence[str]) -> list[str]:
    if len(ip_allowlist) > MAX_ALLOWLIST:
        raise ValidationFailed(f"at most {MAX_ALLOWLIST} CIDRs in ipAllowlist")
    normalised = []
    for index, cidr in enumerate(ip_allowlist):
        try:
            normalised.append(str(ipaddress.ip_network(cidr, strict=False)))
        except ValueError:
            raise ValidationFailed(
                f"{cidr!r} is not an IP address or CIDR",
                errors=[{"pointer": f"/ipAllowlist/{index}", "message": "not a CIDR"}],
            ) from None
    return normalised


def ip_allowed(key: ApiKey, client_ip: str | None) -> bool:
    """True when the key has no allowlist or ``client_ip`` falls in one of its networks."""
    if not key.ip_allowlist:
        return True
    if client_ip is None:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in key.ip_allowlist)


@dataclass(frozen=True, kw_only=True)
class CreatedKey:
    """A new key and its secret (``raw``), which exists only here: show it once."""

    key: ApiKey
    raw: str
    previous_key_expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Authenticated:
    partner: Partner
    key: ApiKey


async def create_key(
    conn: AsyncConnection,
    *,
    partner_id: str,
    environment: str,
    role: str,
    secret_key: str,
    ip_allowlist: Sequence[str] = (),
    expires_at: datetime | None = None,
    rotated_from_id: str | None = None,
    now: datetime | None = None,
) -> CreatedKey:
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}")
    now = now or utcnow()
    raw = generate_api_key(environment)
    prefix_len = len(raw) - len(raw.split("_")[-1]) + PREFIX_VISIBLE
    row = {
        "id": new_id("key"),
        "partner_id": partner_id,
        "key_hash": hash_api_key(raw, secret_key),
        "prefix": raw[:prefix_len],
        "last4": raw[-4:],
        "role": role,
        "environment": environment,
        "ip_allowlist": _validate_allowlist(ip_allowlist),
        "created_at": now,
        "last_used_at": None,
        "expires_at": expires_at,
        "revoked_at": None,
        "rotated_from_id": rotated_from_id,
    }
    await conn.execute(insert(api_keys).values(**row))
    return CreatedKey(key=ApiKey.from_row(row), raw=raw)


async def get_key(conn: AsyncConnection, *, key_id: str, partner_id: str | None = None) -> ApiKey:
    query = select(api_keys).where(api_keys.c.id == key_id)
    if partner_id is not None:
        query = query.where(api_keys.c.partner_id == partner_id)
    row = (await conn.execute(query)).mappings().one_or_none()
    if row is None:
        raise NotFound("API key not found")
    return ApiKey.from_row(row)


async def list_keys(
    conn: AsyncConnection,
    *,
    partner_id: str,
    limit: int = 50,
    after: tuple[datetime, str] | None = None,
) -> list[ApiKey]:
    """Keys newest first; ``after`` = (created_at, id) of the last key of the previous page."""
    query = select(api_keys).where(api_keys.c.partner_id == partner_id)
    if after is not None:
        created, key_id = after
        query = query.where(
            or_(
                api_keys.c.created_at < created,
                (api_keys.c.created_at == created) & (api_keys.c.id < key_id),
            )
        )
    query = query.order_by(api_keys.c.created_at.desc(), api_keys.c.id.desc()).limit(limit)
    return [ApiKey.from_row(r) for r in (await conn.execute(query)).mappings()]


async def rotate_key(
    conn: AsyncConnection,
    *,
    key_id: str,
    partner_id: str,
    secret_key: str,
    grace_period_hours: int = 24,
    role: str | None = None,
    ip_allowlist: Sequence[str] | None = None,
    now: datetime | None = None,
) -> CreatedKey:
    """Issue a successor (same role/allowlist unless given); the old key keeps working for the
    grace period (0 = revoked now). Returns the new key with ``previous_key_expires_at``."""
    if not 0 <= grace_period_hours <= MAX_GRACE_HOURS:
        raise ValidationFailed(f"gracePeriodHours must be 0..{MAX_GRACE_HOURS}")
    now = now or utcnow()
    old = await get_key(conn, key_id=key_id, partner_id=partner_id)
    if old.status_at(now) in ("revoked", "expired"):
        raise InvalidState("this key is no longer active")
    created = await create_key(
        conn,
        partner_id=partner_id,
        environment=old.environment,
        role=role or old.role,
        secret_key=secret_key,
        ip_allowlist=old.ip_allowlist if ip_allowlist is None else ip_allowlist,
        rotated_from_id=old.id,
        now=now,
    )
    if grace_period_hours == 0:
        await conn.execute(update(api_keys).where(api_keys.c.id == old.id).values(revoked_at=now))
        expires = now
    else:
        expires = now + timedelta(hours=grace_period_hours)
        if old.expires_at is not None:
            expires = min(expires, old.expires_at)
        await conn.execute(
            update(api_keys).where(api_keys.c.id == old.id).values(expires_at=expires)
        )
    await _notify_key_change(
        conn,
        old,
        "rotated",
        now,
        details=[
            ("Replaced by", f"{created.key.id} ({created.key.prefix}…{created.key.last4})"),
            ("Old key works until", expires.isoformat().replace("+00:00", "Z")),
        ],
    )
    return CreatedKey(key=created.key, raw=created.raw, previous_key_expires_at=expires)


async def revoke_key(
    conn: AsyncConnection,
    *,
    key_id: str,
    partner_id: str | None = None,
    now: datetime | None = None,
) -> ApiKey:
    """Revoke now; :class:`InvalidState` when already revoked."""
    now = now or utcnow()
    key = await get_key(conn, key_id=key_id, partner_id=partner_id)
    result = await conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key.id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if result.rowcount != 1:
        raise InvalidState("this key is already revoked")
    await _notify_key_change(conn, key, "revoked", now)
    return await get_key(conn, key_id=key.id)


async def _notify_key_change(
    conn: AsyncConnection,
    key: ApiKey,
    change: str,
    now: datetime,
    details: Sequence[tuple[str, str]] = (),
) -> None:
    """Queue the partner's "key rotated/revoked" email in this transaction (notify/partner)."""
    from steller_server.notify import partner as partner_notify  # noqa: PLC0415

    await partner_notify.key_changed(
        conn,
        partner_id=key.partner_id,
        change=change,
        key_id=key.id,
        prefix=key.prefix,
        last4=key.last4,
        details=details,
        now=now,
    )


async def revoke_all(conn: AsyncConnection, *, partner_id: str, now: datetime | None = None) -> int:
    """Revoke every live key of the partner; returns how many."""
    result = await conn.execute(
        update(api_keys)
        .where(api_keys.c.partner_id == partner_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(result.rowcount)


def _partner_column_label(name: str) -> str:
    return f"partner__{name}"


_PARTNER_FIELDS = tuple(f.name for f in fields(Partner))
_KEY_FIELDS = tuple(f.name for f in fields(ApiKey))
# Key and partner in ONE statement, built once (building and cache-keying a SELECT costs more
# than running this one): partner columns are labelled so that ``id``/``created_at`` don't clash.
_AUTHENTICATE = (
    select(
        *(api_keys.c[name] for name in _KEY_FIELDS),
        *(partners.c[name].label(_partner_column_label(name)) for name in _PARTNER_FIELDS),
    )
    .select_from(api_keys.join(partners, partners.c.id == api_keys.c.partner_id))
    .where(api_keys.c.key_hash == bindparam("key_hash"))
)


async def authenticate(
    conn: AsyncConnection, *, raw_key: str, secret_key: str, now: datetime | None = None
) -> Authenticated | None:
    """The partner and key behind ``raw_key``; None when unknown, revoked or expired.

    Does not check partner status, role or IP: the caller answers those with distinct problems.
    One statement (``api_keys JOIN partners``), so it may run outside an explicit transaction.
    """
    if not raw_key.startswith(("stlr_test_", "stlr_live_")) or len(raw_key) > 200:
        return None
    found = await lookup(conn, key_hash=hash_api_key(raw_key, secret_key))
    if found is None or found.key.status_at(now or utcnow()) in ("revoked", "expired"):
        return None
    return found


async def lookup(conn: AsyncConnection, *, key_hash: str) -> Authenticated | None:
    """The key with this hash and its partner, whatever the key's status (None when unknown)."""
    row = (await conn.execute(_AUTHENTICATE, {"key_hash": key_hash})).mappings().one_or_none()
    if row is None:
        return None
    return Authenticated(
        partner=Partner(**{name: row[_partner_column_label(name)] for name in _PARTNER_FIELDS}),
        key=ApiKey(**{name: row[name] for name in _KEY_FIELDS}),
    )


#: How long one process keeps serving a key/partner it looked up (see :class:`AuthCache`).
AUTH_CACHE_TTL_SECONDS = 5.0


class AuthCache(WatchedCache[str, Authenticated]):
    """Per-process memo of :func:`lookup` by key hash, kept ``ttl`` seconds (monotonic clock).

    Authentication runs on every partner request; without this it is a round trip (plus, before,
    a transaction) per request. What is cached is the key and partner rows, not a verdict: the
    key's revocation/expiry is judged on every request against the request's clock, and partner
    status, role and IP allowlist are checked by the caller on every request.

    Staleness bound (:class:`~steller_server.db.engine.WatchedCache`): a revocation, rotation,
    suspension, role or limit change made by THIS process (any write naming ``api_keys`` or
    ``partners``) applies to the next request; one made by ANOTHER process (another ``serve``
    worker, the CLI, a worker process) applies here at most :data:`AUTH_CACHE_TTL_SECONDS`
    (5 s) later: for that long a revoked key or a suspended partner may still be served by this
    process. ``last_used_at`` touches are neutral (:data:`NEUTRAL_WRITE`) and recorded in the
    entry by :meth:`touched`.
    """

    def __init__(
        self,
        *,
        ttl: float = AUTH_CACHE_TTL_SECONDS,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            ("api_keys", "partners"), ttl=ttl, max_entries=max_entries, monotonic=monotonic
        )

    def touched(self, key_hash: str, when: datetime) -> None:
        """This process recorded ``last_used_at``: keep the entry from touching it again."""
        found = self.get(key_hash)
        if found is not None:
            self.replace(
                key_hash,
                Authenticated(partner=found.partner, key=replace(found.key, last_used_at=when)),
            )


async def authenticate_cached(
    db: Database,
    cache: AuthCache,
    *,
    raw_key: str,
    secret_key: str,
    now: datetime,
) -> tuple[Authenticated, str] | None:
    """:func:`authenticate` through ``cache``; also returns the key hash (for :meth:`touched`).

    A miss is ONE statement outside an explicit transaction (:meth:`Database.statement`).
    """
    if not raw_key.startswith(("stlr_test_", "stlr_live_")) or len(raw_key) > 200:
        return None
    key_hash = hash_api_key(raw_key, secret_key)
    found = cache.get(key_hash)
    if found is None:
        generation = cache.generation
        async with db.statement() as conn:
            found = await lookup(conn, key_hash=key_hash)
        if found is None:
            return None
        cache.put(key_hash, found, generation=generation)
    if found.key.status_at(now) in ("revoked", "expired"):
        return None
    return found, key_hash


async def touch_key(conn: AsyncConnection, *, key_id: str, now: datetime | None = None) -> bool:
    """Record use, at most once a minute per key (keeps auth from writing on every request)."""
    now = now or utcnow()
    result = await conn.execute(
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < now - TOUCH_INTERVAL),
        )
        .values(last_used_at=now)
        # last_used_at decides nothing but when to touch again (AuthCache.touched handles that).
        .execution_options(**{NEUTRAL_WRITE: True})
    )
    return result.rowcount == 1
