"""``kyverno test`` files run against this engine (reference/kyverno-semantics.md §11; kyverno
``cmd/cli/kubectl-kyverno/commands/test``).

A ``kyverno-test.yaml`` names policies, resources, an optional values file (``variables``) and
user info (``userinfo``), and the results it expects. Resources are prepared as the Kyverno CLI
prepares them (namespaced resources without a namespace land in ``default``; ``null`` labels
and annotations become ``{}``; every number is a float64), each policy is applied to each
resource, and every expected result is looked up by policy, rule (or its ``autogen-`` names),
kind and resource name:

- an engine result equal to the expectation passes, any other fails ("Want pass, got fail");
- no result for a rule that did not match is "excluded" and passes, as in kyverno test;
- an unknown policy or resource fails ("Not found");
- a result this engine cannot give (a mutate rule, a context entry that needs a cluster and
  no value for it, a CEL expression that needs the cluster or the admission user) is reported
  as not checked, with the reason, never as a pass.

CEL policies are bound as the Kyverno CLI binds them (``cel_bindings.BindingMode.CLI``):
``paramResources`` are the parameter objects, ``exceptions`` files (and PolicyExceptions next
to the policies) the ``policies.kyverno.io`` exceptions, a ``context`` file the resources and
images ``resource.Get``/``List`` and ``image.GetMetadata`` return. Rows flagged
``isValidatingPolicy`` (and the other CEL kinds' flags) are compared with every result of the
policy whatever its rule name, as kyverno test does; a row without the flag names a rule, and
a ValidatingPolicy's result (named ``validation`` by Kyverno) is then "excluded".

``kyverno.io`` PolicyExceptions (in ``exceptions`` files or next to the policies) apply to
ClusterPolicy/Policy rules: a rule they cover gives ``skip`` (``exceptions``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.analyzers.kyverno.autogen import autogen_names
from bot.analyzers.kyverno.cel.context import FakeContext
from bot.analyzers.kyverno.cel_bindings import BindingMode, CelInputs
from bot.analyzers.kyverno.cel_exceptions import (
    CelException,
    ExceptionError,
    is_exception_document,
    read_exception,
)
from bot.analyzers.kyverno.cel_resources import api_resource
from bot.analyzers.kyverno.engine import Engine, Request, RuleResult
from bot.analyzers.kyverno.exceptions import (
    PolicyException,
    is_policy_exception_document,
    read_policy_exception,
)
from bot.analyzers.kyverno.match import RequestInfo, request_info
from bot.analyzers.kyverno.policy import Policy, PolicyProblem, PolicySet, load_policies
from bot.analyzers.kyverno.resources import prepare_resource
from bot.analyzers.kyverno.results import CheckedRow, EngineRow, Outcome
from bot.core.document import Document, load_text
from bot.core.filekind import FileKind

TEST_FILE = "kyverno-test.yaml"
_CEL_FLAGS = (
    "isValidatingAdmissionPolicy",
    "isMutatingAdmissionPolicy",
    "isValidatingPolicy",
    "isMutatingPolicy",
    "isGeneratingPolicy",
    "isImageValidatingPolicy",
    "isDeletingPolicy",
)


class SuiteFileError(Exception):
    """A test file, or a file it names, that cannot be read."""


@dataclass(frozen=True, slots=True)
class Expectation:
    policy: str
    rule: str
    kind: str
    resources: tuple[str, ...]
    result: str
    cel_policy: bool = False  # a ValidatingPolicy-style row: no rule name


@dataclass(slots=True)
class ValuesFile:
    """A kyverno CLI ``Values`` document (``variables:`` of a test file)."""

    global_values: dict[str, Any] = field(default_factory=dict)
    resource_values: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    rule_values: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # ``foreachValues`` of a rule: variable name -> one value per foreach element index.
    foreach_values: dict[tuple[str, str], dict[str, list[Any]]] = field(default_factory=dict)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    # ``namespaces``: whole Namespace objects (CEL policies' namespaceObject).
    namespace_objects: dict[str, dict[str, Any]] = field(default_factory=dict)

    def for_resource(self, policy: str, resource: str) -> Mapping[str, Any]:
        values = {**self.global_values, **self.resource_values.get((policy, resource), {})}
        values.setdefault("request.operation", "CREATE")
        return values

    def for_rule(self, policy: str, rule: str) -> Mapping[str, Any]:
        return self.rule_values.get((policy, rule), {})

    def foreach_for_rule(self, policy: str, rule: str) -> Mapping[str, Sequence[Any]]:
        return self.foreach_values.get((policy, rule), {})


@dataclass(slots=True)
class SuiteResult:
    path: str  # the test file, as given
    name: str
    rows: list[CheckedRow] = field(default_factory=list)
    engine_rows: list[EngineRow] = field(default_factory=list)
    error: str | None = None  # the test could not be run at all
    problems: list[PolicyProblem] = field(default_factory=list)
    # What the test file names but could not be used, the run going on without it.
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error is not None or any(r.outcome is Outcome.FAIL for r in self.rows)


def discover(paths: Sequence[str | Path], file_name: str = TEST_FILE) -> list[Path]:
    """Every test file under ``paths`` (files are taken as given), sorted."""
    found: list[Path] = []
    for raw in paths:
        root = Path(raw)
        if root.is_file():
            found.append(root)
            continue
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            if file_name in files:
                found.append(Path(folder) / file_name)
    return sorted(set(found))


def run_tests(paths: Sequence[str | Path], file_name: str = TEST_FILE) -> list[SuiteResult]:
    return [run_test_file(path) for path in discover(paths, file_name)]


def run_test_file(path: Path) -> SuiteResult:
    try:
        spec = _read_test(path)
    except SuiteFileError as exc:
        return SuiteResult(str(path), path.parent.name, error=str(exc))
    name = _test_name(spec, path)
    suite = SuiteResult(str(path), name)
    try:
        _run(spec, path.parent, suite)
    except SuiteFileError as exc:
        suite.error = str(exc)
    return suite


# -- loading -----------------------------------------------------------------------------------


def _read_test(path: Path) -> dict[str, Any]:
    documents = _documents(path)
    if not documents or not isinstance(documents[0].data, dict):
        raise SuiteFileError(f"{path}: not a kyverno test file (a mapping was expected)")
    data: dict[str, Any] = documents[0].data
    return data


def _test_name(spec: Mapping[str, Any], path: Path) -> str:
    metadata = spec.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
        return str(metadata["name"])
    name = spec.get("name")
    return name if isinstance(name, str) else path.parent.name


def _documents(path: Path) -> list[Document]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteFileError(f"{path}: cannot read: {exc}") from None
    loaded = load_text(str(path), text, FileKind.MANIFEST)
    errors = [f for f in loaded.findings if f.severity.value == "error"]
    if errors:
        first = errors[0]
        raise SuiteFileError(f"{path}:{first.line}: {first.message}")
    return loaded.documents


def _files(base: Path, entries: Any, what: str) -> list[Path]:
    if entries is None:
        return []
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise SuiteFileError(f"{what} must be a list of file paths")
    out: list[Path] = []
    for entry in entries:
        if "://" in entry:
            raise SuiteFileError(f"{what}: {entry}: remote files are not supported (no network)")
        target = base / entry
        if target.is_dir():
            out.extend(
                sorted(p for p in target.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
            )
        elif target.is_file():
            out.append(target)
        else:
            raise SuiteFileError(f"{what}: {entry}: no such file")
    return out


@dataclass(slots=True)
class _Loaded:
    """The policies of a test and the PolicyExceptions of its policy and exceptions files."""

    policies: list[Policy] = field(default_factory=list)
    problems: list[PolicyProblem] = field(default_factory=list)
    cel_exceptions: list[CelException] = field(default_factory=list)
    exceptions: list[PolicyException] = field(default_factory=list)


def _policies(base: Path, spec: Mapping[str, Any]) -> _Loaded:
    out = _Loaded()
    for path in _files(base, spec.get("policies"), "policies"):
        loaded = load_policies(str(path), path.read_text(encoding="utf-8"))
        out.policies.extend(loaded.policies)
        out.problems.extend(loaded.problems)
        out.cel_exceptions.extend(loaded.exceptions)
        out.exceptions.extend(loaded.policy_exceptions)
    return out


def _exceptions(base: Path, spec: Mapping[str, Any], out: _Loaded) -> None:
    """The PolicyExceptions of the test's ``exceptions`` files: ``policies.kyverno.io`` ones
    for CEL policies, ``kyverno.io`` ones for ClusterPolicy/Policy rules."""
    for path in _files(base, spec.get("exceptions"), "exceptions"):
        for doc in _documents(path):
            try:
                if is_exception_document(doc.data):
                    out.cel_exceptions.append(read_exception(doc))
                elif is_policy_exception_document(doc.data):
                    out.exceptions.append(read_policy_exception(doc))
            except ExceptionError as exc:
                line = doc.locate(exc.where).line
                raise SuiteFileError(f"{path}:{line}: {exc}") from None


def _context(base: Path, spec: Mapping[str, Any], suite: SuiteResult) -> FakeContext | None:
    """The ``context`` file (kind ``Context``): resources for resource.Get/List and images
    for image.GetMetadata, as the Kyverno CLI's fake context provider serves them. A missing
    file is a note, not the end of the test: what it would hold is then unknown, so the
    expressions that read it are skipped with the reason."""
    if spec.get("context") is None:
        return None
    try:
        files = _files(base, spec.get("context"), "context")
    except SuiteFileError as exc:
        suite.notes.append(f"{exc}; the cluster data it holds is treated as unknown")
        return None
    documents = _documents(files[0]) if files else []
    data = documents[0].data if documents else None
    inner = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(inner, dict):
        raise SuiteFileError(f"context: {spec.get('context')}: not a Context file")
    resources: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in _maps(inner.get("resources")):
        api_version, kind = str(item.get("apiVersion", "")), str(item.get("kind", ""))
        key = (api_version, api_resource(api_version, kind).resource)
        resources.setdefault(key, []).append(item)
    images = {
        str(item["image"]): {k: v for k, v in item.items() if k != "image"}
        for item in _maps(inner.get("images"))
        if isinstance(item.get("image"), str)
    }
    return FakeContext(resources, images)


def _params(base: Path, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``paramResources`` objects (parameters of validate.cel rules)."""
    return [
        doc.data
        for path in _files(base, spec.get("paramResources"), "paramResources")
        for doc in _documents(path)
        if isinstance(doc.data, dict) and doc.kind
    ]


