"""Kyverno's own functions for ValidatingPolicy: the pure ones, and stand-ins for the rest.

``parseServiceAccount(username)`` is Kyverno's user library. Its result is a Go struct
whose fields are ``Name``/``Namespace`` in some Kyverno versions and ``name``/
``namespace`` (JSON tags) in others; the map carries both spellings so policies written
for either read the same values.

The cluster and network libraries (``resource.Get/List/Post``, ``globalContext.Get``,
``http.Get/Post``, ``image.GetMetadata``) are declared so such policies compile, and
fail at evaluation with a marked error the runtime raises as CelUnavailableError, unless a
kyverno test ``context`` file supplies the resources and images (``cel/context.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.analyzers.kyverno.cel.context import current
from bot.analyzers.kyverno.cel.libs.base import UNAVAILABLE_MARKER, Function, LibraryError

_SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def parse_service_account(username: str) -> dict[str, str]:
    namespace = name = ""
    if username.startswith(_SERVICE_ACCOUNT_PREFIX):
        rest = username[len(_SERVICE_ACCOUNT_PREFIX) :]
        if ":" in rest:
            namespace, name = rest.split(":", 1)
    return {"name": name, "namespace": namespace, "Name": name, "Namespace": namespace}


_UNAVAILABLE: dict[str, tuple[tuple[str, ...], ...]] = {
    "resource.Get": (("string", "string", "string", "string"),),
    "resource.List": (("string", "string", "string"), ("string", "string", "string", "dyn")),
    "resource.Post": (("string", "string", "dyn"),),
    "globalContext.Get": (("string", "string"),),
    "http.Get": (("string",), ("string", "dyn")),
    "http.Post": (("string", "dyn"), ("string", "dyn", "dyn")),
    "image.GetMetadata": (("string",),),
}

_REASONS = {
    "resource": "reads live cluster resources",
    "globalContext": "reads Kyverno global context entries from the cluster",
    "http": "calls an HTTP service",
    "image": "fetches image metadata from a registry",
}


def _unavailable(name: str) -> Callable[..., Any]:
    reason = _REASONS[name.split(".")[0]]
    from_context = _FROM_CONTEXT.get(name)

    def fail(*args: Any) -> Any:
        context = current()
        if context is not None and from_context is not None:
            return from_context(context, *args)
        raise LibraryError(f"{UNAVAILABLE_MARKER} {name}() {reason}, which an offline check cannot")

    return fail


def _get(context: Any, api_version: str, resource: str, namespace: str, name: str) -> Any:
    found = context.get(api_version, resource, namespace, name)
    if found is None:
        where = f"{namespace}/{name}" if namespace else name
        raise LibraryError(f'{resource} "{where}" ({api_version}) not found in the test context')
    return found


def _list(context: Any, api_version: str, resource: str, namespace: str, *rest: Any) -> Any:
    items = context.list(api_version, resource, namespace)
    selector = rest[0] if rest else None
    if isinstance(selector, dict):
        items = [i for i in items if _has_labels(i, selector)]
    return {"apiVersion": api_version, "kind": "List", "items": items}


def _has_labels(item: Any, wanted: dict[str, Any]) -> bool:
    metadata = item.get("metadata") if isinstance(item, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    labels = labels if isinstance(labels, dict) else {}
    return all(labels.get(k) == v for k, v in wanted.items())


def _image(context: Any, reference: str) -> Any:
    found = context.images.get(reference)
    if found is None:
        raise LibraryError(f'image "{reference}" not found in the test context')
    return {**found, "image": reference}


_FROM_CONTEXT: dict[str, Callable[..., Any]] = {
    "resource.Get": _get,
    "resource.List": _list,
    "image.GetMetadata": _image,
}


FUNCTIONS = (
    Function(
        "parseServiceAccount",
        "parse_service_account_string",
        ("string",),
        "map(string, string)",
        parse_service_account,
    ),
    *(
        Function(name, f"{name}_{len(params)}", params, "dyn", _unavailable(name))
        for name, signatures in _UNAVAILABLE.items()
        for params in signatures
    ),
)
