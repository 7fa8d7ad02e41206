"""The documented SDK flows (signup, a catalog page, a quote, placing an order, getting an order,
the wallet) replayed from vcrpy cassettes recorded against a real sandbox server, so the SDK's
requests and its parsing of real responses are checked without a server in the test run.

The tests are written exactly like the README (``environment="sandbox"``, i.e.
``http://127.0.0.1:8000``). In the normal run (pytest-recording's default ``--record-mode=none``)
nothing listens there: every request must match a recorded one (method, URL, query and JSON
body) or the test fails, and every recorded request must be used.

Re-record (after an API or SDK change) with::

    .venv/bin/python -m pytest tests/sdk_e2e/test_sdk_e2e_cassettes.py --record-mode=rewrite

which starts a sandbox server (API, in-process worker, Bamboo simulator, demo data) on a free
loopback port with uvicorn, points ``environment="sandbox"`` at it, records over real HTTP and
rewrites the recorded URLs to ``http://127.0.0.1:8000``. Secrets never reach the files:
``x-api-key`` and ``Authorization`` request headers are replaced by ``REDACTED``, and the API key
in the signup response body (any ``stlr_test_…``/``stlr_live_…`` key, bearer ``token`` or
``whsec_`` secret in a body) is scrubbed by ``before_record_response``;
``test_no_cassette_holds_a_secret`` checks the files.
"""

from __future__ import annotations

import itertools
import json
import re
import types
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import steller
import steller._config as sdk_config
from steller.models import OrderStatus
from steller.testing import instant_retries
from steller_server.api.contract import Contract
from steller_server.db.migrate import upgrade
from steller_server.settings import Settings
from tests.sdk_e2e.sdk_e2e_support import make_sandbox, raise_signup_limit

CASSETTES = Path(__file__).parent / "cassettes"
SANDBOX_URL = sdk_config.SANDBOX_BASE_URL  # what the recordings say, and what replay calls
#: The demo partner's key when recording; a placeholder on replay (headers are not matched).
REPLAY_KEY = "stlr_test_replayed-from-a-cassette"
REDACTED_KEY = "stlr_test_REDACTED"
SKU = "SIM-OK-10"
CALLBACKS_URL = "http://callbacks.sandbox.internal"

# A real-looking key: the prefix and at least 16 key characters (a key has 40; the listed
# "prefix" field has 3). Bearer tokens and webhook secrets of any length.
SECRET_PATTERNS = [
    re.compile(r"stlr_(?:test|live)_[A-Za-z0-9]{16,}"),
    re.compile(r"Bearer\s+(?!REDACTED)\S{8,}", re.IGNORECASE),
    re.compile(r"whsec_[A-Za-z0-9+/=]{8,}"),
]


# -- recording ------------------------------------------------------------------------------------


def _secret_values(value: Any) -> Iterator[str]:
    """Secrets inside a JSON document: API keys, admin tokens, webhook secrets."""
    if isinstance(value, dict):
        for name, item in value.items():
            if isinstance(item, str) and (
                (name == "key" and item.startswith("stlr_"))
                or (name == "token")
                or (name == "secret" and item.startswith("whsec_"))
            ):
                yield item
            else:
                yield from _secret_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _secret_values(item)


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """``before_record_response``: replace secrets in the body (the signup response's
    ``apiKey.key`` above all) in place, keeping every other byte as the server sent it."""
    body: bytes = response["body"]["string"]
    try:
        document = json.loads(body)
    except ValueError:
        return response
    for secret in set(_secret_values(document)):
        replacement = REDACTED_KEY if secret.startswith("stlr_") else "REDACTED"
        body = body.replace(secret.encode(), replacement.encode())
    response["body"]["string"] = body
    for name, values in response["headers"].items():
        if name.lower() == "content-length":
            values[:] = [str(len(body))]
    return response


def record_only_the_api(server_url: str | None) -> Any:
    """``before_record_request``: keep only the SDK's requests to the recording server, with
    its URL written as the sandbox default; the sandbox's own traffic in the same process (the
    worker calling the Bamboo simulator, the simulator's callbacks) is not recorded."""

    canonical = SANDBOX_URL.rstrip("/")

    def before_record_request(request: Any) -> Any:
        # vcrpy applies this twice to a request it looks up: keep rewritten ones as they are.
        if request.uri.startswith(canonical + "/"):
            return request
        if server_url is None or not request.uri.startswith(server_url + "/"):
            return None
        request.uri = canonical + request.uri.removeprefix(server_url)
        return request

    return before_record_request


@pytest.fixture(scope="module")
def vcr_config(recording_server: tuple[str, str] | None) -> dict[str, Any]:
    return {
        "filter_headers": [
            ("x-api-key", "REDACTED"),
            ("authorization", "REDACTED"),
            ("host", SANDBOX_URL.removeprefix("http://").rstrip("/")),
        ],
        "before_record_request": record_only_the_api(recording_server and recording_server[0]),
        "before_record_response": scrub_response,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture(scope="module")
def recording_server(
    record_mode: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str] | None]:
    """When recording: a sandbox served by uvicorn on loopback → (url, demo key). Else None."""
    if record_mode == "none":
        yield None
        return
    from steller_sandbox.testing import serve_in_thread

    path = tmp_path_factory.mktemp("cassette-sandbox") / "sandbox.sqlite3"
    settings = Settings(mode="sandbox", secret_key="cassette-recording-" + "0" * 32).replace(
        database_url=f"sqlite:///{path}"
    )
    upgrade(settings)
    # The simulator's callbacks stay in process; a host of their own keeps them out of the
    # recordings (the default, 127.0.0.1:8000, is the URL the recordings use for the API).
    sandbox = make_sandbox(
        settings, Contract.load(), callback_url=CALLBACKS_URL + "/api/vendor/bamboo/notification"
    )
    raise_signup_limit(sandbox.app)
    with serve_in_thread(sandbox.app, startup_timeout=120) as url:
        assert sandbox.demo is not None
        yield url, sandbox.demo.api_key


