"""Catalog v2 paging and filters, v1 legacy, and the generated catalogue's guarantees."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import httpx

from steller_sandbox import SPECIAL_SKUS, SimulatorConfig, build_catalog, create_app

CATALOG = "/api/integration/v2.0/catalog"


async def _all_items(client, **params):
    items, index = [], 0
    while True:
        page = (await client.get(CATALOG, params={**params, "PageIndex": index})).json(
            parse_float=Decimal
        )
        items.extend(page["items"])
        if len(page["items"]) < page["pageSize"]:
            return items, page["count"]
        index += 1


async def test_paging_is_zero_based_with_default_size_100_and_total_count(client):
    first = (await client.get(CATALOG)).json()
    assert first["pageIndex"] == 0
    assert first["pageSize"] == 100
    assert len(first["items"]) == min(100, first["count"])
    page = (await client.get(CATALOG, params={"PageSize": 20, "PageIndex": 1})).json()
    assert page["pageIndex"] == 1
    assert page["count"] == first["count"]
    assert [i["internalId"] for i in page["items"]] == [
        i["internalId"] for i in first["items"][20:40]
    ]
    beyond = (await client.get(CATALOG, params={"PageSize": 20, "PageIndex": 99})).json()
    assert beyond["items"] == []


async def test_catalogue_is_large_multi_currency_and_realistic(client):
    items, count = await _all_items(client, PageSize=30)
    assert count == len(items) >= 50
    products = [p for item in items for p in item["products"]]
    assert len(products) >= 200
    assert len({i["currencyCode"] for i in items}) >= 4
    names = {i["name"] for i in items}
    assert {"Amazon US", "Steam Germany", "iTunes UK", "PlayStation UAE", "Netflix US"} <= names
    assert any(p["minFaceValue"] == p["maxFaceValue"] for p in products)
    assert any(p["minFaceValue"] < p["maxFaceValue"] for p in products)
    assert any(p["price"]["min"] != p["minFaceValue"] for p in products)
    counts = {p["count"] for p in products}
    assert None in counts
    assert 0 in counts
    assert any(isinstance(c, int) and c > 0 for c in counts)
    skus = [p["sku"] for p in products]
    assert len(set(skus)) == len(skus)
    assert len({p["id"] for p in products}) == len(products)


async def test_special_products_are_present_and_documented(client, sim):
    by_sku = sim.catalog.by_sku
    assert set(SPECIAL_SKUS) <= set(by_sku)
    assert by_sku["SIM-OOS-10"].count == 0
    assert by_sku["SIM-DISABLED-10"].status == "TemporaryInactive"
    page = (await client.get(CATALOG, params={"ProductId": by_sku["SIM-DISABLED-10"].id})).json()
    assert page["count"] == 1
    [product] = page["items"][0]["products"]
    assert product["sku"] == "SIM-DISABLED-10"
    assert product["status"] == "TemporaryInactive"


async def test_sku_scheme(sim):
    amazon = sim.catalog.by_sku["AMZ-US-50"]
    assert amazon.name == "Amazon US 50 USD"
    assert amazon.min_face_value == amazon.max_face_value == 50
    ranged = sim.catalog.by_sku["AMZ-US-VAR"]
    assert ranged.min_face_value < ranged.max_face_value
    assert sim.catalog.by_sku["ITN-GB-25"].currency == "GBP"


async def test_filters_currency_country_name_brand_product(client, sim):
    eur, _ = await _all_items(client, CurrencyCode="eur")
    assert eur
    assert {i["currencyCode"] for i in eur} == {"EUR"}
    de, _ = await _all_items(client, CountryCode="DE")
    assert de
    assert {i["countryCode"] for i in de} == {"DE"}
    named = (await client.get(CATALOG, params={"Name": "playstation germany"})).json()
    assert [i["name"] for i in named["items"]] == ["PlayStation Germany"]
    brand_id = named["items"][0]["internalId"]
    by_brand = (await client.get(CATALOG, params={"BrandId": brand_id})).json()
    assert by_brand["count"] == 1
    product = sim.catalog.by_sku["STM-DE-25"]
    by_product = (await client.get(CATALOG, params={"ProductId": product.id})).json()
    assert by_product["count"] == 1
    assert [p["id"] for p in by_product["items"][0]["products"]] == [product.id]


async def test_modified_date_filter_keeps_only_recent_changes(client, sim):
    _, total = await _all_items(client, PageSize=200)
    recent, count = await _all_items(client, PageSize=200, ModifiedDate="2024-06-01")
    assert 0 < count < total
    for item in recent:
        dates = [item["modifiedDate"], *(p["modifiedDate"] for p in item["products"])]
        assert max(dates) >= "2024-06-01"


async def test_target_currency_converts_prices(client, sim):
    product = sim.catalog.by_sku["AMZ-US-100"]
    page = await client.get(CATALOG, params={"ProductId": product.id, "TargetCurrency": "EUR"})
    [item] = page.json(parse_float=Decimal)["items"]
    price = item["products"][0]["price"]
    assert price["currencyCode"] == "EUR"
    assert price["min"] == sim.convert(product.unit_price(Decimal(100)), "USD", "EUR")


async def test_catalog_v1_lists_every_brand_unpaginated(client):
    v1 = (await client.get("/api/integration/v1.0/catalog")).json()
    v2 = (await client.get(CATALOG, params={"PageSize": 1})).json()
    assert len(v1["brands"]) == v2["count"]


async def test_client_without_catalogue_sees_nothing(app):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bamboo.test",
        auth=("steller-nocatalog", "nocatalog-secret"),
    ) as http:
        page = (await http.get(CATALOG)).json()
    assert page["count"] == 0


def test_same_seed_same_catalogue_other_seed_other_prices_same_skus():
    a, b, c = build_catalog(7), build_catalog(7), build_catalog(8)
    assert [vars(p) for p in a.products] == [vars(p) for p in b.products]
    assert [p.sku for p in a.products] == [p.sku for p in c.products]
    assert [p.id for p in a.products] == [p.id for p in c.products]
    assert [p.discount for p in a.products] != [p.discount for p in c.products]


async def test_card_codes_are_deterministic_under_seed():
    async def codes(seed: int) -> list[str]:
        app = create_app(SimulatorConfig(seed=seed, limits_enabled=False))
        sim = app.state.simulator
        product = sim.catalog.by_sku["SIM-OK-10"]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bamboo.test",
            auth=("steller-sandbox", "sandbox-secret"),
        ) as http:
            rid = "97018cf7-98f5-40fc-a142-711d43a72e17"
            body = {
                "RequestId": rid,
                "AccountId": 1001,
                "Products": [{"ProductId": product.id, "Quantity": 3, "Value": 10}],
            }
            assert (await http.post("/api/integration/v1.0/orders/checkout", json=body)).is_success
            order = (await http.get(f"/api/integration/v1.0/orders/{rid}")).json()
        return [c["cardCode"] for item in order["items"] for c in item["cards"]]

    assert await codes(5) == await codes(5)
    assert await codes(5) != await codes(6)


def test_brand_count_per_currency_is_balanced():
    catalog = build_catalog(1)
    per_currency = Counter(b.currency for b in catalog.brands)
    assert min(per_currency.values()) >= 5


async def test_items_carry_category_ids_that_the_categories_endpoint_names(client, sim):
    """As in Bamboo: ``items[].categories`` holds ids; ``/v2.0/categories`` names them."""
    listed = (await client.get("/api/integration/v2.0/categories")).json()
    names = {c["id"]: c["name"] for c in listed}
    assert {1: "Entertainment", 2: "Gaming", 3: "Prepaid Cards"}.items() <= names.items()
    assert all(set(c) == {"id", "name", "description"} for c in listed)
    items, _ = await _all_items(client, PageSize=100)
    by_name = {i["name"]: i for i in items}
    assert [names[i] for i in by_name["Steam Germany"]["categories"]] == ["Gaming"]
    assert [names[i] for i in by_name["Starbucks US"]["categories"]] == ["Food & Drink"]
    assert all(i["categories"] and set(i["categories"]) <= set(names) for i in items)
