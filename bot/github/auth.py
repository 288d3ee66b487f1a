"""GitHub App authentication: the App JWT and a cache of installation tokens. No HTTP here.

The JWT follows GitHub's rules (reference/github-platform.md, section 2): RS256, ``iss`` the App
id, ``iat`` back-dated 60 s so a server clock slightly ahead of GitHub's is still accepted, and
``exp`` 9 minutes ahead, under GitHub's 10-minute maximum (gidgethub's ``get_jwt`` uses
``iat = now`` and the full 10 minutes, which fails on a little drift).

``InstallationTokens`` keeps one token per installation until 5 minutes before its
``expires_at`` (tokens last an hour), mints the JWT it needs itself, and fetches through the
``fetch(installation_id, jwt)`` callable the client supplies (``POST
/app/installations/{id}/access_tokens``). Concurrent callers needing a new token for the same
installation wait on one lock, so only one of them fetches; the client calls ``invalidate`` when
GitHub answers 401 with a cached token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

JWT_BACKDATE = 60
"""Seconds ``iat`` is set in the past, to absorb clock drift."""
JWT_LIFETIME = 9 * 60
"""Seconds from now to ``exp``: under GitHub's 10-minute maximum."""
JWT_REUSE_MARGIN = 60
"""A cached JWT is reused until this many seconds before its ``exp``."""
TOKEN_REFRESH_MARGIN = 5 * 60
"""An installation token is refreshed this many seconds before its ``expires_at``."""

Clock = Callable[[], float]
"""Seconds since the epoch (wall time: ``expires_at`` is wall time), like ``time.time``."""
Expiry = datetime | float | int | str
"""``expires_at`` as GitHub sends it (ISO 8601 text), a datetime, or epoch seconds."""
Fetch = Callable[[int, str], Awaitable[tuple[str, Expiry]]]
"""``fetch(installation_id, app_jwt) -> (token, expires_at)``: the HTTP call, in the client."""
PrivateKey = str | bytes | RSAPrivateKey


def load_private_key(private_key_pem: str | bytes) -> RSAPrivateKey:
    """Parse the App's PEM private key once (signing with a loaded key is much cheaper)."""
    data = private_key_pem.encode("ascii") if isinstance(private_key_pem, str) else private_key_pem
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("the GitHub App private key must be an RSA key")
    return key


def app_jwt(app_id: int | str, private_key_pem: PrivateKey, now: float) -> str:
    """The App's JSON Web Token at time ``now`` (epoch seconds): RS256, ``iss`` = the App id,
    ``iat`` = now - 60 s, ``exp`` = now + 9 min."""
    issued = int(now)
    key = (
        private_key_pem
        if isinstance(private_key_pem, RSAPrivateKey)
        else load_private_key(private_key_pem)
    )
    payload = {"iat": issued - JWT_BACKDATE, "exp": issued + JWT_LIFETIME, "iss": str(app_id)}
    return jwt.encode(payload, key, algorithm="RS256")


def expiry_seconds(expires_at: Expiry) -> float:
    """``expires_at`` as epoch seconds: GitHub's ``2016-07-11T22:14:10Z``, a datetime (naive
    means UTC) or a number."""
    if isinstance(expires_at, int | float):
        return float(expires_at)
    if isinstance(expires_at, str):
        expires_at = datetime.fromisoformat(expires_at.strip())
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return expires_at.timestamp()


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float


class InstallationTokens:
    """Installation access tokens, cached per installation and refreshed before they expire."""

    def __init__(
        self,
        app_id: int | str,
        private_key: PrivateKey,
        fetch: Fetch,
        *,
        clock: Clock = time.time,
        refresh_margin: float = TOKEN_REFRESH_MARGIN,
    ) -> None:
        self._app_id = app_id
        self._key = (
            private_key if isinstance(private_key, RSAPrivateKey) else load_private_key(private_key)
        )
        self._fetch = fetch
        self._clock = clock
        self._margin = refresh_margin
        self._tokens: dict[int, _Token] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._jwt: tuple[str, float] | None = None  # (jwt, exp)
        self.fetches = 0
        """How many tokens were fetched (for tests and metrics)."""

    def app_jwt(self) -> str:
        """The App JWT (for ``/app/...`` endpoints), reused until a minute before it expires."""
        now = self._clock()
        if self._jwt is None or now >= self._jwt[1] - JWT_REUSE_MARGIN:
            self._jwt = (app_jwt(self._app_id, self._key, now), int(now) + JWT_LIFETIME)
        return self._jwt[0]

    def cached(self, installation_id: int) -> str | None:
        """The cached token if it is still fresh (more than the margin before expiry)."""
        token = self._tokens.get(installation_id)
        if token is not None and self._clock() < token.expires_at - self._margin:
            return token.value
        return None

    async def get(self, installation_id: int) -> str:
        """A token for the installation: the cached one while fresh, else one new fetch shared
        by every concurrent caller. A failed fetch raises and caches nothing."""
        token = self.cached(installation_id)
        if token is not None:
            return token
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            token = self.cached(installation_id)  # another caller may have refreshed it
            if token is not None:
                return token
            self.fetches += 1
            value, expires_at = await self._fetch(installation_id, self.app_jwt())
            self._tokens[installation_id] = _Token(value, expiry_seconds(expires_at))
            return value

    def invalidate(self, installation_id: int, token: str | None = None) -> None:
        """Forget the installation's token (GitHub answered 401). With ``token``, only if that
        is still the cached one, so a late 401 does not discard a newer token."""
        current = self._tokens.get(installation_id)
        if current is not None and (token is None or current.value == token):
            del self._tokens[installation_id]
