"""A seeded generator of realistic Kubernetes manifests for the benchmark.

Kinds: Deployment, Service, ConfigMap, Ingress (networking.k8s.io/v1), StatefulSet, CronJob
(batch/v1), two CustomResourceDefinitions and custom resources of the kinds they define. A
configurable fraction of manifests is made invalid on purpose (a wrong type, an unknown field
or a bad quantity), and a smaller fraction carries a YAML style flaw (trailing spaces) that the
syntax analyzer should report. Every manifest records what was done to it, so the benchmark can
check that the analyzers flag exactly the invalid ones.

The same seed always gives the same corpus (``random.Random(seed)``, no global state).

    python -m bench.corpus --manifests 200 --out /tmp/corpus [--multi-doc 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import copy
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Data = dict[str, Any]

# Custom resources, and the CRDs that define them (always emitted first).
WIDGET_GROUP, WIDGET_VERSION, WIDGET_KIND = "bench.example.io", "v1", "Widget"
GADGET_GROUP, GADGET_VERSION, GADGET_KIND = "ops.example.io", "v1alpha1", "Gadget"

# Relative weights of the kinds after the CRDs.
KIND_WEIGHTS: dict[str, int] = {
    "Deployment": 24,
    "Service": 18,
    "ConfigMap": 14,
    "Ingress": 10,
    "StatefulSet": 8,
    "CronJob": 8,
    WIDGET_KIND: 10,
    GADGET_KIND: 8,
}

INVALID_KINDS = ("wrong-type", "unknown-field", "bad-quantity")

_TEAMS = ("payments", "checkout", "catalog", "search", "identity", "ledger", "media", "growth")
_COMPONENTS = (
    "api",
    "web",
    "worker",
    "gateway",
    "scheduler",
    "indexer",
    "consumer",
    "frontend",
    "backend",
    "cache",
    "exporter",
    "sync",
)
_NAMESPACES = ("prod", "staging", "dev", "payments-prod", "platform", "monitoring", "default")
_REGISTRIES = ("ghcr.io/acme", "registry.example.com/platform", "docker.io/library", "quay.io/acme")
_BASE_IMAGES = ("nginx", "redis", "postgres", "envoy", "busybox", "python", "node", "golang")
_ENV_NAMES = (
    "LOG_LEVEL",
    "PORT",
    "DATABASE_URL",
    "REDIS_HOST",
    "FEATURE_FLAGS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "GOMAXPROCS",
    "TZ",
    "JAVA_OPTS",
    "WORKERS",
)
_CPU = ("50m", "100m", "250m", "500m", "750m", "1", "2", "1500m")
_MEMORY = ("64Mi", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi", "768Mi", "1.5Gi")
_STORAGE = ("1Gi", "5Gi", "10Gi", "20Gi", "50Gi", "100Gi")
_BAD_QUANTITIES = ("1GB", "512 Mi", "half", "2 cores", "100mb", "1.5.0", "10Gb")
_SCHEDULES = ("*/5 * * * *", "0 * * * *", "30 2 * * *", "0 3 * * 0", "15 */6 * * *", "@daily")
_HOSTS = ("example.com", "acme.io", "internal.acme.net", "shop.example.org")


@dataclass(frozen=True, slots=True)
class Manifest:
    """One generated manifest: its data, its YAML text and what was done to it."""

    index: int
    kind: str
    api_version: str
    name: str
    namespace: str | None
    data: Data
    text: str
    invalid: str | None = None  # one of INVALID_KINDS, or None when valid
    mutation: str = ""  # a human description: "spec.replicas: 'three' (wrong-type)"
    style_flaw: bool = False  # the text carries a yamllint problem (trailing spaces)

    @property
    def file_name(self) -> str:
        return f"{self.index:05d}-{self.kind.lower()}-{self.name}.yaml"


@dataclass(slots=True)
class CorpusSpec:
    count: int
    seed: int = 1
    invalid_fraction: float = 0.1
    style_fraction: float = 0.05
    custom_resources: bool = True
    weights: dict[str, int] = field(default_factory=lambda: dict(KIND_WEIGHTS))


class _Dumper(yaml.SafeDumper):
    """Block scalars for multi-line strings, as people write ConfigMaps."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def dump(data: Data) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


