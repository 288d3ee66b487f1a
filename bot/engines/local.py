"""The engines a local run (the CLI) uses: bundled schemas, configured locations on disk or
over HTTP with a disk cache, and the kubeconform binary when installed."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

from bot.analyzers.schema import SchemaSource
from bot.config import Config
from bot.core.pipeline import Engines
from bot.engines.kubeconform import find_kubeconform
from bot.engines.parallel import ProcessMapper
from bot.engines.schema_http import HttpSchemaCache
from bot.engines.schema_store import LocationSchemas, embedded, newest_version


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-gate" / "schemas"


@functools.cache
def _shared_mapper() -> ProcessMapper:
    """One worker pool per process, started on first big run, reused by later ones."""
    return ProcessMapper()


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
    )
