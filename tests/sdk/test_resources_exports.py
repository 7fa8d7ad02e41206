"""CSV downloads (wallet.export_csv, statements.get_csv): streamed to disk in chunks while the
body arrives, written atomically to a path, or to a file object; errors leave no file."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from steller import APIConnectionError, AsyncSteller, PermissionDeniedError, Steller

BASE_URL = "https://api.steller.test"
HEADER = b"id,createdAt,type,amount,currency,balanceBefore,balanceAfter,orderId,description\n"
ROW = b"txn_1Ab3Cd5Ef7Gh9Jk2,2026-11-03T09:00:00Z,credit,500.00,USD,0.00,500.00,,Top-up\n"
CHUNK = 64 * 1024


def csv_rows(count: int) -> list[bytes]:
    return [HEADER] + [ROW] * count


def sync_client(handler) -> Steller:
    return Steller(api_key="stlr_test_k", base_url=BASE_URL, transport=httpx.MockTransport(handler))


def test_export_streams_to_the_file_while_the_body_is_still_arriving(tmp_path: Path):
    """The file grows as chunks arrive: the SDK never holds the whole export in memory."""
    target = tmp_path / "ledger.csv"
    part = tmp_path / "ledger.csv.part"
    pieces = [bytes([65 + i % 26]) * 100_000 for i in range(20)]  # 2 MB in 100 kB pieces
    seen_on_disk: list[tuple[int, int]] = []
    requests: list[httpx.Request] = []

    def body() -> Iterator[bytes]:
        sent = 0
        for piece in pieces:
            on_disk = part.stat().st_size if part.exists() else 0
            seen_on_disk.append((sent, on_disk))
            yield piece
            sent += len(piece)

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, content=body(), headers={"content-type": "text/csv"})

    with sync_client(handler) as client:
        written = client.wallet.export_csv(
            target, type="debit", from_="2026-11-01T00:00:00Z", chunk_size=CHUNK
        )

    assert written == sum(map(len, pieces))
    assert target.read_bytes() == b"".join(pieces)
    assert not part.exists()
    # Before each new piece is sent, all but the last partial chunk is already on disk.
    assert all(on_disk >= sent - CHUNK for sent, on_disk in seen_on_disk)
    assert seen_on_disk[-1][1] > 0
    request = requests[0]
    assert request.url.path == "/api/wallet/transactions/export"
    assert dict(request.url.params) == {"type": "debit", "from": "2026-11-01T00:00:00Z"}
    assert request.headers["accept"] == "text/csv"
    assert request.headers["x-api-key"] == "stlr_test_k"


def test_export_writes_to_a_binary_file_object():
    rows = csv_rows(3)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter(rows))

    out = io.BytesIO()
    with sync_client(handler) as client:
        written = client.wallet.export_csv(out, order_id="ord_7Yq2LmN4pR8sT1vW")
    assert out.getvalue() == b"".join(rows)
    assert written == len(out.getvalue())


def test_a_body_that_breaks_off_raises_a_connection_error_and_leaves_no_file(tmp_path: Path):
    target = tmp_path / "ledger.csv"

    def body() -> Iterator[bytes]:
        yield HEADER
        yield ROW
        raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    with sync_client(handler) as client, pytest.raises(APIConnectionError, match="broke off"):
        client.wallet.export_csv(target)
    assert list(tmp_path.iterdir()) == []


def test_an_error_status_raises_the_typed_error_and_writes_nothing(tmp_path: Path):
    target = tmp_path / "ledger.csv"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            403,
            json={"status": 403, "code": "insufficient_role", "title": "Forbidden"},
            headers={"content-type": "application/problem+json"},
        )

    with sync_client(handler) as client, pytest.raises(PermissionDeniedError):
        client.wallet.export_csv(target)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_replaced_only_once_the_new_one_is_complete(tmp_path: Path):
    target = tmp_path / "ledger.csv"
    target.write_bytes(b"previous export\n")

    def body() -> Iterator[bytes]:
        yield HEADER
        raise httpx.ReadError("reset")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    with sync_client(handler) as client, pytest.raises(APIConnectionError):
        client.wallet.export_csv(target)
    assert target.read_bytes() == b"previous export\n"


def test_statement_csv_asks_for_text_csv_and_streams_to_the_path(tmp_path: Path):
    rows = csv_rows(5)
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, content=iter(rows), headers={"content-type": "text/csv"})

    target = tmp_path / "statement.csv"
    with sync_client(handler) as client:
        written = client.statements.get_csv("2026-11", str(target))
    assert target.read_bytes() == b"".join(rows)
    assert written == target.stat().st_size
    assert requests[0].url.path == "/api/partner/statements/2026-11"
    assert requests[0].headers["accept"] == "text/csv"


def test_statement_period_is_validated_before_sending():
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing should be sent")

    with sync_client(handler) as client, pytest.raises(ValueError, match="YYYY-MM"):
        client.statements.get("2026-13")


async def test_async_export_streams_to_a_path(tmp_path: Path):
    rows = csv_rows(1000)

    async def body() -> AsyncIterator[bytes]:
        for row in rows:
            yield row

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    target = tmp_path / "ledger.csv"
    async with AsyncSteller(
        api_key="k", base_url=BASE_URL, transport=httpx.MockTransport(handler)
    ) as client:
        written = await client.wallet.export_csv(target, chunk_size=4096)
    assert target.read_bytes() == b"".join(rows)
    assert written == len(b"".join(rows))
    assert not (tmp_path / "ledger.csv.part").exists()


async def test_async_broken_statement_download_leaves_no_file(tmp_path: Path):
    async def body() -> AsyncIterator[bytes]:
        yield HEADER
        raise httpx.ReadTimeout("stalled")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    async with AsyncSteller(
        api_key="k", base_url=BASE_URL, transport=httpx.MockTransport(handler)
    ) as client:
        with pytest.raises(APIConnectionError):
            await client.statements.get_csv("2026-11", tmp_path / "s.csv")
    assert list(tmp_path.iterdir()) == []
