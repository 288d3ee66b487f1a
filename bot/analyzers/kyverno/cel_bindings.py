"""The variables CEL policies see for one admission request, built once per request.

- ``object``: the manifest (null on DELETE); ``oldObject``: the base-branch version on UPDATE
  (the object itself when there is none, as ``kyverno test`` does), the object on DELETE, else
  null.
- ``request``: a synthesized AdmissionRequest: ``kind``, ``resource`` (the plural from
  ``cel_resources``), ``requestKind``, ``requestResource``, ``name``, ``namespace``,
  ``operation``, ``object``, ``oldObject``, ``dryRun: false``, and ``userInfo`` only when a
  user is known (a kyverno test ``userinfo`` file): expressions reading it are skipped
  otherwise.
- ``namespaceObject``: null for cluster-scoped kinds and for a Namespace itself; else the
  Namespace object when known (a manifest in the tree, or a kyverno test values file), else
  ``{metadata: {name}}``. In the gate, expressions that read more than its name from that
  stand-in are skipped; ``kyverno test`` binds what the Kyverno CLI binds and evaluates.
- ``exceptions``: ``{allowedImages, allowedValues}`` of the matching PolicyExceptions.
- ``params``: the parameter object of a ``validate.cel`` rule (chosen by the rule).
- ``variables``: an empty map; the policy's variables are inlined lazily by the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from bot.analyzers.kyverno.cel.context import FakeContext
from bot.analyzers.kyverno.cel.runtime import Activation, CelRuntime
from bot.analyzers.kyverno.cel_exceptions import CelException
from bot.analyzers.kyverno.cel_match import NAME_LABEL
from bot.analyzers.kyverno.cel_resources import ApiResource, api_resource
from bot.analyzers.kyverno.match import RequestInfo

NO_EXCEPTIONS: dict[str, list[str]] = {"allowedImages": [], "allowedValues": []}


class BindingMode(Enum):
    GATE = "gate"  # gitops-gate check: what the repository cannot tell is skipped
    CLI = "cli"  # kyverno test: bind as the Kyverno CLI does


@dataclass(frozen=True, slots=True)
class CelInputs:
    """What CEL policies can see beyond the request itself."""

    mode: BindingMode = BindingMode.GATE
    namespaces: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    params: Sequence[Mapping[str, Any]] = ()
    exceptions: Sequence[CelException] = ()
    # kyverno test's ``context`` file: resources and images for resource.Get/List and
    # image.GetMetadata (never set by the gate).
    context: FakeContext | None = None


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """One admission request as the CEL layer sees it."""

    resource: dict[str, Any]  # the manifest (also on DELETE: the object being deleted)
    operation: str
    old: dict[str, Any] | None
    user: RequestInfo | None
    namespace_labels: Mapping[str, str] | None  # the engine's (values file / tree)
    inputs: CelInputs

    @property
    def api(self) -> ApiResource:
        api_version = self.resource.get("apiVersion")
        kind = self.resource.get("kind")
        return api_resource(
            api_version if isinstance(api_version, str) else "",
            kind if isinstance(kind, str) else "",
        )

    @property
    def object(self) -> dict[str, Any] | None:
        return None if self.operation == "DELETE" else self.resource

    @property
    def old_object(self) -> dict[str, Any] | None:
        if self.operation == "DELETE":
            return self.resource
        if self.operation == "UPDATE":
            return self.old if self.old is not None else self.resource
        return None

    @property
    def namespace(self) -> str:
        if not self.api.namespaced:
            return ""
        metadata = self.resource.get("metadata")
        value = metadata.get("namespace") if isinstance(metadata, dict) else None
        return value if isinstance(value, str) and value else "default"

    @property
    def has_user(self) -> bool:
        return self.user is not None and not self.user.empty


def admission_request(facts: RequestFacts) -> dict[str, Any]:
    api = facts.api
    metadata = facts.resource.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    kind = {"group": api.group, "version": api.version, "kind": api.kind}
    resource = {"group": api.group, "version": api.version, "resource": api.resource}
    request: dict[str, Any] = {
        "uid": "",
        "kind": kind,
        "resource": resource,
        "requestKind": dict(kind),
        "requestResource": dict(resource),
        "name": name if isinstance(name, str) else "",
        "namespace": facts.namespace,
        "operation": facts.operation,
        "object": facts.object,
        "oldObject": facts.old_object,
        "dryRun": False,
    }
    if facts.has_user:
        assert facts.user is not None
        user: dict[str, Any] = {"username": facts.user.username, "groups": list(facts.user.groups)}
        if facts.user.uid:
            user["uid"] = facts.user.uid
        if facts.user.extra:
            user["extra"] = dict(facts.user.extra)
        request["userInfo"] = user
    return request


@dataclass(frozen=True, slots=True)
class NamespaceBinding:
    value: dict[str, Any] | None
    known: bool  # a real Namespace object, not a stand-in with only its name


def namespace_object(facts: RequestFacts, *, cli_stub: bool = False) -> NamespaceBinding:
    """``namespaceObject`` for the request. ``cli_stub``: the Kyverno CLI's validate.cel
    handler, which always binds a Namespace with only its name."""
    namespace = facts.namespace
    if not namespace or facts.api.kind == "Namespace":
        return NamespaceBinding(None, True)
    stub = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    cli = facts.inputs.mode is BindingMode.CLI
    if cli and cli_stub:
        return NamespaceBinding(stub, True)
    found = facts.inputs.namespaces.get(namespace)
    if found is not None:
        return NamespaceBinding(dict(found), True)
    if cli and facts.namespace_labels:
        metadata = {"name": namespace, "labels": dict(facts.namespace_labels)}
        return NamespaceBinding({**stub, "metadata": metadata}, True)
    return NamespaceBinding(stub, cli)


def match_labels(facts: RequestFacts) -> Mapping[str, str] | None:
    """Labels of the request's namespace for a ValidatingPolicy's namespaceSelector."""
    namespace = facts.namespace
    if facts.inputs.mode is BindingMode.CLI:
        # The Kyverno CLI: the values file's labels, else only the name label Kubernetes sets.
        return facts.namespace_labels or {NAME_LABEL: namespace}
    found = facts.inputs.namespaces.get(namespace)
    if found is not None:
        metadata = found.get("metadata")
        labels = metadata.get("labels") if isinstance(metadata, dict) else None
        out = {str(k): "" if v is None else str(v) for k, v in (labels or {}).items()}
        return {NAME_LABEL: namespace, **out}
    if facts.namespace_labels is not None:
        return {NAME_LABEL: namespace, **facts.namespace_labels}
    return None


class Bindings:
    """Activations for one request, built on demand and shared by every policy."""

    def __init__(self, facts: RequestFacts) -> None:
        self.facts = facts
        self._request = admission_request(facts)
        self._activations: dict[tuple[Any, ...], Activation] = {}

    def activation(
        self,
        runtime: CelRuntime,
        declarations: tuple[str, ...],
        *,
        json_mode: bool = False,
        cli_stub: bool = False,
        params: Mapping[str, Any] | None = None,
        exceptions: Mapping[str, list[str]] | None = None,
    ) -> tuple[Activation, NamespaceBinding]:
        namespace = namespace_object(self.facts, cli_stub=cli_stub)
        key = (
            runtime.environment,
            declarations,
            json_mode,
            cli_stub,
            id(params),
            tuple(map(tuple, exceptions.values())) if exceptions else None,
        )
        cached = self._activations.get(key)
        if cached is None:
            values = self._values(declarations, json_mode, namespace, params, exceptions)
            cached = self._activations[key] = runtime.activation(values, declarations)
        return cached, namespace

    def _values(
        self,
        declarations: tuple[str, ...],
        json_mode: bool,
        namespace: NamespaceBinding,
        params: Mapping[str, Any] | None,
        exceptions: Mapping[str, list[str]] | None,
    ) -> dict[str, Any]:
        facts = self.facts
        if json_mode:
            return {"object": facts.resource, "variables": {}}
        values: dict[str, Any] = {
            "object": facts.object,
            "oldObject": facts.old_object,
            "request": self._request,
            "namespaceObject": namespace.value,
            "variables": {},
            "exceptions": dict(exceptions or NO_EXCEPTIONS),
            "authorizer": None,
            "params": dict(params) if params is not None else None,
        }
        return {name: values.get(name) for name in declarations}
