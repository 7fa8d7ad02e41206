"""A Steller webhook receiver (Starlette), verified with the SDK.

    STELLER_WEBHOOK_SECRET=whsec_… python examples/webhook_receiver.py --port 8001
    STELLER_API_KEY=stlr_test_… python examples/webhook_receiver.py --port 8001 --register

``--register`` points your Steller webhook endpoint at this receiver
(``http://127.0.0.1:PORT/steller/webhooks``, sandbox only: live endpoints must be public https)
and uses the signing secret Steller returns. Otherwise set ``STELLER_WEBHOOK_SECRET``; during a
secret rotation give both secrets, comma-separated (new first).

What it does, as every receiver should:

1. verifies the signature on the **raw body** (``steller.webhooks.verify``, 5-minute tolerance),
   answering 400 when it does not match;
2. deduplicates on the event id (``webhook-id``): deliveries are at least once;
3. answers 204 at once and does the work in the background (Steller waits at most 10 s);
4. for ``order.completed`` / ``order.partially_completed`` fetches the order (webhooks never carry
   cards) with ``STELLER_API_KEY``, and hands the cards over (here: prints them).

Each handled event is printed as one line: ``handled <type> <event id> [<order id> <n> cards]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import steller
from steller import webhooks

PATH = "/steller/webhooks"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def create_app(secrets: Sequence[str], client: steller.AsyncSteller | None = None) -> Starlette:
    """The receiver. ``secrets``: the endpoint's signing secrets (two during a rotation)."""
    verifier = webhooks.WebhookVerifier(list(secrets))
    seen: set[str] = set()  # production: a table with a unique key on the event id
    tasks: set[asyncio.Task[None]] = set()

    async def handle(event: webhooks.WebhookEvent) -> None:
        line = f"handled {event.type} {event.id}"
        if event.type in ("order.completed", "order.partially_completed") and client is not None:
            order = await client.orders.get(event.data["id"])
            cards = order.cards or []
            # Hand card.code / card.pin over to your customer here; never log them.
            line += f" {order.id} {len(cards)} cards"
        print(line, flush=True)

    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            event = verifier.verify(body, request.headers)
        except webhooks.WebhookVerificationError as err:
            print(f"refused a delivery: {err}", file=sys.stderr, flush=True)
            return Response(status_code=400)
        if event.id not in seen:
            seen.add(event.id)
            task = asyncio.create_task(handle(event))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return Response(status_code=204)

    return Starlette(routes=[Route(PATH, receive, methods=["POST"])])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--register", action="store_true", help="point your Steller webhook endpoint here (sandbox)"
    )
    args = parser.parse_args(argv)
    base_url = os.environ.get("STELLER_BASE_URL", DEFAULT_BASE_URL)
    api_key = os.environ.get("STELLER_API_KEY")

    secrets = [s for s in os.environ.get("STELLER_WEBHOOK_SECRET", "").split(",") if s]
    if args.register:
        if not api_key:
            parser.error("--register needs STELLER_API_KEY")
        with steller.Steller(api_key=api_key, base_url=base_url) as client:
            url = f"http://{args.host}:{args.port}{PATH}"
            endpoint = client.webhook.update(url=url)
            if endpoint.secret is None:  # the endpoint existed: take a fresh secret
                rotated = client.webhook.rotate_secret(grace_period_hours=1)
                secrets = [rotated.secret, *secrets]
            else:
                secrets = [endpoint.secret]
            print(f"registered {url}", flush=True)
    if not secrets:
        parser.error("set STELLER_WEBHOOK_SECRET (or use --register)")

    async def serve() -> None:
        client = steller.AsyncSteller(api_key=api_key, base_url=base_url) if api_key else None
        config = uvicorn.Config(
            create_app(secrets, client), host=args.host, port=args.port, log_level="warning"
        )
        server = uvicorn.Server(config)

        async def announce() -> None:
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await asyncio.sleep(0.05)
            print(f"listening on http://{args.host}:{args.port}{PATH}", flush=True)

        try:
            await asyncio.gather(server.serve(), announce())
        finally:
            if client is not None:
                await client.close()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
