"""A bearer-token server for docker-registry's ``auth: token`` mode (test use only).

It issues what distribution's ``registry/auth/token/token.go`` accepts: an ES256 JWT (raw
r||s signature, as pyjwt writes it) whose ``x5c`` header holds a leaf certificate signed by a
test CA; the CA certificate is the registry's ``rootcertbundle``. Claims: ``iss``, ``aud``
(= service), ``exp``, ``nbf``, ``iat``, ``sub``, ``jti`` and ``access``.

Grants: anonymous -> ``pull`` (nothing on ``private_repositories``; 401 when
``deny_anonymous``); valid Basic credentials -> ``pull``/``push``/``delete`` as asked; wrong
credentials -> 401. Every request is recorded (account, scopes, granted access) so tests can
count how often a client asked.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.registry.server import BackgroundServer

SERVICE = "test-registry"
ISSUER = "test-issuer"
USER_ACTIONS = frozenset({"pull", "push", "delete"})
ANONYMOUS_ACTIONS = frozenset({"pull"})


@dataclass(frozen=True)
class TokenRequest:
    account: str | None  # None: anonymous
    scopes: tuple[str, ...]
    granted: tuple[tuple[str, tuple[str, ...]], ...]  # (repository, actions)
    status: int


class TokenServer(BackgroundServer):
    """Start with :meth:`start` (or as a context manager); ``realm`` goes into the registry's
    config, ``ca_bundle`` is its ``rootcertbundle``."""

    def __init__(
        self,
        workdir: Path,
        users: Mapping[str, str],
        *,
        lifetime: int = 300,
        service: str = SERVICE,
        issuer: str = ISSUER,
    ) -> None:
        super().__init__(self._app)
        self.users = dict(users)
        self.lifetime = lifetime
        self.service = service
        self.issuer = issuer
        self.private_repositories: set[str] = set()
        self.deny_anonymous = False
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._key, self._leaf_der, ca_pem = _make_signing_chain()
        workdir.mkdir(parents=True, exist_ok=True)
        self.ca_bundle = workdir / "token-ca.pem"
        self.ca_bundle.write_bytes(ca_pem)

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def requests_for(self, scope: str) -> list[TokenRequest]:
        with self._lock:
            return [r for r in self.requests if scope in r.scopes]

    def issue(self, account: str | None, scopes: list[str]) -> str:
        """A token granting what the policy allows ``account`` for ``scopes``."""
        access = self._grant(account, scopes)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": account or "",
            "aud": self.service,
            "exp": now + self.lifetime,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(12),
            "access": [
                {"type": "repository", "name": name, "actions": list(actions)}
                for name, actions in access
            ],
        }
        headers = {"x5c": [base64.b64encode(self._leaf_der).decode("ascii")]}
        return jwt.encode(claims, self._key, algorithm="ES256", headers=headers)

    def _grant(self, account: str | None, scopes: list[str]) -> list[tuple[str, tuple[str, ...]]]:
        allowed = USER_ACTIONS if account is not None else ANONYMOUS_ACTIONS
        access: list[tuple[str, tuple[str, ...]]] = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind != "repository" or not name:
                continue
            if account is None and name in self.private_repositories:
                continue
            granted = tuple(a for a in actions.split(",") if a in allowed)
            if granted:
                access.append((name, granted))
        return access

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/token", self._token)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        scopes = request.query.getall("scope", [])
        account, status = self._authenticate(request.headers.get("Authorization"))
        if status == 200 and request.query.get("service") != self.service:
            status = 400
        granted = tuple(self._grant(account, scopes)) if status == 200 else ()
        with self._lock:
            self.requests.append(TokenRequest(account, tuple(scopes), granted, status))
        if status != 200:
            return web.json_response({"errors": [{"code": "UNAUTHORIZED"}]}, status=status)
        token = self.issue(account, scopes)
        issued = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return web.json_response(
            {
                "token": token,
                "access_token": token,
                "expires_in": self.lifetime,
                "issued_at": issued,
            }
        )

    def _authenticate(self, header: str | None) -> tuple[str | None, int]:
        if header is None:
            return None, 401 if self.deny_anonymous else 200
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None, 401
        try:
            username, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, 401
        expected = self.users.get(username)
        if expected is None or not secrets.compare_digest(expected, password):
            return None, 401
        return username, 200


def _make_signing_chain() -> tuple[ec.EllipticCurvePrivateKey, bytes, bytes]:
    """(leaf key, leaf certificate DER, CA certificate PEM)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitops-gate test token CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "token signer")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return (
        leaf_key,
        leaf_cert.public_bytes(serialization.Encoding.DER),
        ca_cert.public_bytes(serialization.Encoding.PEM),
    )