def _resources(base: Path, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str, str]] = set()
    for path in _files(base, spec.get("resources"), "resources"):
        for doc in _documents(path):
            if not isinstance(doc.data, dict) or not doc.kind:
                continue
            resource = prepare_resource(doc.data, float_numbers=True)
            key = _identity(resource)
            if key in seen:
                continue  # kyverno test keeps the first of duplicated resources
            seen.add(key)
            out.append(resource)
    return out


def _identity(resource: Mapping[str, Any]) -> tuple[str, str, str, str]:
    metadata = resource.get("metadata") or {}
    return (
        str(resource.get("apiVersion", "")),
        str(resource.get("kind", "")),
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
    )


def _values(base: Path, spec: Mapping[str, Any]) -> ValuesFile | None:
    inline = spec.get("values")
    path = spec.get("variables")
    if isinstance(inline, dict):
        return parse_values(inline)
    if path is None:
        return None
    return parse_values(_mapping_file(base, path, "variables", "a values file"))


def parse_values(data: Mapping[str, Any]) -> ValuesFile:
    values = ValuesFile()
    if isinstance(data.get("globalValues"), dict):
        values.global_values = dict(data["globalValues"])
    for policy in _maps(data.get("policies")):
        name = str(policy.get("name", ""))
        for resource in _maps(policy.get("resources")):
            if isinstance(resource.get("values"), dict):
                key = (name, str(resource.get("name", "")))
                values.resource_values[key] = dict(resource["values"])
        for rule in _maps(policy.get("rules")):
            rule_name = str(rule.get("name", ""))
            if isinstance(rule.get("values"), dict):
                values.rule_values[(name, rule_name)] = dict(rule["values"])
            if rule.get("foreachValues") is not None:
                values.foreach_values[(name, rule_name)] = _foreach_values(
                    rule["foreachValues"], name, rule_name
                )
    for selector in _maps(data.get("namespaceSelector")):
        labels = selector.get("labels")
        if isinstance(labels, dict):
            values.namespace_labels[str(selector.get("name", ""))] = {
                str(k): str(v) for k, v in labels.items()
            }
    for namespace in _maps(data.get("namespaces")):
        metadata = namespace.get("metadata")
        if isinstance(metadata, dict) and metadata.get("name"):
            values.namespace_objects.setdefault(str(metadata["name"]), namespace)
        if isinstance(metadata, dict) and isinstance(metadata.get("labels"), dict):
            values.namespace_labels.setdefault(
                str(metadata.get("name", "")),
                {str(k): str(v) for k, v in metadata["labels"].items()},
            )
    return values


