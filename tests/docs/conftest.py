"""Fixtures for the documentation tests: one real sandbox server for all of tests/docs, and the
machinery that runs the code samples of docs/*.md and the scripts of examples/.

* ``docs_server`` (package scope: stopped after the last docs test): ``build_sandbox`` (API,
  in-process worker, Bamboo simulator, demo data) served by uvicorn on a free loopback port
  (``serve_in_thread``), with a fast simulator (orders final in ~0.3 s, the slow scenario 2 s)
  and vendor limits off. In the tests using it, the SDK's ``"sandbox"`` environment points at
  it, so samples written for ``environment="sandbox"`` run unchanged.
  The signup limit (5/min per address) is raised for this server only: the samples sign up
  more often than that from one address.
* ``doc_blocks(path)``: the fenced code blocks of a Markdown file, in order. Executable
  languages (python, bash, js) must carry ``title="…"``; every one of them is run by a test.
* ``run_bash(script, env)``: bash with ``set -euo pipefail``; when ``jq`` is not installed a
  small stand-in (simple paths only: ``.a.b[0].c``, comma-separated) is put on ``PATH``.
* ``forwarding_receiver``: a loopback URL whose requests go to an ASGI app chosen later (the
  guide's own webhook receiver, defined by a sample).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import steller._config as sdk_config
from steller_sandbox import SimulatorConfig
from steller_sandbox.testing import serve_in_thread
from steller_server.db.migrate import upgrade
from steller_server.sandbox_mode import DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, build_sandbox
from steller_server.settings import Settings
from steller_server.vendor import BambooLimits

ROOT = Path(__file__).resolve().parents[2]
DOCS_SECRET_KEY = "docs-tests-secret-key-0123456789abcdef0123456789"
EXECUTABLE = {"python", "bash", "js"}
FENCE = re.compile(r"^```([\w-]*)([^\n]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="([^"]+)"')


@dataclass(frozen=True)
class Block:
    language: str
    title: str | None
    code: str
    line: int

    @property
    def where(self) -> str:
        return f"line {self.line} ({self.title or self.language})"


def parse_blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        title = TITLE.search(match.group(2))
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(
            Block(match.group(1), title.group(1) if title else None, match.group(3), line)
        )
    return blocks


@pytest.fixture(scope="session")
def doc_blocks() -> Callable[[Path], list[Block]]:
    def load(path: Path, *, strict: bool = True) -> list[Block]:
        blocks = parse_blocks(path)
        if not strict:  # e.g. the README, whose shell blocks are instructions, not samples
            return blocks
        untitled = [b.where for b in blocks if b.language in EXECUTABLE and not b.title]
        assert not untitled, f'{path.name}: executable blocks need title="…": {untitled}'
        odd = [b.where for b in blocks if b.language in {"sh", "shell", "py", "javascript"}]
        assert not odd, f"{path.name}: use python/bash/js as block languages: {odd}"
        return blocks

    return load


# -- the server -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocsServer:
    url: str
    demo_key: str
    admin_email: str
    admin_password: str
    sandbox: Any

    def env(self, **extra: str) -> dict[str, str]:
        """A subprocess environment pointing the SDK and the samples at this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STELLER_")}
        env.update(
            STELLER_BASE_URL=self.url,
            STELLER_API_KEY=self.demo_key,
            STELLER_ADMIN_EMAIL=self.admin_email,
            STELLER_ADMIN_PASSWORD=self.admin_password,
            BASE=self.url,
            KEY=self.demo_key,
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env


def _raise_signup_limit(app: Any) -> None:
    limiter = app.state.steller.limiter
    hit = limiter.hit

    async def generous_hit(policy: str, identity: str, **kwargs: Any) -> Any:
        if policy == "signup":
            kwargs["limit"] = 10_000
        return await hit(policy, identity, **kwargs)

    limiter.hit = generous_hit


@pytest.fixture(scope="package")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocsServer]:
    path = tmp_path_factory.mktemp("docs-sandbox") / "sandbox.sqlite3"
    settings = Settings(mode="sandbox", secret_key=DOCS_SECRET_KEY).replace(
        database_url=f"sqlite:///{path}"
    )
    upgrade(settings)
    sandbox = build_sandbox(
        settings,
        simulator_config=SimulatorConfig(
            latency=0.2,
            slow_seconds=2.0,
            limits_enabled=False,
            tick_interval=0.02,
            timeout_hang_seconds=0.5,
            scenario_retry_after_seconds=1,
        ),
        worker_poll_interval=0.02,
        vendor_options={"limits": BambooLimits(enabled=False)},
    )
    _raise_signup_limit(sandbox.app)
    with serve_in_thread(sandbox.app, startup_timeout=120) as url:
        assert sandbox.demo is not None
        yield DocsServer(
            url, sandbox.demo.api_key, DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, sandbox
        )


