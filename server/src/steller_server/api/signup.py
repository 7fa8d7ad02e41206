"""Self-service signup: ``POST /api/public/signup``.

Creates the partner, its wallet and a first ``developer`` key in one transaction (domain
:func:`steller_server.domain.partners.signup`); in sandbox mode the same transaction credits the
trial money and approves the sandbox catalog. The key's secret is in this response only.
Throttled per client address (``signup`` class, 5/min). With an Idempotency-Key the response is
kept for replays encrypted at rest (the routing layer seals every stored response).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import partners
from steller_server.domain.keys import CreatedKey
from steller_server.domain.serialize import iso, partner_public
from steller_server.domain.wallets import WalletView

endpoints = Endpoints()


def created_key_public(created: CreatedKey, now: datetime) -> dict[str, Any]:
    """The ``CreatedApiKey`` schema: the key's metadata plus its secret (shown once)."""
    key = created.key
    return {
        "id": key.id,
        "role": key.role,
        "prefix": key.prefix,
        "last4": key.last4,
        "status": key.status_at(now),
        "createdAt": iso(key.created_at),
        "lastUsedAt": iso(key.last_used_at),
        "expiresAt": iso(key.expires_at),
        "revokedAt": iso(key.revoked_at),
        "ipAllowlist": list(key.ip_allowlist),
        "key": created.raw,
    }


@endpoints.op("signup", auth="public", limit="signup")
async def signup(ctx: Ctx) -> Reply:
    body = ctx.body
    now = ctx.state.clock()
    result = await partners.signup(
        ctx.state.db,
        name=body["name"],
        email=body["email"],
        settings=ctx.state.settings,
        currency=body.get("currency", "USD"),
        company=body.get("company"),
        request_id=ctx.request_id,
        now=now,
    )
    # A brand-new wallet has spent nothing: no spend average, no run-out date.
    wallet = WalletView(
        wallet=result.wallet,
        low_balance_threshold_minor=result.partner.low_balance_threshold_minor,
        average_daily_spend_minor=0,
        projected_run_out_date=None,
    )
    return Reply(
        201,
        {
            "partner": partner_public(result.partner),
            "apiKey": created_key_public(result.api_key, now),
            "wallet": wallet.public(),
        },
    )
