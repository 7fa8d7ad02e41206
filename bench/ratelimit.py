"""Benchmark: what the rate limiter adds to a request, in memory and on Redis.

    .venv/bin/python bench/ratelimit.py [--requests 3000] [--redis redis://127.0.0.1:6379/0]

One run, three configurations of the same app (``GET /api/health`` through the full ASGI stack:
request context middleware, routing wrapper, JSON response):

- ``baseline``: the limiter replaced by one that allows everything without storage;
- ``memory``: the real limiter on the ``limits`` in-memory storage (the default);
- ``redis``: the real limiter on Redis (skipped when Redis does not answer).

The default class's quota is raised for the run so no request is rejected (a rejection costs one
more storage round trip, for ``Retry-After``). Batches of the configurations are interleaved so
machine noise hits all of them alike. Reported: median and p99 per request, the median added over
the baseline, and the median of ``RateLimiter.hit`` alone (allowed, and rejected). Prints one
JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from steller_server.api import limits
from steller_server.api.limits import Decision, RateLimiter
from steller_server.app import create_app
from steller_server.db.migrate import upgrade
from steller_server.settings import Settings

SECRET = "bench-secret-key-0123456789abcdef0123456789abcdef"


class AllowAll(RateLimiter):
    """The baseline: same interface, no storage, always allowed."""

    def __init__(self) -> None:
        pass

    async def hit(
        self,
        policy: str,
        identity: str,  # noqa: ARG002 - same signature as RateLimiter.hit
        *,
        limit: int | None = None,
        window: int | None = None,
    ) -> Decision:
        return Decision(True, policy, limit or 10**9, window or 1, 10**9, 1)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


async def _redis_ok(url: str) -> bool:
    try:
        limiter = RateLimiter(url, key_prefix=f"steller-bench-{secrets.token_hex(4)}")
        return await asyncio.wait_for(limiter.check_ready(), 2)
    except Exception:
        return False


async def _direct(limiter: RateLimiter, n: int, *, limit: int | None = None) -> float:
    """Median µs of ``hit`` alone; with ``limit=1`` nearly every call is a rejection (which also
    reads the window's expiry for ``Retry-After``)."""
    identity = f"bench-direct-{limit}"
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await limiter.hit("default", identity, limit=limit)
        samples.append((time.perf_counter() - started) * 1e6)
    return round(statistics.median(samples), 1)


async def run(requests: int, redis_url: str | None) -> dict[str, Any]:
    limits.DEFAULT_POLICIES["default"] = (10**9, 1)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(mode="sandbox", secret_key=SECRET).replace(
            database_url=f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        )
        upgrade(settings)
        limiters: dict[str, RateLimiter] = {
            "baseline": AllowAll(),
            "memory": RateLimiter("async+memory://"),
        }
        prefix = f"steller-bench-{secrets.token_hex(4)}"
        if redis_url and await _redis_ok(redis_url):
            limiters["redis"] = RateLimiter(redis_url, key_prefix=prefix)
        app = create_app(settings)
        state = app.state.steller
        samples: dict[str, list[float]] = {name: [] for name in limiters}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                batch = 100
                for round_index in range(max(1, requests // batch) + 1):
                    for name, limiter in limiters.items():
                        state.limiter = limiter
                        for _ in range(batch):
                            started = time.perf_counter()
                            response = await client.get("/api/health")
                            elapsed = (time.perf_counter() - started) * 1000
                            if round_index:  # the first round warms up
                                samples[name].append(elapsed)
                            assert response.status_code == 200, response.text
                            assert ("ratelimit" in response.headers) is True
            direct = {
                name: await _direct(lim, 2000)
                for name, lim in limiters.items()
                if name != "baseline"
            }
            rejected = {
                name: await _direct(lim, 2000, limit=1)
                for name, lim in limiters.items()
                if name != "baseline"
            }
        if "redis" in limiters:
            await limiters["redis"].clear()
    base = statistics.median(samples["baseline"])
    out: dict[str, Any] = {}
    for name, values in samples.items():
        median = statistics.median(values)
        out[name] = {
            "requests": len(values),
            "median_ms": round(median, 3),
            "p99_ms": round(_percentile(values, 99), 3),
            "added_median_us": None if name == "baseline" else round((median - base) * 1000, 1),
            "hit_alone_median_us": direct.get(name),
            "rejected_hit_alone_median_us": rejected.get(name),
        }
    if "redis" not in out:
        out["redis"] = {"skipped": "Redis did not answer"}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument(
        "--redis",
        default=os.environ.get("STELLER_BENCH_REDIS_URL")
        or os.environ.get("STELLER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = asyncio.run(run(args.requests, args.redis))
    load = {"before": load_before, "after": os.getloadavg()}
    print(
        json.dumps(
            {"benchmark": "ratelimit", "route": "GET /api/health", "load_average": load, **results},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
