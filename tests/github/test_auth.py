"""App JWT (decoded with the public key) and the installation token cache."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bot.github.auth import (
    InstallationTokens,
    app_jwt,
    expiry_seconds,
    load_private_key,
)

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
HOUR = 3600.0


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def decode(token: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """Verify the signature with the public key, RS256 only; the times (fixed in the past here)
    are compared by the tests themselves."""
    claims: dict[str, Any] = jwt.decode(
        token,
        key.public_key(),
        algorithms=["RS256"],
        options={"verify_iat": False, "verify_exp": False, "require": ["iat", "exp", "iss"]},
    )
    return claims


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- the JWT ----------------------------------------------------------------------------------


def test_jwt_claims_and_algorithm(key: rsa.RSAPrivateKey, pem: str) -> None:
    token = app_jwt(12345, pem, NOW)
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT"}
    claims = decode(token, key)
    assert claims == {"iat": int(NOW) - 60, "exp": int(NOW) + 540, "iss": "12345"}
    assert claims["exp"] - claims["iat"] <= 600  # GitHub's 10-minute maximum
    assert claims["exp"] - NOW < 600


def test_jwt_accepts_str_id_bytes_pem_and_loaded_key(key: rsa.RSAPrivateKey, pem: str) -> None:
    for app_id, private in [("7", pem.encode()), (7, load_private_key(pem)), (7, key)]:
        claims = decode(app_jwt(app_id, private, NOW + 0.9), key)
        assert claims == {"iat": int(NOW) - 60, "exp": int(NOW) + 540, "iss": "7"}


def test_jwt_survives_a_server_clock_ahead_of_githubs(key: rsa.RSAPrivateKey, pem: str) -> None:
    """Our clock 50 s ahead: the back-dated ``iat`` is still in the verifier's past, so PyJWT's
    real-time checks (as GitHub's) accept it; ``iat = now`` would be rejected as not yet valid."""
    ahead = time.time() + 50
    token = app_jwt(1, pem, ahead)
    claims = jwt.decode(token, key.public_key(), algorithms=["RS256"], issuer="1")
    assert claims["iat"] <= time.time()
    naive = jwt.encode({"iat": int(ahead), "exp": int(ahead) + 600, "iss": "1"}, key, "RS256")
    with pytest.raises(jwt.ImmatureSignatureError):
        jwt.decode(naive, key.public_key(), algorithms=["RS256"])


def test_jwt_signature_fails_with_another_key(pem: str) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(app_jwt(1, pem, NOW), other.public_key(), algorithms=["RS256"])


def test_non_rsa_key_is_refused() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError, match="RSA"):
        app_jwt(1, pem, NOW)


def test_expiry_seconds_forms() -> None:
    assert expiry_seconds("2023-11-14T23:13:20Z") == NOW + HOUR
    assert expiry_seconds("2023-11-14T23:13:20+00:00") == NOW + HOUR
    assert expiry_seconds(datetime(2023, 11, 14, 23, 13, 20)) == NOW + HOUR  # naive = UTC
    assert expiry_seconds(datetime(2023, 11, 14, 23, 13, 20, tzinfo=UTC)) == NOW + HOUR
    assert expiry_seconds(NOW) == NOW
    assert expiry_seconds(int(NOW)) == NOW


# -- the token cache ------------------------------------------------------------------------


class FakeGitHub:
    """The ``fetch`` callable: records calls, hands out numbered tokens valid for an hour."""

    def __init__(self, clock: Clock, delay: float = 0.0, lifetime: float = HOUR) -> None:
        self.clock = clock
        self.delay = delay
        self.lifetime = lifetime
        self.calls: list[tuple[int, str]] = []
        self.fail: Exception | None = None

    async def __call__(self, installation_id: int, app_token: str) -> tuple[str, str]:
        self.calls.append((installation_id, app_token))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        expires = datetime.fromtimestamp(self.clock() + self.lifetime, UTC)
        return f"ghs_{installation_id}_{len(self.calls)}", expires.isoformat().replace(
            "+00:00", "Z"
        )


def tokens(pem: str, clock: Clock, github: FakeGitHub) -> InstallationTokens:
    return InstallationTokens(42, pem, github, clock=clock)


def test_fetch_receives_a_valid_app_jwt(key: rsa.RSAPrivateKey, pem: str) -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    cache = tokens(pem, clock, github)
    assert asyncio.run(cache.get(7)) == "ghs_7_1"
    ((installation, app_token),) = github.calls
    assert installation == 7
    assert decode(app_token, key) == {
        "iat": int(NOW) - 60,
        "exp": int(NOW) + 540,
        "iss": "42",
    }