def _foreach_values(value: Any, policy: str, rule: str) -> dict[str, list[Any]]:
    """A rule's ``foreachValues``: each variable has one value per foreach element."""
    if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
        raise SuiteFileError(
            f"values: foreachValues of rule {rule} of policy {policy} must map each variable "
            "to a list (one value per foreach element)"
        )
    return {str(k): list(v) for k, v in value.items()}


def _maps(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _user_info(base: Path, spec: Mapping[str, Any]) -> RequestInfo | None:
    path = spec.get("userinfo")
    if path is None:
        return None
    data = _mapping_file(base, path, "userinfo", "a user info file")
    # The deprecated layout nests everything under requestInfo.
    inner = data.get("requestInfo")
    return request_info(inner if isinstance(inner, dict) else data)


def _mapping_file(base: Path, path: Any, field: str, what: str) -> dict[str, Any]:
    """The mapping that the file named by the suite's ``field`` holds (its first document)."""
    files = _files(base, path, field)
    documents = _documents(files[0]) if files else []
    data = documents[0].data if documents else None
    if not isinstance(data, dict):
        raise SuiteFileError(f"{field}: {path}: not {what}")
    return data


def _expectations(spec: Mapping[str, Any]) -> list[Expectation]:
    out = []
    for i, item in enumerate(spec.get("results") or []):
        if not isinstance(item, dict):
            raise SuiteFileError(f"results[{i}] must be a mapping")
        resources = item.get("resources")
        if resources is None and item.get("resource") is not None:
            resources = [item["resource"]]  # the deprecated single-resource field
        result = item.get("result", item.get("status"))
        out.append(
            Expectation(
                policy=str(item.get("policy", "")),
                rule=str(item.get("rule") or ""),
                kind=str(item.get("kind", "")),
                resources=tuple(str(r) for r in resources or ()),
                result=str(result or "").lower(),
                cel_policy=any(item.get(flag) for flag in _CEL_FLAGS),
            )
        )
    return out


# -- running -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Response:
    """kyverno's engine response for one (policy, resource)."""

    policy: Policy
    resource: dict[str, Any]
    rules: list[RuleResult]


def _run(spec: Mapping[str, Any], base: Path, suite: SuiteResult) -> None:
    values = _values(base, spec)
    user = _user_info(base, spec)
    loaded = _policies(base, spec)
    _exceptions(base, spec, loaded)
    policies, problems = loaded.policies, loaded.problems
    suite.problems = problems
    resources = _resources(base, spec)
    cel = CelInputs(
        mode=BindingMode.CLI,
        namespaces=values.namespace_objects if values else {},
        params=_params(base, spec),
        exceptions=tuple(loaded.cel_exceptions),
        context=_context(base, spec, suite),
    )
    engine = Engine(PolicySet.build(policies, problems, policy_exceptions=loaded.exceptions))
    responses: list[_Response] = []
    for resource in resources:
        namespace = str(resource.get("metadata", {}).get("namespace", ""))
        labels = values.namespace_labels.get(namespace, {}) if values else {}
        request = Request(
            resource=resource,
            user_info=user,
            namespace_labels=labels,
            values=values or ValuesFile(),
            cel=cel,
        )
        cache: dict[str, Any] = {}
        for policy in policies:
            rules = [] if policy.unsupported else engine.evaluate_policy(policy, request, cache)
            responses.append(_Response(policy, resource, rules))
            suite.engine_rows.extend(EngineRow.of(r, resource) for r in rules)
    broken: set[str | None] = {p.policy for p in problems if p.policy}
    for expected in _expectations(spec):
        suite.rows.extend(_check(expected, responses, broken, problems, str(suite.path)))


def _check(
    expected: Expectation,
    responses: Sequence[_Response],
    broken: set[str | None],
    problems: Sequence[PolicyProblem],
    test: str,
) -> Iterator[CheckedRow]:
    for name in expected.resources:
        shown = f"{expected.kind}/{name}"
        row = {
            "policy": expected.policy,
            "rule": expected.rule,
            "resource": shown,
            "expected": expected.result,
            "test": test,
        }
        matches = [r for r in responses if _same(r, expected, name)]
        if not matches:
            yield _not_found(expected, broken, problems, row)
            continue
        found = False
        for response in matches:
            if response.policy.unsupported:
                found = True
                yield CheckedRow(
                    **row,
                    actual="unsupported",
                    outcome=Outcome.PASS if expected.result == "skip" else Outcome.SKIP,
                    reason=f"not checked: {response.policy.unsupported}",
                )
                continue
            names = autogen_names(expected.rule)
            rules = [r for r in response.rules if expected.cel_policy or r.rule.name in names]
            for result in rules:
                found = True
                yield _compare(expected, result, row)
            if not rules:
                found = True
                yield CheckedRow(**row, actual="excluded", outcome=Outcome.PASS, reason="Excluded")
        if not found:  # pragma: no cover - every response yields a row
            yield CheckedRow(**row, actual="not found", outcome=Outcome.FAIL, reason="Not found")


def _same(response: _Response, expected: Expectation, name: str) -> bool:
    resource = response.resource
    if resource.get("kind") != expected.kind or response.policy.key != expected.policy:
        return False
    metadata = resource.get("metadata") or {}
    resource_name = str(metadata.get("name", ""))
    namespace = str(metadata.get("namespace", ""))
    qualified = f"{namespace}/{resource_name}" if namespace else resource_name
    return name in (resource_name, qualified)


def _compare(expected: Expectation, result: RuleResult, row: dict[str, str]) -> CheckedRow:
    actual = result.result.value
    if actual == expected.result:
        return CheckedRow(
            **row, actual=actual, outcome=Outcome.PASS, reason="Ok", message=result.message
        )
    if result.unsupported:
        return CheckedRow(
            **row,
            actual="unsupported",
            outcome=Outcome.SKIP,
            reason=f"not checked: {result.message}",
            message=result.message,
        )
    return CheckedRow(
        **row,
        actual=actual,
        outcome=Outcome.FAIL,
        reason=f"Want {expected.result}, got {actual}",
        message=result.message,
    )


def _not_found(
    expected: Expectation,
    broken: set[str | None],
    problems: Sequence[PolicyProblem],
    row: dict[str, str],
) -> CheckedRow:
    if expected.policy in broken or expected.policy.split("/")[-1] in broken:
        problem = next(
            p for p in problems if p.policy in (expected.policy, expected.policy.split("/")[-1])
        )
        reason = f"policy error: {problem.message} ({problem.path}:{problem.line})"
        return CheckedRow(**row, actual="error", outcome=Outcome.FAIL, reason=reason)
    return CheckedRow(**row, actual="not found", outcome=Outcome.FAIL, reason="Not found")
