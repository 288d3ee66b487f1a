"""Rego policies in ``gitops-gate check``: every manifest document evaluated as conftest would
(``input`` = the document, ``data.conftest.file`` = its path), or all of them at once with
``combine: true``; results become findings and exceptions allowances.

Fail closed: a policy set that does not load or compile, an evaluation error, or a result object
without ``msg`` is a ``config/policy-error`` finding (severity ``on_error``, error by default) at
the policy file and line, and never a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.analyzers.rego.conftest import (
    COMBINED,
    MessageError,
    RuleIndex,
    check,
    combined_input,
    file_info,
    problematic_if,
    resolve_namespaces,
)
from bot.analyzers.rego.findings import policy_error_finding, policy_findings
from bot.analyzers.rego.policyset import LocalPaths, PolicyPath, PolicySet, load_policy_set
from bot.analyzers.rego.results import CheckResult
from bot.analyzers.rego.settings import RegoConfig
from bot.core.allowance import Allowance
from bot.core.document import Document, LoadedFile
from bot.core.filekind import FileKind
from bot.core.finding import Finding, Severity
from bot.core.trusted import TrustedFiles
from bot.engines.policy_engine import EvalRequest, Evaluation, PolicyEngine, PolicyError


@dataclass(slots=True)
class _Outcome:
    findings: list[Finding] = field(default_factory=list)
    allowances: list[Allowance] = field(default_factory=list)


def load(
    tree: TrustedFiles,
    config: RegoConfig,
    *,
    extra_paths: Sequence[str] = (),
    extra_tree: TrustedFiles | None = None,
) -> tuple[PolicySet, list[Finding]]:
    """The configured policy set from the trusted tree (the base commit on a pull request),
    plus ``extra_paths`` (``check --policy P``) read from ``extra_tree`` (default: the local
    file system, where the person running the command chose them)."""
    policy_set, errors = load_policy_set(tree, config.paths, config.data)
    if extra_paths:
        versions = [PolicyPath(p, config.rego_version) for p in extra_paths]
        extra_set, extra_errors = load_policy_set(extra_tree or LocalPaths(), versions)
        known = {m.path for m in policy_set.modules}
        modules = (*policy_set.modules, *(m for m in extra_set.modules if m.path not in known))
        policy_set = replace(policy_set, modules=modules)
        errors += extra_errors
    return policy_set, [policy_error_finding(e, config.on_error) for e in errors]


def analyze(
    files: Sequence[LoadedFile],
    policy_set: PolicySet,
    engine: PolicyEngine,
    config: RegoConfig,
) -> tuple[list[Finding], list[Allowance]]:
    """Findings and allowances of ``policy_set`` on the manifest documents of ``files``."""
    out = _Outcome()
    if policy_set.empty:
        return out.findings, out.allowances
    heads, errors = engine.compile(policy_set.modules, policy_set.data)
    errors += problematic_if(policy_set.modules, heads)
    if errors:
        return [policy_error_finding(e, config.on_error) for e in errors], []
    index = RuleIndex.from_heads(heads)
    try:
        namespaces = resolve_namespaces(
            config.namespaces, index.packages, all_namespaces=config.all_namespaces
        )
    except ValueError as exc:
        return [policy_error_finding(PolicyError(f"namespaces: {exc}"), config.on_error)], []
    refs = index.refs(namespaces)
    if not refs:
        names = ", ".join(namespaces) or ", ".join(config.namespaces)
        message = (
            f"no deny, violation or warn rules in namespace(s) {names} of the policies "
            f"({', '.join(index.packages) or 'no packages'}); nothing was evaluated"
        )
        return [policy_error_finding(PolicyError(message), Severity.WARNING)], []
    documents = [
        doc for loaded in files if loaded.kind is FileKind.MANIFEST for doc in loaded.documents
    ]
    if not documents:
        return out.findings, out.allowances
    if config.combine:
        _combined(engine, index, namespaces, refs, documents, config, out)
    else:
        _each(engine, index, namespaces, refs, documents, config, out)
    return out.findings, out.allowances


def _each(
    engine: PolicyEngine,
    index: RuleIndex,
    namespaces: Sequence[str],
    refs: Sequence[str],
    documents: Sequence[Document],
    config: RegoConfig,
    out: _Outcome,
) -> None:
    requests = [EvalRequest(doc.data, file_info(doc.path, absolute=False)) for doc in documents]
    evaluations = engine.evaluate(refs, requests)
    failed: dict[PolicyError, list[Document]] = {}
    for doc, evaluation in zip(documents, evaluations, strict=True):
        if evaluation.error is not None:
            failed.setdefault(evaluation.error, []).append(doc)
            continue
        for namespace in namespaces:
            result = _check(index, namespace, evaluation, doc.path)
            if isinstance(result, PolicyError):
                failed.setdefault(result, []).append(doc)
                continue
            findings, allowances = policy_findings(result, doc)
            out.findings.extend(findings)
            out.allowances.extend(allowances)
    for error, docs in failed.items():
        out.findings.append(policy_error_finding(error, config.on_error, context=_which(docs)))


def _combined(
    engine: PolicyEngine,
    index: RuleIndex,
    namespaces: Sequence[str],
    refs: Sequence[str],
    documents: Sequence[Document],
    config: RegoConfig,
    out: _Outcome,
) -> None:
    request = EvalRequest(
        combined_input((doc.path, doc.data) for doc in documents),
        {"name": COMBINED, "dir": ""},
    )
    (evaluation,) = engine.evaluate(refs, [request])
    if evaluation.error is not None:
        out.findings.append(
            policy_error_finding(evaluation.error, config.on_error, context="combined input")
        )
        return
    by_path: dict[str, list[Document]] = {}
    for doc in documents:
        by_path.setdefault(doc.path, []).append(doc)
    for namespace in namespaces:
        result = _check(index, namespace, evaluation, COMBINED)
        if isinstance(result, PolicyError):
            out.findings.append(
                policy_error_finding(result, config.on_error, context="combined input")
            )
            continue
        findings, allowances = policy_findings(result, None, by_path)
        out.findings.extend(findings)
        out.allowances.extend(allowances)


def _check(
    index: RuleIndex, namespace: str, evaluation: Evaluation, filename: str
) -> CheckResult | PolicyError:
    """The conftest result, or the error of a result object without ``msg`` (at its rule)."""
    try:
        return check(index, namespace, evaluation.values, filename)
    except MessageError as exc:
        head = index.heads.get((exc.namespace, exc.rule))
        return PolicyError(str(exc), head.path if head else None, head.line if head else None)


def _which(documents: Sequence[Document]) -> str:
    first = documents[0]
    where = f"{first.path}, document {first.index + 1}"
    if len(documents) == 1:
        return f"evaluating {where}"
    return f"evaluating {len(documents)} documents, first {where}"
