"""pytest fixtures: real registries on loopback, started lazily, one per auth mode per session.

Enable with ``pytest_plugins = ["tests.registry.plugin"]`` in the root ``tests/conftest.py``.

* ``registry`` / ``basic_registry`` / ``token_registry`` (session): a :class:`RegistryHandle`
  (open, htpasswd Basic, bearer tokens). Shared: isolate tests by repository name
  (``registry_repo``) and never stop or pause them; use ``registry_factory`` for that.
* ``registry_repo`` (function): a repository name unique to the test.
* ``registry_factory`` (function): ``start(mode="open")`` -> a private :class:`RegistryHandle`
  the test may kill or pause; it is resumed and stopped at teardown whatever happened.
* ``registry_proxy_factory`` (function): ``make(upstream_url, **options)`` -> a started
  :class:`tests.registry.server.RegistryProxy`, stopped at teardown.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest

from bot.engines.registry import BasicCredentials, RegistryClient, is_digest
from tests.registry.push import Pusher
from tests.registry.server import (
    RegistryProcess,
    RegistryProxy,
    start_basic_registry,
    start_open_registry,
    start_token_registry,
)
from tests.registry.tokens import TokenServer

__all__ = [
    "RegistryHandle",
    "basic_registry",
    "registry",
    "registry_factory",
    "registry_proxy_factory",
    "registry_repo",
    "start_handle",
    "token_registry",
]

Mode = Literal["open", "basic", "token"]
_COUNTER = itertools.count(1)


class RegistryHandle(Pusher):
    """A running registry plus what a test needs to use it.

    ``host`` ("127.0.0.1:<port>", the registry part of an image reference), ``url``,
    ``username``/``password`` (None when open), ``credentials`` (the mapping
    :class:`RegistryClient` takes), ``token_server`` (token mode), ``process`` (for
    ``pause()``/``kill()`` on private registries), and every :class:`Pusher` method
    (``push_image``, ``push_multiarch``, ``push_artifact``, ...) authenticated for pushing.
    """

    def __init__(
        self,
        mode: Mode,
        process: RegistryProcess,
        username: str | None = None,
        password: str | None = None,
        token_server: TokenServer | None = None,
    ) -> None:
        super().__init__(process.url, username, password)
        self.mode = mode
        self.process = process
        self.username = username
        self.password = password
        self.token_server = token_server

    def __repr__(self) -> str:
        return f"RegistryHandle({self.mode}, {self.host})"

    @property
    def host(self) -> str:
        return self.process.host

    @property
    def credentials(self) -> dict[str, BasicCredentials]:
        if self.username is None or self.password is None:
            return {}
        return {self.host: BasicCredentials(self.username, self.password)}

    def client(self, session: aiohttp.ClientSession, **options: Any) -> RegistryClient:
        """A client for this registry with its credentials (pass ``credentials={}`` for an
        anonymous one)."""
        options.setdefault("credentials", self.credentials)
        return RegistryClient(session, **options)

    def reference(self, repository: str, tag_or_digest: str) -> str:
        """An image reference as it appears in a Kubernetes manifest."""
        separator = "@" if is_digest(tag_or_digest) else ":"
        return f"{self.host}/{repository}{separator}{tag_or_digest}"

    def close(self) -> None:
        self.process.stop()
        if self.token_server is not None:
            self.token_server.stop()


def start_handle(mode: Mode, workdir: Path) -> RegistryHandle:
    """Start a registry in ``mode`` under ``workdir`` (the caller must ``close()`` it)."""
    if mode == "open":
        return RegistryHandle(mode, start_open_registry(workdir))
    username, password = "tester", secrets.token_urlsafe(12)
    if mode == "basic":
        process = start_basic_registry(workdir, username, password)
        return RegistryHandle(mode, process, process.username, process.password)
    tokens = TokenServer(workdir, {username: password})
    tokens.start()
    try:
        process = start_token_registry(
            workdir, tokens.realm, tokens.ca_bundle, tokens.service, tokens.issuer
        )
    except BaseException:
        tokens.stop()
        raise
    return RegistryHandle(mode, process, username, password, tokens)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryHandle]:
    handle = start_handle("open", tmp_path_factory.mktemp("registry-open"))
    yield handle
    handle.close()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryHandle]:
    handle = start_handle("basic", tmp_path_factory.mktemp("registry-basic"))
    yield handle
    handle.close()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryHandle]:
    handle = start_handle("token", tmp_path_factory.mktemp("registry-token"))
    yield handle
    handle.close()


@pytest.fixture
def registry_repo(request: pytest.FixtureRequest) -> str:
    """``test/<test name>-<n>``: valid as a repository name and unique in the session."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60] or "t"
    return f"test/{name}-{next(_COUNTER)}"


@pytest.fixture
def registry_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., RegistryHandle]]:
    started: list[RegistryHandle] = []

    def start(mode: Mode = "open") -> RegistryHandle:
        handle = start_handle(mode, tmp_path_factory.mktemp(f"registry-private-{mode}"))
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.close()  # resumes a paused registry before stopping it


@pytest.fixture
def registry_proxy_factory() -> Iterator[Callable[..., RegistryProxy]]:
    started: list[RegistryProxy] = []

    def make(upstream: str, **options: Any) -> RegistryProxy:
        proxy = RegistryProxy(upstream, **options)
        proxy.start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()
