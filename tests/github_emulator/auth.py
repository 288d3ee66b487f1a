"""App JWTs (RS256) and installation tokens, checked the way GitHub checks them."""

from __future__ import annotations

import time
from typing import Any

import jwt

from .errors import GitHubError
from .state import App, EmulatorState, Token

JWT_DOCS = (
    "https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/"
    "generating-a-json-web-token-jwt-for-a-github-app"
)
MAX_JWT_LIFETIME = 600


def _jwt_error(message: str) -> GitHubError:
    return GitHubError(401, message, documentation_url=JWT_DOCS)


def credentials(header: str | None) -> tuple[str, str] | None:
    """``Authorization: Bearer X`` / ``token X`` -> (scheme, credential)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "token") or not value.strip():
        return None
    return scheme, value.strip()


def verify_jwt(state: EmulatorState, header: str | None) -> App:
    """The App a request's JWT authenticates, or 401 with GitHub's messages."""
    cred = credentials(header)
    if cred is None or cred[0] != "bearer":
        raise GitHubError(
            401,
            "A JSON web token could not be decoded",
            documentation_url=JWT_DOCS,
        )
    token = cred[1]
    try:
        unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        alg = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError as exc:
        raise _jwt_error("A JSON web token could not be decoded") from exc
    if alg != "RS256":
        raise _jwt_error("A JSON web token could not be decoded")
    iss = unverified.get("iss")
    with state.lock:
        app = next((a for a in state.apps.values() if str(iss) in (str(a.id), a.client_id)), None)
    if app is None:
        raise _jwt_error(
            "'Issuer' claim ('iss') must be an Integer (the App ID) or the App's client ID"
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            app.public_key_pem,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"], "verify_iat": False},
            leeway=0,
        )
    except jwt.ExpiredSignatureError as exc:
        raise _jwt_error(
            "'Expiration time' claim ('exp') must be a numeric value representing "
            "the future time at which the assertion expires"
        ) from exc
    except jwt.InvalidSignatureError as exc:
        raise _jwt_error("A JSON web token could not be decoded") from exc
    except jwt.PyJWTError as exc:
        raise _jwt_error(f"A JSON web token could not be decoded: {exc}") from exc
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise _jwt_error(
            "'Issued at' claim ('iat') must be an Integer representing the time that the "
            "assertion was issued"
        )
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise _jwt_error("'Expiration time' claim ('exp') must be a numeric value")
    now = time.time()
    if iat > now + state.jwt_leeway:
        raise _jwt_error(
            "'Issued at' claim ('iat') must be an Integer representing the time that the "
            "assertion was issued"
        )
    if exp <= iat:
        raise _jwt_error("'Expiration time' claim ('exp') must be after 'Issued at' ('iat')")
    if exp - iat > MAX_JWT_LIFETIME:
        raise _jwt_error("'Expiration time' claim ('exp') is too far in the future")
    return app


def verify_token(state: EmulatorState, header: str | None) -> Token:
    """The installation token of a request, or 401 "Bad credentials"."""
    cred = credentials(header)
    if cred is None:
        raise GitHubError(401, "Requires authentication")
    with state.lock:
        tok = state.tokens.get(cred[1])
        if tok is None or not tok.valid(time.time()):
            raise GitHubError(401, "Bad credentials")
        inst = state.installations.get(tok.installation_id)
        if inst is None or inst.suspended:
            raise GitHubError(401, "Bad credentials")
        return tok