@pytest.fixture(autouse=True)
def _sandbox_environment_is_the_docs_server(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In tests using ``docs_server``, ``environment="sandbox"`` means that server."""
    if "docs_server" not in request.fixturenames:
        return
    server: DocsServer = request.getfixturevalue("docs_server")
    monkeypatch.setattr(
        sdk_config,
        "ENVIRONMENTS",
        types.MappingProxyType({**sdk_config.ENVIRONMENTS, "sandbox": server.url}),
    )


# -- running samples ------------------------------------------------------------------------------

JQ_SHIM = r'''#!{python}
"""A stand-in for jq in the docs tests: `jq [-r] '.a.b[0].c, .d'` on stdin, nothing more."""
import json, re, sys
args = [a for a in sys.argv[1:] if a != "-r"]
raw = "-r" in sys.argv[1:]
doc = json.load(sys.stdin)
for path in args[0].split(","):
    value = doc
    for name, index in re.findall(r"\.([A-Za-z_][\w]*)|\[(\d+)\]", path.strip()):
        if value is None:
            break
        position = int(index or 0)
        value = value.get(name) if name else (value[position] if len(value) > position else None)
    print(value if raw and isinstance(value, str) else json.dumps(value))
'''


@pytest.fixture(scope="session")
def shell_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = os.environ.get("PATH", "")
    if shutil.which("jq"):
        return path
    bin_dir = tmp_path_factory.mktemp("docs-bin")
    shim = bin_dir / "jq"
    shim.write_text(JQ_SHIM.replace("{python}", sys.executable))
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return f"{bin_dir}{os.pathsep}{path}"


@pytest.fixture(scope="session")
def run_bash(shell_path: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    if shutil.which("curl") is None or shutil.which("bash") is None:
        pytest.fail("the docs' shell samples need bash and curl")

    def run(
        script: str, env: Mapping[str, str], *, where: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            env={**env, "PATH": shell_path},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, (
            f"{where} failed ({result.returncode})\n--- stdout\n{result.stdout}\n"
            f"--- stderr\n{result.stderr}"
        )
        return result

    return run


@pytest.fixture(scope="session")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("node is required in CI for the Node.js webhook sample")
        pytest.skip("node is not installed")
    return found


class Forwarder:
    """An ASGI app that hands HTTP requests to ``target`` (503 until one is set)."""

    def __init__(self) -> None:
        self.target: Callable[[], Any] = lambda: None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        app = self.target()
        if app is None:
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)


@pytest.fixture
def forwarding_receiver() -> Iterator[tuple[str, Forwarder]]:
    forwarder = Forwarder()
    with serve_in_thread(forwarder) as url:
        yield url, forwarder


@pytest.fixture(scope="session")
def openapi_spec() -> dict[str, Any]:
    """openapi.yaml, parsed once (with libyaml when available)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec: dict[str, Any] = yaml.load(
        (ROOT / "openapi.yaml").read_text(encoding="utf-8"), Loader=loader
    )
    return spec
