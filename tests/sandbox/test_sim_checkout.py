"""Place Order: every 400 reason code, the success shape, and RequestId idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest


def _id(sim, sku: str) -> int:
    return sim.catalog.by_sku[sku].id


async def test_success_is_the_request_id_as_a_bare_json_string(bamboo, client, sim):
    request_id = bamboo.new_request_id()
    response = await bamboo.checkout(
        [bamboo.line(_id(sim, "AMZ-US-50"), 50, 2)], request_id=request_id
    )
    assert response.status_code == 200
    assert response.json() == request_id
    assert response.text == f'"{request_id}"'
    assert sim.order_count(request_id) == 1
    order = await bamboo.get_order(request_id)
    assert order["requestId"] == request_id


async def test_accepts_camel_or_lower_case_keys(bamboo, client, sim):
    request_id = bamboo.new_request_id()
    body = {
        "requestId": request_id,
        "accountId": 1001,
        "products": [{"productId": _id(sim, "SIM-OK-10"), "quantity": 1, "value": 10}],
    }
    response = await client.post(bamboo.CHECKOUT, json=body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("reason", "build"),
    [
        ("NoProducts", lambda sim, bamboo: {"products": []}),
        ("WrongAccount", lambda sim, bamboo: {"account_id": 999999}),
        ("WrongAccount", lambda sim, bamboo: {"account_id": 1006}),  # inactive
        (
            "WrongAccount",
            lambda sim, bamboo: {"account_id": 2001},
        ),  # production account, sandbox creds
        ("InvalidProductIds", lambda sim, bamboo: {"products": [bamboo.line(123, 10)]}),
        (
            "InvalidProduct",
            lambda sim, bamboo: {"products": [bamboo.line(_id(sim, "SIM-DISABLED-10"), 10)]},
        ),
        (
            "ClientPriceInvalid",
            lambda sim, bamboo: {"products": [bamboo.line(_id(sim, "SIM-PRICEINVALID-10"), 10)]},
        ),
        (
            "InvalidDenomination",
            lambda sim, bamboo: {"products": [bamboo.line(_id(sim, "AMZ-US-50"), 25)]},
        ),
        (
            "InvalidDenomination",
            lambda sim, bamboo: {"products": [bamboo.line(_id(sim, "AMZ-US-VAR"), 501)]},
        ),
        (
            "CardsLimitExceeded",
            lambda sim, bamboo: {"products": [bamboo.line(_id(sim, "SIM-OK-10"), 10, 501)]},
        ),
        (
            "CardsLimitExceeded",
            lambda sim, bamboo: {"products": [bamboo.line(_id(sim, "SIM-OK-10"), 10, 300)] * 2},
        ),
        (
            "ProductIsOutOfStock",
            lambda sim, bamboo: {"products": [bamboo.line(_id(sim, "SIM-OOS-10"), 10)]},
        ),
        (
            "ProductIsOutOfStock",
            lambda sim, bamboo: {"products": [bamboo.line(_id(sim, "SIM-LOW-10"), 10, 4)]},
        ),
        (
            "InsufficientBalance",
            lambda sim, bamboo: {
                "account_id": 1005,
                "products": [bamboo.line(_id(sim, "SIM-OK-10"), 10)],
            },
        ),
    ],
)
async def test_each_validation_failure_is_a_400_with_its_reason_code(
    bamboo, client, sim, reason, build
):
    args = {
        "products": [bamboo.line(_id(sim, "SIM-OK-10"), 10)],
        "account_id": 1001,
        **build(sim, bamboo),
    }
    balances = {a.id: a.balance for a in sim.accounts.values()}
    request_id = bamboo.new_request_id()
    response = await bamboo.checkout(
        args["products"], account_id=args["account_id"], request_id=request_id
    )
    assert response.status_code == 400
    assert response.json() == {"message": reason}
    assert sim.order_count(request_id) == 0
    assert {a.id: a.balance for a in sim.accounts.values()} == balances


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        (("steller-disabled", "disabled-secret"), "UserNotEnabled"),
        (("steller-nocatalog", "nocatalog-secret"), "ClientCatalogNotExist"),
    ],
)
async def test_client_level_switches(bamboo, app, sim, credentials, reason):
    async with bamboo.other_client(app, *credentials) as http:
        response = await bamboo.checkout(
            client=http, products=[bamboo.line(_id(sim, "SIM-OK-10"), 10)]
        )
    assert response.status_code == 400
    assert response.json() == {"message": reason}


async def test_reused_request_id_is_rejected_and_never_charged_twice(bamboo, client, sim):
    request_id = bamboo.new_request_id()
    products = [bamboo.line(_id(sim, "AMZ-US-50"), 50, 2)]
    before = sim.accounts[1001].balance
    assert (await bamboo.checkout(products, request_id=request_id)).status_code == 200
    after_first = sim.accounts[1001].balance
    assert after_first < before
    for _ in range(3):
        again = await bamboo.checkout(products, request_id=request_id.upper())
        assert again.status_code == 400
        assert again.json() == {"message": "OrderAlreadyExists"}
    assert sim.order_count(request_id) == 1
    assert sim.accounts[1001].balance == after_first
    assert len([t for t in sim.transactions if t.order.request_id == request_id]) == 1
    assert (await bamboo.get_order(request_id))["requestId"] == request_id


async def test_a_failed_validation_does_not_burn_the_request_id(bamboo, client, sim):
    request_id = bamboo.new_request_id()
    bad = await bamboo.checkout(
        [bamboo.line(_id(sim, "SIM-OK-10"), 10)], account_id=1005, request_id=request_id
    )
    assert bad.json() == {"message": "InsufficientBalance"}
    good = await bamboo.checkout([bamboo.line(_id(sim, "SIM-OK-10"), 10)], request_id=request_id)
    assert good.status_code == 200


async def test_non_guid_request_id_and_garbage_bodies_are_400(bamboo, client, sim):
    bad_id = await bamboo.checkout([bamboo.line(_id(sim, "SIM-OK-10"), 10)], request_id="order-1")
    assert bad_id.status_code == 400
    assert bad_id.json() == {"message": "InvalidRequestId"}
    garbage = await client.post(bamboo.CHECKOUT, content=b"{not json")
    assert garbage.status_code == 400


async def test_stock_is_decremented_and_unlimited_stays_null(bamboo, client, sim):
    low, free = sim.catalog.by_sku["SIM-LOW-10"], sim.catalog.by_sku["SIM-OK-10"]
    assert low.count == 3
    response = await bamboo.checkout([bamboo.line(low.id, 10, 2), bamboo.line(free.id, 10, 5)])
    assert response.status_code == 200
    assert sim.stock(low.id) == 1
    assert sim.stock(free.id) is None
    catalog = await client.get("/api/integration/v2.0/catalog", params={"ProductId": low.id})
    assert catalog.json()["items"][0]["products"][0]["count"] == 1


async def test_debit_in_account_currency_at_simulator_fx_rate(bamboo, client, sim):
    product = sim.catalog.by_sku["AMZ-DE-50"]  # EUR
    unit_price = product.unit_price(Decimal(50))
    rate = sim.rate("EUR", "AED")
    before = sim.accounts[1004].balance  # AED
    request_id = bamboo.new_request_id()
    response = await bamboo.checkout(
        [bamboo.line(product.id, 50, 3)], account_id=1004, request_id=request_id
    )
    assert response.status_code == 200
    expected = (unit_price * rate).quantize(Decimal("0.0001")) * 3
    assert before - sim.accounts[1004].balance == expected
    order = await bamboo.get_order(request_id)
    assert order["currency"] == "AED"
    assert order["total"] == expected
