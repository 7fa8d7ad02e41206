"""``admin.partners``: partners, and under each one its keys, wallet and approved products."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from steller._config import NOT_GIVEN, NotGiven, RequestOptions
from steller._http import AsyncAPIClient, SyncAPIClient, encode_path
from steller._pagination import AsyncPaginator, SyncPage
from steller._resources._base import (
    AmountInput,
    AsyncAPIResource,
    DateTimeInput,
    SyncAPIResource,
    amount,
    amount_or_none,
    enum_value,
    given,
)
from steller._response import async_to_raw_response_wrapper, to_raw_response_wrapper
from steller.models import (
    AdminKeyCreate,
    AdminPartner,
    AdminPartnerCreate,
    AdminPartnerUpdate,
    ApiKey,
    ApiKeyRole,
    ApprovedProduct,
    ApprovedProductPage,
    CreatedApiKey,
    LedgerEntry,
    LedgerEntryType,
    PartnerEnvironment,
    PartnerStatus,
    ProductApproval,
    ProductApprovals,
    RateLimits,
    Wallet,
    WalletAdjustment,
    WalletCurrency,
    WalletMovement,
)

__all__ = [
    "AsyncPartnerKeys",
    "AsyncPartnerProducts",
    "AsyncPartnerWallet",
    "AsyncPartners",
    "PartnerKeys",
    "PartnerProducts",
    "PartnerWallet",
    "Partners",
]

_PARTNER = "/api/admin/partners/{partner}"
_KEYS = _PARTNER + "/keys"
_WALLET = _PARTNER + "/wallet"
_PRODUCTS = _PARTNER + "/products"

#: Product approvals: ``{sku: discount_percent}`` or a list of :class:`ProductApproval`.
Approvals = Mapping[str, AmountInput] | Sequence[ProductApproval]


def _partner_create(
    *,
    name: str,
    email: str,
    currency: WalletCurrency | str | NotGiven,
    environment: PartnerEnvironment | str | NotGiven,
    low_balance_threshold: AmountInput | NotGiven,
) -> AdminPartnerCreate:
    return AdminPartnerCreate(
        name=name,
        email=email,
        currency=None if isinstance(currency, NotGiven) else enum_value(WalletCurrency, currency),
        environment=None
        if isinstance(environment, NotGiven)
        else enum_value(PartnerEnvironment, environment),
        low_balance_threshold=amount_or_none("low_balance_threshold", low_balance_threshold),
    )


def _partner_update(
    *,
    name: str | NotGiven,
    status: PartnerStatus | str | NotGiven,
    low_balance_threshold: AmountInput | NotGiven,
    rate_limits: RateLimits | NotGiven,
    reason: str | NotGiven,
) -> AdminPartnerUpdate:
    return AdminPartnerUpdate(
        name=given(name),
        status=None if isinstance(status, NotGiven) else enum_value(PartnerStatus, status),
        low_balance_threshold=amount_or_none("low_balance_threshold", low_balance_threshold),
        rate_limits=given(rate_limits),
        reason=given(reason),
    )


def _key_create(
    *,
    role: ApiKeyRole | str,
    ip_allowlist: Sequence[str] | NotGiven,
    expires_at: dt.datetime | NotGiven,
    revoke_existing: bool,
) -> AdminKeyCreate:
    return AdminKeyCreate(
        role=enum_value(ApiKeyRole, role),
        ip_allowlist=None if isinstance(ip_allowlist, NotGiven) else [*ip_allowlist],
        expires_at=given(expires_at),
        revoke_existing=revoke_existing,
    )


def _approvals(products: Approvals, replace: bool) -> ProductApprovals:
    if isinstance(products, Mapping):
        items = [
            ProductApproval(sku=sku, discount_percent=amount(f"discount for {sku}", discount))
            for sku, discount in products.items()
        ]
    else:
        items = list(products)
    return ProductApprovals(products=items, replace=replace)


def _adjustment(value: AmountInput, reason: str) -> WalletAdjustment:
    return WalletAdjustment(amount=amount("amount", value), reason=reason)


def _txn_filters(
    *,
    type: LedgerEntryType | str | NotGiven,
    order_id: str | NotGiven,
    from_: DateTimeInput | NotGiven,
    to: DateTimeInput | NotGiven,
    limit: int | NotGiven,
) -> dict[str, object]:
    return {"type": type, "orderId": order_id, "from": from_, "to": to, "limit": limit}


# -- sync ---------------------------------------------------------------------------------------


class PartnerKeys(SyncAPIResource):
    """``admin.partners.keys``: a partner's API keys."""

    def list(
        self,
        partner_id: str,
        *,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[ApiKey]:
        """A partner's keys, newest first.

        ::

            for key in admin.partners.keys.list("ptn_4Fh8Kq2Lm9Np3Rs7"):
                print(key.id, key.status)
        """
        return self._client.get_page(
            encode_path(_KEYS, partner=partner_id),
            item_type=ApiKey,
            params={"limit": limit},
            options=options,
        )

    def create(
        self,
        partner_id: str,
        *,
        role: ApiKeyRole | str,
        ip_allowlist: Sequence[str] | NotGiven = NOT_GIVEN,
        expires_at: dt.datetime | NotGiven = NOT_GIVEN,
        revoke_existing: bool = False,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> CreatedApiKey:
        """Issue a key (``revoke_existing=True`` revokes all others at once, e.g. after a leak).

        ::

            key = admin.partners.keys.create("ptn_4Fh8Kq2Lm9Np3Rs7", role="ordering")
            hand_over(key.key)
        """
        body = _key_create(
            role=role,
            ip_allowlist=ip_allowlist,
            expires_at=expires_at,
            revoke_existing=revoke_existing,
        )
        return self._client.request(
            "POST",
            encode_path(_KEYS, partner=partner_id),
            json=body,
            cast_to=CreatedApiKey,
            idempotency_key=idempotency_key,
            options=options,
        )

    def revoke(
        self, partner_id: str, key_id: str, *, options: RequestOptions | None = None
    ) -> None:
        """Revoke one of a partner's keys at once.

        ::

            admin.partners.keys.revoke("ptn_4Fh8Kq2Lm9Np3Rs7", "key_9Hs2Kd7Lq4Wm1Xz8")
        """
        return self._client.request(
            "DELETE",
            encode_path(_KEYS + "/{key}", partner=partner_id, key=key_id),
            options=options,
        )

    @property
    def with_raw_response(self) -> PartnerKeysWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return PartnerKeysWithRawResponse(self)


class PartnerKeysWithRawResponse:
    """``admin.partners.keys.with_raw_response``."""

    def __init__(self, keys: PartnerKeys) -> None:
        self.list = to_raw_response_wrapper(keys.list)
        self.create = to_raw_response_wrapper(keys.create)
        self.revoke = to_raw_response_wrapper(keys.revoke)


class PartnerWallet(SyncAPIResource):
    """``admin.partners.wallet``: a partner's wallet, ledger and manual adjustments."""

    def get(self, partner_id: str, *, options: RequestOptions | None = None) -> Wallet:
        """A partner's wallet.

        ::

            print(admin.partners.wallet.get("ptn_4Fh8Kq2Lm9Np3Rs7").balance)
        """
        return self._client.request(
            "GET", encode_path(_WALLET, partner=partner_id), cast_to=Wallet, options=options
        )

    def transactions(
        self,
        partner_id: str,
        *,
        type: LedgerEntryType | str | NotGiven = NOT_GIVEN,
        order_id: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[LedgerEntry]:
        """A partner's ledger, newest first.

        ::

            for entry in admin.partners.wallet.transactions("ptn_4Fh8Kq2Lm9Np3Rs7", type="credit"):
                print(entry.amount, entry.actor)
        """
        return self._client.get_page(
            encode_path(_WALLET + "/transactions", partner=partner_id),
            item_type=LedgerEntry,
            params=_txn_filters(type=type, order_id=order_id, from_=from_, to=to, limit=limit),
            options=options,
        )

    def credit(
        self,
        partner_id: str,
        *,
        amount: AmountInput,
        reason: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> WalletMovement:
        """Add money to a partner's wallet (a top-up); ``reason`` goes to the ledger and audit.

        ::

            movement = admin.partners.wallet.credit(
                "ptn_4Fh8Kq2Lm9Np3Rs7", amount="500.00", reason="Wire 2026-11-03"
            )
        """
        return self._client.request(
            "POST",
            encode_path(_WALLET + "/credit", partner=partner_id),
            json=_adjustment(amount, reason),
            cast_to=WalletMovement,
            idempotency_key=idempotency_key,
            options=options,
        )

    def debit(
        self,
        partner_id: str,
        *,
        amount: AmountInput,
        reason: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> WalletMovement:
        """Take money from a partner's wallet (never below zero: 402 insufficient_funds).

        ::

            admin.partners.wallet.debit("ptn_4Fh8Kq2Lm9Np3Rs7", amount="20.00", reason="Fee")
        """
        return self._client.request(
            "POST",
            encode_path(_WALLET + "/debit", partner=partner_id),
            json=_adjustment(amount, reason),
            cast_to=WalletMovement,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> PartnerWalletWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return PartnerWalletWithRawResponse(self)


class PartnerWalletWithRawResponse:
    """``admin.partners.wallet.with_raw_response``."""

    def __init__(self, wallet: PartnerWallet) -> None:
        self.get = to_raw_response_wrapper(wallet.get)
        self.transactions = to_raw_response_wrapper(wallet.transactions)
        self.credit = to_raw_response_wrapper(wallet.credit)
        self.debit = to_raw_response_wrapper(wallet.debit)


class PartnerProducts(SyncAPIResource):
    """``admin.partners.products``: the products a partner may sell, at its discount."""

    def list(
        self,
        partner_id: str,
        *,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[ApprovedProduct]:
        """A partner's approved products with their prices.

        ::

            for product in admin.partners.products.list("ptn_4Fh8Kq2Lm9Np3Rs7"):
                print(product.sku, product.discount_percent)
        """
        return self._client.get_page(
            encode_path(_PRODUCTS, partner=partner_id),
            item_type=ApprovedProduct,
            params={"limit": limit},
            options=options,
        )

    def approve(
        self,
        partner_id: str,
        products: Approvals,
        *,
        replace: bool = False,
        options: RequestOptions | None = None,
    ) -> ApprovedProductPage:
        """Approve SKUs at a discount (``{sku: discount_percent}``; negative is a markup).

        ``replace=True`` makes this the partner's whole approved set. A price below cost is
        refused (422 ``price_below_cost``, naming each entry).

        ::

            admin.partners.products.approve("ptn_4Fh8Kq2Lm9Np3Rs7", {"AMZ-US": "5", "XB-EU": "-2"})
        """
        return self._client.request(
            "PUT",
            encode_path(_PRODUCTS, partner=partner_id),
            json=_approvals(products, replace),
            cast_to=ApprovedProductPage,
            options=options,
        )

    def remove(self, partner_id: str, sku: str, *, options: RequestOptions | None = None) -> None:
        """Withdraw one product from a partner.

        ::

            admin.partners.products.remove("ptn_4Fh8Kq2Lm9Np3Rs7", "AMZ-US")
        """
        return self._client.request(
            "DELETE",
            encode_path(_PRODUCTS + "/{sku}", partner=partner_id, sku=sku),
            options=options,
        )

    @property
    def with_raw_response(self) -> PartnerProductsWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return PartnerProductsWithRawResponse(self)


class PartnerProductsWithRawResponse:
    """``admin.partners.products.with_raw_response``."""

    def __init__(self, products: PartnerProducts) -> None:
        self.list = to_raw_response_wrapper(products.list)
        self.approve = to_raw_response_wrapper(products.approve)
        self.remove = to_raw_response_wrapper(products.remove)


class Partners(SyncAPIResource):
    """``admin.partners``: onboard, inspect, change and suspend partners."""

    def __init__(self, client: SyncAPIClient) -> None:
        super().__init__(client)
        #: The partner's API keys.
        self.keys = PartnerKeys(client)
        #: The partner's wallet and ledger.
        self.wallet = PartnerWallet(client)
        #: The partner's approved products.
        self.products = PartnerProducts(client)

    def list(
        self,
        *,
        status: PartnerStatus | str | NotGiven = NOT_GIVEN,
        q: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[AdminPartner]:
        """Partners; ``q`` searches name and email.

        ::

            for partner in admin.partners.list(status="suspended"):
                print(partner.id, partner.name, partner.balance)
        """
        return self._client.get_page(
            "/api/admin/partners",
            item_type=AdminPartner,
            params={"status": status, "q": q, "limit": limit},
            options=options,
        )

    def create(
        self,
        *,
        name: str,
        email: str,
        currency: WalletCurrency | str | NotGiven = NOT_GIVEN,
        environment: PartnerEnvironment | str | NotGiven = NOT_GIVEN,
        low_balance_threshold: AmountInput | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AdminPartner:
        """Onboard a partner (with its empty wallet).

        ::

            partner = admin.partners.create(name="Acme", email="ops@acme.example", currency="EUR")
        """
        body = _partner_create(
            name=name,
            email=email,
            currency=currency,
            environment=environment,
            low_balance_threshold=low_balance_threshold,
        )
        return self._client.request(
            "POST",
            "/api/admin/partners",
            json=body,
            cast_to=AdminPartner,
            idempotency_key=idempotency_key,
            options=options,
        )

    def get(self, partner_id: str, *, options: RequestOptions | None = None) -> AdminPartner:
        """One partner, with balance and rate limits.

        ::

            partner = admin.partners.get("ptn_4Fh8Kq2Lm9Np3Rs7")
        """
        return self._client.request(
            "GET",
            encode_path(_PARTNER, partner=partner_id),
            cast_to=AdminPartner,
            options=options,
        )

    def update(
        self,
        partner_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        status: PartnerStatus | str | NotGiven = NOT_GIVEN,
        low_balance_threshold: AmountInput | NotGiven = NOT_GIVEN,
        rate_limits: RateLimits | NotGiven = NOT_GIVEN,
        reason: str | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AdminPartner:
        """Change a partner; ``reason`` is required with ``status`` and goes to the audit log.

        ::

            admin.partners.update("ptn_4Fh8Kq2Lm9Np3Rs7", status="suspended", reason="Chargebacks")
        """
        body = _partner_update(
            name=name,
            status=status,
            low_balance_threshold=low_balance_threshold,
            rate_limits=rate_limits,
            reason=reason,
        )
        return self._client.request(
            "PATCH",
            encode_path(_PARTNER, partner=partner_id),
            json=body,
            cast_to=AdminPartner,
            options=options,
        )

    @property
    def with_raw_response(self) -> PartnersWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return PartnersWithRawResponse(self)


class PartnersWithRawResponse:
    """``admin.partners.with_raw_response`` (sub-resources included)."""

    def __init__(self, partners: Partners) -> None:
        self.list = to_raw_response_wrapper(partners.list)
        self.create = to_raw_response_wrapper(partners.create)
        self.get = to_raw_response_wrapper(partners.get)
        self.update = to_raw_response_wrapper(partners.update)
        self.keys = partners.keys.with_raw_response
        self.wallet = partners.wallet.with_raw_response
        self.products = partners.products.with_raw_response


# -- async --------------------------------------------------------------------------------------


class AsyncPartnerKeys(AsyncAPIResource):
    """``admin.partners.keys`` of the async admin client."""

    def list(
        self,
        partner_id: str,
        *,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[ApiKey]:
        """A partner's keys, newest first.

        ::

            async for key in admin.partners.keys.list("ptn_4Fh8Kq2Lm9Np3Rs7"):
                print(key.id)
        """
        return self._client.get_page(
            encode_path(_KEYS, partner=partner_id),
            item_type=ApiKey,
            params={"limit": limit},
            options=options,
        )

    async def create(
        self,
        partner_id: str,
        *,
        role: ApiKeyRole | str,
        ip_allowlist: Sequence[str] | NotGiven = NOT_GIVEN,
        expires_at: dt.datetime | NotGiven = NOT_GIVEN,
        revoke_existing: bool = False,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> CreatedApiKey:
        """Issue a key; see :meth:`PartnerKeys.create`.

        ::

            key = await admin.partners.keys.create("ptn_4Fh8Kq2Lm9Np3Rs7", role="ordering")
        """
        body = _key_create(
            role=role,
            ip_allowlist=ip_allowlist,
            expires_at=expires_at,
            revoke_existing=revoke_existing,
        )
        return await self._client.request(
            "POST",
            encode_path(_KEYS, partner=partner_id),
            json=body,
            cast_to=CreatedApiKey,
            idempotency_key=idempotency_key,
            options=options,
        )

    async def revoke(
        self, partner_id: str, key_id: str, *, options: RequestOptions | None = None
    ) -> None:
        """Revoke one of a partner's keys at once.

        ::

            await admin.partners.keys.revoke("ptn_4Fh8Kq2Lm9Np3Rs7", "key_9Hs2Kd7Lq4Wm1Xz8")
        """
        return await self._client.request(
            "DELETE",
            encode_path(_KEYS + "/{key}", partner=partner_id, key=key_id),
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncPartnerKeysWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncPartnerKeysWithRawResponse(self)


class AsyncPartnerKeysWithRawResponse:
    """``admin.partners.keys.with_raw_response`` of the async admin client."""

    def __init__(self, keys: AsyncPartnerKeys) -> None:
        self.list = async_to_raw_response_wrapper(keys.list)
        self.create = async_to_raw_response_wrapper(keys.create)
        self.revoke = async_to_raw_response_wrapper(keys.revoke)


class AsyncPartnerWallet(AsyncAPIResource):
    """``admin.partners.wallet`` of the async admin client."""

    async def get(self, partner_id: str, *, options: RequestOptions | None = None) -> Wallet:
        """A partner's wallet.

        ::

            wallet = await admin.partners.wallet.get("ptn_4Fh8Kq2Lm9Np3Rs7")
        """
        return await self._client.request(
            "GET", encode_path(_WALLET, partner=partner_id), cast_to=Wallet, options=options
        )

    def transactions(
        self,
        partner_id: str,
        *,
        type: LedgerEntryType | str | NotGiven = NOT_GIVEN,
        order_id: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[LedgerEntry]:
        """A partner's ledger, newest first.

        ::

            async for entry in admin.partners.wallet.transactions("ptn_4Fh8Kq2Lm9Np3Rs7"):
                print(entry.amount)
        """
        return self._client.get_page(
            encode_path(_WALLET + "/transactions", partner=partner_id),
            item_type=LedgerEntry,
            params=_txn_filters(type=type, order_id=order_id, from_=from_, to=to, limit=limit),
            options=options,
        )

    async def credit(
        self,
        partner_id: str,
        *,
        amount: AmountInput,
        reason: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> WalletMovement:
        """Add money to a partner's wallet; see :meth:`PartnerWallet.credit`.

        ::

            await admin.partners.wallet.credit("ptn_4Fh8Kq2Lm9Np3Rs7", amount="500", reason="Wire")
        """
        return await self._client.request(
            "POST",
            encode_path(_WALLET + "/credit", partner=partner_id),
            json=_adjustment(amount, reason),
            cast_to=WalletMovement,
            idempotency_key=idempotency_key,
            options=options,
        )

    async def debit(
        self,
        partner_id: str,
        *,
        amount: AmountInput,
        reason: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> WalletMovement:
        """Take money from a partner's wallet; see :meth:`PartnerWallet.debit`.

        ::

            await admin.partners.wallet.debit("ptn_4Fh8Kq2Lm9Np3Rs7", amount="20.00", reason="Fee")
        """
        return await self._client.request(
            "POST",
            encode_path(_WALLET + "/debit", partner=partner_id),
            json=_adjustment(amount, reason),
            cast_to=WalletMovement,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncPartnerWalletWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncPartnerWalletWithRawResponse(self)


class AsyncPartnerWalletWithRawResponse:
    """``admin.partners.wallet.with_raw_response`` of the async admin client."""

    def __init__(self, wallet: AsyncPartnerWallet) -> None:
        self.get = async_to_raw_response_wrapper(wallet.get)
        self.transactions = async_to_raw_response_wrapper(wallet.transactions)
        self.credit = async_to_raw_response_wrapper(wallet.credit)
        self.debit = async_to_raw_response_wrapper(wallet.debit)


class AsyncPartnerProducts(AsyncAPIResource):
    """``admin.partners.products`` of the async admin client."""

    def list(
        self,
        partner_id: str,
        *,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[ApprovedProduct]:
        """A partner's approved products.

        ::

            async for product in admin.partners.products.list("ptn_4Fh8Kq2Lm9Np3Rs7"):
                print(product.sku)
        """
        return self._client.get_page(
            encode_path(_PRODUCTS, partner=partner_id),
            item_type=ApprovedProduct,
            params={"limit": limit},
            options=options,
        )

    async def approve(
        self,
        partner_id: str,
        products: Approvals,
        *,
        replace: bool = False,
        options: RequestOptions | None = None,
    ) -> ApprovedProductPage:
        """Approve SKUs at a discount; see :meth:`PartnerProducts.approve`.

        ::

            await admin.partners.products.approve("ptn_4Fh8Kq2Lm9Np3Rs7", {"AMZ-US": "5"})
        """
        return await self._client.request(
            "PUT",
            encode_path(_PRODUCTS, partner=partner_id),
            json=_approvals(products, replace),
            cast_to=ApprovedProductPage,
            options=options,
        )

    async def remove(
        self, partner_id: str, sku: str, *, options: RequestOptions | None = None
    ) -> None:
        """Withdraw one product from a partner.

        ::

            await admin.partners.products.remove("ptn_4Fh8Kq2Lm9Np3Rs7", "AMZ-US")
        """
        return await self._client.request(
            "DELETE",
            encode_path(_PRODUCTS + "/{sku}", partner=partner_id, sku=sku),
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncPartnerProductsWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncPartnerProductsWithRawResponse(self)


class AsyncPartnerProductsWithRawResponse:
    """``admin.partners.products.with_raw_response`` of the async admin client."""

    def __init__(self, products: AsyncPartnerProducts) -> None:
        self.list = async_to_raw_response_wrapper(products.list)
        self.approve = async_to_raw_response_wrapper(products.approve)
        self.remove = async_to_raw_response_wrapper(products.remove)


class AsyncPartners(AsyncAPIResource):
    """``admin.partners`` of the async admin client."""

    def __init__(self, client: AsyncAPIClient) -> None:
        super().__init__(client)
        #: The partner's API keys.
        self.keys = AsyncPartnerKeys(client)
        #: The partner's wallet and ledger.
        self.wallet = AsyncPartnerWallet(client)
        #: The partner's approved products.
        self.products = AsyncPartnerProducts(client)

    def list(
        self,
        *,
        status: PartnerStatus | str | NotGiven = NOT_GIVEN,
        q: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[AdminPartner]:
        """Partners; ``q`` searches name and email.

        ::

            async for partner in admin.partners.list(q="acme"):
                print(partner.id)
        """
        return self._client.get_page(
            "/api/admin/partners",
            item_type=AdminPartner,
            params={"status": status, "q": q, "limit": limit},
            options=options,
        )

    async def create(
        self,
        *,
        name: str,
        email: str,
        currency: WalletCurrency | str | NotGiven = NOT_GIVEN,
        environment: PartnerEnvironment | str | NotGiven = NOT_GIVEN,
        low_balance_threshold: AmountInput | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AdminPartner:
        """Onboard a partner; see :meth:`Partners.create`.

        ::

            partner = await admin.partners.create(name="Acme", email="ops@acme.example")
        """
        body = _partner_create(
            name=name,
            email=email,
            currency=currency,
            environment=environment,
            low_balance_threshold=low_balance_threshold,
        )
        return await self._client.request(
            "POST",
            "/api/admin/partners",
            json=body,
            cast_to=AdminPartner,
            idempotency_key=idempotency_key,
            options=options,
        )

    async def get(self, partner_id: str, *, options: RequestOptions | None = None) -> AdminPartner:
        """One partner.

        ::

            partner = await admin.partners.get("ptn_4Fh8Kq2Lm9Np3Rs7")
        """
        return await self._client.request(
            "GET",
            encode_path(_PARTNER, partner=partner_id),
            cast_to=AdminPartner,
            options=options,
        )

    async def update(
        self,
        partner_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        status: PartnerStatus | str | NotGiven = NOT_GIVEN,
        low_balance_threshold: AmountInput | NotGiven = NOT_GIVEN,
        rate_limits: RateLimits | NotGiven = NOT_GIVEN,
        reason: str | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AdminPartner:
        """Change a partner; see :meth:`Partners.update`.

        ::

            await admin.partners.update("ptn_4Fh8Kq2Lm9Np3Rs7", status="active", reason="Resolved")
        """
        body = _partner_update(
            name=name,
            status=status,
            low_balance_threshold=low_balance_threshold,
            rate_limits=rate_limits,
            reason=reason,
        )
        return await self._client.request(
            "PATCH",
            encode_path(_PARTNER, partner=partner_id),
            json=body,
            cast_to=AdminPartner,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncPartnersWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncPartnersWithRawResponse(self)


class AsyncPartnersWithRawResponse:
    """``admin.partners.with_raw_response`` of the async admin client."""

    def __init__(self, partners: AsyncPartners) -> None:
        self.list = async_to_raw_response_wrapper(partners.list)
        self.create = async_to_raw_response_wrapper(partners.create)
        self.get = async_to_raw_response_wrapper(partners.get)
        self.update = async_to_raw_response_wrapper(partners.update)
        self.keys = partners.keys.with_raw_response
        self.wallet = partners.wallet.with_raw_response
        self.products = partners.products.with_raw_response
