"""What is wrong with one image reference, as rule id, severity and message (no positions).

- images/invalid-reference: not a reference Kubernetes can pull (error).
- images/latest-tag: ":latest" without a digest (severity ``images.latest``, default error).
- images/missing-tag: neither tag nor digest, which means ":latest" (as latest-tag).
- images/tag-without-digest: a tag without a digest (warning; error where digests are
  required: ``images.require_digest`` or the file's environment).
- images/registry-denied: covered by ``denied_registries`` (error; deny wins over allow).
- images/registry-not-allowed: not covered by a non-empty ``allowed_registries`` (error).
- images/unsigned, images/signature-invalid: per matching signature rule, no signature, or
  none that verifies with the rule's keys (error when the rule is required, else warning).
- images/unverifiable: the check could not finish (registry down, timeout, refused): the
  rule's ``on_unverifiable``; never read as "unsigned" nor as a pass.

A digest pins the content whatever the tag says, so ``nginx:1.27@sha256:...`` (and even
``nginx:latest@sha256:...``) has no pinning finding. Where digests are required, ":latest" and
a missing tag are errors whatever ``latest`` says; with ``latest: off`` they are judged like
any other tag (tag-without-digest).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.analyzers.images.reference import ImageReference, show
from bot.analyzers.images.settings import ImagesConfig
from bot.analyzers.images.trust import SignatureRule, SignatureVerdict, VerdictStatus
from bot.core.finding import Severity

__all__ = [
    "Aspect",
    "Issue",
    "invalid_issue",
    "pinning_issue",
    "registry_issue",
    "signature_issue",
]

INVALID = "images/invalid-reference"
LATEST = "images/latest-tag"
MISSING_TAG = "images/missing-tag"
TAG_WITHOUT_DIGEST = "images/tag-without-digest"
DENIED = "images/registry-denied"
NOT_ALLOWED = "images/registry-not-allowed"
UNSIGNED = "images/unsigned"
SIGNATURE_INVALID = "images/signature-invalid"
UNVERIFIABLE = "images/unverifiable"

NO_VERDICT = "the signature check did not run for this image (no verification result)"


class Aspect(StrEnum):
    """Which part of the reference a finding is about (where it is reported)."""

    REFERENCE = "reference"
    NAME = "name"  # the registry and repository
    PIN = "pin"  # the tag and digest


@dataclass(frozen=True, slots=True)
class Issue:
    rule_id: str
    severity: Severity
    message: str
    aspect: Aspect = Aspect.REFERENCE
    signature_rule: str | None = None  # the rule's name, for signature findings


def invalid_issue(subject: str, reason: str) -> Issue:
    return Issue(INVALID, Severity.ERROR, f"{subject} is not a valid image reference: {reason}.")


def pinning_issue(
    ref: ImageReference, subject: str, *, latest: str, digest_required: bool
) -> Issue | None:
    if ref.digest is not None:
        return None
    required = " Digests are required for this path." if digest_required else ""
    pin = f'"{ref.familiar_name}:<version>@sha256:<digest>"'
    if latest != "off" or digest_required:
        severity = Severity.ERROR if digest_required else Severity(latest)
        if ref.tag is None:
            return Issue(
                MISSING_TAG,
                severity,
                f'{subject} has no tag or digest, so it pulls "{ref.familiar_name}:latest", '
                f"whatever that is on the day: pin a version and its digest, such as {pin}."
                + required,
                Aspect.PIN,
            )
        if ref.tag == "latest":
            return Issue(
                LATEST,
                severity,
                f'{subject} uses the tag "latest", which moves with every push: pin a version '
                f"and its digest, such as {pin}." + required,
                Aspect.PIN,
            )
    tagged = f"{ref.familiar_name}:{ref.tag or 'latest'}"
    pinned_by = "by tag only" if ref.tag else f'by nothing (no tag means "{tagged}")'
    return Issue(
        TAG_WITHOUT_DIGEST,
        Severity.ERROR if digest_required else Severity.WARNING,
        f"{subject} is pinned {pinned_by}, and a tag can be moved to other content: add the "
        f'digest, "{tagged}@sha256:<digest>" ("crane digest {tagged}" or '
        f'"docker buildx imagetools inspect {tagged}" prints it).' + required,
        Aspect.PIN,
    )


def registry_issue(ref: ImageReference, subject: str, config: ImagesConfig) -> Issue | None:
    allowed = ", ".join(f'"{p}"' for p in config.allowed_registries)
    pattern = config.denied_by(ref)
    if pattern is not None:
        instead = (
            f" Allowed registries: {allowed}." if allowed else " Mirror it to another registry."
        )
        return Issue(
            DENIED,
            Severity.ERROR,
            f'{subject} comes from a denied registry: "{ref.name}" matches "{pattern}" in '
            f"images.denied_registries.{instead}",
            Aspect.NAME,
        )
    if not config.allowed(ref):
        return Issue(
            NOT_ALLOWED,
            Severity.ERROR,
            f'{subject} is not from an allowed registry ("{ref.name}"); '
            f"images.allowed_registries allows {allowed}. Mirror the image to one of them, or "
            "add its registry to the list (the list is read from the base branch).",
            Aspect.NAME,
        )
    return None


def signature_issue(
    ref: ImageReference,
    subject: str,
    where: str,
    rule: SignatureRule,
    verdict: SignatureVerdict | None,
) -> Issue | None:
    """``subject`` names the image ('Image "x" (container "web")'), ``where`` only its place
    ('container "web"'), for the message that must start with "Could not verify"."""
    status = verdict.status if verdict is not None else VerdictStatus.UNVERIFIABLE
    detail = verdict.detail.rstrip(".") if verdict is not None else NO_VERDICT
    if status is VerdictStatus.VERIFIED:
        return None
    at = f" ({verdict.digest})" if verdict is not None and verdict.digest else ""
    if status is VerdictStatus.UNVERIFIABLE:
        return Issue(
            UNVERIFIABLE,
            Severity(rule.on_unverifiable.value),
            f"Could not verify the signature of {show(ref.original)} ({where}) for "
            f"{rule.name}: {detail}. This says nothing about the image either way; the next "
            "run checks it again.",
            signature_rule=rule.name,
        )
    severity = Severity.ERROR if rule.required else Severity.WARNING
    expected = "requires" if rule.required else "expects (required: false)"
    if status is VerdictStatus.UNSIGNED:
        return Issue(
            UNSIGNED,
            severity,
            f"{subject}{at} has no cosign signature; {rule.name} {expected} one made with its "
            f"keys: {detail}. Sign the image by digest "
            f'("cosign sign --key <key> {ref.name}@<digest>") and push the signature.',
            signature_rule=rule.name,
        )
    return Issue(
        SIGNATURE_INVALID,
        severity,
        f"{subject}{at} has signatures, but none verifies with the keys of {rule.name}: "
        f"{detail}. Sign it with one of the trusted keys, or add the signer's public key to "
        "the rule (on the base branch).",
        signature_rule=rule.name,
    )
