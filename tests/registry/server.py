"""Run Debian's ``docker-registry`` (distribution 2.8.2) as a real process on 127.0.0.1.

Each registry gets its own directory (config, storage, log), listens on a port the OS picks
(read back from the ``listening on 127.0.0.1:<port>`` log line) and is stopped with SIGTERM,
then SIGKILL. Auth modes: none, htpasswd Basic, and bearer tokens from
:class:`tests.registry.tokens.TokenServer`.

Also here: :class:`BackgroundServer` (an aiohttp app on its own loop in a thread) and
:class:`RegistryProxy`, a recording reverse proxy in front of a registry that measures
requests in flight and can add latency, demand Basic auth or redirect blob downloads.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

REGISTRY_BINARY = "docker-registry"
START_TIMEOUT = 10.0
POLL_INTERVAL = 0.005
_LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
_PROVISIONED = re.compile(r"password=(\S+) user=(\S+)")

T = TypeVar("T")

# Safety net: a registry left running (or SIGSTOPped) by an interrupted session is killed when
# the interpreter exits; fixtures stop theirs explicitly.
_LIVE: set[RegistryProcess] = set()


class RegistryUnavailable(RuntimeError):
    """docker-registry is not installed and could not be installed: tests must fail."""


def ensure_registry_binary() -> str:
    """The path of ``docker-registry``, installing it (Debian package) when missing."""
    found = shutil.which(REGISTRY_BINARY)
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        REGISTRY_BINARY,
        "apache2-utils",
    ]
    if os.geteuid() != 0 and shutil.which("sudo"):
        install = ["sudo", "-n", *install]
    result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        update = [*install[: install.index("apt-get")], "apt-get", "update"]
        subprocess.run(update, env=env, capture_output=True, check=False)
        result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    found = shutil.which(REGISTRY_BINARY)
    if not found:
        raise RegistryUnavailable(
            f"{REGISTRY_BINARY} is not on PATH and `{' '.join(install)}` failed "
            f"(exit {result.returncode}): {result.stderr.strip()[-500:]}"
        )
    return found


@dataclass(eq=False)
class RegistryProcess:
    """A running docker-registry. ``host`` is ``127.0.0.1:<port>`` (what image references
    and :class:`bot.engines.registry.RegistryClient` use)."""

    workdir: Path
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    paused: bool = False

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel, nothing answers."""
        if self.running():
            os.kill(self.process.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.paused and self.running():
            os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False

    @contextlib.contextmanager
    def paused_for_block(self) -> Iterator[None]:
        """Pause for the duration of a ``with`` block; always resumed afterwards."""
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def kill(self) -> None:
        """SIGKILL, for "registry went down" tests (also ends a paused process)."""
        if self.running():
            self.process.kill()
        self.process.wait(5)
        self.paused = False
        _LIVE.discard(self)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; safe to call twice or on a paused registry."""
        if self.running():
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.paused = False
        _LIVE.discard(self)


def registry_config(workdir: Path, auth: Mapping[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(workdir / "data")},
            "delete": {"enabled": True},
        },
        "http": {"addr": "127.0.0.1:0", "secret": secrets.token_hex(16)},
    }
    if auth is not None:
        config["auth"] = dict(auth)
    return config


def start_registry(workdir: Path, auth: Mapping[str, Any] | None = None) -> RegistryProcess:
    """Start a registry with ``auth`` as its config's ``auth`` section (None: open)."""
    binary = ensure_registry_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.yml"
    # JSON is valid YAML: no YAML writer needed.
    config_path.write_text(json.dumps(registry_config(workdir, auth), indent=1))
    log_path = workdir / "registry.log"
    # REGISTRY_* variables override the config file; a stray one must not change the test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, "serve", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )
    try:
        port = _wait_for_port(process, log_path)
        registry = RegistryProcess(workdir, process, port, log_path)
        _LIVE.add(registry)
        _wait_until_serving(registry)
    except BaseException:
        process.kill()
        process.wait(5)
        raise
    return registry


def start_open_registry(workdir: Path) -> RegistryProcess:
    return start_registry(workdir)


def start_basic_registry(
    workdir: Path, username: str = "tester", password: str | None = None
) -> RegistryProcess:
    """htpasswd (bcrypt) Basic auth. Without the ``htpasswd`` tool the registry provisions
    user ``docker`` with a random password itself; it is read back from the log."""
    workdir.mkdir(parents=True, exist_ok=True)
    password = password or secrets.token_urlsafe(12)
    htpasswd_path = workdir / "htpasswd"
    provisioned = not _write_htpasswd(htpasswd_path, username, password)
    if provisioned:
        htpasswd_path = workdir / "provisioned" / "htpasswd"  # must not exist yet
    auth = {"htpasswd": {"realm": "test-realm", "path": str(htpasswd_path)}}
    registry = start_registry(workdir, auth)
    if provisioned:
        match = _PROVISIONED.search(registry.log())
        if match is None:
            registry.stop()
            raise RegistryUnavailable(f"no provisioned password in {registry.log_path}")
        password, username = match.group(1), match.group(2)
    registry.username, registry.password = username, password
    return registry


def start_token_registry(
    workdir: Path, realm: str, ca_bundle: Path, service: str, issuer: str
) -> RegistryProcess:
    auth = {
        "token": {
            "realm": realm,
            "service": service,
            "issuer": issuer,
            "rootcertbundle": str(ca_bundle),
        }
    }
    return start_registry(workdir, auth)


def _write_htpasswd(path: Path, username: str, password: str) -> bool:
    tool = shutil.which("htpasswd")
    if tool is None:
        return False
    result = subprocess.run(
        [tool, "-nbB", "-C", "4", username, password], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return False
    path.write_text(result.stdout.strip() + "\n")
    return True


def _wait_for_port(process: subprocess.Popen[bytes], log_path: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        match = _LISTENING.search(text)
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            raise RegistryUnavailable(f"docker-registry exited ({process.returncode}):\n{text}")
        time.sleep(POLL_INTERVAL)
    raise RegistryUnavailable(f"docker-registry did not start within {START_TIMEOUT:g} s")


def _wait_until_serving(registry: RegistryProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(registry.url + "/v2/", timeout=1) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                return
        except OSError:
            pass
        if not registry.running():
            raise RegistryUnavailable(f"docker-registry exited:\n{registry.log()}")
        time.sleep(POLL_INTERVAL)
    raise RegistryUnavailable(f"{registry.url}/v2/ did not answer within {START_TIMEOUT:g} s")


@atexit.register
def _kill_leftovers() -> None:
    for registry in list(_LIVE):
        with contextlib.suppress(Exception):
            registry.kill()


# -- aiohttp servers in a background thread ---------------------------------------------------


class BackgroundServer:
    """Serve an aiohttp application on 127.0.0.1:<free port> from a thread with its own loop,
    so synchronous tests and code under test running in ``asyncio.run`` can both use it."""

    def __init__(self, make_app: Callable[[], web.Application]) -> None:
        self._make_app = make_app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        self.call(self._start())

    async def _start(self) -> None:
        self._runner = web.AppRunner(
            self._make_app(), access_log=None, handle_signals=False, shutdown_timeout=1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def call(self, coro: Awaitable[T], timeout: float = 15) -> T:
        async def wrapper() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout)

    def stop(self) -> None:
        if self._runner is not None:
            with contextlib.suppress(Exception):
                self.call(self._runner.cleanup())
            self._runner = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path_qs: str
    headers: Mapping[str, str]


_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "content-encoding",
    }
)


class RegistryProxy(BackgroundServer):
    """A reverse proxy to ``upstream`` (e.g. a :class:`RegistryProcess` URL) that records
    every request and the maximum number in flight at once.

    ``delay`` holds each request that long before forwarding, so concurrent requests overlap
    measurably. ``require_basic=(user, password)`` makes the proxy itself demand Basic auth.
    ``redirect_blobs_to=<base url>`` answers blob GETs with a 307 to the same path there.
    ``tamper(method, path_qs, body) -> body`` rewrites upstream response bodies (a lying
    registry or a man in the middle).
    """

    def __init__(
        self,
        upstream: str,
        *,
        delay: float = 0.0,
        require_basic: tuple[str, str] | None = None,
        redirect_blobs_to: str | None = None,
        tamper: Callable[[str, str, bytes], bytes] | None = None,
    ) -> None:
        super().__init__(self._app)
        self.tamper = tamper
        self.upstream = upstream.rstrip("/")
        self.delay = delay
        self.require_basic = require_basic
        self.redirect_blobs_to = redirect_blobs_to
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._session: aiohttp.ClientSession | None = None

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = self.in_flight

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_cleanup.append(self._close)
        return app

    async def _close(self, _app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.requests.append(
                RecordedRequest(request.method, request.path_qs, dict(request.headers))
            )
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return await self._answer(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if self.require_basic is not None:
            user, password = self.require_basic
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if request.headers.get("Authorization") != expected:
                return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="proxy"'})
        if (
            self.redirect_blobs_to is not None
            and request.method in ("GET", "HEAD")
            and re.fullmatch(r"/v2/.+/blobs/[a-z0-9]+:[0-9a-f]+", request.path)
        ):
            location = self.redirect_blobs_to.rstrip("/") + request.path_qs
            return web.Response(status=307, headers={"Location": location})
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body or None,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            if self.tamper is not None:
                payload = self.tamper(request.method, request.path_qs, payload)
            out_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP
            }
            return web.Response(status=upstream.status, headers=out_headers, body=payload)