class Generator:
    """Builds manifests from one ``random.Random``; call :meth:`manifests` once."""

    def __init__(self, spec: CorpusSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self._builders: dict[str, Callable[[str, str, Data], Data]] = {
            "Deployment": self._deployment,
            "Service": self._service,
            "ConfigMap": self._configmap,
            "Ingress": self._ingress,
            "StatefulSet": self._statefulset,
            "CronJob": self._cronjob,
            WIDGET_KIND: self._widget,
            GADGET_KIND: self._gadget,
        }

    # -- the corpus ---------------------------------------------------------------------------

    def manifests(self) -> list[Manifest]:
        spec = self.spec
        out: list[Manifest] = []
        with_crs = spec.custom_resources and spec.count >= 10
        if with_crs:
            out.append(self._finish(len(out), _widget_crd(), None, ""))
            out.append(self._finish(len(out), _gadget_crd(), None, ""))
        weights = {
            k: w for k, w in spec.weights.items() if with_crs or k not in (WIDGET_KIND, GADGET_KIND)
        }
        kinds = list(weights)
        # Exactly round(fraction * count) invalid manifests, at random places (never a CRD).
        remaining = spec.count - len(out)
        n_invalid = min(remaining, round(spec.invalid_fraction * spec.count))
        invalid_at = set(self.rng.sample(range(remaining), n_invalid))
        for i in range(remaining):
            kind = self.rng.choices(kinds, weights=[weights[k] for k in kinds])[0]
            name = self._name()
            namespace = self.rng.choice(_NAMESPACES)
            labels = self._labels(name)
            data = self._builders[kind](name, namespace, labels)
            invalid: str | None = None
            mutation = ""
            if i in invalid_at:
                invalid = self.rng.choice(_applicable(kind))
                mutation = _MUTATIONS[invalid](self.rng, data)
            out.append(self._finish(len(out), data, invalid, mutation))
        return out

    def _finish(self, index: int, data: Data, invalid: str | None, mutation: str) -> Manifest:
        text = dump(data)
        if self.rng.random() < 0.3:
            text = f"# {data['kind']} {data['metadata'].get('name')} (generated by bench)\n" + text
        flaw = index >= 2 and self.rng.random() < self.spec.style_fraction
        if flaw:
            lines = text.split("\n")
            at = self.rng.randrange(1, max(2, len(lines) - 1))
            lines[at] = lines[at] + "  "
            text = "\n".join(lines)
        meta = data.get("metadata", {})
        return Manifest(
            index=index,
            kind=str(data["kind"]),
            api_version=str(data["apiVersion"]),
            name=str(meta.get("name", "")),
            namespace=meta.get("namespace"),
            data=data,
            text=text,
            invalid=invalid,
            mutation=mutation,
            style_flaw=flaw,
        )

    # -- small pieces -------------------------------------------------------------------------

    def _name(self) -> str:
        rng = self.rng
        name = f"{rng.choice(_TEAMS)}-{rng.choice(_COMPONENTS)}"
        if rng.random() < 0.5:
            name += "-" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=5))
        return name

    def _labels(self, name: str) -> Data:
        rng = self.rng
        labels: Data = {
            "app.kubernetes.io/name": name,
            "app.kubernetes.io/part-of": name.split("-")[0],
        }
        if rng.random() < 0.6:
            labels["app.kubernetes.io/version"] = self._version()
        if rng.random() < 0.4:
            labels["team"] = rng.choice(_TEAMS)
        if rng.random() < 0.3:
            labels["tier"] = rng.choice(("frontend", "backend", "data"))
        return labels

    def _version(self) -> str:
        rng = self.rng
        return f"{rng.randint(0, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}"

    def _metadata(self, name: str, namespace: str, labels: Data) -> Data:
        meta: Data = {"name": name, "namespace": namespace, "labels": dict(labels)}
        if self.rng.random() < 0.35:
            meta["annotations"] = {
                "argocd.argoproj.io/sync-wave": str(self.rng.randint(-2, 5)),
                "acme.io/owner": f"{self.rng.choice(_TEAMS)}@acme.io",
            }
        return meta

    def _image(self) -> str:
        rng = self.rng
        image = f"{rng.choice(_REGISTRIES)}/{rng.choice(_BASE_IMAGES)}:{self._version()}"
        if rng.random() < 0.3:
            image += "@sha256:" + "".join(rng.choices("0123456789abcdef", k=64))
        return image

    def _resources(self) -> Data:
        rng = self.rng
        cpu = rng.choice(_CPU)
        requests: Data = {"cpu": cpu, "memory": rng.choice(_MEMORY)}
        if rng.random() < 0.15:
            requests["cpu"] = rng.choice((0.5, 1, 2))  # numbers are valid quantities too
        out: Data = {"requests": requests}
        if rng.random() < 0.8:
            out["limits"] = {"memory": rng.choice(_MEMORY)}
            if rng.random() < 0.5:
                out["limits"]["cpu"] = rng.choice(_CPU)
            if rng.random() < 0.1:
                out["limits"]["ephemeral-storage"] = rng.choice(_STORAGE)
        return out

    def _env(self) -> list[Data]:
        rng = self.rng
        env: list[Data] = []
        for var in rng.sample(_ENV_NAMES, rng.randint(0, 6)):
            roll = rng.random()
            if roll < 0.55:
                env.append({"name": var, "value": rng.choice(("info", "8080", "true", "UTC", "4"))})
            elif roll < 0.7:
                env.append(
                    {
                        "name": var,
                        "valueFrom": {
                            "configMapKeyRef": {
                                "name": f"{self._name()}-config",
                                "key": var.lower(),
                            }
                        },
                    }
                )
            elif roll < 0.85:
                ref: Data = {"name": f"{self._name()}-secrets", "key": var.lower()}
                if rng.random() < 0.3:
                    ref["optional"] = True
                env.append({"name": var, "valueFrom": {"secretKeyRef": ref}})
            elif roll < 0.95:
                env.append(
                    {
                        "name": var,
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                    }
                )
            else:
                env.append(
                    {
                        "name": var,
                        "valueFrom": {
                            "resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}
                        },
                    }
                )
        return env

    def _probe(self, port: int) -> Data:
        rng = self.rng
        roll = rng.random()
        probe: Data
        if roll < 0.6:
            probe = {
                "httpGet": {"path": rng.choice(("/healthz", "/ready", "/livez")), "port": port}
            }
        elif roll < 0.85:
            probe = {"tcpSocket": {"port": rng.choice((port, "http"))}}
        else:
            probe = {"exec": {"command": ["/bin/sh", "-c", "test -f /tmp/healthy"]}}
        probe["initialDelaySeconds"] = rng.choice((0, 5, 10, 30))
        probe["periodSeconds"] = rng.choice((5, 10, 15))
        if rng.random() < 0.4:
            probe["failureThreshold"] = rng.randint(1, 6)
        return probe

    def _container(self, name: str, volumes: Sequence[str]) -> Data:
        rng = self.rng
        port = rng.choice((80, 8080, 8443, 9090, 3000, 5432, 6379))
        container: Data = {"name": name, "image": self._image()}
        if rng.random() < 0.5:
            container["imagePullPolicy"] = rng.choice(("IfNotPresent", "Always"))
        if rng.random() < 0.3:
            container["args"] = [f"--port={port}", "--log-format=json"]
        container["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        if rng.random() < 0.3:
            container["ports"].append({"name": "metrics", "containerPort": 9102})
        env = self._env()
        if env:
            container["env"] = env
        if rng.random() < 0.2:
            container["envFrom"] = [{"configMapRef": {"name": f"{name}-env"}}]
        container["resources"] = self._resources()
        if rng.random() < 0.8:
            container["readinessProbe"] = self._probe(port)
        if rng.random() < 0.6:
            container["livenessProbe"] = self._probe(port)
        if volumes:
            container["volumeMounts"] = [
                {"name": v, "mountPath": f"/var/lib/{v}", **({"readOnly": True} if i else {})}
                for i, v in enumerate(volumes)
            ]
        if rng.random() < 0.5:
            container["securityContext"] = {
                "runAsNonRoot": True,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": rng.random() < 0.7,
                "capabilities": {"drop": ["ALL"]},
            }
        return container

    def _volumes(self, name: str) -> list[Data]:
        rng = self.rng
        out: list[Data] = []
        for i in range(rng.randint(0, 3)):
            roll = rng.random()
            vname = f"vol-{i}"
            if roll < 0.35:
                out.append({"name": vname, "configMap": {"name": f"{name}-config"}})
            elif roll < 0.6:
                out.append({"name": vname, "secret": {"secretName": f"{name}-tls"}})
            elif roll < 0.85:
                empty: Data = {}
                if rng.random() < 0.5:
                    empty = {"medium": "Memory", "sizeLimit": rng.choice(_MEMORY)}
                out.append({"name": vname, "emptyDir": empty})
            else:
                out.append({"name": vname, "persistentVolumeClaim": {"claimName": f"{name}-data"}})
        return out

    def _pod_spec(self, name: str, *, restart: str | None = None) -> Data:
        rng = self.rng
        volumes = self._volumes(name)
        names = [v["name"] for v in volumes]
        containers = [self._container(name.split("-")[1] if "-" in name else name, names)]
        for extra in range(rng.choice((0, 0, 0, 1, 2))):
            containers.append(self._container(f"sidecar-{extra}", []))
        spec: Data = {}
        if restart:
            spec["restartPolicy"] = restart
        if rng.random() < 0.4:
            spec["serviceAccountName"] = name
        if rng.random() < 0.2:
            spec["initContainers"] = [
                {
                    "name": "migrate",
                    "image": self._image(),
                    "command": ["/app/migrate", "--wait"],
                    "resources": self._resources(),
                }
            ]
        spec["containers"] = containers
        if volumes:
            spec["volumes"] = volumes
        if rng.random() < 0.3:
            spec["nodeSelector"] = {"kubernetes.io/os": "linux"}
        if rng.random() < 0.2:
            spec["tolerations"] = [
                {"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}
            ]
        if rng.random() < 0.3:
            spec["securityContext"] = {"fsGroup": 2000, "runAsUser": 1000}
        if rng.random() < 0.3:
            spec["terminationGracePeriodSeconds"] = rng.choice((10, 30, 60))
        return spec

    # -- kinds --------------------------------------------------------------------------------

    def _deployment(self, name: str, namespace: str, labels: Data) -> Data:
        rng = self.rng
        selector = {"app.kubernetes.io/name": name}
        spec: Data = {"replicas": rng.randint(1, 12), "selector": {"matchLabels": selector}}
        if rng.random() < 0.4:
            spec["strategy"] = {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": rng.choice((1, "25%")), "maxUnavailable": 0},
            }
        if rng.random() < 0.2:
            spec["revisionHistoryLimit"] = rng.randint(1, 10)
        spec["template"] = {"metadata": {"labels": dict(labels)}, "spec": self._pod_spec(name)}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": self._metadata(name, namespace, labels),
            "spec": spec,
        }

    def _statefulset(self, name: str, namespace: str, labels: Data) -> Data:
        rng = self.rng
        pod = self._pod_spec(name)
        pod["containers"][0].setdefault("volumeMounts", []).append(
            {"name": "data", "mountPath": "/data"}
        )
        spec: Data = {
            "serviceName": f"{name}-headless",
            "replicas": rng.randint(1, 5),
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": rng.choice(("standard", "gp3", "fast-ssd")),
                        "resources": {"requests": {"storage": rng.choice(_STORAGE)}},
                    },
                }
            ],
        }
        if rng.random() < 0.3:
            spec["podManagementPolicy"] = "Parallel"
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": self._metadata(name, namespace, labels),
            "spec": spec,
        }

    def _cronjob(self, name: str, namespace: str, labels: Data) -> Data:
        rng = self.rng
        job: Data = {
            "backoffLimit": rng.randint(0, 6),
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": self._pod_spec(name, restart=rng.choice(("OnFailure", "Never"))),
            },
        }
        if rng.random() < 0.4:
            job["activeDeadlineSeconds"] = rng.choice((300, 600, 3600))
        spec: Data = {
            "schedule": rng.choice(_SCHEDULES),
            "concurrencyPolicy": rng.choice(("Forbid", "Allow", "Replace")),
            "jobTemplate": {"spec": job},
        }
        if rng.random() < 0.5:
            spec["successfulJobsHistoryLimit"] = 3
            spec["failedJobsHistoryLimit"] = 1
        if rng.random() < 0.2:
            spec["timeZone"] = "Etc/UTC"
        return {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": self._metadata(name, namespace, labels),
            "spec": spec,
        }

    def _service(self, name: str, namespace: str, labels: Data) -> Data:
        rng = self.rng
        kind = rng.choice(("ClusterIP", "ClusterIP", "NodePort", "LoadBalancer"))
        port = rng.choice((80, 443, 8080, 9090))
        ports: list[Data] = [
            {
                "name": "http",
                "port": port,
                "targetPort": rng.choice(("http", 8080, port)),
                "protocol": "TCP",
            }
        ]
        if kind == "NodePort" and rng.random() < 0.5:
            ports[0]["nodePort"] = rng.randint(30000, 32767)
        if rng.random() < 0.3:
            ports.append({"name": "metrics", "port": 9102, "targetPort": "metrics"})
        spec: Data = {"type": kind, "selector": {"app.kubernetes.io/name": name}, "ports": ports}
        if kind == "ClusterIP" and rng.random() < 0.15:
            spec["clusterIP"] = "None"
        if kind == "LoadBalancer" and rng.random() < 0.5:
            spec["externalTrafficPolicy"] = "Local"
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self._metadata(name, namespace, labels),
            "spec": spec,
        }

    def _configmap(self, name: str, namespace: str, labels: Data) -> Data:
        rng = self.rng
        data: Data = {}
        for _ in range(rng.randint(1, 6)):
            key = rng.choice(("LOG_LEVEL", "TIMEOUT", "REGION", "MAX_CONNS", "MODE", "ENDPOINT"))
            data[key] = rng.choice(("debug", "30s", "eu-west-1", "100", "strict", "https://a.io"))
        if rng.random() < 0.5:
            lines = [f"{k.lower()} = {rng.randint(1, 500)}" for k in rng.sample(_ENV_NAMES, 4)]
            data["app.toml"] = "[server]\n" + "\n".join(lines) + "\n"
        if rng.random() < 0.3:
            data["nginx.conf"] = (
                "server {\n  listen 8080;\n  location / {\n    proxy_pass http://backend;\n  }\n}\n"
            )
        out: Data = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self._metadata(f"{name}-config", namespace, labels),
            "data": data,
        }
        if rng.random() < 0.1:
            out["immutable"] = True
        return out

    def _ingress(self, name: str, namespace: str, labels: Data) -> Data:
        rng = self.rng
        host = f"{name.split('-')[0]}.{rng.choice(_HOSTS)}"
        paths: list[Data] = []
        for path in rng.sample(("/", "/api", "/static", "/v1", "/admin"), rng.randint(1, 3)):
            port: Data = (
                {"number": rng.choice((80, 8080))} if rng.random() < 0.7 else {"name": "http"}
            )
            paths.append(
                {
                    "path": path,
                    "pathType": rng.choice(("Prefix", "Exact", "ImplementationSpecific")),
                    "backend": {"service": {"name": name, "port": port}},
                }
            )
        spec: Data = {"rules": [{"host": host, "http": {"paths": paths}}]}
        if rng.random() < 0.7:
            spec = {"ingressClassName": rng.choice(("nginx", "traefik")), **spec}
        if rng.random() < 0.5:
            spec["tls"] = [{"hosts": [host], "secretName": f"{name}-tls"}]
        meta = self._metadata(name, namespace, labels)
        if rng.random() < 0.4:
            meta.setdefault("annotations", {})["cert-manager.io/cluster-issuer"] = "letsencrypt"
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": meta,
            "spec": spec,
        }

    def _widget(self, name: str, namespace: str, labels: Data) -> Data:
        rng = self.rng
        spec: Data = {
            "image": self._image(),
            "replicas": rng.randint(1, 8),
            "tier": rng.choice(("gold", "silver", "bronze")),
            "ports": [{"name": "http", "port": rng.choice((80, 8080))}],
        }
        if rng.random() < 0.5:
            spec["config"] = {"feature": {"enabled": True, "ratio": 0.25}}
        if rng.random() < 0.4:
            spec["storage"] = rng.choice(_STORAGE)
        return {
            "apiVersion": f"{WIDGET_GROUP}/{WIDGET_VERSION}",
            "kind": WIDGET_KIND,
            "metadata": self._metadata(name, namespace, labels),
            "spec": spec,
        }

    def _gadget(self, name: str, namespace: str, labels: Data) -> Data:
        rng = self.rng
        spec: Data = {
            "schedule": rng.choice(_SCHEDULES),
            "target": {"kind": "Deployment", "name": name},
            "timeout": rng.choice((30, 60, "5m")),
        }
        if rng.random() < 0.5:
            spec["notify"] = [f"{rng.choice(_TEAMS)}@acme.io"]
        return {
            "apiVersion": f"{GADGET_GROUP}/{GADGET_VERSION}",
            "kind": GADGET_KIND,
            "metadata": self._metadata(name, namespace, labels),
            "spec": spec,
        }


