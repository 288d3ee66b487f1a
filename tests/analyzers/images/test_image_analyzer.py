"""Image findings: pinning, registries, environments that require digests, signature verdicts
of every status, kustomization overrides, and what is sent for verification."""

from __future__ import annotations

import time

from bot.analyzers.images.analyzer import (
    analyze,
    digest_requirement,
    index_verdicts,
    signature_requests,
    verdict_key,
)
from bot.analyzers.images.reference import parse_reference
from bot.analyzers.images.settings import ImagesConfig
from bot.analyzers.images.trust import (
    OnUnverifiable,
    SignatureRule,
    SignatureVerdict,
    VerdictStatus,
)
from bot.core.document import LoadedFile, load_text
from bot.core.filekind import FileKind
from bot.core.finding import Category, Finding, ResourceRef, Severity, Source

D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64
KEY = "-----BEGIN PUBLIC KEY-----\n(test)\n-----END PUBLIC KEY-----\n"

DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/migrate:1.4@{D1}
      containers:
        - name: web
          image: nginx:latest
        - name: bare
          image: nginx
        - name: api
          image: ghcr.io/acme/api:2.0
        - name: broken
          image: ghcr.io/Acme/api:2.0
        - name: pinned-latest
          image: nginx:latest@{D2}
"""


def manifest(text: str, path: str = "apps/web/deployment.yaml") -> LoadedFile:
    return load_text(path, text, FileKind.MANIFEST)


def rows(findings: list[Finding]) -> list[tuple[str, Severity, int | None, int | None]]:
    return [(f.rule_id, f.severity, f.line, f.column) for f in findings]


def test_pinning_findings_with_defaults() -> None:
    findings = analyze([manifest(DEPLOYMENT)], ImagesConfig())
    assert rows(findings) == [
        ("images/latest-tag", Severity.ERROR, 14, 18),
        ("images/missing-tag", Severity.ERROR, 16, 18),
        ("images/tag-without-digest", Severity.WARNING, 18, 18),
        ("images/invalid-reference", Severity.ERROR, 20, 18),
    ]
    latest, missing, tagged, invalid = findings
    assert latest.message == (
        'Image "nginx:latest" (container "web") uses the tag "latest", which moves with every '
        'push: pin a version and its digest, such as "nginx:<version>@sha256:<digest>".'
    )
    assert missing.message == (
        'Image "nginx" (container "bare") has no tag or digest, so it pulls "nginx:latest", '
        "whatever that is on the day: pin a version and its digest, such as "
        '"nginx:<version>@sha256:<digest>".'
    )
    assert tagged.message == (
        'Image "ghcr.io/acme/api:2.0" (container "api") is pinned by tag only, and a tag can '
        'be moved to other content: add the digest, "ghcr.io/acme/api:2.0@sha256:<digest>" '
        '("crane digest ghcr.io/acme/api:2.0" or "docker buildx imagetools inspect '
        'ghcr.io/acme/api:2.0" prints it).'
    )
    assert invalid.message == (
        'Image "ghcr.io/Acme/api:2.0" (container "broken") is not a valid image reference: '
        'repository name must be lowercase ("Acme/api").'
    )
    assert latest.category is Category.IMAGE
    assert latest.source == Source(engine="images")
    assert latest.resource == ResourceRef("apps/v1", "Deployment", "shop", "web")
    assert latest.locator == "spec.template.spec.containers[0].image"
    assert latest.path == "apps/web/deployment.yaml"
    assert len({f.fingerprint for f in findings}) == 4


def test_latest_severity_and_off() -> None:
    warn = analyze([manifest(DEPLOYMENT)], ImagesConfig(latest="warning"))
    assert rows(warn)[:2] == [
        ("images/latest-tag", Severity.WARNING, 14, 18),
        ("images/missing-tag", Severity.WARNING, 16, 18),
    ]
    off = analyze([manifest(DEPLOYMENT)], ImagesConfig(latest="off"))
    assert rows(off)[:2] == [
        ("images/tag-without-digest", Severity.WARNING, 14, 18),
        ("images/tag-without-digest", Severity.WARNING, 16, 18),
    ]
    assert off[1].message.startswith(
        'Image "nginx" (container "bare") is pinned by nothing (no tag means "nginx:latest")'
    )


def test_digests_required_per_environment() -> None:
    files = [
        manifest(DEPLOYMENT, "clusters/prod/web.yaml"),
        manifest(DEPLOYMENT, "clusters/dev/web.yaml"),
    ]
    # Global default true, relaxed for dev; latest at "warning" is raised to error in prod.
    required = digest_requirement(True, [(["clusters/dev/**"], False), (["other/**"], None)])
    findings = analyze(files, ImagesConfig(latest="warning"), {}, required)
    by_path = {
        path: [(f.rule_id, f.severity, f.line) for f in findings if f.path == path]
        for path in ("clusters/prod/web.yaml", "clusters/dev/web.yaml")
    }
    assert by_path["clusters/prod/web.yaml"] == [
        ("images/latest-tag", Severity.ERROR, 14),
        ("images/missing-tag", Severity.ERROR, 16),
        ("images/tag-without-digest", Severity.ERROR, 18),
        ("images/invalid-reference", Severity.ERROR, 20),
    ]
    assert by_path["clusters/dev/web.yaml"] == [
        ("images/latest-tag", Severity.WARNING, 14),
        ("images/missing-tag", Severity.WARNING, 16),
        ("images/tag-without-digest", Severity.WARNING, 18),
        ("images/invalid-reference", Severity.ERROR, 20),
    ]
    prod_tagged = next(
        f
        for f in findings
        if f.path == "clusters/prod/web.yaml" and f.rule_id == "images/tag-without-digest"
    )
    assert prod_tagged.message.endswith("prints it). Digests are required for this path.")
    # Without the callable, images.require_digest applies everywhere.
    everywhere = analyze(files[1:], ImagesConfig(require_digest=True))
    assert ("images/tag-without-digest", Severity.ERROR, 18, 18) in rows(everywhere)


REGISTRIES = f"""\
apiVersion: v1
kind: Pod
metadata: {{name: p}}
spec:
  containers:
    - {{name: a, image: "ghcr.io/acme/api:1@{D1}"}}
    - {{name: b, image: "docker.io/library/redis:7@{D1}"}}
    - {{name: c, image: "quay.io/other/tool:3@{D1}"}}
