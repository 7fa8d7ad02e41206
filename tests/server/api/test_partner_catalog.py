"""The catalog over HTTP: each partner sees exactly its approved products at its prices."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import event

from steller_server.db.engine import Database
from steller_server.domain import catalog
from tests.server.api.contract_check import assert_conforms
from tests.server.api.partner_support import onboard, order_body

CATALOG = "/api/brand/getCatalog"


async def _products(factory: Any) -> list[str]:
    """12 products: 8 USD fixed (4 gaming, 4 shopping), 4 EUR range (Steam DE style)."""
    skus = []
    for i in range(8):
        sku = f"USD-{i:02d}"
        await factory.product(
            sku,
            name=f"Card {i}",
            brand_name="Amazon" if i < 4 else "Xbox Live",
            categories=["shopping"] if i < 4 else ["gaming", "entertainment"],
        )
        skus.append(sku)
    for i in range(4):
        sku = f"EUR-{i:02d}"
        await factory.product(
            sku,
            name=f"Steam Germany {i}",
            brand_name="Steam",
            country_code="DE",
            categories=["gaming"],
            face_currency="EUR",
            cost_currency="EUR",
            denomination_type="range",
            min_face_minor=500,
            max_face_minor=20000,
            cost_min_minor=450,
            cost_max_minor=18000,
            stock=1200 if i else 0,
        )
        skus.append(sku)
    await factory.rates("EUR", {"USD": "1.085"})
    return skus


async def _all(
    api: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.get(CATALOG, headers=headers, params=query)
        assert response.status_code == 200, response.text
        assert_conforms(response, "getCatalog")
        body = response.json()
        items.extend(body["data"])
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            return items, pages


async def test_each_partner_sees_exactly_its_products_at_its_prices(
    api: httpx.AsyncClient, factory: Any, partner_key: Any
) -> None:
    skus = await _products(factory)
    a_skus = skus[:6] + skus[8:12]  # 10 products, 4 of them EUR range
    b_skus = skus[4:9]  # 5 products, overlapping A on 3
    _, _, a = await onboard(factory, partner_key, name="A", approve=dict.fromkeys(a_skus, "-5"))
    _, _, b = await onboard(factory, partner_key, name="B", approve=dict.fromkeys(b_skus, "2"))

    a_items, _ = await _all(api, a)
    b_items, _ = await _all(api, b)

    assert [p["sku"] for p in a_items] == sorted(a_skus)  # ordered by SKU
    assert [p["sku"] for p in b_items] == sorted(b_skus)
    a_usd = next(p for p in a_items if p["sku"] == "USD-04")
    b_usd = next(p for p in b_items if p["sku"] == "USD-04")
    assert (a_usd["discountPercent"], a_usd["unitPriceMin"], a_usd["unitPriceMax"]) == (
        "-5.00",
        "52.50",
        "52.50",
    )
    assert (b_usd["discountPercent"], b_usd["unitPriceMin"]) == ("2.00", "49.00")
    b_eur = next(p for p in b_items if p["sku"] == "EUR-00")
    # 5.00 EUR * 1.085 * 0.98 = 5.3165 -> 5.32; 200.00 EUR -> 212.66 (the contract's example).
    assert (b_eur["unitPriceMin"], b_eur["unitPriceMax"], b_eur["currency"]) == (
        "5.32",
        "212.66",
        "USD",
    )
    assert (b_eur["minFaceValue"], b_eur["maxFaceValue"]) == ("5.00", "200.00")
    assert (b_eur["inStock"], b_eur["stock"]) == (False, 0)
    assert next(p for p in a_items if p["sku"] == "EUR-01")["inStock"] is True

    # The catalog price is what a quote says and what an order charges.
    quote = await api.post(
        "/api/orders/quote", headers=a, json={"sku": "EUR-01", "faceValue": "200.00", "quantity": 1}
    )
    a_eur = next(p for p in a_items if p["sku"] == "EUR-01")
    assert quote.json()["unitPrice"] == a_eur["unitPriceMax"]


async def test_neither_partner_can_quote_or_order_the_others_products(
    api: httpx.AsyncClient, factory: Any, partner_key: Any
) -> None:
    await factory.product("ONLY-A")
    await factory.product("ONLY-B")
    _, _, a = await onboard(factory, partner_key, name="A", approve={"ONLY-A": "0"})
    _, _, b = await onboard(factory, partner_key, name="B", approve={"ONLY-B": "0"})

    for headers, foreign in ((a, "ONLY-B"), (b, "ONLY-A")):
        quote = await api.post(
            "/api/orders/quote",
            headers=headers,
            json={"sku": foreign, "faceValue": "50.00", "quantity": 1},
        )
        assert quote.status_code == 422
        assert_conforms(quote, "quoteOrder")
        assert quote.json()["code"] == "product_not_available"
        order = await api.post("/api/orders", headers=headers, json=order_body(sku=foreign))
        assert order.status_code == 422
        assert_conforms(order, "createOrder")
        assert order.json()["code"] == "product_not_available"
        sku_filter = await api.get(CATALOG, headers=headers, params={"sku": foreign})
        assert sku_filter.json()["data"] == []


async def test_pagination_across_pages_with_filters(
    api: httpx.AsyncClient, factory: Any, partner_key: Any
) -> None:
    skus = await _products(factory)
    _, _, headers = await onboard(factory, partner_key, approve=dict.fromkeys(skus, "0"))

    items, pages = await _all(api, headers, limit=5)
    assert ([p["sku"] for p in items], pages) == (sorted(skus), 3)

    gaming, pages = await _all(api, headers, limit=3, category="gaming")
    assert [p["sku"] for p in gaming] == [
        "EUR-00",
        "EUR-01",
        "EUR-02",
        "EUR-03",
        "USD-04",
        "USD-05",
        "USD-06",
        "USD-07",
    ]
    assert pages == 3

    eur, _ = await _all(api, headers, limit=2, currency="EUR")
    assert [p["sku"] for p in eur] == ["EUR-00", "EUR-01", "EUR-02", "EUR-03"]
    germany, _ = await _all(api, headers, country="DE", brand="steam")
    assert [p["sku"] for p in germany] == ["EUR-00", "EUR-01", "EUR-02", "EUR-03"]
    xbox, _ = await _all(api, headers, limit=1, brand="BOX l", category="entertainment")
    assert [p["sku"] for p in xbox] == ["USD-04", "USD-05", "USD-06", "USD-07"]
    wildcard, _ = await _all(api, headers, brand="%")
    assert wildcard == []  # LIKE wildcards are matched literally
    one, _ = await _all(api, headers, sku="USD-03")
    assert [p["sku"] for p in one] == ["USD-03"]

    bad_cursor = await api.get(CATALOG, headers=headers, params={"cursor": "bm9wZQ"})
    assert bad_cursor.status_code == 400
    assert_conforms(bad_cursor, "getCatalog")
    assert bad_cursor.json()["code"] == "invalid_cursor"
    bad_limit = await api.get(CATALOG, headers=headers, params={"limit": 201})
    assert bad_limit.status_code == 400
    assert bad_limit.json()["errors"][0]["pointer"] == "/query/limit"


async def test_unavailable_and_unpriceable_products_are_not_listed(
    api: httpx.AsyncClient, factory: Any, partner_key: Any, database: Database
) -> None:
    await factory.product("LISTED")
    await factory.product("GONE")
    await factory.product(
        "NO-FX",
        face_currency="JPY",
        cost_currency="JPY",
        min_face_minor=5000,
        max_face_minor=5000,
        cost_min_minor=4000,
        cost_max_minor=4000,
    )
    await factory.rates("JPY", {"USD": "0.0067"})
    _, _, headers = await onboard(
        factory, partner_key, approve={"LISTED": "0", "GONE": "0", "NO-FX": "0"}
    )
    await factory.product("GONE", available=False)
    from steller_server.db.tables import fx_rates

    async with database.write() as conn:
        await conn.execute(fx_rates.delete())

    items, _ = await _all(api, headers)
    assert [p["sku"] for p in items] == ["LISTED"]


async def test_a_page_of_50_is_two_queries_whatever_its_size(
    api: httpx.AsyncClient, factory: Any, partner_key: Any, database: Database
) -> None:
    approve = {}
    for i in range(50):
        await factory.product(
            f"P-{i:03d}",
            face_currency="EUR" if i % 2 else "USD",
            cost_currency="EUR" if i % 2 else "USD",
        )
        approve[f"P-{i:03d}"] = "0"
    await factory.rates("EUR", {"USD": "1.085"})
    _, _, headers = await onboard(factory, partner_key, approve=approve)
    await api.get("/api/partner/me", headers=headers)  # first use of the key writes last_used_at

    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        response = await api.get(CATALOG, headers=headers, params={"limit": 50})
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)

    assert response.status_code == 200
    assert len(response.json()["data"]) == 50
    catalog_reads = [s for s in statements if "partner_products" in s or "fx_rates" in s]
    assert len(catalog_reads) == 2, catalog_reads  # the page and the FX table, once each


async def test_finance_key_cannot_read_the_catalog(
    api: httpx.AsyncClient, factory: Any, partner_key: Any
) -> None:
    await factory.product()
    _, _, headers = await onboard(
        factory, partner_key, role="finance", approve={"AMAZON-US-50": "0"}
    )
    response = await api.get(CATALOG, headers=headers)
    assert response.status_code == 403
    assert_conforms(response, "getCatalog")
    assert response.json()["code"] == "insufficient_role"


async def test_catalog_prices_follow_fx_and_discount_changes_at_once(
    api: httpx.AsyncClient, factory: Any, partner_key: Any, database: Database, settings: Any
) -> None:
    """Catalog prices are memoised on every pricing input: a new rate or discount reprices the
    next page, and the page always agrees with a quote (which is never memoised)."""
    await factory.product(
        "STEAM-DE",
        face_currency="EUR",
        cost_currency="EUR",
        denomination_type="range",
        min_face_minor=500,
        max_face_minor=20000,
        cost_min_minor=450,
        cost_max_minor=18000,
    )
    await factory.rates("EUR", {"USD": "1.085"})
    partner, _, headers = await onboard(factory, partner_key, approve={"STEAM-DE": "-5"})

    async def catalog_and_quote() -> tuple[str, str]:
        page = await api.get(CATALOG, headers=headers)
        quote = await api.post(
            "/api/orders/quote",
            headers=headers,
            json={"sku": "STEAM-DE", "faceValue": "5.00", "quantity": 1},
        )
        assert quote.status_code == 200, quote.text
        return page.json()["data"][0]["unitPriceMin"], quote.json()["unitPrice"]

    first = await catalog_and_quote()
    assert first == ("5.70", "5.70")  # 5.00 EUR * 1.085 * 1.05

    await factory.rates("EUR", {"USD": "1.2"})
    assert await catalog_and_quote() == ("6.30", "6.30")

    async with database.write() as conn:
        await catalog.approve_products(
            conn,
            partner_id=partner.id,
            actor="admin:usr_test",
            items=[catalog.ApprovalItem(sku="STEAM-DE", discount_percent=Decimal("-10"))],
            order_fee=settings.order_fee,
        )
    assert await catalog_and_quote() == ("6.60", "6.60")


async def test_a_repeated_page_is_served_from_the_process_cache_until_a_catalog_write(
    api: httpx.AsyncClient, factory: Any, partner_key: Any, database: Database
) -> None:
    await factory.product("LISTED")
    _, _, headers = await onboard(factory, partner_key, approve={"LISTED": "0"})
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        first = await api.get(CATALOG, headers=headers)
        again = await api.get(CATALOG, headers=headers)
        assert len([s for s in statements if "partner_products" in s]) == 1
        await factory.product("LISTED", stock=0)  # a write in this process: the next page is new
        after = await api.get(CATALOG, headers=headers)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)

    assert first.content == again.content
    assert first.json()["data"][0]["inStock"] is True
    assert after.json()["data"][0]["inStock"] is False
    assert_conforms(after, "getCatalog")


async def test_concurrent_misses_of_one_page_share_one_read(
    api: httpx.AsyncClient, factory: Any, partner_key: Any, database: Database
) -> None:
    await factory.product("LISTED")
    _, _, headers = await onboard(factory, partner_key, approve={"LISTED": "0"})
    await api.get("/api/partner/me", headers=headers)  # first use of the key writes last_used_at
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        pages = await asyncio.gather(*[api.get(CATALOG, headers=headers) for _ in range(8)])
        bad = await asyncio.gather(
            *[api.get(CATALOG, headers=headers, params={"cursor": "x"}) for _ in range(3)]
        )
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)

    assert {p.status_code for p in pages} == {200}
    assert len({p.content for p in pages}) == 1
    assert len([s for s in statements if "partner_products" in s]) == 1
    assert {r.status_code for r in bad} == {400}
