"""Image analyzer: every image a change deploys is a valid reference, pinned, from an allowed
registry and, where a signature rule matches it, signed with a trusted key.

Pure: signatures are verified before ``analyze`` runs, by the pipeline's verifier engine,
from the list ``signature_requests`` returns; ``analyze`` only reads the verdicts.

    requests = signature_requests(files, config.images)     # (reference, rule), deduplicated
    verdicts = verifier.verify(requests)                     # I/O, outside the core
    findings = analyze(files, config.images, index_verdicts(verdicts), require_digest)

Only images whose registry is allowed and not denied are ever requested: the hosts a pull
request names are contacted only when the trusted config says they may be.

Verdicts are keyed by ``verdict_key``: the normalised reference and the rule's name, so
``nginx:1.27`` and ``docker.io/library/nginx:1.27`` share one verification. A matching rule
without a verdict is reported as "could not verify" (fail closed), never as a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from wcmatch import glob as wcglob

from bot.analyzers.images.extract import ImageUse, images_in
from bot.analyzers.images.reference import ImageReference, parse_reference, show
from bot.analyzers.images.reference import ReferenceError as ImageReferenceError
from bot.analyzers.images.rules import (
    Aspect,
    Issue,
    invalid_issue,
    pinning_issue,
    registry_issue,
    signature_issue,
)
from bot.analyzers.images.settings import ImagesConfig
from bot.analyzers.images.trust import SignatureRule, SignatureVerdict
from bot.core.document import LoadedFile, format_path
from bot.core.finding import Category, Finding, Source

__all__ = [
    "VerdictKey",
    "analyze",
    "digest_requirement",
    "index_verdicts",
    "signature_requests",
    "verdict_key",
]

VerdictKey = tuple[str, str]  # (ImageReference.canonical, SignatureRule.name)
_SOURCE = Source(engine="images")
_GLOB_FLAGS = wcglob.GLOBSTAR | wcglob.DOTGLOB | wcglob.BRACE  # as the pipeline's path globs


def verdict_key(ref: ImageReference, rule: SignatureRule) -> VerdictKey:
    return (ref.canonical, rule.name)


def index_verdicts(verdicts: Iterable[SignatureVerdict]) -> dict[VerdictKey, SignatureVerdict]:
    """Verdicts by ``verdict_key``, from their ``image`` (as written, or normalised)."""
    out: dict[VerdictKey, SignatureVerdict] = {}
    for verdict in verdicts:
        try:
            ref = parse_reference(verdict.image)
        except ImageReferenceError:
            continue  # never requested by us: nothing can ask for it
        out[verdict_key(ref, verdict.rule)] = verdict
    return out


def digest_requirement(
    default: bool, environments: Sequence[tuple[Sequence[str], bool | None]]
) -> Callable[[str], bool]:
    """Whether a path requires digests: the last environment (path globs, setting) that
    covers it and says so, else ``default`` (``images.require_digest``)."""
    scoped = [(list(paths), value) for paths, value in environments if value is not None]
    known: dict[str, bool] = {}  # asked once per image: a file holds many

    def required(path: str) -> bool:
        if path not in known:
            known[path] = default
            for paths, value in scoped:
                if path and wcglob.globmatch(path, paths, flags=_GLOB_FLAGS):
                    known[path] = bool(value)
        return known[path]

    return required


def signature_requests(
    files: Iterable[LoadedFile], config: ImagesConfig
) -> list[tuple[ImageReference, SignatureRule]]:
    """What must be verified before ``analyze``: each (image, rule) once, in order found."""
    out: dict[VerdictKey, tuple[ImageReference, SignatureRule]] = {}
    if not config.signature_rules:
        return []
    for use in images_in(files):
        ref = _verifiable(use, config)
        if ref is None:
            continue
        for rule in config.rules_for(ref):
            out.setdefault(verdict_key(ref, rule), (ref, rule))
    return list(out.values())


def analyze(
    files: Iterable[LoadedFile],
    config: ImagesConfig,
    verdicts: Mapping[VerdictKey, SignatureVerdict] | None = None,
    require_digest: Callable[[str], bool] | None = None,
) -> list[Finding]:
    """Findings for every image of ``files`` (manifests and kustomizations).

    ``require_digest(path)`` says whether digests are required for a file; without it,
    ``config.require_digest`` applies everywhere (see ``digest_requirement``).
    """
    verdicts = verdicts or {}
    findings: list[Finding] = []
    for use in images_in(files):
        digest_required = require_digest(use.doc.path) if require_digest else config.require_digest
        for issue in check(use, config, verdicts, digest_required=digest_required):
            findings.append(_finding(use, issue))
    return findings


def check(
    use: ImageUse,
    config: ImagesConfig,
    verdicts: Mapping[VerdictKey, SignatureVerdict],
    *,
    digest_required: bool,
) -> list[Issue]:
    """The issues of one image, in the order a reader fixes them."""
    subject = f"Image {show(use.text)} ({use.context})"
    if use.problem is not None:
        return [invalid_issue(subject, use.problem)]
    try:
        ref = parse_reference(use.text)
    except ImageReferenceError as exc:
        return [invalid_issue(subject, exc.reason)]
    issues: list[Issue] = []
    registry = registry_issue(ref, subject, config)
    if registry is not None:
        issues.append(registry)
    if use.pinning_known:
        pinning = pinning_issue(ref, subject, latest=config.latest, digest_required=digest_required)
        if pinning is not None:
            issues.append(pinning)
    if registry is None and use.pinning_known:
        for rule in config.rules_for(ref):
            verdict = verdicts.get(verdict_key(ref, rule))
            issue = signature_issue(ref, subject, use.context, rule, verdict)
            if issue is not None:
                issues.append(issue)
    return issues


def _verifiable(use: ImageUse, config: ImagesConfig) -> ImageReference | None:
    """The reference to verify, when its tag is known here and its registry permitted."""
    if use.problem is not None or not use.pinning_known:
        return None
    try:
        ref = parse_reference(use.text)
    except ImageReferenceError:
        return None
    return ref if config.permitted(ref) else None


def _finding(use: ImageUse, issue: Issue) -> Finding:
    path = use.path
    if issue.aspect is Aspect.NAME and use.name_path is not None:
        path = use.name_path
    elif issue.aspect is Aspect.PIN and use.pin_path is not None:
        path = use.pin_path
    pos = use.doc.locate(path)
    locator = format_path(use.path)
    if issue.signature_rule:
        # Several rules may judge one image: each is its own finding (and fingerprint).
        locator += f"#{issue.signature_rule}"
    doc = use.doc
    return Finding(
        rule_id=issue.rule_id,
        category=Category.IMAGE,
        severity=issue.severity,
        message=issue.message,
        path=doc.path,
        line=pos.line,
        column=pos.column,
        end_line=pos.end_line,
        resource=doc.resource_ref() if doc.looks_like_resource else None,
        source=_SOURCE,
        locator=locator,
    )
