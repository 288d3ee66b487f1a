"""Image signature verification against a real registry on loopback: cold verification of N
distinct signed images with bounded concurrency, then the same N again from the verdict cache.

    python -m bench.images_bench                    # 200 images, 3 passes of each measurement
    python -m bench.images_bench --smoke            # 20 images, 1 pass (CI: does it still work)
    python -m bench.images_bench --images 500 --json out.json

The registry is Debian's ``docker-registry`` (distribution 2.8.2) started with the test suite's
own code (tests/registry), so it has no referrers API: every lookup uses the ``sha256-<hex>``
fallback tag, as against most registries in the field. Half of the images carry a legacy
``.sig`` signature, half a cosign v3 bundle referrer (tests/images/signing.py).

Measured through ``verify_sync`` (a fresh event loop and HTTP session per call: what the
pipeline pays), wall time with ``time.perf_counter``:

- cold: tag references, empty cache: resolve + discover + fetch + verify every image;
- cached, digest-pinned: the same images as ``repo@sha256:…``: served from the cache with no
  request at all (the cache figure the target is about);
- cached, tag references: a tag is re-resolved on every run (one HEAD per image) before the
  cache is consulted, so this one pays a round trip per image by design.

The exit status is non-zero only when something crashed or a verdict is wrong (an image that
should verify did not), never because a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python bench/images_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from bot.analyzers.images.trust import SignatureRule, SignatureVerdict, VerdictStatus
from bot.engines.image_verify import (
    ImageToVerify,
    ImageVerifier,
    VerdictCache,
    VerifyLimits,
    verify_sync,
)
from bot.engines.registry import RegistryClient
from tests.images.signing import async_sign_bundle, async_sign_legacy, ecdsa_signer
from tests.registry.push import AsyncPusher
from tests.registry.server import RegistryProcess, start_open_registry

TARGET_COLD_SECONDS = 3.0  # 200 images
TARGET_CACHED_SECONDS = 0.050  # 200 digest-pinned images
PUSH_CONCURRENCY = 16


@dataclass(frozen=True, slots=True)
class Pushed:
    repository: str
    digest: str
    signed_as: str  # "legacy" or "bundle"


@dataclass(slots=True)
class Figures:
    images: int
    setup_seconds: float = 0.0
    cold: list[float] = field(default_factory=list)
    cached_pinned: list[float] = field(default_factory=list)
    cached_tags: list[float] = field(default_factory=list)
    requests_cold: int = 0
    requests_cached_pinned: int = 0
    requests_cached_tags: int = 0
    problems: list[str] = field(default_factory=list)


async def push_signed_images(registry: RegistryProcess, count: int) -> list[Pushed]:
    """``count`` distinct images, one repository each, tag ``v1``; even ones signed the
    legacy way, odd ones with a cosign v3 bundle."""
    signer = ecdsa_signer(1)
    gate = asyncio.Semaphore(PUSH_CONCURRENCY)

    async def one(pusher: AsyncPusher, n: int) -> Pushed:
        repository = f"bench/image-{n:04d}"
        async with gate:
            image = await pusher.push_image(repository, "v1", seed=f"bench-{n}")
            if n % 2 == 0:
                await async_sign_legacy(pusher, repository, image.digest, signer)
                return Pushed(repository, image.digest, "legacy")
            await async_sign_bundle(pusher, repository, image, signer)
            return Pushed(repository, image.digest, "bundle")

    async with aiohttp.ClientSession() as session:
        pusher = AsyncPusher(session, registry.url)
        return list(await asyncio.gather(*(one(pusher, n) for n in range(count))))


def requests_for(
    host: str, images: Sequence[Pushed], rule: SignatureRule, *, pinned: bool
) -> list[ImageToVerify]:
    items = []
    for image in images:
        if pinned:
            text = f"{host}/{image.repository}@{image.digest}"
            items.append(ImageToVerify(text, host, image.repository, None, image.digest, rule))
        else:
            text = f"{host}/{image.repository}:v1"
            items.append(ImageToVerify(text, host, image.repository, "v1", None, rule))
    return items


def timed(
    items: Sequence[ImageToVerify], cache: VerdictCache
) -> tuple[float, list[SignatureVerdict]]:
    """``verify_sync`` as the pipeline calls it, and its wall time."""
    start = time.perf_counter()
    verdicts = verify_sync(items, cache=cache, limits=VerifyLimits())
    return time.perf_counter() - start, verdicts


def count_requests(items: Sequence[ImageToVerify], cache: VerdictCache) -> int:
    """The same verification as ``verify_sync``, on a session that counts HTTP requests."""
    sent = 0

    async def on_start(*_args: Any) -> None:
        nonlocal sent
        sent += 1

    async def run() -> None:
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(on_start)
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            await ImageVerifier(RegistryClient(session), cache=cache).verify(items)

    asyncio.run(run())
    return sent


def check(
    verdicts: Sequence[SignatureVerdict],
    images: Sequence[Pushed],
    *,
    cached: bool,
    label: str,
    problems: list[str],
) -> None:
    for verdict, image in zip(verdicts, images, strict=True):
        if verdict.status is not VerdictStatus.VERIFIED or verdict.digest != image.digest:
            problems.append(f"{label}: {verdict.image}: {verdict.status} {verdict.detail}")
        elif verdict.signature_format != image.signed_as:
            problems.append(f"{label}: {verdict.image}: found as {verdict.signature_format}")
        elif verdict.cached is not cached:
            problems.append(f"{label}: {verdict.image}: cached={verdict.cached}")


def measure(registry: RegistryProcess, count: int, passes: int) -> Figures:
    figures = Figures(count)
    start = time.perf_counter()
    images = asyncio.run(push_signed_images(registry, count))
    figures.setup_seconds = time.perf_counter() - start
    rule = SignatureRule(match=("**",), keys=(ecdsa_signer(1).public_pem,), name="bench")
    by_tag = requests_for(registry.host, images, rule, pinned=False)
    by_digest = requests_for(registry.host, images, rule, pinned=True)

    for _ in range(passes):
        cache = VerdictCache()
        seconds, verdicts = timed(by_tag, cache)
        figures.cold.append(seconds)
        check(verdicts, images, cached=False, label="cold", problems=figures.problems)

        seconds, verdicts = timed(by_digest, cache)
        figures.cached_pinned.append(seconds)
        check(verdicts, images, cached=True, label="cached pinned", problems=figures.problems)

        seconds, verdicts = timed(by_tag, cache)
        figures.cached_tags.append(seconds)
        check(verdicts, images, cached=True, label="cached tags", problems=figures.problems)

    cache = VerdictCache()
    figures.requests_cold = count_requests(by_tag, cache)
    figures.requests_cached_pinned = count_requests(by_digest, cache)
    figures.requests_cached_tags = count_requests(by_tag, cache)
    return figures


def _mark(ok: bool) -> str:
    return "ok" if ok else "target missed"


def report(figures: Figures, out: Callable[[str], None] = print) -> dict[str, Any]:
    n = figures.images
    scale = n / 200  # the targets are stated for 200 images
    cold = statistics.median(figures.cold)
    pinned = statistics.median(figures.cached_pinned)
    tags = statistics.median(figures.cached_tags)
    limits = VerifyLimits()
    out(f"image signature verification: {n} images in a loopback docker-registry (2.8.2)")
    out(
        f"  python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"concurrency {limits.concurrency} images / 8 requests per registry, "
        f"{len(figures.cold)} pass(es), medians"
    )
    out(f"  setup (push + sign {n} images): {figures.setup_seconds:.2f} s")
    out(
        f"  cold, tag references:            {cold * 1000:8.1f} ms  "
        f"({n / cold:,.0f} images/s, {figures.requests_cold / n:.1f} requests/image)  "
        f"target <= {TARGET_COLD_SECONDS * scale:.2f} s: "
        f"{_mark(cold <= TARGET_COLD_SECONDS * scale)}"
    )
    out(
        f"  cached, digest-pinned:           {pinned * 1000:8.1f} ms  "
        f"({figures.requests_cached_pinned} requests)  "
        f"target <= {TARGET_CACHED_SECONDS * scale * 1000:.0f} ms: "
        f"{_mark(pinned <= TARGET_CACHED_SECONDS * scale)}"
    )
    out(
        f"  cached, tag references (re-resolved, one HEAD each, by design): {tags * 1000:.1f} ms  "
        f"({figures.requests_cached_tags} requests; no target)"
    )
    formats = Counter("legacy" if i % 2 == 0 else "bundle" for i in range(n))
    out(f"  signature formats: {dict(formats)}")
    for problem in figures.problems[:20]:
        out(f"  WRONG: {problem}")
    return {
        "images": n,
        "setup_seconds": figures.setup_seconds,
        "cold_seconds": figures.cold,
        "cached_pinned_seconds": figures.cached_pinned,
        "cached_tags_seconds": figures.cached_tags,
        "requests": {
            "cold": figures.requests_cold,
            "cached_pinned": figures.requests_cached_pinned,
            "cached_tags": figures.requests_cached_tags,
        },
        "targets": {
            "cold_seconds": TARGET_COLD_SECONDS * scale,
            "cached_pinned_seconds": TARGET_CACHED_SECONDS * scale,
        },
        "problems": figures.problems,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="20 images, one pass")
    parser.add_argument("--json", type=Path, metavar="FILE")
    args = parser.parse_args(argv)
    count, passes = (20, 1) if args.smoke else (args.images, args.passes)

    with tempfile.TemporaryDirectory(prefix="images-bench-") as workdir:
        registry = start_open_registry(Path(workdir))
        try:
            figures = measure(registry, count, passes)
        finally:
            registry.stop()
    result = report(figures)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 1 if figures.problems else 0


if __name__ == "__main__":
    sys.exit(main())
