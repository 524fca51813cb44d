"""Fixtures for the independent-client checks: one appmesh-emulator process per test session."""

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """A running appmesh-emulator and its admin API."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint

    def admin(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.endpoint}/_emulator/{path}", data=data, method=method,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")

    def client(self, validate=True, attempts=1):
        return boto3.client(
            "appmesh", region_name="us-west-2", endpoint_url=self.endpoint,
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(parameter_validation=validate,
                          retries={"mode": "standard", "total_max_attempts": attempts}),
        )


@pytest.fixture(scope="session")
def emulator_process():
    binary = Path(os.environ.get("APPMESH_EMULATOR_BIN", REPO / "target/debug/appmesh-emulator"))
    if not binary.exists():
        pytest.fail(f"{binary} is missing: build it with `cargo build -p appmesh-emulator` "
                    "(`make test` does this before pytest)", pytrace=False)
    port = _free_port()
    proc = subprocess.Popen([str(binary), "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    emulator = Emulator(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                emulator.admin("GET", "healthz")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"appmesh-emulator did not start: {proc.stderr.read()!r}")
                time.sleep(0.05)
        yield emulator
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def emulator(emulator_process):
    """The session's emulator, reset and seeded with mesh `apps`, gateway `gw`, service `svc`."""
    emulator_process.admin("POST", "reset")
    c = emulator_process.client()
    c.create_mesh(meshName="apps")
    c.create_virtual_gateway(meshName="apps", virtualGatewayName="gw", spec={
        "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]})
    c.create_virtual_service(meshName="apps", virtualServiceName="svc", spec={})
    return emulator_process
