"""Run the partner journey as a Postman flow with newman, against a sandbox it starts itself.

    python tools/run_newman.py --node-bin .nox/_node/node_modules/.bin
    python tools/run_newman.py --node-bin DIR --base-url http://127.0.0.1:8000  # a running one
    python tools/run_newman.py --node-bin DIR --write flow.json                 # keep the flow

The flow collection is generated from the main collection (postman/steller.postman_collection.json,
itself generated from openapi.yaml): each step reuses the main collection's request for its
operation (URL, headers, auth) with a flow body, test scripts and collection-variable chaining:

    signup → catalog → quote → order → poll until final → wallet → transactions

Every step asserts status and body (``pm.test``); the poll step re-runs itself
(``pm.execution.setNextRequest``) while the order is ``processing``. Money is compared in integer
cents, never floats. Without ``--base-url`` the script serves ``steller-server sandbox`` (API,
worker, simulated vendor, demo data) on a free loopback port with a throwaway SQLite file, and
stops it afterwards. Exits non-zero when newman reports any failed assertion.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import secrets
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COLLECTION = ROOT / "postman" / "steller.postman_collection.json"
NAMESPACE = uuid.UUID("0d5c7a52-96a4-4c0e-a1b3-7f2f3f6f4b10")
POLL_LIMIT = 120

CENTS_JS = (
    "const cents = (s) => { const [w, f = ''] = String(s).replace('-', '').split('.');"
    " const v = parseInt(w, 10) * 100 + parseInt((f + '00').slice(0, 2), 10);"
    " return String(s).startsWith('-') ? -v : v; };"
)

STEPS: list[dict[str, Any]] = [
    {
        "name": "1. Sign up",
        "method": "POST",
        "path": "/api/public/signup",
        "body": {"name": "Postman Flow", "email": "flow+{{$guid}}@example.com"},
        "test": [
            "pm.test('201 Created', () => pm.response.to.have.status(201));",
            "const body = pm.response.json();",
            "pm.test('a sandbox developer key', () => {",
            "  pm.expect(body.apiKey.key).to.match(/^stlr_test_/);",
            "  pm.expect(body.apiKey.role).to.eql('developer');",
            "});",
            "pm.collectionVariables.set('apiKey', body.apiKey.key);",
            "pm.collectionVariables.set('partnerId', body.partner.id);",
            "pm.collectionVariables.set('startBalance', body.wallet.balance);",
        ],
    },
    {
        "name": "2. Read the catalog",
        "method": "GET",
        "path": "/api/brand/getCatalog",
        "query": {"sku": "AMZ-US-50", "limit": "10"},
        "test": [
            "pm.test('200 OK', () => pm.response.to.have.status(200));",
            "const product = pm.response.json().data[0];",
            "pm.test('the product is approved and in stock', () => {",
            "  pm.expect(product.sku).to.eql('AMZ-US-50');",
            "  pm.expect(product.inStock).to.eql(true);",
            "});",
            "pm.test('RateLimit headers', () => {",
            "  pm.response.to.have.header('RateLimit-Policy');",
            "  pm.response.to.have.header('RateLimit');",
            "});",
            "pm.collectionVariables.set('sku', product.sku);",
            "pm.collectionVariables.set('faceValue', product.minFaceValue);",
        ],
    },
    {
        "name": "3. Quote",
        "method": "POST",
        "path": "/api/orders/quote",
        "body": {"sku": "{{sku}}", "faceValue": "{{faceValue}}", "quantity": 1},
        "test": [
            "pm.test('200 OK', () => pm.response.to.have.status(200));",
            "const quote = pm.response.json();",
            "pm.test('the wallet covers it', () => pm.expect(quote.sufficientFunds).to.eql(true));",
            "pm.collectionVariables.set('expectedTotal', quote.total);",
        ],
    },
    {
        "name": "4. Place the order",
        "method": "POST",
        "path": "/api/orders",
        "body": {
            "sku": "{{sku}}",
            "faceValue": "{{faceValue}}",
            "quantity": 1,
            "referenceId": "flow-{{partnerId}}",
            "expectedTotal": "{{expectedTotal}}",
        },
        "test": [
            "pm.test('202 Accepted', () => pm.response.to.have.status(202));",
            "const order = pm.response.json();",
            "pm.test('processing, charged the quoted total', () => {",
            "  pm.expect(order.status).to.eql('processing');",
            "  pm.expect(order.total).to.eql(pm.collectionVariables.get('expectedTotal'));",
            "});",
            "pm.collectionVariables.set('orderId', order.id);",
            "pm.collectionVariables.set('polls', '0');",
        ],
    },
    {
        "name": "5. Poll the order",
        "method": "GET",
        "path": "/api/orders/{orderId}",
        "variables": {"orderId": "{{orderId}}"},
        "prerequest": [
            "const polls = Number(pm.collectionVariables.get('polls'));",
            "if (polls > 0) { setTimeout(() => {}, 500); }",
        ],
        "test": [
            "pm.test('200 OK', () => pm.response.to.have.status(200));",
            "const order = pm.response.json();",
            "const polls = Number(pm.collectionVariables.get('polls')) + 1;",
            "pm.collectionVariables.set('polls', String(polls));",
            f"if (order.status === 'processing' && polls < {POLL_LIMIT}) {{",
            "  pm.execution.setNextRequest(pm.info.requestName);",
            "} else {",
            "  pm.test('completed with one card', () => {",
            "    pm.expect(order.status).to.eql('completed');",
            "    pm.expect(order.cards).to.have.lengthOf(1);",
            "    pm.expect(order.cards[0].code).to.be.a('string').and.not.empty;",
            "  });",
            "}",
        ],
    },
    {
        "name": "6. Wallet",
        "method": "GET",
        "path": "/api/wallet/me",
        "test": [
            CENTS_JS,
            "pm.test('200 OK', () => pm.response.to.have.status(200));",
            "const wallet = pm.response.json();",
            "pm.test('balance = start - order total', () => {",
            "  const start = cents(pm.collectionVariables.get('startBalance'));",
            "  const total = cents(pm.collectionVariables.get('expectedTotal'));",
            "  pm.expect(cents(wallet.balance)).to.eql(start - total);",
            "});",
            "pm.collectionVariables.set('balance', wallet.balance);",
        ],
    },
    {
        "name": "7. Transactions",
        "method": "GET",
        "path": "/api/wallet/transactions",
        "query": {"orderId": "{{orderId}}"},
        "test": [
            CENTS_JS,
            "pm.test('200 OK', () => pm.response.to.have.status(200));",
            "const entries = pm.response.json().data;",
            "pm.test('one debit of the order total, ending at the balance', () => {",
            "  pm.expect(entries).to.have.lengthOf(1);",
            "  pm.expect(entries[0].type).to.eql('debit');",
            "  pm.expect(cents(entries[0].amount))",
            "    .to.eql(-cents(pm.collectionVariables.get('expectedTotal')));",
            "  pm.expect(entries[0].balanceAfter).to.eql(pm.collectionVariables.get('balance'));",
            "});",
        ],
    },
]


def _requests(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        if "item" in item:
            yield from _requests(item["item"])
        elif "request" in item:
            yield item


def _path_of(request: dict[str, Any]) -> str:
    parts = request["url"].get("path", [])
    return "/" + "/".join("{" + p[1:] + "}" if p.startswith(":") else p for p in parts)


def find_request(collection: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for item in _requests(collection["item"]):
        request = item["request"]
        if request["method"] == method and _path_of(request) == path:
            return copy.deepcopy(request)
    raise SystemExit(f"{COLLECTION.name} has no {method} {path}: regenerate it")


def _step_item(collection: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    request = find_request(collection, step["method"], step["path"])
    headers = []
    for original in request.get("header", []):
        header = dict(original)
        if header["key"].lower() == "idempotency-key":
            header["value"] = "{{$guid}}"  # a fresh key per send
        elif header["key"].lower() in {"x-request-id", "steller-version"}:
            header["disabled"] = True
        headers.append(header)
    request["header"] = headers
    url = request["url"]
    url["query"] = [{"key": k, "value": v} for k, v in step.get("query", {}).items()]
    for variable in url.get("variable", []):
        if variable["key"] in step.get("variables", {}):
            variable["value"] = step["variables"][variable["key"]]
    url.pop("raw", None)
    if "body" in step:
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(step["body"], indent=2),
            "options": {"raw": {"language": "json"}},
        }
        if not any(h["key"].lower() == "content-type" for h in headers):
            headers.append({"key": "Content-Type", "value": "application/json"})
    else:
        request.pop("body", None)
    events = [{"listen": "test", "script": {"type": "text/javascript", "exec": step["test"]}}]
    if "prerequest" in step:
        events.append(
            {
                "listen": "prerequest",
                "script": {"type": "text/javascript", "exec": step["prerequest"]},
            }
        )
    return {
        "id": str(uuid.uuid5(NAMESPACE, step["name"])),
        "name": step["name"],
        "request": request,
        "event": events,
    }


def build_flow(collection: dict[str, Any]) -> dict[str, Any]:
    """The flow collection: the steps above, with the main collection's variables and auth."""
    return {
        "info": {
            "_postman_id": str(uuid.uuid5(NAMESPACE, "flow")),
            "name": "Steller API — partner flow",
            "description": __doc__.split("\n\n")[1],
            "schema": collection["info"]["schema"],
        },
        "item": [
            {
                "id": str(uuid.uuid5(NAMESPACE, "Flow")),
                "name": "Flow",
                "item": [_step_item(collection, step) for step in STEPS],
            }
        ],
        "auth": collection.get("auth"),
        "variable": [
            *copy.deepcopy(collection.get("variable", [])),
            *(
                {"key": k, "value": ""}
                for k in (
                    "partnerId",
                    "startBalance",
                    "sku",
                    "faceValue",
                    "expectedTotal",
                    "orderId",
                    "polls",
                    "balance",
                )
            ),
        ],
    }