"""


def test_registry_findings() -> None:
    config = ImagesConfig(
        allowed_registries=("ghcr.io/acme", "docker.io"),
        denied_registries=("docker.io",),
    )
    findings = analyze([manifest(REGISTRIES)], config)
    assert rows(findings) == [
        ("images/registry-denied", Severity.ERROR, 7, 24),
        ("images/registry-not-allowed", Severity.ERROR, 8, 24),
    ]
    assert findings[0].message == (
        f'Image "docker.io/library/redis:7@{D1}" (container "b") comes from a denied registry: '
        '"docker.io/library/redis" matches "docker.io" in images.denied_registries. Allowed '
        'registries: "ghcr.io/acme", "docker.io".'
    )
    assert findings[1].message == (
        f'Image "quay.io/other/tool:3@{D1}" (container "c") is not from an allowed registry '
        '("quay.io/other/tool"); images.allowed_registries allows "ghcr.io/acme", "docker.io". '
        "Mirror the image to one of them, or add its registry to the list (the list is read "
        "from the base branch)."
    )


SIGNED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  template:
    spec:
      containers:
        - name: verified
          image: ghcr.io/acme/verified:1
        - name: unsigned
          image: ghcr.io/acme/unsigned:1
        - name: invalid
          image: ghcr.io/acme/invalid:1
        - name: unreachable
          image: ghcr.io/acme/unreachable:1
        - name: forgotten
          image: ghcr.io/acme/forgotten:1
        - name: elsewhere
          image: quay.io/acme/x:1
"""

REQUIRED = SignatureRule(("ghcr.io/acme/**",), (KEY,), name="images.signatures[0]")
OPTIONAL = SignatureRule(
    ("ghcr.io/acme/*",),
    (KEY,),
    required=False,
    on_unverifiable=OnUnverifiable.WARNING,
    name="images.signatures[1]",
)


def verdict(
    image: str, rule: SignatureRule, status: VerdictStatus, detail: str
) -> SignatureVerdict:
    return SignatureVerdict(
        image, rule, status, detail, digest=D1 if status != "unverifiable" else None
    )


