"""Rego policies in ``gitops-gate check``: every manifest document evaluated as conftest would
(``input`` = the document, ``data.conftest.file`` = its path), or all of them at once with
``combine: true``; results become findings and exceptions allowances. The built-in library
(``policies.builtin``, ``builtin.py``) is compiled into the same engine and each document is
evaluated once for the rules of both.

Fail closed: a policy set that does not load or compile, an evaluation error, or a result object
without ``msg`` is a ``config/policy-error`` finding (severity ``on_error``, error by default) at
the policy file and line, and never a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.analyzers.rego.builtin import Builtin, combined_findings, document_findings
from bot.analyzers.rego.builtin import combined_input as builtin_combined_input
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
from bot.analyzers.rego.library import RESERVED_PACKAGE, declared_package, is_reserved_package
from bot.analyzers.rego.policyset import LocalPaths, PolicyPath, PolicySet, load_policy_set
from bot.analyzers.rego.results import CheckResult
from bot.analyzers.rego.settings import RegoConfig
from bot.core.allowance import Allowance
from bot.core.document import Document, LoadedFile
from bot.core.filekind import FileKind
from bot.core.finding import Finding, Severity
from bot.core.kustomize import patch_paths
from bot.core.trusted import TrustedFiles
from bot.engines.policy_engine import (
    EvalRequest,
    Evaluation,
    PolicyEngine,
    PolicyError,
    PolicyModule,
    RuleHead,
)


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
    builtin: Builtin | None = None,
) -> tuple[list[Finding], list[Allowance]]:
    """Findings and allowances of ``policy_set`` and of the built-in library (when given) on
    the manifest documents of ``files``. Both are compiled into one engine, once, and each
    document is evaluated once for the rules of both."""
    out = _Outcome()
    if policy_set.empty and builtin is None:
        return out.findings, out.allowances
    compiled = _compile(engine, policy_set, builtin, config, out)
    user = _user_rules(compiled, config, out) if compiled.user_ok else None
    lib = builtin if compiled.library_ok else None
    if user is None and lib is None:
        return out.findings, out.allowances
    documents = [
        doc for loaded in files if loaded.kind is FileKind.MANIFEST for doc in loaded.documents
    ]
    if not documents:
        return out.findings, out.allowances
    patches = patch_paths(files) if lib is not None else frozenset()
    _each(engine, user, lib, documents, patches, config, out)
    if user is not None and config.combine:
        _combined(engine, user.index, user.namespaces, user.refs, documents, config, out)
    if lib is not None:
        _library_combined(engine, lib, [d for d in documents if d.path not in patches], config, out)
    return out.findings, out.allowances


@dataclass(frozen=True, slots=True)
class _Compiled:
    heads: list[RuleHead]  # the user's rules (the library's are not theirs to namespace)
    user_ok: bool  # the user's policies loaded without error: evaluate them
    library_ok: bool  # the library loaded without error (and no error hides where)


@dataclass(frozen=True, slots=True)
class _UserRules:
    index: RuleIndex
    namespaces: Sequence[str]
    refs: Sequence[str]


def _compile(
    engine: PolicyEngine,
    policy_set: PolicySet,
    builtin: Builtin | None,
    config: RegoConfig,
    out: _Outcome,
) -> _Compiled:
    """One compile of the user's modules and the library's. A user module in the library's
    package root is left out (its rules would merge into the library's and could change its
    answers), and so is user data under ``data.gitops_gate``. Errors of the user's modules stop
    the user's rules only; an error of the library, or one that names no module, stops
    everything (fail closed)."""
    user_modules = list(policy_set.modules)
    library_modules = list(builtin.library.modules) if builtin is not None else []
    owned = builtin.library.owns if builtin is not None else _nothing
    data: dict[str, Any] = dict(policy_set.data)
    user_errors: list[PolicyError] = []
    if builtin is not None:
        user_errors += [_reserved_error(m) for m in user_modules if _reserved_module(m)]
        user_modules = [m for m in user_modules if not _reserved_module(m)]
        if RESERVED_PACKAGE in data:
            user_errors.append(
                PolicyError(
                    f"data.{RESERVED_PACKAGE} is reserved for the built-in policy library "
                    "(policies.builtin); the policy data's value there is ignored"
                )
            )
        data[RESERVED_PACKAGE] = builtin.selection.data[RESERVED_PACKAGE]
    heads, errors = engine.compile([*user_modules, *library_modules], data)
    user_heads = [h for h in heads if not owned(h.path)]
    errors += problematic_if(policy_set.modules, user_heads)
    global_errors = [e for e in errors if e.path is None or owned(e.path)]
    if builtin is not None:
        # A package clause the check above could not read: the engine's rules tell.
        global_errors += [
            _reserved_error_at(h.package, h.path, h.line)
            for h in user_heads
            if is_reserved_package(h.package)
        ]
    user_errors += [e for e in errors if e not in global_errors]
    for error in [*dict.fromkeys(global_errors), *dict.fromkeys(user_errors)]:
        out.findings.append(policy_error_finding(error, config.on_error))
    return _Compiled(
        heads=user_heads,
        user_ok=bool(policy_set.modules) and not global_errors and not user_errors,
        library_ok=builtin is not None and not global_errors,
    )


def _nothing(_path: str | None) -> bool:
    return False


def _reserved_module(module: PolicyModule) -> bool:
    declared = declared_package(module.text)
    return declared is not None and is_reserved_package(declared[0])


def _reserved_error(module: PolicyModule) -> PolicyError:
    package, line = declared_package(module.text) or (RESERVED_PACKAGE, 1)
    return _reserved_error_at(package, module.path, line)


def _reserved_error_at(package: str, path: str, line: int) -> PolicyError:
    message = (
        f"package {package} is reserved for gitops-gate's built-in policy library "
        "(policies.builtin); rename the package"
    )
    return PolicyError(message, path, line)


def _user_rules(compiled: _Compiled, config: RegoConfig, out: _Outcome) -> _UserRules | None:
    index = RuleIndex.from_heads(compiled.heads)
    try:
        namespaces = resolve_namespaces(
            config.namespaces, index.packages, all_namespaces=config.all_namespaces
        )
    except ValueError as exc:
        out.findings.append(
            policy_error_finding(PolicyError(f"namespaces: {exc}"), config.on_error)
        )
        return None
    refs = index.refs(namespaces)
    if not refs:
        names = ", ".join(namespaces) or ", ".join(config.namespaces)
        message = (
            f"no deny, violation or warn rules in namespace(s) {names} of the policies "
            f"({', '.join(index.packages) or 'no packages'}); nothing was evaluated"
        )
        out.findings.append(policy_error_finding(PolicyError(message), Severity.WARNING))
        return None
    return _UserRules(index, namespaces, refs)


def _each(
    engine: PolicyEngine,
    user: _UserRules | None,
    builtin: Builtin | None,
    documents: Sequence[Document],
    patches: frozenset[str],
    config: RegoConfig,
    out: _Outcome,
) -> None:
    """Every document once, for the user's per-document rules and the library's rules that
    apply at its path; documents asking for the same refs share one ``evaluate`` call."""
    user_refs: tuple[str, ...] = ()
    if user is not None and not config.combine:
        user_refs = tuple(user.refs)
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Document]] = {}
    for doc in documents:
        lib_refs: tuple[str, ...] = ()
        if builtin is not None and isinstance(doc.data, dict):
            lib_refs = builtin.document_refs(doc.path)
        if user_refs or lib_refs:
            groups.setdefault((user_refs, lib_refs), []).append(doc)
    failed: dict[PolicyError, list[Document]] = {}
    for (u_refs, lib_refs), docs in groups.items():
        requests = [EvalRequest(doc.data, file_info(doc.path, absolute=False)) for doc in docs]
        evaluations = engine.evaluate([*u_refs, *lib_refs], requests)
        for doc, evaluation in zip(docs, evaluations, strict=True):
            if evaluation.error is not None:
                failed.setdefault(evaluation.error, []).append(doc)
                continue
            if user is not None and u_refs:
                _user_findings(user, evaluation, doc, failed, out)
            if builtin is not None and lib_refs:
                out.findings.extend(
                    document_findings(
                        builtin, evaluation.values, lib_refs, doc, patch=doc.path in patches
                    )
                )
    for error, docs in failed.items():
        out.findings.append(policy_error_finding(error, config.on_error, context=_which(docs)))


def _user_findings(
    user: _UserRules,
    evaluation: Evaluation,
    doc: Document,
    failed: dict[PolicyError, list[Document]],
    out: _Outcome,
) -> None:
    for namespace in user.namespaces:
        result = _check(user.index, namespace, evaluation, doc.path)
        if isinstance(result, PolicyError):
            failed.setdefault(result, []).append(doc)
            continue
        findings, allowances = policy_findings(result, doc)
        out.findings.extend(findings)
        out.allowances.extend(allowances)


def _library_combined(
    engine: PolicyEngine,
    builtin: Builtin,
    documents: Sequence[Document],
    config: RegoConfig,
    out: _Outcome,
) -> None:
    """The library's cross-document packages, once over every (non-patch) document."""
    refs = builtin.combined_refs()
    documents = [doc for doc in documents if isinstance(doc.data, dict)]
    if not refs or not documents:
        return
    (evaluation,) = engine.evaluate(refs, [EvalRequest(builtin_combined_input(documents))])
    if evaluation.error is not None:
        context = "the built-in library's combined rules"
        out.findings.append(
            policy_error_finding(evaluation.error, config.on_error, context=context)
        )
        return
    out.findings.extend(combined_findings(builtin, evaluation.values, refs, documents))


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
