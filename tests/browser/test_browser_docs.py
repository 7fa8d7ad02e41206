"""The /docs API reference renders in a real browser: no console errors, every tag and operation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from steller_sandbox.testing import serve_in_thread
from steller_server.app import create_app
from steller_server.db.migrate import upgrade
from steller_server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("docs") / "steller.sqlite3"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", secret_key="d" * 40)
    upgrade(settings)
    with serve_in_thread(create_app(settings)) as url:
        yield url


async def test_reference_page_lists_every_tag_and_operation(browser: Any, server: str) -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    page = await browser.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    external: list[str] = []
    page.on(
        "request",
        lambda req: (
            None
            if req.url.startswith((server, f"blob:{server}", "data:"))
            else external.append(req.url)
        ),
    )
    await page.goto(f"{server}/docs", wait_until="networkidle")
    await page.wait_for_selector("[data-section-id^='tag/']", timeout=30_000)
    text = await page.inner_text("body")
    for tag in spec["tags"]:
        assert tag["name"] in text, f"tag {tag['name']} missing from /docs"
    summaries = [
        op["summary"]
        for item in spec["paths"].values()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    missing = [s for s in summaries if s not in text]
    assert not missing, f"operations missing from /docs: {missing[:5]}"
    assert not external, f"/docs fetched from other hosts: {external}"
    assert not errors, errors
