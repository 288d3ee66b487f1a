"""The Kubernetes authorizer library (``authorizer.group('apps').resource('deployments')
.check('create').allowed()``), declared so that policies using it compile.

Authorization needs the cluster's RBAC, which an offline check does not have: the policy
layer skips expressions that read ``authorizer`` before evaluating them, and every function
here fails with the unavailable marker should one be reached anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.analyzers.kyverno.cel.libs.base import UNAVAILABLE_MARKER, Function, LibraryError


def _unavailable(name: str) -> Callable[..., Any]:
    def fail(*_args: Any) -> Any:
        raise LibraryError(
            f"{UNAVAILABLE_MARKER} authorizer.{name}() needs the cluster's RBAC, which an "
            "offline check cannot have"
        )

    return fail


# name -> parameters after the receiver
_MEMBERS: dict[str, tuple[str, ...]] = {
    "path": ("string",),
    "group": ("string",),
    "serviceAccount": ("string", "string"),
    "resource": ("string",),
    "subresource": ("string",),
    "namespace": ("string",),
    "name": ("string",),
    "check": ("string",),
    "allowed": (),
    "reason": (),
    "errored": (),
    "error": (),
}

FUNCTIONS = tuple(
    Function(name, f"authz_{name}_{len(params)}", ("dyn", *params), "dyn", _unavailable(name), True)
    for name, params in _MEMBERS.items()
)
