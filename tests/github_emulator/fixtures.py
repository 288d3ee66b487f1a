"""Start the emulator on 127.0.0.1 in a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.github.auth import InstallationTokens, expiry_seconds
from bot.github.client import GitHubClient, RetryPolicy

from .server import STOP_KEY, Emulator
from .state import App, EmulatorState, Installation, Repository


@dataclass
class EmulatorHandle:
    """What the fixture yields: the base URL (``http://127.0.0.1:<port>``) and the state."""

    base_url: str
    state: EmulatorState
    emulator: Emulator
    loop: asyncio.AbstractEventLoop

    def setup_app(
        self, repo: str = "octo-org/manifests", files: dict[str, bytes | str] | None = None
    ) -> tuple[App, Installation, Repository]:
        """The usual starting point: an App installed on the repository's owner, and the
        repository (with ``files`` as the first commit on ``main`` when given)."""
        app = self.state.create_app()
        inst = self.state.install(app, repo.split("/")[0])
        r = self.state.create_repo(repo, installation=inst, files=files)
        return app, inst, r


@contextlib.contextmanager
def run_emulator(
    state: EmulatorState | None = None, *, host: str = "127.0.0.1"
) -> Iterator[EmulatorHandle]:
    """Serve ``state`` (a new one by default) until the block exits."""
    state = state or EmulatorState()
    emulator = Emulator(state)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}
    errors: list[BaseException] = []

    async def start() -> web.AppRunner:
        app = emulator.make_app()
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = runner.addresses[0][1]
        state.base_url = f"http://{host}:{port}"
        box["app"] = app
        return runner

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            box["runner"] = loop.run_until_complete(start())
        except BaseException as exc:  # pragma: no cover - reported to the caller
            errors.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="github-emulator", daemon=True)
    thread.start()
    started.wait(10)
    if errors or "runner" not in box:
        raise RuntimeError("the GitHub emulator did not start") from (errors[0] if errors else None)
    runner: web.AppRunner = box["runner"]  # type: ignore[assignment]
    app: web.Application = box["app"]  # type: ignore[assignment]
    try:
        yield EmulatorHandle(state.base_url, state, emulator, loop)
    finally:

        async def stop() -> None:
            app[STOP_KEY].set()  # ends injected hangs
            await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def github_emulator() -> Iterator[EmulatorHandle]:
    """A fresh emulator per test; ``handle.state`` seeds and inspects it."""
    with run_emulator() as handle:
        yield handle


def app_client(
    session: aiohttp.ClientSession, app: App, base_url: str, **options: Any
) -> tuple[GitHubClient, InstallationTokens]:
    """A client wired as ``bot.github.app._client`` wires it (installation tokens fetched
    through the client itself), and its token cache. ``options`` go to ``GitHubClient``; the
    retry policy defaults to short test delays."""
    client: GitHubClient

    async def fetch_token(installation_id: int, _jwt: str) -> tuple[str, float]:
        data = await client.json(
            "POST", f"/app/installations/{installation_id}/access_tokens", as_app=True
        )
        return str(data["token"]), expiry_seconds(data["expires_at"])

    tokens = InstallationTokens(app.id, app.private_key_pem, fetch_token)
    options.setdefault("policy", RetryPolicy(base_delay=0.01, request_timeout=5.0, deadline=30.0))
    client = GitHubClient(
        session,
        base_url,
        tokens=tokens.get,
        invalidate_token=tokens.invalidate,
        app_jwt=tokens.app_jwt,
        **options,
    )
    return client, tokens
