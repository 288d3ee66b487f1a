"""Kyverno policies in ``gitops-gate check``: the configured policies (read from the trusted
tree: the base commit on a pull request) evaluated on every manifest document of the change.

Each document is one admission request: a file added by the change is a ``CREATE``, a modified
one an ``UPDATE`` whose ``request.oldObject`` is the same resource in the base version (so a
pattern rule does not blame the change for a violation the base already had, as Kyverno does),
a removed one a ``DELETE``; a full check of a tree (no base) is all ``CREATE``. Namespace
labels for ``namespaceSelector`` come from the Namespace documents being checked; rules that
would need other labels are reported as not evaluated.

CEL policies see the same requests (``cel_bindings``, gate mode): ``namespaceObject`` is the
Namespace document when one is checked, the parameter objects of ``validate.cel`` rules are
the checked documents, and PolicyExceptions come from the trusted policy files only, so a
change cannot exempt itself.

Fail closed: a policy that does not load is a ``config/policy-error`` finding (severity
``on_error``) and the other policies still run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.analyzers.kyverno.cel_bindings import BindingMode, CelInputs
from bot.analyzers.kyverno.engine import Engine, Request, RuleResult, Status
from bot.analyzers.kyverno.findings import (
    ENGINE,
    POLICY_ERROR,
    problem_finding,
    result_finding,
    unsupported_findings,
)
from bot.analyzers.kyverno.policy import PolicyProblem, PolicySet
from bot.analyzers.kyverno.resources import prepare_resource
from bot.analyzers.kyverno.settings import KyvernoConfig
from bot.core.changeset import FileStatus
from bot.core.document import Document, LoadedFile
from bot.core.filekind import FileKind
from bot.core.finding import Category, Finding, Source
from bot.core.trusted import TrustedFiles

POLICY_SUFFIXES = (".yaml", ".yml", ".json")
_OPERATIONS = {
    FileStatus.ADDED: "CREATE",
    FileStatus.MODIFIED: "UPDATE",
    FileStatus.REMOVED: "DELETE",
    FileStatus.UNCHANGED: "CREATE",
}


@dataclass(frozen=True, slots=True)
class Subject:
    """One document to evaluate, as an admission request."""

    document: Document
    operation: str = "CREATE"
    old: dict[str, Any] | None = None  # UPDATE: the base version of the same resource


def load(tree: TrustedFiles, config: KyvernoConfig) -> tuple[PolicySet, list[Finding]]:
    """The policy set of ``config.paths`` read from ``tree``, and the findings about it (policy
    errors, missing paths, policy kinds and rules that are not evaluated)."""
    texts: list[tuple[str, str]] = []
    findings: list[Finding] = []
    for path in config.paths:
        found = [p for p in tree.files_under(path) if p.lower().endswith(POLICY_SUFFIXES)]
        if not found:
            findings.append(_missing(path, config))
        for name in found:
            content = tree.read(name)
            if content is None:
                continue
            try:
                texts.append((name, content.decode("utf-8")))
            except UnicodeDecodeError:
                problem = PolicyProblem(name, None, f"{name} is not UTF-8 text")
                findings.append(problem_finding(problem, config.on_error))
    policy_set = PolicySet.from_texts(texts)
    findings += [problem_finding(p, config.on_error) for p in policy_set.problems]
    findings += unsupported_findings(policy_set.policies)
    return policy_set, findings


def _missing(path: str, config: KyvernoConfig) -> Finding:
    return Finding(
        rule_id=POLICY_ERROR,
        category=Category.CONFIG,
        severity=config.on_error,
        message=f"policies.kyverno.paths: {path}: no policy files (*.yaml, *.yml, *.json) found",
        path=path,
        source=Source(engine=ENGINE),
        locator=f"missing|{path}",
    )


def subjects(
    files: Sequence[LoadedFile],
    *,
    status: Mapping[str, FileStatus] | None = None,
    base: Mapping[str, Sequence[Document]] | None = None,
) -> list[Subject]:
    """The manifest documents of ``files`` as requests. ``status`` (by path) gives the change
    of each file; ``base`` (by path) the documents of its base version, which are the old
    objects of an UPDATE and the objects of a DELETE (pass removed files only there)."""
    status = status or {}
    base = base or {}
    out: list[Subject] = []
    for loaded in files:
        if loaded.kind is not FileKind.MANIFEST:
            continue
        operation = _OPERATIONS.get(status.get(loaded.path, FileStatus.UNCHANGED), "CREATE")
        old_by_key = {_key(d.data): d.data for d in base.get(loaded.path, ()) if d.is_resource}
        for document in loaded.documents:
            if not document.is_resource:
                continue
            old = old_by_key.get(_key(document.data)) if operation == "UPDATE" else None
            # A resource new to a modified file is created by the change, not updated.
            op = "CREATE" if operation == "UPDATE" and old is None else operation
            out.append(Subject(document, op, old))
    for path, documents in base.items():
        if status.get(path) is not FileStatus.REMOVED:
            continue
        out.extend(Subject(d, "DELETE") for d in documents if d.is_resource)
    return out


def _key(data: Any) -> tuple[str, str, str]:
    metadata = data.get("metadata") if isinstance(data, dict) else None
    meta = metadata if isinstance(metadata, dict) else {}
    return (str(data.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def analyze(items: Sequence[Subject], policy_set: PolicySet) -> list[Finding]:
    """Findings of every rule result that fails (or errs), at the offending field, plus one
    notice per rule that could not be evaluated for what the gate cannot know."""
    if policy_set.empty:
        return []
    engine = Engine(policy_set)
    labels = namespace_labels(item.document for item in items)
    cel = CelInputs(
        mode=BindingMode.GATE,
        namespaces=namespace_objects(item.document for item in items),
        params=[item.document.data for item in items if item.operation != "DELETE"],
        exceptions=policy_set.exceptions,
    )
    findings: list[Finding] = []
    skipped: list[RuleResult] = []
    for item in items:
        resource = prepare_resource(item.document.data)
        old = prepare_resource(item.old) if item.old is not None else None
        namespace = str(resource["metadata"].get("namespace") or "")
        request = Request(
            resource=resource,
            operation=item.operation,
            old_resource=old,
            namespace_labels=labels.get(namespace),
            cel=cel,
            admission=True,
        )
        for result in engine.evaluate(request):
            if result.status is Status.SKIP and result.unsupported:
                skipped.append(result)
                continue
            finding = result_finding(result, item.document)
            if finding is not None:
                findings.append(finding)
    findings += unsupported_findings((), skipped)
    return findings


def namespace_objects(documents: Any) -> dict[str, dict[str, Any]]:
    """The Namespace objects among ``documents``, by name (CEL's ``namespaceObject``)."""
    return {
        document.name: document.data
        for document in documents
        if document.kind == "Namespace" and document.name
    }


def namespace_labels(documents: Any) -> dict[str, dict[str, str]]:
    """Labels of the Namespace objects among ``documents``, by name."""
    out: dict[str, dict[str, str]] = {}
    for document in documents:
        if document.kind != "Namespace" or not document.name:
            continue
        labels = document.metadata.get("labels")
        out[document.name] = (
            {str(k): "" if v is None else str(v) for k, v in labels.items()}
            if isinstance(labels, dict)
            else {}
        )
    return out