# -- CRDs --------------------------------------------------------------------------------------


def _crd(group: str, version: str, kind: str, plural: str, schema: Data) -> Data:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _widget_crd() -> Data:
    spec_schema: Data = {
        "type": "object",
        "required": ["image"],
        "properties": {
            "image": {"type": "string"},
            "replicas": {"type": "integer", "minimum": 0},
            "tier": {"type": "string", "enum": ["gold", "silver", "bronze"]},
            "ports": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                },
            },
            "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "storage": {"x-kubernetes-int-or-string": True},
        },
    }
    schema: Data = {
        "type": "object",
        "properties": {
            "spec": spec_schema,
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    return _crd(WIDGET_GROUP, WIDGET_VERSION, WIDGET_KIND, "widgets", schema)


def _gadget_crd() -> Data:
    schema: Data = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "schedule": {"type": "string"},
                    "target": {
                        "type": "object",
                        "properties": {"kind": {"type": "string"}, "name": {"type": "string"}},
                    },
                    "timeout": {"x-kubernetes-int-or-string": True},
                    "notify": {"type": "array", "items": {"type": "string"}},
                },
            }
        },
    }
    return _crd(GADGET_GROUP, GADGET_VERSION, GADGET_KIND, "gadgets", schema)


# -- invalid mutations -------------------------------------------------------------------------


