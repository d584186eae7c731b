"""Starts a real ``keyward serve`` for the tests.

The binary is ``$TEST_KEYWARD_BIN`` (not ``KEYWARD_*``: keyward reads those as its own settings),
else the debug build ``cargo build`` reports. It gets a throwaway SQLite data dir and port 0; the
bound port comes from its "keyward is serving" log line (no port race), and it is ready once
/healthz answers."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyward_client import KeywardClient

REPO_ROOT = Path(__file__).resolve().parents[3]


def keyward_bin() -> str:
    if os.environ.get("TEST_KEYWARD_BIN"):
        return os.environ["TEST_KEYWARD_BIN"]
    build = subprocess.run(
        ["cargo", "build", "--bin", "keyward", "--message-format=json-render-diagnostics"],
        cwd=REPO_ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in build.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message.get("executable") and message["target"]["name"] == "keyward":
            return message["executable"]
    raise RuntimeError("cargo build did not report a keyward executable")


class Server:
    def __init__(self, process: subprocess.Popen[str], address: str, log: list[str]) -> None:
        self.process = process
        self.address = address
        self.log = log


@pytest.fixture(scope="session")
def keyward_server() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="keyward-pytest-") as data_dir:
        env = {**os.environ, "KEYWARD_DATA_DIR": data_dir, "KEYWARD_LOG_FORMAT": "json", "KEYWARD_LOG": "info",
               # Every test calls from 127.0.0.1: per-address budgets would refuse the suite.
               "KEYWARD_RATE_LIMITS__ENABLED": "false",
               # Register must sign in for these tests: verification (on by default) is tested in Rust.
               "KEYWARD_REQUIRE_EMAIL_VERIFICATION": "false"}
        process = subprocess.Popen(
            [keyward_bin(), "serve", "--listen", "127.0.0.1:0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        log: list[str] = []
        addresses: queue.Queue[str] = queue.Queue()

        def read_log() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                log.append(line.rstrip())
                if "keyward is serving" in line:
                    addresses.put(json.loads(line)["local_addr"])

        threading.Thread(target=read_log, daemon=True).start()
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    address = addresses.get(timeout=0.1)
                    break
                except queue.Empty:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("keyward did not start:\n" + "\n".join(log)) from None
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://{address}/healthz", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield Server(process, address, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def client(keyward_server: Server) -> Iterator[KeywardClient]:
    with KeywardClient(keyward_server.address) as client:
        yield client


@pytest.fixture
def email() -> str:
    return f"py-{uuid.uuid4().hex[:12]}@example.com"
