"""Registry credentials for signature checks: a Docker ``config.json`` (``auths``), from the
App's settings or, for the CLI, the user's Docker config. Never from the pull request.

Only static credentials are read (``auth`` = base64 ``user:password``, or ``username`` and
``password``); credential helpers (``credsStore``, ``credHelpers``) run programs, which the
gate does not do. Messages name the file and the registry, never a secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.engines.credentials import BasicCredentials
from bot.errors import UsageError

REGISTRY_CONFIG = "GITOPS_GATE_REGISTRY_CONFIG"
_DOCKER_HUB_ALIASES = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
MAX_CONFIG_BYTES = 1024 * 1024


def registry_host(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``ghcr.io`` stays ``ghcr.io``."""
    text = key.strip()
    host = urlsplit(text).netloc if "://" in text else text.split("/", 1)[0]
    host = host.lower()
    return "docker.io" if host in _DOCKER_HUB_ALIASES else host


def parse_docker_config(text: str, source: str) -> dict[str, BasicCredentials]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    auths = data.get("auths") if isinstance(data, dict) else None
    if auths is None:
        return {}
    if not isinstance(auths, dict):
        raise UsageError(f'{source}: "auths" must be a mapping of registry to credentials')
    out: dict[str, BasicCredentials] = {}
    for key, entry in auths.items():
        creds = _entry(entry, f"{source}: auths[{key!r}]")
        if creds is not None:
            out[registry_host(str(key))] = creds
    return out


def _entry(entry: Any, where: str) -> BasicCredentials | None:
    if not isinstance(entry, dict):
        raise UsageError(f"{where} must be a mapping")
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str) and username:
        return BasicCredentials(username, password)
    auth = entry.get("auth")
    if auth is None:
        return None  # e.g. an identity token only: anonymous for us
    try:
        decoded = base64.b64decode(str(auth), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise UsageError(f'{where}: "auth" is not base64 of "user:password"') from None
    user, sep, secret = decoded.partition(":")
    if not sep or not user:
        raise UsageError(f'{where}: "auth" is not base64 of "user:password"')
    return BasicCredentials(user, secret)


def load_registry_config(path: Path) -> dict[str, BasicCredentials]:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise UsageError(f"{path}: {size} bytes; a registry config is at most 1 MiB")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read registry config {path}: {exc}") from None
    return parse_docker_config(text, str(path))


def cli_credentials(environ: Mapping[str, str]) -> dict[str, BasicCredentials]:
    """``GITOPS_GATE_REGISTRY_CONFIG`` when set, else the user's Docker config if present."""
    explicit = environ.get(REGISTRY_CONFIG)
    if explicit:
        return load_registry_config(Path(explicit))
    docker_dir = environ.get("DOCKER_CONFIG")
    default = Path(docker_dir) if docker_dir else Path(os.path.expanduser("~")) / ".docker"
    candidate = default / "config.json"
    return load_registry_config(candidate) if candidate.is_file() else {}