@contextlib.contextmanager
def sandbox_server() -> Iterator[str]:
    """``steller-server sandbox`` on a free loopback port with a throwaway database."""
    from steller_sandbox.testing import serve_in_thread  # noqa: PLC0415 - only when serving
    from steller_server.db.migrate import upgrade  # noqa: PLC0415
    from steller_server.sandbox_mode import build_sandbox  # noqa: PLC0415
    from steller_server.settings import Settings  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(mode="sandbox", secret_key=secrets.token_urlsafe(48)).replace(
            database_url=f"sqlite:///{Path(tmp) / 'sandbox.sqlite3'}"
        )
        upgrade(settings)
        sandbox = build_sandbox(settings)
        with serve_in_thread(sandbox.app, startup_timeout=120) as url:
            yield url


def run_flow(node_bin: Path, base_url: str, collection_path: Path) -> int:
    newman = node_bin / "newman"
    if not newman.exists():
        raise SystemExit(f"newman not found in {node_bin}: run tools/node_tools.py")
    env = {**os.environ, "PATH": f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [
        str(newman),
        "run",
        str(collection_path),
        "--env-var",
        f"baseUrl={base_url}",
        "--reporters",
        "cli",
        "--color",
        "off",
        "--timeout-request",
        "30000",
    ]
    return subprocess.run(command, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--node-bin",
        type=Path,
        default=None,
        help="directory holding newman (default: tools/node_tools.py installs it)",
    )
    parser.add_argument("--base-url", help="use this running sandbox instead of starting one")
    parser.add_argument("--write", type=Path, help="also save the flow collection here")
    args = parser.parse_args(argv)
    node_bin = args.node_bin
    if node_bin is None:
        sys.path.insert(0, str(ROOT / "tools"))
        from node_tools import ensure  # noqa: PLC0415 - tools/ is not a package

        node_bin = ensure()
    flow = build_flow(json.loads(COLLECTION.read_text(encoding="utf-8")))
    text = json.dumps(flow, indent=2, ensure_ascii=False) + "\n"
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "steller-flow.postman_collection.json"
        path.write_text(text, encoding="utf-8")
        if args.base_url:
            return run_flow(node_bin, args.base_url, path)
        with sandbox_server() as url:
            print(f"sandbox on {url}", flush=True)
            return run_flow(node_bin, url, path)


if __name__ == "__main__":
    raise SystemExit(main())
