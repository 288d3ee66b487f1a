"""Schema downloads for URL-template locations, with kubeconform's on-disk cache layout."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from bot.engines.schema_store import SchemaFetchError

# A schema is a few hundred kilobytes; anything far bigger is not one and must not fill memory.
MAX_SCHEMA_BYTES = 32 * 1024 * 1024


class HttpSchemaCache:
    """GETs schema URLs with a timeout, keeping 200 responses on disk as kubeconform does
    (one file per URL named by its SHA-256), so later runs work offline.

    A 404 means "no schema here" (the next location is tried); any other status, a network
    error or a timeout raises :class:`SchemaFetchError`, which is reported, never a pass.
    """

    def __init__(
        self, directory: Path, timeout: float = 10.0, max_bytes: int = MAX_SCHEMA_BYTES
    ) -> None:
        self.directory = directory
        self.timeout = timeout
        self.max_bytes = max_bytes

    def cache_path(self, url: str) -> Path:
        return self.directory / hashlib.sha256(url.encode()).hexdigest()

    def __call__(self, url: str) -> bytes | None:
        cached = self.cache_path(url)
        try:
            return cached.read_bytes()
        except OSError:
            pass  # not cached yet (or unreadable): download it
        body = self._download(url)
        if body is not None:
            self._store(cached, body)
        return body

    def _download(self, url: str) -> bytes | None:
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body: bytes = response.read(self.max_bytes + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise SchemaFetchError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise SchemaFetchError(f"{url}: {exc}") from exc
        if len(body) > self.max_bytes:
            raise SchemaFetchError(f"{url}: response over {self.max_bytes:,} bytes")
        return body

    def _store(self, cached: Path, body: bytes) -> None:
        """Best effort: a read-only or full disk costs the cache, not the run."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(body)
                os.replace(tmp, cached)  # atomic: readers never see half a schema
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            pass
