"""Shared runtimes and objects for the CEL tests (runtimes are built once: ~10 ms each)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

from bot.analyzers.kyverno.cel import CelRuntime, Environment


@functools.cache
def runtime(environment: Environment = Environment.VALIDATING_POLICY) -> CelRuntime:
    return CelRuntime(environment)


def evaluate(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    environment: Environment = Environment.VALIDATING_POLICY,
    lazy_variables: Mapping[str, str] | None = None,
) -> Any:
    """Compile and evaluate with every declared variable bound (``object`` to a pod)."""
    values: dict[str, Any] = {
        "object": pod(),
        "oldObject": None,
        "request": {"operation": "CREATE"},
        "params": None,
        "namespaceObject": {"metadata": {"name": "default"}},
        "variables": {},
        "exceptions": [],
        "authorizer": None,
    }
    values.update(bindings or {})
    compiled = runtime(environment).compile(expression, lazy_variables=lazy_variables)
    return compiled.evaluate(values)


_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "labels": {"app": "web", "team": "payments"},
        "annotations": {"fluxcd.io/cow": "moo"},
    },
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "registry.example.com/shop/web:1.4.2",
                "ports": [{"containerPort": 8080}],
                "resources": {
                    "requests": {"cpu": "250m", "memory": "128Mi"},
                    "limits": {"memory": "256Mi"},
                },
                "securityContext": {
                    "runAsNonRoot": True,
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
            },
            {
                "name": "sidecar",
                "image": "ghcr.io/example/proxy@sha256:" + "a" * 64,
                "resources": {
                    "requests": {"cpu": "50m", "memory": "32Mi"},
                    "limits": {"memory": "64Mi"},
                },
                "securityContext": {
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "livenessProbe": {"tcpSocket": {"port": 9000}},
            },
        ],
        "volumes": [{"name": "cache", "emptyDir": {}}],
    },
}


def pod(**changes: Any) -> dict[str, Any]:
    """A fresh copy of a compliant two-container pod; ``changes`` replace top-level keys."""
    value = copy.deepcopy(_POD)
    value.update(changes)
    return value


def deployment(pod_value: Mapping[str, Any] | None = None) -> dict[str, Any]:
    template = copy.deepcopy(dict(pod_value or _POD))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": template["metadata"], "spec": template["spec"]},
        },
    }


def cronjob(pod_value: Mapping[str, Any] | None = None) -> dict[str, Any]:
    template = copy.deepcopy(dict(pod_value or _POD))
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "batch"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {"template": {"metadata": template["metadata"], "spec": template["spec"]}}
            },
        },
    }
