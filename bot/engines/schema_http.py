"""Schema downloads for URL-template locations, with kubeconform's on-disk cache layout."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from bot.engines.schema_store import SchemaFetchError


class HttpSchemaCache:
    """GETs schema URLs with a timeout, keeping 200 responses on disk as kubeconform does
    (one file per URL named by its SHA-256), so later runs work offline."""

    def __init__(self, directory: Path, timeout: float = 10.0) -> None:
        self.directory = directory
        self.timeout = timeout

    def __call__(self, url: str) -> bytes | None:
        cached = self.directory / hashlib.sha256(url.encode()).hexdigest()
        if cached.is_file():
            return cached.read_bytes()
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310
                body: bytes = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise SchemaFetchError(f"{url}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SchemaFetchError(f"{url}: {exc}") from exc
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_bytes(body)
        tmp.replace(cached)
        return body
