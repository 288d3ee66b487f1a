"""The GitHub App's HTTP server (``gitops-gate serve``).

``POST /webhook`` verifies ``X-Hub-Signature-256`` (constant time, gidgethub's sansio) before it
looks at anything else, records the delivery and its jobs in one transaction, and answers 202 at
once: the analysis happens in the background job runner. ``/healthz`` says the process is up,
``/readyz`` that the database answers and the workers run, ``/metrics`` is Prometheus text.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from gidgethub import BadRequest, ValidationFailure, sansio

from bot import __version__
from bot.analyzers.rego.settings import EngineKind, PoliciesConfig
from bot.core.pipeline import Engines
from bot.engines.credentials import BasicCredentials
from bot.engines.kubeconform import find_kubeconform
from bot.engines.local import image_verifier
from bot.engines.opa_server import OpaServerEngine
from bot.engines.policy_engine import PolicyEngine, UnavailableEngine
from bot.engines.rego_engine import RegorusEngine
from bot.engines.schema_http import HttpSchemaCache
from bot.engines.schema_store import LocationSchemas, embedded, newest_version
from bot.github import events
from bot.github.auth import InstallationTokens, expiry_seconds
from bot.github.client import GitHubClient, RetryPolicy
from bot.github.handler import AnalysisHandler
from bot.github.jobs import JobRunner, RunnerConfig
from bot.github.metrics import CONTENT_TYPE, Metrics
from bot.github.publish import CheckRuns
from bot.github.store import AsyncStore, Delivery, DeliveryOutcome, Store
from bot.settings import Settings

log = logging.getLogger(__name__)

# GitHub caps webhook payloads at 25 MB.
MAX_PAYLOAD_BYTES = 25 * 1024 * 1024

STATE: web.AppKey[AppState] = web.AppKey("state")


@dataclass(slots=True)
class AppState:
    settings: Settings
    store: AsyncStore
    metrics: Metrics
    session: aiohttp.ClientSession
    runner: JobRunner


def create_app(settings: Settings, *, retry: RetryPolicy | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_PAYLOAD_BYTES)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    policy = retry or RetryPolicy(base_delay=settings.retry_base_delay)
    app.cleanup_ctx.append(_lifecycle(settings, policy))
    return app


def _lifecycle(settings: Settings, retry: RetryPolicy) -> Any:
    async def context(app: web.Application) -> Any:
        store = AsyncStore(Store(settings.database))
        metrics = Metrics()
        session = aiohttp.ClientSession()
        client = _client(settings, session, metrics, retry)
        handler = AnalysisHandler(
            client,
            CheckRuns(client),
            store,
            app_engines(
                settings.database.parent,
                settings.registry_credentials,
                opa=(settings.opa_url, settings.opa_token),
            ),
        )
        runner = JobRunner(
            store,
            handler,
            on_failure=handler.on_failure,
            on_superseded=handler.on_superseded,
            config=RunnerConfig(concurrency=settings.workers, job_timeout=settings.job_deadline),
            metrics=metrics,
        )
        # Jobs a previous process left running are run again, completing their check runs.
        await runner.start(requeue_interrupted=True)
        app[STATE] = AppState(settings, store, metrics, session, runner)
        log.info("gitops-gate %s ready (GitHub API %s)", __version__, settings.github_api_url)
        yield
        await runner.stop()
        await session.close()
        store.sync.close()

    return context


def _client(
    settings: Settings, session: aiohttp.ClientSession, metrics: Metrics, retry: RetryPolicy
) -> GitHubClient:
    client: GitHubClient

    async def fetch_token(installation_id: int, _jwt: str) -> tuple[str, float]:
        data = await client.json(
            "POST",
            f"/app/installations/{installation_id}/access_tokens",
            as_app=True,
            idempotent=True,  # a second token is harmless
        )
        return str(data["token"]), expiry_seconds(data["expires_at"])

    tokens = InstallationTokens(settings.app_id, settings.private_key, fetch_token)
    client = GitHubClient(
        session,
        settings.github_api_url,
        tokens=tokens.get,
        invalidate_token=tokens.invalidate,
        app_jwt=tokens.app_jwt,
        policy=retry,
        observe=metrics.api_call,
    )
    return client


def app_engines(
    cache_root: Path,
    registry_credentials: Mapping[str, BasicCredentials] | None = None,
    *,
    opa: tuple[str | None, str | None] = (None, None),
) -> Engines:
    """The App's engines: bundled schemas, CRDs from the tree, URL schema locations cached on
    disk. Work stays in-process (the server is threaded; no forking)."""
    fetch = HttpSchemaCache(cache_root / "schema-cache")

    def locations(config: Any, version: str, strict: bool) -> list[LocationSchemas]:
        urls = tuple(
            loc for loc in config.schema.locations if loc.startswith(("http://", "https://"))
        )
        if not urls:
            return []
        return [
            LocationSchemas(urls, version=version, strict=strict, base_dir=cache_root, fetch=fetch)
        ]

    return Engines(
        builtin_schemas=embedded,
        default_kubernetes_version=newest_version(),
        schema_locations=locations,
        kubeconform=find_kubeconform(),
        verify_images=image_verifier(lambda: registry_credentials or {}),
        policy_engine=functools.partial(app_policy_engine, opa_url=opa[0], opa_token=opa[1]),
    )


def app_policy_engine(
    policies: PoliciesConfig, repository: str, *, opa_url: str | None, opa_token: str | None
) -> PolicyEngine:
    """Regorus, or the App's own OPA server. A repository's config may ask for the OPA engine
    but never name the server or its token: that would let it send the App's secrets anywhere."""
    if policies.engine is not EngineKind.OPA_SERVER:
        return RegorusEngine()
    if opa_url is None:
        return UnavailableEngine(
            "policies.engine is opa-server, but this App has no OPA server configured "
            "(GITOPS_GATE_OPA_URL); policies were not checked"
        )
    timeout = policies.opa_server.timeout if policies.opa_server else 30.0
    return OpaServerEngine(opa_url, opa_token, timeout, repository=repository)