def test_signature_verdicts_of_every_status() -> None:
    config = ImagesConfig(signature_rules=(REQUIRED, OPTIONAL))
    loaded = [manifest(SIGNED)]
    requests = signature_requests(loaded, config)
    assert [(ref.original, rule.name) for ref, rule in requests] == [
        (f"ghcr.io/acme/{name}:1", rule)
        for name in ("verified", "unsigned", "invalid", "unreachable", "forgotten")
        for rule in ("images.signatures[0]", "images.signatures[1]")
    ]
    statuses = {
        "verified": (VerdictStatus.VERIFIED, "verified with key 1 (legacy .sig)"),
        "unsigned": (VerdictStatus.UNSIGNED, "no .sig tag and no bundle referrer"),
        "invalid": (VerdictStatus.INVALID, "the signature does not verify with any of 1 key"),
        "unreachable": (VerdictStatus.UNVERIFIABLE, "ghcr.io timed out after 10 s"),
    }
    verdicts = index_verdicts(
        verdict(f"ghcr.io/acme/{name}:1", rule, status, detail)
        for name, (status, detail) in statuses.items()
        for rule in (REQUIRED, OPTIONAL)
    )
    findings = analyze(loaded, config, verdicts)
    container = "spec.template.spec.containers[{}].image".format

    def tagged(index: int, line: int) -> tuple[str, Severity, int, str]:
        return ("images/tag-without-digest", Severity.WARNING, line, container(index))

    def judged(rule_id: str, index: int, line: int) -> list[tuple[str, Severity, int, str]]:
        return [
            (rule_id, Severity.ERROR, line, container(index) + "#images.signatures[0]"),
            (rule_id, Severity.WARNING, line, container(index) + "#images.signatures[1]"),
        ]

    assert [(f.rule_id, f.severity, f.line, f.locator) for f in findings] == [
        tagged(0, 9),  # verified by both rules: no signature finding
        tagged(1, 11),
        *judged("images/unsigned", 1, 11),
        tagged(2, 13),
        *judged("images/signature-invalid", 2, 13),
        tagged(3, 15),
        *judged("images/unverifiable", 3, 15),
        tagged(4, 17),
        *judged("images/unverifiable", 4, 17),  # no verdict at all: fail closed
        tagged(5, 19),  # quay.io: no rule matches
    ]
    messages = {(f.rule_id, f.locator.rsplit("#", 1)[-1], f.line): f.message for f in findings}
    assert messages[("images/unsigned", "images.signatures[0]", 11)] == (
        f'Image "ghcr.io/acme/unsigned:1" (container "unsigned") ({D1}) has no cosign '
        "signature; images.signatures[0] requires one made with its keys: no .sig tag and no "
        'bundle referrer. Sign the image by digest ("cosign sign --key <key> '
        'ghcr.io/acme/unsigned@<digest>") and push the signature.'
    )
    assert messages[("images/signature-invalid", "images.signatures[1]", 13)] == (
        f'Image "ghcr.io/acme/invalid:1" (container "invalid") ({D1}) has signatures, but none '
        "verifies with the keys of images.signatures[1]: the signature does not verify with "
        "any of 1 key. Sign it with one of the trusted keys, or add the signer's public key "
        "to the rule (on the base branch)."
    )
    assert messages[("images/unverifiable", "images.signatures[0]", 15)] == (
        'Could not verify the signature of "ghcr.io/acme/unreachable:1" (container '
        '"unreachable") for images.signatures[0]: ghcr.io timed out after 10 s. This says '
        "nothing about the image either way; the next run checks it again."
    )
    assert messages[("images/unverifiable", "images.signatures[0]", 17)].startswith(
        'Could not verify the signature of "ghcr.io/acme/forgotten:1" (container "forgotten") '
        "for images.signatures[0]: the signature check did not run for this image"
    )
    assert len({f.fingerprint for f in findings}) == len(findings)


def test_verdicts_are_shared_by_spellings_of_one_image() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - {name: a, image: "nginx:1.27"}
    - {name: b, image: "docker.io/library/nginx:1.27"}
    - {name: c, image: "index.docker.io/nginx:1.27"}
