"""Image references (Kyverno's image library and Kubernetes' image()); cases from
kyverno/pkg/cel/libs/image/lib_test.go and go-containerregistry's rules."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analyzers.kyverno.cel import CelEvaluationError, Environment
from tests.analyzers.kyverno_cel.cel_helpers import evaluate

DIGEST = "sha256:6aefddb645ee6963afd681b1845c661d0ea4c3b20ab9db86d9e753b203d385f2"
ARM = "registry.k8s.io/kube-apiserver-arm64"


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        (f"{ARM}:latest", True),
        ("nginx", True),
        (f"{ARM}@{DIGEST}", True),
        (f"{ARM}:latest@{DIGEST}", True),
        (f"{ARM}:@", False),
        ("registry.k8s.io//kube-apiserver-arm64", False),
        ("UPPER/case", False),
        (f"{ARM}@sha256:abc", False),
        ("localhost:5000/app:1", True),
    ],
)
def test_is_image(text: str, valid: bool) -> None:
    assert evaluate(f"isImage('{text}')") is valid


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (f"parseImageReference('{ARM}').registry()", "registry.k8s.io"),
        (f"parseImageReference('{ARM}').repository()", "kube-apiserver-arm64"),
        (f"parseImageReference('{ARM}:testtag').identifier()", "testtag"),
        (f"parseImageReference('{ARM}').identifier()", "latest"),
        (f"parseImageReference('{ARM}@{DIGEST}').identifier()", DIGEST),
        (f"parseImageReference('{ARM}:latest@{DIGEST}').identifier()", DIGEST),
        (f"parseImageReference('{ARM}:testtag').tag()", "testtag"),
        (f"parseImageReference('{ARM}').tag()", "latest"),
        (f"parseImageReference('{ARM}@{DIGEST}').tag()", ""),
        (f"parseImageReference('{ARM}').digest()", ""),
        (f"parseImageReference('{ARM}@{DIGEST}').digest()", DIGEST),
        (f"parseImageReference('{ARM}:latest').containsDigest()", False),
        (f"parseImageReference('{ARM}:latest@{DIGEST}').containsDigest()", True),
        ("image('nginx').registry()", "index.docker.io"),
        ("image('nginx').repository()", "library/nginx"),
        ("image('docker.io/bitnami/redis:7').registry()", "index.docker.io"),
        ("image('localhost/app').repository()", "localhost/app"),
        ("image('localhost:5000/app:1').registry()", "localhost:5000"),
        ("image('kube-apiserver-arm64:testtag').registry()", "index.docker.io"),
    ],
)
def test_image_parts(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


def test_image_parse_error() -> None:
    with pytest.raises(CelEvaluationError, match="could not parse reference"):
        evaluate(f"parseImageReference('{ARM}:@').tag() == ''")


def test_image_in_a_policy_and_in_validate_cel() -> None:
    expression = "object.spec.containers.all(c, image(c.image).registry() != 'index.docker.io')"
    assert evaluate(expression) is True
    assert evaluate(expression, environment=Environment.VALIDATE_CEL) is True
    latest = "object.spec.containers.exists(c, image(c.image).identifier() == 'latest')"
    assert evaluate(latest) is False
