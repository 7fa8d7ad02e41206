"""Partner wallets as admins see and move them.

    GET  /api/admin/partners/{partnerId}/wallet                 any role
    GET  /api/admin/partners/{partnerId}/wallet/transactions    any role
    POST /api/admin/partners/{partnerId}/wallet/credit          admin, finance
    POST /api/admin/partners/{partnerId}/wallet/debit           admin, finance

Credit and debit are one ledger entry + balance change + audit entry in one transaction (credit
also emits `wallet.credited`); retries with the same Idempotency-Key replay the first movement.
"""

from __future__ import annotations

from steller_server.api.render_admin import amount_minor, instant, page
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import wallets
from steller_server.domain.models import LedgerEntry, Wallet
from steller_server.domain.serialize import ledger_entry_public

endpoints = Endpoints()

ANY_ROLE = {"admin", "support", "finance"}
MONEY_ROLES = {"admin", "finance"}


@endpoints.op("adminGetPartnerWallet", auth="admin", roles=ANY_ROLE)
async def get_wallet(ctx: Ctx) -> Reply:
    async with ctx.state.db.read() as conn:
        view = await wallets.wallet_view(
            conn, partner_id=ctx.path["partnerId"], now=ctx.state.clock()
        )
    return Reply(200, view.public())


@endpoints.op("adminListPartnerTransactions", auth="admin", roles=ANY_ROLE)
async def list_transactions(ctx: Ctx) -> Reply:
    q = ctx.query
    async with ctx.state.db.read() as conn:
        wallet = await wallets.get_wallet(conn, partner_id=ctx.path["partnerId"])
        result = await wallets.list_transactions(
            conn,
            wallet_id=wallet.id,
            entry_type=q.get("type"),
            order_id=q.get("orderId"),
            created_from=instant(q, "from"),
            created_to=instant(q, "to"),
            limit=q.get("limit", 50),
            cursor=q.get("cursor"),
        )
    return Reply(200, page([ledger_entry_public(e) for e in result.data], result))


async def _movement(ctx: Ctx, entry: LedgerEntry, wallet: Wallet) -> Reply:
    async with ctx.state.db.read() as conn:
        view = await wallets.wallet_view(conn, partner_id=wallet.partner_id, now=ctx.state.clock())
    return Reply(201, {"entry": ledger_entry_public(entry), "wallet": view.public()})


async def _currency(ctx: Ctx) -> str:
    async with ctx.state.db.read() as conn:
        return (await wallets.get_wallet(conn, partner_id=ctx.path["partnerId"])).currency


@endpoints.op("adminCreditPartnerWallet", auth="admin", roles=MONEY_ROLES)
async def credit(ctx: Ctx) -> Reply:
    amount = amount_minor(ctx.body["amount"], await _currency(ctx), "/amount")
    entry, wallet = await wallets.admin_credit(
        ctx.state.db,
        partner_id=ctx.path["partnerId"],
        amount_minor=amount,
        reason=ctx.body["reason"],
        actor=ctx.actor,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return await _movement(ctx, entry, wallet)


@endpoints.op("adminDebitPartnerWallet", auth="admin", roles=MONEY_ROLES)
async def debit(ctx: Ctx) -> Reply:
    amount = amount_minor(ctx.body["amount"], await _currency(ctx), "/amount")
    entry, wallet = await wallets.admin_debit(
        ctx.state.db,
        partner_id=ctx.path["partnerId"],
        amount_minor=amount,
        reason=ctx.body["reason"],
        actor=ctx.actor,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return await _movement(ctx, entry, wallet)
