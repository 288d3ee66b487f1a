"""The engines a local run (the CLI) uses: bundled schemas, configured locations on disk or
over HTTP with a disk cache, and the kubeconform binary when installed."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.analyzers.images.reference import ImageReference
from bot.analyzers.images.trust import SignatureRule, SignatureVerdict
from bot.analyzers.rego.settings import EngineKind, PoliciesConfig
from bot.analyzers.schema import SchemaSource
from bot.config import Config
from bot.core.pipeline import Engines
from bot.engines.credentials import BasicCredentials
from bot.engines.kubeconform import find_kubeconform
from bot.engines.parallel import ProcessMapper
from bot.engines.policy_engine import PolicyEngine
from bot.engines.registry_auth import cli_credentials
from bot.engines.schema_http import HttpSchemaCache
from bot.engines.schema_store import LocationSchemas, embedded, newest_version


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-gate" / "schemas"


@functools.cache
def _shared_mapper() -> ProcessMapper:
    """One worker pool per process, started on first big run, reused by later ones."""
    return ProcessMapper()


if TYPE_CHECKING:
    from bot.engines.image_verify import VerdictCache


@functools.cache
def _image_verdicts() -> VerdictCache:
    """Verified digests stay verified for the life of the process (the App's, or a long CLI
    run). The verifier and its HTTP client are imported on first use: most runs verify
    nothing, and a one-file check should start fast."""
    from bot.engines.image_verify import VerdictCache

    return VerdictCache()


def image_verifier(
    credentials: Callable[[], Mapping[str, BasicCredentials]],
) -> Callable[[Sequence[tuple[ImageReference, SignatureRule]]], list[SignatureVerdict]]:
    """Signature checks against the registries themselves, with the credentials given (the
    App's settings or the user's Docker config; never the repository's), read only when some
    image needs verifying: a broken Docker config must not fail runs that verify nothing."""

    def verify(requests: Sequence[tuple[ImageReference, SignatureRule]]) -> list[SignatureVerdict]:
        from bot.engines.image_verify import ImageToVerify, verify_sync

        return verify_sync(
            [
                ImageToVerify(ref.original, ref.registry, ref.repository, ref.tag, ref.digest, rule)
                for ref, rule in requests
            ],
            cache=_image_verdicts(),
            credentials=credentials(),
        )

    return verify


def policy_engine(policies: PoliciesConfig, repository: str) -> PolicyEngine:
    """Regorus in a worker process, or the remote OPA the config names (locally the person
    running the command chose the config; the App takes its OPA server from its settings)."""
    server = policies.opa_server
    if policies.engine is EngineKind.OPA_SERVER and server is not None:
        from bot.engines.opa_server import OpaServerEngine

        token = os.environ.get(server.token_env) if server.token_env else None
        return OpaServerEngine(
            server.url,
            token,
            server.timeout,
            repository=repository or "local",
            server_rego_version=server.rego_version,
        )
    from bot.engines.rego_engine import RegorusEngine

    return RegorusEngine()


def local_engines(base_dir: Path, cache_dir: Path | None = None) -> Engines:
    fetch = HttpSchemaCache(cache_dir or default_cache_dir())

    def locations(config: Config, version: str, strict: bool) -> Sequence[SchemaSource]:
        if not config.schema.locations:
            return ()
        return [
            LocationSchemas(
                config.schema.locations,
                version=version,
                strict=strict,
                base_dir=base_dir,
                fetch=fetch,
            )
        ]

    return Engines(
        builtin_schemas=embedded,
        default_kubernetes_version=newest_version(),
        schema_locations=locations,
        kubeconform=find_kubeconform(),
        map=_shared_mapper(),
        verify_images=image_verifier(functools.cache(lambda: cli_credentials(os.environ))),
        policy_engine=policy_engine,
    )