async def webhook(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.read()
    event_name = request.headers.get("X-GitHub-Event", "unknown")
    if "X-Hub-Signature-256" not in request.headers:
        state.metrics.deliveries.labels(event=event_name, outcome="unauthorized").inc()
        return web.json_response({"error": "missing X-Hub-Signature-256"}, status=401)
    try:
        event = sansio.Event.from_http(request.headers, body, secret=state.settings.webhook_secret)
    except ValidationFailure:
        state.metrics.deliveries.labels(event=event_name, outcome="unauthorized").inc()
        return web.json_response({"error": "invalid signature"}, status=401)
    except (BadRequest, ValueError, KeyError) as exc:
        state.metrics.deliveries.labels(event=event_name, outcome="malformed").inc()
        return web.json_response({"error": f"malformed delivery: {exc}"}, status=400)
    if not isinstance(event.data, dict) or not event.delivery_id:
        state.metrics.deliveries.labels(event=event_name, outcome="malformed").inc()
        return web.json_response({"error": "malformed delivery"}, status=400)
    if event.event == "ping":
        state.metrics.deliveries.labels(event="ping", outcome="pong").inc()
        return web.json_response({"ok": True, "zen": event.data.get("zen")})
    return await _accept(state, event)


async def _accept(state: AppState, event: sansio.Event) -> web.Response:
    data: dict[str, Any] = event.data
    decision = events.decide(event.event, data, check_drafts=state.settings.check_drafts)
    installation = data.get("installation", {})
    delivery = Delivery(
        delivery_id=str(event.delivery_id),
        event=event.event,
        action=data.get("action"),
        installation_id=installation.get("id") if isinstance(installation, dict) else None,
        outcome=DeliveryOutcome.ACCEPTED if decision.jobs else DeliveryOutcome.IGNORED,
    )
    results = await state.store.accept_delivery(delivery, decision.jobs, rerun=decision.rerun)
    if results is None:
        state.metrics.deliveries.labels(event=event.event, outcome="duplicate").inc()
        return web.json_response({"status": "duplicate delivery"}, status=200)
    if decision.installation is not None:
        await state.store.record_installation(*decision.installation)
    superseded = [job_id for result in results for job_id in result.superseded]
    if any(result.queued for result in results) or superseded:
        state.runner.notify(superseded)
    outcome = "accepted" if decision.jobs else "ignored"
    state.metrics.deliveries.labels(event=event.event, outcome=outcome).inc()
    body = {
        "status": outcome,
        "jobs": [result.job_id for result in results],
        "reason": decision.reason or None,
    }
    return web.json_response(body, status=202)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    database = await _safe_ping(state.store)
    workers = state.runner.healthy()
    status = 200 if database and workers else 503
    return web.json_response({"database": database, "workers": workers}, status=status)


async def _safe_ping(store: AsyncStore) -> bool:
    try:
        return await store.ping()
    except Exception:  # readiness answers, it does not crash
        return False


async def metrics_endpoint(request: web.Request) -> web.Response:
    state = request.app[STATE]
    counts = await state.store.counts_by_state()
    depth = await state.store.queue_depth()
    text = state.metrics.render(lambda: {str(k): v for k, v in counts.items()}, lambda: depth)
    return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE})
