"""PolicyExceptions for CEL policies (``policies.kyverno.io`` ``PolicyException``).

An exception names the policies it applies to (``spec.policyRefs``: name and kind) and when
(``spec.matchConditions``, CEL on ``object``, ``oldObject``, ``request``,
``namespaceObject``). A matching exception without ``images`` or ``allowedValues`` skips the
policy for the resource ("rule is skipped due to policy exception", or passed when
``reportResult: pass``); one with them lets the policy run with ``exceptions.allowedImages`` /
``exceptions.allowedValues`` bound (kyverno ``pkg/cel/policies/vpol/compiler/policy.go``).

Exceptions are read from the same trusted files as the policies (``gitops-gate check``) or from
a kyverno test file's ``exceptions``, never from the change under review.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.core.document import Document

EXCEPTION_GROUP = "policies.kyverno.io"
EXCEPTION_KIND = "PolicyException"


@dataclass(frozen=True, slots=True)
class ExceptionCondition:
    name: str
    expression: str
    index: int


@dataclass(frozen=True, slots=True)
class CelException:
    name: str
    namespace: str
    refs: tuple[tuple[str, str], ...]  # (policy name, policy kind)
    conditions: tuple[ExceptionCondition, ...]
    images: tuple[str, ...] = ()
    allowed_values: tuple[str, ...] = ()
    report_pass: bool = False  # spec.reportResult: pass
    priority: int = 0  # the policyexception.kyverno.io/priority label
    path: str = ""
    line: int | None = None

    @property
    def key(self) -> str:
        """``namespace/name`` as Kyverno shows it."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def applies_to(self, policy_name: str, policy_kind: str) -> bool:
        return (policy_name, policy_kind) in self.refs

    @property
    def lets_policy_run(self) -> bool:
        """An exception with images or values only relaxes the policy; it still runs."""
        return bool(self.images or self.allowed_values)


class ExceptionError(ValueError):
    def __init__(self, message: str, where: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.where = where


def is_exception_document(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    api_version = data.get("apiVersion")
    return (
        isinstance(api_version, str)
        and api_version.partition("/")[0] == EXCEPTION_GROUP
        and data.get("kind") == EXCEPTION_KIND
    )


def read_exception(document: Document) -> CelException:
    """The exception in ``document``; raises ExceptionError for a malformed one."""
    data = document.data
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise ExceptionError("PolicyException without metadata.name", ("metadata",))
    spec = data.get("spec")
    if not isinstance(spec, dict):
        raise ExceptionError(f"PolicyException {name}: spec must be a mapping", ("spec",))
    refs = []
    raw_refs = spec.get("policyRefs")
    if not isinstance(raw_refs, list) or not raw_refs:
        raise ExceptionError(
            f"PolicyException {name}: spec.policyRefs must be a non-empty list",
            ("spec", "policyRefs"),
        )
    for i, ref in enumerate(raw_refs):
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
            raise ExceptionError(
                f"PolicyException {name}: a policy reference needs a name and a kind",
                ("spec", "policyRefs", i),
            )
        refs.append((ref["name"], str(ref.get("kind") or "")))
    conditions = []
    for i, item in enumerate(_list(spec.get("matchConditions"))):
        if not isinstance(item, dict) or not isinstance(item.get("expression"), str):
            raise ExceptionError(
                f"PolicyException {name}: a match condition needs an expression",
                ("spec", "matchConditions", i),
            )
        conditions.append(ExceptionCondition(str(item.get("name") or ""), item["expression"], i))
    labels = metadata.get("labels")
    priority = str(
        (labels if isinstance(labels, dict) else {}).get("policyexception.kyverno.io/priority", "0")
    )
    namespace = metadata.get("namespace")
    return CelException(
        name=name,
        namespace=namespace if isinstance(namespace, str) else "",
        refs=tuple(refs),
        conditions=tuple(conditions),
        images=tuple(str(i) for i in _list(spec.get("images"))),
        allowed_values=tuple(str(v) for v in _list(spec.get("allowedValues"))),
        report_pass=str(spec.get("reportResult", "")).lower() == "pass",
        priority=int(priority) if priority.lstrip("-").isdigit() else 0,
        path=document.path,
        line=document.start.line,
    )


def exceptions_for(
    exceptions: Iterable[CelException], policy_name: str, policy_kind: str
) -> tuple[CelException, ...]:
    return tuple(e for e in exceptions if e.applies_to(policy_name, policy_kind))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
