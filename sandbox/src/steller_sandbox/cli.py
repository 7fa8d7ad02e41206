"""``steller-sandbox``: run the Bamboo simulator alone under uvicorn."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import uvicorn

from steller_sandbox.app import create_app
from steller_sandbox.config import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SimulatorConfig

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="steller-sandbox",
        description="A faithful simulator of the Bamboo gift-card integration API. "
        f"Default sandbox credentials: {SANDBOX_CLIENT_ID} / {SANDBOX_CLIENT_SECRET}.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8100, help="port to listen on (default 8100)")
    parser.add_argument("--seed", type=int, default=42, help="catalogue and card-code seed")
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="time from Created to a final order status"
    )
    parser.add_argument(
        "--slow-seconds", type=float, default=30.0, help="fulfilment time of the 'slow' scenario"
    )
    parser.add_argument("--no-limits", action="store_true", help="switch Bamboo's rate limits off")
    parser.add_argument("--log-level", default="info")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    config = SimulatorConfig(
        seed=args.seed,
        latency=args.latency_ms / 1000,
        slow_seconds=args.slow_seconds,
        limits_enabled=not args.no_limits,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":  # pragma: no cover
    main()
