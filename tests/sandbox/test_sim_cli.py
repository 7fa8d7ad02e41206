"""The console script starts uvicorn and serves the simulator on the requested port."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from steller_sandbox.testing import free_port


@pytest.mark.slow
def test_steller_sandbox_command_serves():
    script = Path(sys.executable).with_name("steller-sandbox")
    port = free_port()
    process = subprocess.Popen(
        [str(script), "--port", str(port), "--seed", "3", "--no-limits", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/_sim/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "steller-sandbox did not start"
            time.sleep(0.05)
        response = httpx.get(
            f"{url}/api/integration/v1.0/accounts", auth=("steller-sandbox", "sandbox-secret")
        )
        assert response.status_code == 200
        assert response.json()["accounts"][0]["id"] == 1001
        for _ in range(3):  # --no-limits: no 429 on back-to-back calls
            assert (
                httpx.get(
                    f"{url}/api/integration/v2.0/catalog",
                    auth=("steller-sandbox", "sandbox-secret"),
                ).status_code
                == 200
            )
    finally:
        process.terminate()
        process.wait(timeout=10)