@pytest.fixture
def api_key(recording_server: tuple[str, str] | None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The key to call with; while recording, ``environment="sandbox"`` is the live server."""
    if recording_server is None:
        return REPLAY_KEY
    url, key = recording_server
    monkeypatch.setattr(
        sdk_config,
        "ENVIRONMENTS",
        types.MappingProxyType({**sdk_config.ENVIRONMENTS, "sandbox": url}),
    )
    return key


@pytest.fixture
def cassette(vcr: Any) -> Iterator[Any]:
    """The test's cassette; at the end, every recorded interaction must have been played."""
    yield vcr
    if vcr.record_mode == "none":
        assert vcr.all_played, f"{vcr._path}: some recorded requests were not made"


# -- the flows ------------------------------------------------------------------------------------


@pytest.mark.vcr
def test_signup(cassette: Any, api_key: str) -> None:
    account = steller.signup(
        name="Cassette Shop", email="cassette-shop@example.com", environment="sandbox"
    )
    assert account.partner.name == "Cassette Shop"
    assert account.partner.environment == "sandbox"
    assert account.api_key.key.startswith("stlr_test_")
    assert account.api_key.prefix.startswith("stlr_test_")
    assert account.wallet.balance == Decimal("1000.00")
    assert account.wallet.partner_id == account.partner.id


@pytest.mark.vcr
def test_catalog_page(cassette: Any, api_key: str) -> None:
    with steller.Steller(api_key=api_key, environment="sandbox") as client:
        page = client.catalog.list(country="US", limit=50)
    assert len(page.data) == 50
    assert page.has_next_page()
    assert all(product.country_code == "US" for product in page.data)
    assert [p.sku for p in page.data] == sorted(p.sku for p in page.data)
    for product in page.data:
        assert product.unit_price_min <= product.unit_price_max
        assert product.min_face_value <= product.max_face_value


@pytest.mark.vcr
def test_quote(cassette: Any, api_key: str) -> None:
    with steller.Steller(api_key=api_key, environment="sandbox") as client:
        quote = client.orders.quote(sku=SKU, face_value="10.00", quantity=3)
    assert (quote.sku, quote.face_value, quote.quantity) == (SKU, Decimal("10.00"), 3)
    assert quote.total == quote.unit_price * 3
    assert quote.sufficient_funds is True


@pytest.mark.vcr
def test_create_order(cassette: Any, api_key: str) -> None:
    with steller.Steller(api_key=api_key, environment="sandbox") as client:
        raw = client.orders.with_raw_response.create(
            sku=SKU, face_value="10.00", quantity=1, reference_id="cassette-create"
        )
    order = raw.parse()
    assert raw.status_code == 202
    assert raw.request_id
    assert order.status == OrderStatus.processing
    assert order.reference_id == "cassette-create"
    assert order.cards is None or order.cards == []


@pytest.mark.vcr
def test_get_order(cassette: Any, api_key: str, record_mode: str) -> None:
    with steller.Steller(api_key=api_key, environment="sandbox") as client:
        if record_mode == "none":
            with instant_retries() as sleeps:  # replay: the recorded polls, without waiting
                placed = client.orders.create_and_wait(
                    sku=SKU,
                    face_value="10.00",
                    quantity=2,
                    reference_id="cassette-get",
                    poll_interval=0.1,
                    timeout=30,
                )
            assert sleeps
        else:
            placed = client.orders.create_and_wait(
                sku=SKU,
                face_value="10.00",
                quantity=2,
                reference_id="cassette-get",
                poll_interval=0.1,
                timeout=30,
            )
        order = client.orders.get(placed.id)
    assert order.status == OrderStatus.completed
    assert order.quantity_fulfilled == 2
    assert order.cards is not None
    assert [c.code for c in order.cards] == [c.code for c in placed.cards or []]
    assert order.completed_at is not None


@pytest.mark.vcr
def test_wallet(cassette: Any, api_key: str) -> None:
    with steller.Steller(api_key=api_key, environment="sandbox") as client:
        wallet = client.wallet.get()
        entries = client.wallet.transactions(limit=10).data
    assert wallet.currency == "USD"
    assert entries
    assert entries[0].balance_after == wallet.balance  # newest first
    for newer, older in itertools.pairwise(entries):
        assert newer.balance_before == older.balance_after
    for entry in entries:
        assert entry.balance_after == entry.balance_before + entry.amount


# -- the files ------------------------------------------------------------------------------------


def test_cassettes_exist_for_every_flow() -> None:
    names = {path.stem for path in CASSETTES.glob("*.yaml")}
    assert names >= {
        "test_signup",
        "test_catalog_page",
        "test_quote",
        "test_create_order",
        "test_get_order",
        "test_wallet",
    }


def test_no_cassette_holds_a_secret() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in SECRET_PATTERNS:
            found = pattern.search(text)
            assert found is None, f"{path.name} holds a secret: {found.group(0)[:14]}…"
        assert "REDACTED" in text, f"{path.name}: the credential headers were not filtered"


def test_the_signup_cassette_had_its_key_scrubbed() -> None:
    text = (CASSETTES / "test_signup.yaml").read_text(encoding="utf-8")
    assert REDACTED_KEY in text