"""
    rule = SignatureRule(("docker.io/library/*",), (KEY,), name="hub")
    config = ImagesConfig(signature_rules=(rule,))
    requests = signature_requests([manifest(text)], config)
    assert [(ref.original, r.name) for ref, r in requests] == [("nginx:1.27", "hub")]
    ref = parse_reference("nginx:1.27")
    assert verdict_key(ref, rule) == ("docker.io/library/nginx:1.27", "hub")
    verdicts = index_verdicts(
        [SignatureVerdict("nginx:1.27", rule, VerdictStatus.UNSIGNED, "none")]
    )
    findings = analyze([manifest(text)], config, verdicts)
    assert [f.rule_id for f in findings if f.rule_id != "images/tag-without-digest"] == [
        "images/unsigned"
    ] * 3


def test_only_permitted_images_are_sent_for_verification() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - {name: a, image: "ghcr.io/acme/api:1"}
    - {name: b, image: "169.254.169.254/acme/api:1"}
    - {name: c, image: "ghcr.io/acme/legacy:1"}
    - {name: d, image: "ghcr.io/Acme/api:1"}
"""
    rule = SignatureRule(("**",), (KEY,), name="all")
    config = ImagesConfig(
        allowed_registries=("ghcr.io",),
        denied_registries=("ghcr.io/acme/legacy",),
        signature_rules=(rule,),
    )
    requests = signature_requests([manifest(text)], config)
    assert [ref.original for ref, _ in requests] == ["ghcr.io/acme/api:1"]
    # And the analyzer reports the registry, not "could not verify", for the others.
    findings = analyze([manifest(text)], config, {})
    assert [(f.rule_id, f.line) for f in findings if f.rule_id != "images/tag-without-digest"] == [
        ("images/unverifiable", 6),
        ("images/registry-not-allowed", 7),
        ("images/registry-denied", 8),
        ("images/invalid-reference", 9),
    ]
    assert signature_requests([manifest(text)], ImagesConfig()) == []


KUSTOMIZATION = f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
images:
  - name: nginx
    newTag: 1.27.0
  - name: ghcr.io/acme/api
    newName: docker.io/acme/api
    digest: {D1}
  - name: redis
    newName: quay.io/redis/redis
  - name: alpine
    newTag: 3.6
  - name: busybox
    newTag: latest
"""


def test_kustomization_overrides() -> None:
    loaded = load_text("overlays/prod/kustomization.yaml", KUSTOMIZATION, FileKind.KUSTOMIZATION)
    rule = SignatureRule(("docker.io/**",), (KEY,), name="hub")
    config = ImagesConfig(
        allowed_registries=("docker.io", "ghcr.io"),
        denied_registries=("docker.io/acme",),
        signature_rules=(rule,),
    )
    findings = analyze([loaded], config, {})
    assert [(f.rule_id, f.severity, f.line, f.column, f.locator) for f in findings] == [
        ("images/tag-without-digest", Severity.WARNING, 6, 13, "images[0]"),
        ("images/unverifiable", Severity.ERROR, 5, 5, "images[0]#hub"),
        ("images/registry-denied", Severity.ERROR, 8, 14, "images[1]"),
        ("images/registry-not-allowed", Severity.ERROR, 11, 14, "images[2].newName"),
        ("images/invalid-reference", Severity.ERROR, 13, 13, "images[3].newTag"),
        ("images/latest-tag", Severity.ERROR, 15, 13, "images[4]"),
        ("images/unverifiable", Severity.ERROR, 14, 5, "images[4]#hub"),
    ]
    assert findings[0].message.startswith(
        'Image "nginx:1.27.0" (kustomization image "nginx") is pinned by tag only'
    )
    assert findings[4].message == (
        'Image "3.6" (kustomization image "alpine") is not a valid image reference: newTag is a '
        'number in YAML (3.6), and kustomize stops with "cannot unmarshal number into Go struct '
        'field Image.images.newTag of type string"; quote it: newTag: "3.6".'
    )
    assert findings[0].resource == ResourceRef(
        "kustomize.config.k8s.io/v1beta1", "Kustomization", None, None
    )
    requests = signature_requests([loaded], config)
    assert [ref.original for ref, _ in requests] == ["nginx:1.27.0", "busybox:latest"]


def test_many_documents_stay_fast() -> None:
    docs = "---\n".join(
        DEPLOYMENT.replace("name: web", f"name: web-{i}").replace(":2.0", f":2.{i}")
        for i in range(2000)
    )
    loaded = manifest(docs)
    started = time.perf_counter()
    findings = analyze([loaded], ImagesConfig())
    elapsed = time.perf_counter() - started
    assert len(findings) == 4 * 2000
    assert elapsed < 5.0, elapsed
