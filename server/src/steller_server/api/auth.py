"""Who is calling: partner API keys (`x-api-key`) and admin bearer tokens.

Answers, in this order and with distinct problems: no credentials (401 unauthenticated), unknown,
revoked or expired credentials (401, one answer for all three so nothing can be probed), suspended
partner (403), client address outside the key's allowlist (403), role too weak (403).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from steller_server.api.problems import ProblemError
from steller_server.api.state import AppState
from steller_server.db.engine import Database
from steller_server.domain import admins, keys
from steller_server.domain.models import ApiKey, Partner


@dataclass(frozen=True, slots=True)
class PartnerPrincipal:
    partner: Partner
    key: ApiKey

    @property
    def partner_id(self) -> str:
        return self.partner.id

    @property
    def key_id(self) -> str:
        return self.key.id

    @property
    def api_version(self) -> str:
        return self.partner.api_version

    @property
    def rate_limits(self) -> dict[str, int]:
        p = self.partner
        pairs = {
            "catalog": p.rate_limit_catalog,
            "orders": p.rate_limit_orders,
            "default": p.rate_limit_default,
        }
        return {k: v for k, v in pairs.items() if v}


@dataclass(frozen=True, slots=True)
class AdminPrincipal:
    user_id: str
    email: str
    role: str
    token_id: str


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def auth_cache(db: Database) -> keys.AuthCache:
    """The process's key/partner cache for ``db``.

    Bound on staleness: see :class:`~steller_server.domain.keys.AuthCache` (writes in this
    process apply at once; other processes' writes within ``AUTH_CACHE_TTL_SECONDS``).
    """
    return db.cache("auth", keys.AuthCache)


async def resolve_partner(request: Request, state: AppState) -> PartnerPrincipal:
    """The partner behind ``x-api-key`` (active, from an allowed address). Whether its role may
    call the operation is the router's check, so a refusal is still attributed to the key."""
    raw = request.headers.get("x-api-key")
    if not raw:
        raise ProblemError("unauthenticated", "Send your API key in the x-api-key header")
    now = state.clock()
    cache = auth_cache(state.db)
    result = await keys.authenticate_cached(
        state.db,
        cache,
        raw_key=raw.strip(),
        secret_key=state.settings.effective_secret_key,
        now=now,
    )
    if result is None:
        raise ProblemError(
            "invalid_api_key", "The API key is not valid (unknown, revoked or expired)"
        )
    found, key_hash = result
    if found.partner.status != "active":
        raise ProblemError("partner_suspended", "This partner account is suspended")
    if not keys.ip_allowed(found.key, _client_ip(request)):
        raise ProblemError("ip_not_allowed", "This key may not be used from this address")
    if found.key.last_used_at is None or now - found.key.last_used_at > keys.TOUCH_INTERVAL:
        async with state.db.write() as conn:
            await keys.touch_key(conn, key_id=found.key.id, now=now)
        cache.touched(key_hash, now)
    return PartnerPrincipal(found.partner, found.key)


async def resolve_admin(request: Request, state: AppState) -> AdminPrincipal:
    """The admin session behind the bearer token (roles are the router's check)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError("unauthenticated", "Send an admin token as 'Authorization: Bearer …'")
    async with state.db.read() as conn:
        session = await admins.authenticate_token(
            conn,
            token=token.strip(),
            secret_key=state.settings.effective_secret_key,
            now=state.clock(),
        )
    if session is None:
        raise ProblemError("invalid_token", "The admin token is not valid or has expired")
    return AdminPrincipal(session.user_id, session.email, session.role, session.token_id)
