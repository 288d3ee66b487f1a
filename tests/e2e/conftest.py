"""End to end: ``gitops-gate serve`` as a real process against the GitHub emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.github_emulator.fixtures import EmulatorHandle, run_emulator
from tests.github_emulator.state import App, Installation, Repository
from tests.github_emulator.webhooks import Delivery, build_delivery, post_delivery

GOOD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31
"""

BAD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: "3"
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: nginx:1.27@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31
          resourcse: {}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Bot:
    """A running ``gitops-gate serve`` process and what it was started with."""

    emulator: EmulatorHandle
    app: App
    installation: Installation
    repo: Repository
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.workdir),
            "GITOPS_GATE_APP_ID": str(self.app.id),
            "GITOPS_GATE_PRIVATE_KEY": self.app.private_key_pem,
            "GITOPS_GATE_WEBHOOK_SECRET": self.app.webhook_secret,
            "GITOPS_GATE_GITHUB_API_URL": self.emulator.base_url,
            "GITOPS_GATE_DATABASE": str(self.workdir / "gitops-gate.db"),
            "GITOPS_GATE_WORKERS": "2",
            # Fast retries so fault tests finish quickly; the deadline stays generous.
            "GITOPS_GATE_RETRY_BASE_DELAY": "0.05",
        }
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        self.port = free_port()
        log = (self.workdir / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"serve did not become ready:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no cleanup at all
        self.process.wait()
        self.process = None

    def log(self) -> str:
        path = self.workdir / "serve.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def deliver(self, delivery: Delivery) -> tuple[int, str]:
        return asyncio.run(post_delivery(self.url + "/webhook", delivery))

    def pr_delivery(self, action: str, pull: Any, **kwargs: Any) -> Delivery:
        return build_delivery(
            "pull_request",
            action,
            app=self.app,
            installation=self.installation,
            repo=self.repo,
            pull=pull,
            api_url=self.emulator.base_url,
            **kwargs,
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator() as handle:
        yield handle


@pytest.fixture
def bot(emulator: EmulatorHandle, tmp_path: Path) -> Iterator[Bot]:
    app, installation, repo = emulator.setup_app(
        "octo-org/manifests",
        files={
            "README.md": "# manifests\n",
            "apps/web/deployment.yaml": GOOD,
        },
    )
    instance = Bot(emulator, app, installation, repo, tmp_path)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