def test_cache_hit_until_five_minutes_before_expiry(pem: str) -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    cache = tokens(pem, clock, github)

    async def scenario() -> list[str]:
        seen = [await cache.get(7)]
        clock.now = NOW + HOUR - 5 * 60 - 1  # still fresh
        seen.append(await cache.get(7))
        clock.now = NOW + HOUR - 5 * 60  # within the margin: refresh
        seen.append(await cache.get(7))
        clock.now += 10
        seen.append(await cache.get(7))
        return seen

    assert asyncio.run(scenario()) == ["ghs_7_1", "ghs_7_1", "ghs_7_2", "ghs_7_2"]
    assert len(github.calls) == 2 and cache.fetches == 2


def test_installations_are_cached_separately(pem: str) -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    cache = tokens(pem, clock, github)

    async def scenario() -> list[str]:
        return [await cache.get(1), await cache.get(2), await cache.get(1), await cache.get(2)]

    assert asyncio.run(scenario()) == ["ghs_1_1", "ghs_2_2", "ghs_1_1", "ghs_2_2"]
    assert cache.cached(1) == "ghs_1_1" and cache.cached(3) is None


def test_invalidate_forces_a_new_token(pem: str) -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    cache = tokens(pem, clock, github)

    async def scenario() -> list[str]:
        first = await cache.get(7)
        other = await cache.get(8)
        cache.invalidate(7)  # GitHub answered 401
        return [first, await cache.get(7), other, await cache.get(8)]

    assert asyncio.run(scenario()) == ["ghs_7_1", "ghs_7_3", "ghs_8_2", "ghs_8_2"]


def test_invalidate_with_a_stale_token_keeps_the_newer_one(pem: str) -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    cache = tokens(pem, clock, github)

    async def scenario() -> list[str]:
        old = await cache.get(7)
        cache.invalidate(7, old)
        new = await cache.get(7)
        cache.invalidate(7, old)  # a late 401 for the old token
        cache.invalidate(9)  # nothing cached: no error
        return [old, new, await cache.get(7)]

    assert asyncio.run(scenario()) == ["ghs_7_1", "ghs_7_2", "ghs_7_2"]


def test_concurrent_callers_share_one_fetch(pem: str) -> None:
    clock = Clock()
    github = FakeGitHub(clock, delay=0.05)
    cache = tokens(pem, clock, github)

    async def scenario() -> list[str]:
        return list(await asyncio.gather(*(cache.get(7) for _ in range(20)), cache.get(8)))

    results = asyncio.run(scenario())
    assert results[:20] == ["ghs_7_1"] * 20 or results[:20] == ["ghs_7_2"] * 20
    assert len(set(results)) == 2
    assert sorted(i for i, _ in github.calls) == [7, 8]  # one fetch per installation


def test_concurrent_refresh_after_expiry_is_one_fetch(pem: str) -> None:
    clock = Clock()
    github = FakeGitHub(clock, delay=0.02)
    cache = tokens(pem, clock, github)

    async def scenario() -> set[str]:
        await cache.get(7)
        clock.now += HOUR
        return set(await asyncio.gather(*(cache.get(7) for _ in range(10))))

    assert asyncio.run(scenario()) == {"ghs_7_2"}
    assert len(github.calls) == 2


def test_failed_fetch_caches_nothing(pem: str) -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    github.fail = RuntimeError("502 from GitHub")
    cache = tokens(pem, clock, github)

    async def scenario() -> str:
        with pytest.raises(RuntimeError, match="502"):
            await cache.get(7)
        assert cache.cached(7) is None
        github.fail = None
        return await cache.get(7)

    assert asyncio.run(scenario()) == "ghs_7_2"


def test_cancelled_fetch_releases_the_lock(pem: str) -> None:
    clock = Clock()
    github = FakeGitHub(clock, delay=10)
    cache = tokens(pem, clock, github)

    async def scenario() -> str:
        task = asyncio.create_task(cache.get(7))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        github.delay = 0
        return await asyncio.wait_for(cache.get(7), 1)

    assert asyncio.run(scenario()) == "ghs_7_2"


def test_app_jwt_is_reused_then_reminted(key: rsa.RSAPrivateKey, pem: str) -> None:
    clock = Clock()
    cache = tokens(pem, clock, FakeGitHub(clock))
    first = cache.app_jwt()
    clock.now = NOW + 539 - 60 - 1
    assert cache.app_jwt() == first
    clock.now = NOW + 540 - 60
    second = cache.app_jwt()
    assert second != first
    assert decode(second, key)["iat"] == int(clock.now) - 60
