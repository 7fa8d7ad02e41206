"""The front door: every task a developer or CI runs is a nox session.

nox                 # = nox -s tests
nox -s sandbox      # serve the sandbox on http://127.0.0.1:8000
nox -s lint typecheck
nox -s generate     # regenerate SDK models from openapi.yaml
nox -s postman      # regenerate the Postman collection (and run the flow with newman)
nox -s e2e          # multi-process deployment on PostgreSQL and Redis
nox -s bench        # benchmarks; figures go to docs/benchmarks.md
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
nox.options.reuse_venv = "yes"
nox.needs_version = ">=2024.4.15"

ROOT = Path(__file__).parent
PACKAGES = ["-e", "./sdk", "-e", "./sandbox", "-e", "./server"]
PYTHON = "3.11"


def _install_all(session: nox.Session) -> None:
    session.install(*PACKAGES, "-r", "requirements-dev.txt")


def _node_bin(session: nox.Session) -> Path:
    out = session.run("python", "tools/node_tools.py", silent=True, external=False)
    assert isinstance(out, str)
    return Path(out.strip().splitlines()[-1])


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the whole test suite (PostgreSQL/Redis tests too when their URLs are set)."""
    _install_all(session)
    env = {"STELLER_NODE_BIN": str(_node_bin(session))}
    session.run("pytest", *session.posargs, env=env)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, openapi-spec-validator and the Redocly OpenAPI linter."""
    session.install("ruff", "openapi-spec-validator", "pyyaml")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run(
        "python",
        "-c",
        "import yaml; from openapi_spec_validator import validate; "
        "validate(yaml.safe_load(open('openapi.yaml'))); print('openapi.yaml: valid OpenAPI 3.1')",
    )
    redocly = _node_bin(session) / "redocly"
    session.run(str(redocly), "lint", "--config", "redocly.yaml", "openapi.yaml", external=True)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy: strict on the SDK, checked on the server, the sandbox and the typing tests."""
    _install_all(session)
    session.run("mypy", "sdk/src/steller", "tests/typing")
    session.run("mypy", "server/src/steller_server", "sandbox/src/steller_sandbox")


@nox.session(python=PYTHON)
def generate(session: nox.Session) -> None:
    """Regenerate sdk/src/steller/models/_generated.py from openapi.yaml."""
    session.install("datamodel-code-generator==0.89.0")
    session.run("python", "tools/generate_models.py", *session.posargs)


@nox.session(python=PYTHON)
def postman(session: nox.Session) -> None:
    """Regenerate postman/steller.postman_collection.json; with --run, run the flow with newman."""
    bin_dir = _node_bin(session)
    session.install("pyyaml")
    session.run("python", "tools/generate_postman.py", "--node-bin", str(bin_dir))
    if "--run" in session.posargs:
        _install_all(session)
        session.run("python", "tools/run_newman.py", "--node-bin", str(bin_dir))


@nox.session(python=PYTHON)
def sandbox(session: nox.Session) -> None:
    """Serve the sandbox: API + worker + simulated Bamboo on an SQLite file, with demo data."""
    session.install(*PACKAGES)
    session.run("steller-server", "sandbox", *session.posargs)


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """Production proof: a multi-process deployment on PostgreSQL and Redis, load and faults.

    API (2 processes), 2 workers, the Bamboo simulator and a webhook receiver as real processes
    on loopback (needs STELLER_TEST_POSTGRES_URL and STELLER_TEST_REDIS_URL); knobs such as
    STELLER_E2E_DURATION in tests/e2e/conftest.py.
    """
    for name, what in (("POSTGRES", "PostgreSQL"), ("REDIS", "Redis")):
        if not os.environ.get(f"STELLER_TEST_{name}_URL"):
            session.skip(f"STELLER_TEST_{name}_URL is not set: the e2e deployment needs {what}")
    _install_all(session)
    session.run("pytest", "tests/e2e", "-m", "slow", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks under bench/; see docs/benchmarks.md for the figures and commands."""
    _install_all(session)
    scripts = session.posargs or sorted(str(p) for p in (ROOT / "bench").glob("*.py"))
    for script in scripts:
        session.run("python", script)
