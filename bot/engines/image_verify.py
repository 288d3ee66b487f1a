"""cosign signature verification of images in a registry: the I/O half of the image check.

For each image: the digest is the one written in the reference, or the tag is resolved now (a
tag is re-resolved on every run, never served from a cache, so a re-pointed tag is noticed).
Then, as cosign v3 does, signatures are looked for in two places, and one signature that
verifies with a trusted key is enough:

1. cosign v3 Sigstore bundles: OCI referrers of the digest (the referrers API, or the
   ``sha256-<hex>`` index tag on registries without it) with the bundle artifact type; each
   referrer manifest must name this digest as its ``subject``;
2. the legacy ``sha256-<hex>.sig`` tag, one simple-signing layer per signature.

Both live in the image's repository unless the rule names a ``signature_repository``.

Verdicts are cached by (registry, repository, digest, rule fingerprint): a digest's content
never changes, so a VERIFIED verdict keeps for a day, UNSIGNED/INVALID for two minutes (CI
often pushes the signature just after the image), and UNVERIFIABLE (registry down, timeout,
auth refused) is never cached. The cache is shared between runs, event loops and threads.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

import aiohttp

from bot.analyzers.images.trust import SignatureRule, SignatureVerdict, VerdictStatus
from bot.engines.cosign import (
    BUNDLE_MEDIA_TYPE,
    BUNDLE_PREDICATE_ANNOTATION,
    COSIGN_V2_REFERRER_ARTIFACT_TYPE,
    SIGN_PREDICATE_TYPE,
    SIMPLE_SIGNING_MEDIA_TYPE,
    KeyLoadError,
    Problem,
    SignatureCheck,
    TrustedKey,
    load_public_keys,
    short_digest,
    verify_bundle,
    verify_simple_signing,
)
from bot.engines.registry import (
    BasicCredentials,
    Descriptor,
    RegistryClient,
    RegistryError,
    RegistryProtocolError,
)

LEGACY = "legacy"  # SignatureVerdict.signature_format of a .sig layer (or cosign v2 referrer)
BUNDLE = "bundle"  # ... of a cosign v3 bundle referrer

CacheKey = tuple[str, str, str, str]  # registry, repository, digest, rule fingerprint

# The most telling reason first when several signatures fail for different reasons.
_PROBLEM_RANK = {
    Problem.OTHER_DIGEST: 0,
    Problem.WRONG_TYPE: 1,
    Problem.BAD_SIGNATURE: 2,
    Problem.KEYLESS: 3,
    Problem.MALFORMED: 4,
}
_MAX_REASONS = 3


@dataclass(frozen=True, slots=True)
class ImageToVerify:
    image: str  # the reference as written in the manifest, for the verdict
    registry: str  # normalised: "docker.io", "ghcr.io", "127.0.0.1:5000"
    repository: str  # "library/nginx"
    tag: str | None
    digest: str | None  # "sha256:<hex>" when the reference pins one (then the tag is ignored)
    rule: SignatureRule


@dataclass(frozen=True, slots=True)
class VerifyLimits:
    # Signatures are a few hundred bytes (simple signing) to a few KB (bundles): the caps stop
    # a hostile signature repository from making the check download or verify without end.
    max_layers: int = 16  # signature layers examined per manifest
    max_referrers: int = 16  # bundle referrers examined per image
    max_blob_bytes: int = 512 * 1024
    concurrency: int = 16  # images verified at once (the client also bounds each registry)
    image_timeout: float = 60.0  # every request for one image together, seconds


# --------------------------------------------------------------------------- cache


class VerdictCache:
    """Thread-safe LRU of verdicts with per-status lifetimes (monotonic clock)."""

    def __init__(
        self,
        *,
        verified_ttl: float = 24 * 3600.0,
        failure_ttl: float = 120.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.verified_ttl = verified_ttl
        self.failure_ttl = failure_ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[CacheKey, tuple[float, SignatureVerdict]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> SignatureVerdict | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, verdict = entry
            if expires <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return verdict

    def put(self, key: CacheKey, verdict: SignatureVerdict) -> None:
        ttl = self._ttl(verdict.status)
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl, verdict)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def _ttl(self, status: VerdictStatus) -> float:
        if status is VerdictStatus.VERIFIED:
            return self.verified_ttl
        if status is VerdictStatus.UNVERIFIABLE:
            return 0.0  # the next run must try again, never repeat "registry down"
        return self.failure_ttl

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# --------------------------------------------------------------------------- evidence


@dataclass(frozen=True, slots=True)
class _Found:
    format: str  # LEGACY or BUNDLE
    where: str  # "legacy signature sha256-abcd….sig", "bundle referrer sha256:abcd…"
    check: SignatureCheck
    layer: int = 0  # 1-based position when the manifest holds several signature layers
    layers: int = 1

    @property
    def place(self) -> str:
        return (
            f"{self.where} layer {self.layer} of {self.layers}" if self.layers > 1 else self.where
        )


@dataclass(slots=True)
class _Evidence:
    """Everything one image's search turned up."""

    found: list[_Found] = field(default_factory=list)
    attestations: int = 0  # bundles with another predicate type: not signatures
    errors: list[RegistryError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # limits that cut the search short

    def verified(self) -> _Found | None:
        return next((found for found in self.found if found.check.ok), None)

    def add(self, found: _Found) -> None:
        if found.check.problem is Problem.NOT_A_SIGNATURE:
            self.attestations += 1
        else:
            self.found.append(found)


@dataclass(frozen=True, slots=True)
class _Target:
    """Where one digest's signatures are looked for, and the keys that may have signed."""

    registry: str  # of the signatures (the image's unless the rule says otherwise)
    repository: str
    digest: str  # the image digest every signature must be bound to
    keys: tuple[TrustedKey, ...]


# --------------------------------------------------------------------------- verifier


class ImageVerifier:
    """Verifies cosign signatures through a :class:`RegistryClient` (owned by the caller)."""

    def __init__(
        self,
        client: RegistryClient,
        *,
        cache: VerdictCache | None = None,
        limits: VerifyLimits | None = None,
    ) -> None:
        self.client = client
        self.cache = cache if cache is not None else VerdictCache()
        self.limits = limits or VerifyLimits()
        self._keys: dict[str, tuple[TrustedKey, ...] | KeyLoadError] = {}

    async def verify(self, requests: Sequence[ImageToVerify]) -> list[SignatureVerdict]:
        """One verdict per request, in order. Within one call a tag is resolved once and a
        (digest, rule) verified once, however many manifests name it."""
        run = _Run(self, asyncio.Semaphore(self.limits.concurrency))
        return list(await asyncio.gather(*(run.verdict(item) for item in requests)))

    def keys_for(self, rule: SignatureRule) -> tuple[TrustedKey, ...] | KeyLoadError:
        fingerprint = rule.fingerprint()
        loaded = self._keys.get(fingerprint)
        if loaded is None:
            try:
                loaded = load_public_keys(rule.keys)
            except KeyLoadError as exc:
                loaded = exc
            self._keys[fingerprint] = loaded
        return loaded


class _Run:
    """The state of one :meth:`ImageVerifier.verify` call: shared lookups, one semaphore."""

    def __init__(self, verifier: ImageVerifier, semaphore: asyncio.Semaphore) -> None:
        self.verifier = verifier
        self.client = verifier.client
        self.limits = verifier.limits
        self.semaphore = semaphore
        self.resolutions: dict[tuple[str, str, str], asyncio.Task[str]] = {}
        self.verifications: dict[CacheKey, asyncio.Task[SignatureVerdict]] = {}

    async def verdict(self, item: ImageToVerify) -> SignatureVerdict:
        keys = self.verifier.keys_for(item.rule)
        if isinstance(keys, KeyLoadError) or not keys:
            reason = str(keys) if isinstance(keys, KeyLoadError) else "it has no keys"
            return _verdict(
                item,
                VerdictStatus.INVALID,
                f"signature rule {item.rule.name or '(unnamed)'} has no usable public key "
                f"({reason}), so no signature can be accepted",
            )
        try:
            digest = item.digest or await self._resolve(item)
        except RegistryError as exc:
            return _verdict(item, VerdictStatus.UNVERIFIABLE, str(exc))
        key = (item.registry, item.repository, digest, item.rule.fingerprint())
        cached = self.verifier.cache.get(key)
        if cached is not None:
            return replace(cached, image=item.image, rule=item.rule, cached=True)
        task = self.verifications.get(key)
        if task is None:
            task = asyncio.ensure_future(self._verify_and_remember(key, item, digest, keys))
            self.verifications[key] = task
        return replace(await task, image=item.image, rule=item.rule)

    async def _resolve(self, item: ImageToVerify) -> str:
        tag = item.tag or "latest"  # what a container runtime pulls when no tag is written
        key = (item.registry, item.repository, tag)
        task = self.resolutions.get(key)
        if task is None:
            task = asyncio.ensure_future(self._bounded_resolve(item.registry, item.repository, tag))
            self.resolutions[key] = task
        return await task

    async def _bounded_resolve(self, registry: str, repository: str, tag: str) -> str:
        async with self.semaphore:
            return await self.client.resolve(registry, repository, tag)

    async def _verify_and_remember(
        self, key: CacheKey, item: ImageToVerify, digest: str, keys: tuple[TrustedKey, ...]
    ) -> SignatureVerdict:
        verdict = await self._verify_digest(item, digest, keys)
        self.verifier.cache.put(key, verdict)
        return verdict

    async def _verify_digest(
        self, item: ImageToVerify, digest: str, keys: tuple[TrustedKey, ...]
    ) -> SignatureVerdict:
        target = _Target(*_signature_location(item), digest, keys)
        async with self.semaphore:
            try:
                async with asyncio.timeout(self.limits.image_timeout):
                    evidence = await self._search(target)
                    if not evidence.found and not evidence.errors and item.digest:
                        # A pinned digest nobody signed may not exist at all: say so instead.
                        await self.client.resolve(item.registry, item.repository, digest)
            except TimeoutError:
                detail = (
                    f"verifying the signatures of {short_digest(digest)} took longer than "
                    f"{self.limits.image_timeout:g} s"
                )
                return _verdict(item, VerdictStatus.UNVERIFIABLE, detail, digest)
            except RegistryError as exc:
                return _verdict(item, VerdictStatus.UNVERIFIABLE, str(exc), digest)
        return _decide(item, target, evidence)

    async def _search(self, target: _Target) -> _Evidence:
        """Bundles first, then the legacy tag (cosign v3's order); stop at the first
        signature that verifies. A registry error in one place does not hide the other."""
        evidence = _Evidence()
        for search in (self._bundles, self._legacy):
            try:
                await search(target, evidence)
            except RegistryError as exc:
                evidence.errors.append(exc)
            if evidence.verified() is not None:
                break
        return evidence

    async def _bundles(self, target: _Target, evidence: _Evidence) -> None:
        referrers = await self.client.referrers(target.registry, target.repository, target.digest)
        candidates = []
        for referrer in referrers:
            if referrer.artifact_type not in (BUNDLE_MEDIA_TYPE, COSIGN_V2_REFERRER_ARTIFACT_TYPE):
                continue  # SBOMs, other tools' artifacts
            predicate = referrer.annotations.get(BUNDLE_PREDICATE_ANNOTATION)
            if predicate is not None and predicate != SIGN_PREDICATE_TYPE:
                evidence.attestations += 1  # an unauthenticated hint, only used to skip work
                continue
            candidates.append(referrer)
        limit = self.limits.max_referrers
        if len(candidates) > limit:
            evidence.notes.append(
                f"{len(candidates) - limit} more signature referrers not examined (limit {limit})"
            )
        for referrer in candidates[:limit]:
            await self._referrer(target, referrer, evidence)
            if evidence.verified() is not None:
                return

    async def _referrer(self, target: _Target, referrer: Descriptor, evidence: _Evidence) -> None:
        legacy = referrer.artifact_type == COSIGN_V2_REFERRER_ARTIFACT_TYPE
        kind = LEGACY if legacy else BUNDLE
        name = "cosign v2 referrer" if legacy else "bundle referrer"
        where = f"{name} {short_digest(referrer.digest)}"
        manifest = await self.client.manifest(target.registry, target.repository, referrer.digest)
        if manifest is None:
            raise RegistryProtocolError(
                f"{target.registry}/{target.repository}: referrer {referrer.digest} is listed "
                "but missing"
            )
        subject = manifest.subject
        if subject is None or subject.digest != target.digest:
            # The fallback index is a mutable tag: anyone who can push can list anything.
            named = short_digest(subject.digest) if subject else "no subject"
            detail = f"the referrer is for {named}, not this image's {short_digest(target.digest)}"
            check = SignatureCheck(None, Problem.OTHER_DIGEST, detail)
            evidence.add(_Found(kind, where, check))
            return
        wanted = SIMPLE_SIGNING_MEDIA_TYPE if legacy else BUNDLE_MEDIA_TYPE
        layers = [layer for layer in manifest.layers if layer.media_type == wanted]
        await self._layers(target, layers, kind, where, evidence)

    async def _legacy(self, target: _Target, evidence: _Evidence) -> None:
        tag = _sig_tag(target.digest)
        manifest = await self.client.manifest(target.registry, target.repository, tag)
        if manifest is None:
            return
        layers = [
            layer for layer in manifest.layers if layer.media_type == SIMPLE_SIGNING_MEDIA_TYPE
        ]
        where = f"legacy signature {_short_sig_tag(target.digest)}"
        await self._layers(target, layers, LEGACY, where, evidence)

    async def _layers(
        self,
        target: _Target,
        layers: Sequence[Descriptor],
        kind: str,
        where: str,
        evidence: _Evidence,
    ) -> None:
        limit = self.limits.max_layers
        if len(layers) > limit:
            evidence.notes.append(
                f"{where}: {len(layers) - limit} more layer(s) not examined (limit {limit})"
            )
        for number, layer in enumerate(layers[:limit], 1):
            check = await self._layer(target, layer, kind)
            evidence.add(_Found(kind, where, check, number, len(layers)))
            if evidence.verified() is not None:
                return

    async def _layer(self, target: _Target, layer: Descriptor, kind: str) -> SignatureCheck:
        cap = self.limits.max_blob_bytes
        if layer.size > cap:
            detail = f"signature blob of {layer.size:,} bytes is over the {cap:,}-byte limit"
            return SignatureCheck(None, Problem.MALFORMED, detail)
        blob = await self.client.blob(target.registry, target.repository, layer.digest, cap)
        if kind == BUNDLE:
            return verify_bundle(blob, target.digest, target.keys)
        return verify_simple_signing(blob, layer.annotations, target.digest, target.keys)


# --------------------------------------------------------------------------- verdicts


def _decide(item: ImageToVerify, target: _Target, evidence: _Evidence) -> SignatureVerdict:
    digest = target.digest
    notes = "".join(f"; {note}" for note in evidence.notes)
    verified = evidence.verified()
    if verified is not None:
        key = verified.check.key
        detail = f"{verified.place} verified with key {key.label if key else '?'}"
        return _verdict(item, VerdictStatus.VERIFIED, detail, digest, verified.format)
    if evidence.errors:
        # Something could not be looked at: neither "unsigned" nor "invalid" would be honest.
        detail = str(evidence.errors[0])
        if evidence.found:
            detail += f" ({len(evidence.found)} signature(s) found did not verify)"
        return _verdict(item, VerdictStatus.UNVERIFIABLE, detail + notes, digest)
    if evidence.found:
        return _verdict(item, VerdictStatus.INVALID, _reasons(evidence.found) + notes, digest)
    detail = (
        f"no cosign signature for {short_digest(digest)} in {target.registry}/{target.repository} "
        f"(no signature bundle referrer, no {_short_sig_tag(digest)} tag)"
    )
    if evidence.attestations:
        detail += (
            f"; {evidence.attestations} attestation(s) found, but attestations are not signatures"
        )
    return _verdict(item, VerdictStatus.UNSIGNED, detail + notes, digest)


def _reasons(found: Sequence[_Found]) -> str:
    """Why none of ``found`` counts: the most telling reason first, and signatures of one
    manifest failing for the same reason said once ("layers 1, 2 of 3: …")."""
    groups: dict[tuple[str, str], list[_Found]] = {}
    ranked = sorted(found, key=lambda f: _PROBLEM_RANK.get(f.check.problem or Problem.MALFORMED, 9))
    for item in ranked:
        groups.setdefault((item.where, item.check.detail), []).append(item)
    lines = []
    for (where, detail), members in groups.items():
        if len(members) == 1:
            lines.append(f"{members[0].place}: {detail}")
        else:
            numbers = ", ".join(str(member.layer) for member in members)
            lines.append(f"{where} layers {numbers} of {members[0].layers}: {detail}")
    if len(found) == 1:
        return lines[0]
    more = len(lines) - _MAX_REASONS
    tail = f"; and {more} more" if more > 0 else ""
    shown = "; ".join(lines[:_MAX_REASONS])
    return f"{len(found)} signatures found, none verifies: {shown}{tail}"


def _verdict(
    item: ImageToVerify,
    status: VerdictStatus,
    detail: str,
    digest: str | None = None,
    signature_format: str | None = None,
) -> SignatureVerdict:
    return SignatureVerdict(item.image, item.rule, status, detail, digest, signature_format)


def _sig_tag(digest: str) -> str:
    return digest.replace(":", "-", 1) + ".sig"


def _short_sig_tag(digest: str) -> str:
    return short_digest(digest).replace(":", "-", 1) + ".sig"


def _signature_location(item: ImageToVerify) -> tuple[str, str]:
    """(registry, repository) holding the signatures. ``signature_repository`` is written
    like an image name without tag: ``ghcr.io/acme/signatures`` (another registry) or
    ``acme/signatures`` (the image's registry), as cosign's ``COSIGN_REPOSITORY``."""
    where = item.rule.signature_repository
    if not where:
        return item.registry, item.repository
    first, _, rest = where.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return item.registry, where


# --------------------------------------------------------------------------- sync entry


def verify_sync(
    requests: Sequence[ImageToVerify],
    *,
    cache: VerdictCache | None = None,
    credentials: Mapping[str, BasicCredentials] | None = None,
    timeout: float = 10.0,
    limits: VerifyLimits | None = None,
    per_registry_concurrency: int = 8,
    insecure_hosts: Collection[str] = ("localhost", "127.0.0.1", "[::1]"),
) -> list[SignatureVerdict]:
    """:meth:`ImageVerifier.verify` for synchronous callers (the pipeline, in a worker thread):
    a fresh event loop and HTTP session for this call; the ``cache`` outlives both."""

    async def run() -> list[SignatureVerdict]:
        async with aiohttp.ClientSession() as session:
            client = RegistryClient(
                session,
                credentials=credentials,
                timeout=timeout,
                max_concurrency=per_registry_concurrency,
                insecure_hosts=insecure_hosts,
            )
            return await ImageVerifier(client, cache=cache, limits=limits).verify(requests)

    return asyncio.run(run())