def _pod(data: Data) -> Data | None:
    kind = data["kind"]
    if kind in ("Deployment", "StatefulSet"):
        pod: Data = data["spec"]["template"]["spec"]
        return pod
    if kind == "CronJob":
        pod = data["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return pod
    return None


def _applicable(kind: str) -> tuple[str, ...]:
    if kind in ("Deployment", "StatefulSet", "CronJob"):
        return INVALID_KINDS
    return ("wrong-type", "unknown-field")


def _wrong_type(rng: random.Random, data: Data) -> str:
    kind = data["kind"]
    pod = _pod(data)
    if kind in ("Deployment", "StatefulSet") and rng.random() < 0.4:
        data["spec"]["replicas"] = rng.choice(("three", "3"))
        return "spec.replicas as a string"
    if pod is not None:
        choice = rng.random()
        container = pod["containers"][0]
        if choice < 0.4:
            container["ports"][0]["containerPort"] = rng.choice(("http", "8080"))
            return "containerPort as a string"
        if choice < 0.7:
            container["args"] = f"--port={rng.randint(1000, 9000)}"
            return "args as a string, not a list"
        pod["terminationGracePeriodSeconds"] = "30s"
        return "terminationGracePeriodSeconds as a string"
    if kind == "Service":
        data["spec"]["ports"][0]["port"] = rng.choice(("http", "80"))
        return "Service port as a string"
    if kind == "ConfigMap":
        data["data"]["WORKERS"] = rng.choice((4, True, 1.5))  # unquoted YAML scalar
        return "ConfigMap value not a string"
    if kind == "Ingress":
        path = data["spec"]["rules"][0]["http"]["paths"][0]
        path["backend"]["service"]["port"] = {"number": "80"}
        return "backend port number as a string"
    if kind == WIDGET_KIND:
        data["spec"]["replicas"] = "two"
        return "Widget spec.replicas as a string"
    data["spec"]["target"] = "Deployment/" + data["metadata"]["name"]
    return "Gadget spec.target as a string"


def _unknown_field(rng: random.Random, data: Data) -> str:
    kind = data["kind"]
    pod = _pod(data)
    roll = rng.random()
    # Not for custom resources: CRD schemas leave metadata as a plain object (as kubeconform's
    # openapi2jsonschema does), so a typo there is not a schema error.
    if roll < 0.2 and kind not in (WIDGET_KIND, GADGET_KIND):
        data["metadata"]["label"] = {"app": data["metadata"]["name"]}
        return "metadata.label (typo of labels)"
    if pod is not None:
        container = pod["containers"][0]
        if roll < 0.5:
            container["imagePullPolicyy"] = "Always"
            return "container imagePullPolicyy"
        if roll < 0.75:
            container["resource"] = container.pop("resources")
            return "container resource (typo of resources)"
        pod["restartpolicy"] = "Always"
        return "pod spec restartpolicy"
    if kind == "Service":
        data["spec"]["selectors"] = data["spec"].pop("selector")
        return "Service spec.selectors"
    if kind == "ConfigMap":
        data["datas"] = {"EXTRA": "1"}
        return "ConfigMap datas"
    if kind == "Ingress":
        path = data["spec"]["rules"][0]["http"]["paths"][0]
        path["backend"] = {"serviceName": data["metadata"]["name"], "servicePort": 80}
        return "Ingress backend in the old v1beta1 shape"
    if kind == WIDGET_KIND:
        data["spec"]["colour"] = "blue"
        return "Widget spec.colour"
    data["spec"]["retries"] = 3
    return "Gadget spec.retries"


def _bad_quantity(rng: random.Random, data: Data) -> str:
    pod = _pod(data)
    assert pod is not None
    resources = pod["containers"][0]["resources"]
    field_name = rng.choice(("cpu", "memory"))
    section = rng.choice([s for s in ("requests", "limits") if s in resources])
    resources[section][field_name] = rng.choice(_BAD_QUANTITIES)
    return f"resources.{section}.{field_name} not a quantity"


_MUTATIONS: dict[str, Callable[[random.Random, Data], str]] = {
    "wrong-type": _wrong_type,
    "unknown-field": _unknown_field,
    "bad-quantity": _bad_quantity,
}


# -- public API --------------------------------------------------------------------------------


def generate(
    count: int,
    seed: int = 1,
    *,
    invalid_fraction: float = 0.1,
    style_fraction: float = 0.05,
    custom_resources: bool = True,
) -> list[Manifest]:
    """``count`` manifests; the first two are the CRDs when ``count >= 10``."""
    spec = CorpusSpec(count, seed, invalid_fraction, style_fraction, custom_resources)
    return Generator(spec).manifests()


def texts(manifests: Sequence[Manifest]) -> list[str]:
    return [m.text for m in manifests]


def join_documents(manifests: Sequence[Manifest]) -> str:
    """A multi-document stream, ``---`` before every document (as ``kubectl`` writes them)."""
    return "".join(f"---\n{m.text}" for m in manifests)


@dataclass(frozen=True, slots=True)
class WrittenFile:
    path: Path
    manifests: tuple[Manifest, ...]


def write(
    manifests: Sequence[Manifest],
    directory: Path,
    *,
    per_file: int = 1,
    seed: int = 1,
) -> list[WrittenFile]:
    """Write the manifests under ``directory``: one per file, or ``per_file > 1`` documents per
    multi-document file (1 to ``per_file``, chosen with ``seed``)."""
    directory.mkdir(parents=True, exist_ok=True)
    out: list[WrittenFile] = []
    if per_file <= 1:
        for m in manifests:
            sub = directory / (m.namespace or "cluster")
            sub.mkdir(exist_ok=True)
            path = sub / m.file_name
            path.write_text(m.text, encoding="utf-8")
            out.append(WrittenFile(path, (m,)))
        return out
    rng = random.Random(seed)
    i = 0
    while i < len(manifests):
        group = tuple(manifests[i : i + rng.randint(1, per_file)])
        path = directory / f"bundle-{len(out):05d}.yaml"
        path.write_text(join_documents(group), encoding="utf-8")
        out.append(WrittenFile(path, group))
        i += len(group)
    return out


def copy_data(manifests: Sequence[Manifest]) -> list[Data]:
    """Deep copies of the data (for validators that might mutate their input)."""
    return [copy.deepcopy(m.data) for m in manifests]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--manifests", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--invalid-fraction", type=float, default=0.1)
    parser.add_argument("--multi-doc", type=int, default=1, metavar="K", help="up to K per file")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    manifests = generate(args.manifests, args.seed, invalid_fraction=args.invalid_fraction)
    files = write(manifests, args.out, per_file=args.multi_doc, seed=args.seed)
    invalid = sum(1 for m in manifests if m.invalid)
    print(f"wrote {len(manifests)} manifests ({invalid} invalid) in {len(files)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
