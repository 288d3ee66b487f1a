"""``gitops-gate rego test`` and ``rego verify`` without the command line: conftest's runs.

Every problem conftest treats as fatal (an unreadable input, a policy that does not compile, an
evaluation error, a result object without ``msg``) raises RunError with a message naming the
file and line; the command prints it as ``Error: ...`` and exits 1 with nothing on stdout.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.analyzers.rego.conftest import (
    COMBINED,
    MessageError,
    RuleIndex,
    check_file,
    combined_input,
    file_info,
    go_path_match,
    problematic_if,
    resolve_namespaces,
)
from bot.analyzers.rego.inputs import STDIN, InputError, expand_arguments, parse_input
from bot.analyzers.rego.policyset import LocalPaths, PolicyPath, PolicySet, load_policy_set
from bot.analyzers.rego.results import CheckResult, Result
from bot.core.document import decode
from bot.core.trusted import TrustedFiles
from bot.engines.policy_engine import (
    EvalRequest,
    Evaluation,
    PolicyEngine,
    PolicyError,
    PolicyModule,
    RegoVersion,
)

# The engine's hint names the config key; on the command line the flag is what to change.
_CONFIG_HINT = re.compile(r"set rego_version: (v[01]) for this policy path")


class RunError(Exception):
    """A run conftest would abort: printed as ``Error: <message>``, exit code 1."""


class TestOutcome(Protocol):
    """One Rego unit test as the engine's verify runner reports it (``RegorusEngine``'s
    ``TestResult``)."""

    @property
    def package(self) -> str: ...  # "main", "kubernetes.security"
    @property
    def name(self) -> str: ...  # "test_denies_root"
    @property
    def path(self) -> str: ...  # the module that defines it
    @property
    def line(self) -> int: ...
    @property
    def passed(self) -> bool: ...
    @property
    def skipped(self) -> bool: ...  # todo_test_*
    @property
    def error(self) -> PolicyError | None: ...


class TestingEngine(PolicyEngine, Protocol):
    def run_tests(
        self, modules: Sequence[PolicyModule], data: Mapping[str, Any]
    ) -> tuple[Sequence[TestOutcome], list[PolicyError]]: ...


@dataclass(frozen=True, slots=True)
class TestOptions:
    files: Sequence[str]
    policies: Sequence[str] = ("policy",)
    namespaces: Sequence[str] = ("main",)
    all_namespaces: bool = False
    data: Sequence[str] = ()
    combine: bool = False
    parser: str | None = None
    rego_version: str = "v1"
    ignore: str | None = None  # regex: paths found in folders that are not tested


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    policies: Sequence[str] = ("policy",)
    data: Sequence[str] = ()
    namespaces: Sequence[str] = ()  # globs over packages; empty: every test is reported
    rego_version: str = "v1"


@dataclass(slots=True)
class _Input:
    path: str
    documents: list[Any] = field(default_factory=list)


def parse_rego_version(value: str) -> RegoVersion:
    lowered = value.lower()
    if lowered not in ("v0", "v1"):
        raise RunError(f"invalid Rego version: {value} (use v0 or v1)")
    return RegoVersion(lowered)


def run_test(
    options: TestOptions,
    engine: PolicyEngine,
    *,
    tree: TrustedFiles | None = None,
    read_stdin: Callable[[], bytes] = lambda: sys.stdin.buffer.read(),
) -> list[CheckResult]:
    inputs = _read_inputs(options, read_stdin)
    version = parse_rego_version(options.rego_version)
    policy_set = _load(tree or LocalPaths(), options.policies, options.data, version)
    index = _compile(engine, policy_set)
    namespaces = _namespaces(options.namespaces, index, all_namespaces=options.all_namespaces)
    refs = index.refs(namespaces)
    if options.combine:
        documents = [(item.path, doc) for item in inputs for doc in item.documents]
        request = EvalRequest(combined_input(documents), file_info(COMBINED))
        (evaluation,) = _evaluate(engine, refs, [request], [COMBINED])
        combined = [_checked(index, ns, [evaluation], COMBINED) for ns in namespaces]
        if combined:
            combined[0].prints = list(evaluation.prints)
        return combined
    requests = [EvalRequest(doc, file_info(item.path)) for item in inputs for doc in item.documents]
    owners = [item.path for item in inputs for _ in item.documents]
    evaluations = _evaluate(engine, refs, requests, owners)
    by_file: dict[str, list[Evaluation]] = {item.path: [] for item in inputs}
    for owner, evaluation in zip(owners, evaluations, strict=True):
        by_file[owner].append(evaluation)
    results: list[CheckResult] = []
    for position, namespace in enumerate(namespaces):
        for item in inputs:
            found = by_file[item.path]
            result = _checked(index, namespace, found, item.path)
            if position == 0:
                # print() output belongs to the file's evaluation, not to one namespace.
                result.prints = [line for evaluation in found for line in evaluation.prints]
            results.append(result)
    return results


def run_verify(
    options: VerifyOptions, engine: TestingEngine, *, tree: TrustedFiles | None = None
) -> list[CheckResult]:
    version = parse_rego_version(options.rego_version)
    policy_set = _load(tree or LocalPaths(), options.policies, options.data, version)
    _compile(engine, policy_set)  # conftest verify loads the set as test does: same errors
    outcomes, errors = engine.run_tests(policy_set.modules, policy_set.data)
    if errors:
        raise RunError(_describe_all(errors))
    try:
        matchers = [go_path_match(p) for p in options.namespaces]
    except ValueError as exc:
        raise RunError(f"--namespace: {exc}") from None
    results: list[CheckResult] = []
    for outcome in sorted(outcomes, key=lambda o: (o.path, o.line, o.name)):
        if matchers and not any(m.fullmatch(outcome.package) for m in matchers):
            continue
        if outcome.error is not None:
            raise RunError(f"{outcome.package}.{outcome.name}: {describe(outcome.error)}")
        result = CheckResult(outcome.path, "")
        name = Result(f"data.{outcome.package}.{outcome.name}")
        if outcome.skipped:
            result.skipped.append(name)
        elif outcome.passed:
            result.successes = 1
        else:
            result.failures.append(name)
        results.append(result)
    return results


def describe(error: PolicyError) -> str:
    """``policy/deny.rego:7:3: message``: the place first, once."""
    message = _CONFIG_HINT.sub(r"run with --rego-version \1", error.message)
    error = PolicyError(message, error.path, error.line, error.column)
    where = ""
    if error.path:
        where = error.path
        if error.line:
            where += f":{error.line}"
            if error.column:
                where += f":{error.column}"
    if not where or error.message.startswith(error.path or "\0"):
        return error.message
    return f"{where}: {error.message}"


def _describe_all(errors: Sequence[PolicyError]) -> str:
    text = describe(errors[0])
    if len(errors) > 1:
        more = len(errors) - 1
        text += "".join(f"\n  {describe(e)}" for e in errors[1:10])
        if more > 9:
            text += f"\n  ... and {more - 9} more"
    return text


def _read_inputs(options: TestOptions, read_stdin: Callable[[], bytes]) -> list[_Input]:
    if not options.files:
        raise RunError("missing required arguments: the files to test")
    try:
        paths = list(dict.fromkeys(expand_arguments(options.files, options.ignore)))
    except InputError as exc:
        raise RunError(str(exc)) from None
    inputs: list[_Input] = []
    for path in sorted(paths):
        content = read_stdin() if path == STDIN else _read_file(path)
        text, problems = decode(path, content)
        if text is None:
            raise RunError(f"{path}: {problems[0].message}" if problems else f"{path}: unreadable")
        try:
            value = parse_input(path, text, options.parser)
        except InputError as exc:
            where = f"{path}:{exc.line}" if exc.line else path
            raise RunError(f"{where}: {exc.message}") from None
        inputs.append(_Input(path, value if isinstance(value, list) else [value]))
    return inputs


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise RunError(f"{path}: {exc.strerror or exc}") from None


def _load(
    tree: TrustedFiles, policies: Sequence[str], data: Sequence[str], version: RegoVersion
) -> PolicySet:
    policy_set, errors = load_policy_set(tree, [PolicyPath(p, version) for p in policies], data)
    if errors:
        raise RunError(_describe_all(errors))
    return policy_set


def _compile(engine: PolicyEngine, policy_set: PolicySet) -> RuleIndex:
    heads, errors = engine.compile(policy_set.modules, policy_set.data)
    errors += problematic_if(policy_set.modules, heads)
    if errors:
        raise RunError(_describe_all(errors))
    return RuleIndex.from_heads(heads)


def _namespaces(patterns: Sequence[str], index: RuleIndex, *, all_namespaces: bool) -> list[str]:
    try:
        return resolve_namespaces(patterns, index.packages, all_namespaces=all_namespaces)
    except ValueError as exc:
        raise RunError(f"--namespace: {exc}") from None


def _evaluate(
    engine: PolicyEngine,
    refs: Sequence[str],
    requests: Sequence[EvalRequest],
    owners: Sequence[str],
) -> list[Evaluation]:
    if not refs:
        return [Evaluation({}) for _ in requests]
    evaluations = engine.evaluate(refs, requests)
    for owner, evaluation in zip(owners, evaluations, strict=True):
        if evaluation.error is not None:
            raise RunError(f"{describe(evaluation.error)} (evaluating {owner})")
    return evaluations


def _checked(
    index: RuleIndex, namespace: str, evaluations: Sequence[Evaluation], filename: str
) -> CheckResult:
    try:
        return check_file(index, namespace, evaluations, filename)
    except MessageError as exc:
        head = index.heads.get((exc.namespace, exc.rule))
        where = f"{head.path}:{head.line}: " if head else ""
        raise RunError(f"{where}{exc}") from None
