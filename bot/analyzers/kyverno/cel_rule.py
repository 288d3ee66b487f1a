"""A CEL check compiled once: conditions, lazy variables, validations with their messages,
audit annotations; and its evaluation on one request, with Kyverno's result semantics.

Two flavours, because Kyverno runs them through different code:

- ``validate.cel`` in a ClusterPolicy rule runs Kubernetes' ValidatingAdmissionPolicy
  validator with failure policy Fail (kyverno ``validate_cel.go``): a false
  ``celPreconditions`` entry skips the rule ("cel preconditions not met"); the first
  validation that is not true fails the rule, and so does an evaluation error or a non-bool
  result (a failing ``celPreconditions`` entry too); the message is ``messageExpression``,
  else ``message``, else the rule's ``validate.message``, else "failed expression: ...".
- a ValidatingPolicy (kyverno ``vpol/compiler/policy.go``, ``vpol/engine/engine.go``): a
  false ``matchConditions`` entry skips; a condition that cannot be evaluated is an error
  (skip with ``failurePolicy: Ignore``); validations run in order: an evaluation error or a
  non-bool result is an error, the first false one fails with ``message`` /
  ``messageExpression`` (or "CEL expression validation failed at index N"), all true pass.

What an offline run cannot have is a skip with the reason, never a pass: an expression that
reads ``authorizer``, ``request.userInfo`` (no user known), the namespace's labels (no
Namespace manifest), or calls the cluster, registry or HTTP libraries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bot.analyzers.kyverno.cel import (
    CelCompileError,
    CelEvaluationError,
    CelRuntime,
    CelUnavailableError,
    CompiledExpression,
)
from bot.analyzers.kyverno.cel.libs.base import describe
from bot.analyzers.kyverno.cel.runtime import Activation, OptionalValue
from bot.analyzers.kyverno.cel_bindings import Bindings, NamespaceBinding
from bot.analyzers.kyverno.cel_source import Need, needs, object_paths
from bot.core.document import FieldPath

Paths = tuple[tuple[str, ...], ...]


class Flavor(Enum):
    VALIDATE_CEL = "validate.cel"
    VALIDATING_POLICY = "ValidatingPolicy"


class CelProgramError(ValueError):
    """An expression that does not compile; ``where`` is its field in the policy document."""

    def __init__(self, message: str, where: FieldPath) -> None:
        super().__init__(message)
        self.where = where


@dataclass(frozen=True, slots=True, eq=False)
class CelExpression:
    compiled: CompiledExpression
    where: FieldPath
    needs: frozenset[Need]
    paths: Paths

    @property
    def text(self) -> str:
        return self.compiled.expression


@dataclass(frozen=True, slots=True, eq=False)
class CelValidation:
    index: int
    check: CelExpression
    message: str
    message_expression: CelExpression | None = None


@dataclass(frozen=True, slots=True, eq=False)
class CelProgram:
    flavor: Flavor
    runtime: CelRuntime
    declarations: tuple[str, ...]
    conditions: tuple[CelExpression, ...] = ()
    validations: tuple[CelValidation, ...] = ()
    audit: tuple[tuple[str, CelExpression], ...] = ()
    json_mode: bool = False
    ignore_failures: bool = False  # ValidatingPolicy failurePolicy: Ignore
    name: str = ""  # the rule name, for validate.cel messages


@dataclass(frozen=True, slots=True)
class CelVerdict:
    status: str  # pass | fail | error | skip
    message: str
    index: int | None = None  # the validation that decided
    paths: Paths = ()  # object fields the deciding expression names
    unsupported: bool = False  # a skip for what an offline run cannot know
    exceptions: tuple[str, ...] = ()  # keys of the PolicyExceptions that decided


# -- compiling -----------------------------------------------------------------------------

_BOOL = ("BOOL", "DYN")
STRING = ("STRING", "DYN")
STRING_OR_NULL = ("STRING", "DYN", "NULL")


class ProgramCompiler:
    """Compiles the expressions of one policy (or rule) with its lazy variables."""

    def __init__(
        self,
        runtime: CelRuntime,
        declarations: tuple[str, ...],
        variables: Mapping[str, str],
        what: str,
    ) -> None:
        self.runtime = runtime
        self.declarations = declarations
        self.variables = dict(variables)
        self.what = what  # "ValidatingPolicy require-labels", "rule check-host", ...

    def expression(
        self, text: Any, where: FieldPath, role: str, types: Sequence[str] | None = _BOOL
    ) -> CelExpression:
        if not isinstance(text, str) or not text.strip():
            raise CelProgramError(f"{self.what}: {role} needs an expression", where)
        try:
            compiled = self.runtime.compile(text, self.declarations, self.variables)
        except CelCompileError as err:
            raise CelProgramError(f"{self.what}: {role} does not compile: {err}", where) from None
        kind = compiled.result_type.split("<")[0].split("(")[0].upper()
        if types is not None and kind not in types:
            wanted = " or ".join(t.lower() for t in types if t not in ("DYN", "NULL"))
            raise CelProgramError(
                f"{self.what}: {role} must evaluate to a {wanted}, not "
                f"{compiled.result_type.lower()}: {text.strip()}",
                where,
            )
        paths = tuple(object_paths(compiled.source))
        return CelExpression(compiled, where, needs(compiled.source), paths)

    def check_variables(self, where: FieldPath) -> None:
        """Every variable must compile on its own (Kyverno compiles them eagerly)."""
        for i, (name, text) in enumerate(self.variables.items()):
            self.expression(text, (*where, i, "expression"), f"variable {name}", None)


# -- evaluating ----------------------------------------------------------------------------


class SkipEvaluation(Exception):
    """The expression needs what an offline run cannot have; ``reason`` says what."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExceptionFailed(Exception):
    """A PolicyException condition could not be evaluated."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def run(
    expression: CelExpression,
    activation: Activation,
    namespace: NamespaceBinding,
    bindings: Bindings,
) -> Any:
    """The value of ``expression``; raises SkipEvaluation for what an offline run cannot know and
    CelEvaluationError for an evaluation error."""
    reason = _missing(expression.needs, namespace, bindings)
    if reason is not None:
        raise SkipEvaluation(reason)
    try:
        value = expression.compiled.evaluate(activation)
    except CelUnavailableError as err:
        raise SkipEvaluation(err.message) from None
    if isinstance(value, OptionalValue):
        raise CelEvaluationError(
            "the result is an optional value; use .orValue() or .value() to read it",
            expression.text,
        )
    return value


def _missing(
    required: frozenset[Need], namespace: NamespaceBinding, bindings: Bindings
) -> str | None:
    if not required:
        return None
    if Need.AUTHORIZER in required:
        return "the policy uses authorizer, which needs the cluster's RBAC"
    if Need.USER_INFO in required and not bindings.facts.has_user:
        return "the policy reads request.userInfo, and the admission user is not known here"
    if Need.NAMESPACE in required and not namespace.known:
        return (
            f"the policy reads namespaceObject (labels or annotations of namespace "
            f'"{bindings.facts.namespace}"), and no Namespace manifest for it is in the repository'
        )
    return None


def evaluate(
    program: CelProgram,
    bindings: Bindings,
    *,
    params: Mapping[str, Any] | None = None,
    exceptions: Mapping[str, list[str]] | None = None,
) -> CelVerdict:
    activation, namespace = bindings.activation(
        program.runtime,
        program.declarations,
        json_mode=program.json_mode,
        cli_stub=program.flavor is Flavor.VALIDATE_CEL,
        params=params,
        exceptions=exceptions,
    )
    if program.flavor is Flavor.VALIDATE_CEL:
        return _validate_cel(program, activation, namespace, bindings)
    return _validating_policy(program, activation, namespace, bindings)


def conditions_hold(
    conditions: Sequence[CelExpression],
    program: CelProgram,
    bindings: Bindings,
) -> bool:
    """PolicyException match conditions (all must hold); raises SkipEvaluation or
    ExceptionFailed."""
    activation, namespace = bindings.activation(
        program.runtime, program.declarations, json_mode=program.json_mode
    )
    for condition in conditions:
        try:
            value = run(condition, activation, namespace, bindings)
        except CelEvaluationError as err:
            raise ExceptionFailed(
                f"failed to evaluate a PolicyException condition: {err}"
            ) from None
        if value is not True:
            return False
    return True


# -- validate.cel --------------------------------------------------------------------------


def _validate_cel(
    program: CelProgram, activation: Activation, namespace: NamespaceBinding, bindings: Bindings
) -> CelVerdict:
    skipped: str | None = None
    errors: list[str] = []
    for condition in program.conditions:
        try:
            value = run(condition, activation, namespace, bindings)
        except SkipEvaluation as skip:
            skipped = skipped or skip.reason
            continue
        except CelEvaluationError as err:
            errors.append(str(err))
            continue
        if value is not True:
            return CelVerdict("skip", "cel preconditions not met")
    if skipped is not None:
        return CelVerdict("skip", skipped, unsupported=True)
    if errors:
        return CelVerdict("fail", errors[0])
    for validation in program.validations:
        check = validation.check
        try:
            value = run(check, activation, namespace, bindings)
        except SkipEvaluation as skip:
            skipped = skipped or skip.reason
            continue
        except CelEvaluationError as err:
            message = f"expression '{check.text.strip()}' resulted in error: {err.message}"
            return CelVerdict("fail", message, validation.index, check.paths)
        if value is not True:
            message = _k8s_message(validation, activation, namespace, bindings)
            return CelVerdict("fail", message, validation.index, check.paths)
    if skipped is not None:
        return CelVerdict("skip", skipped, unsupported=True)
    # Audit annotations do not decide: Kubernetes' validator reports their errors apart from
    # the decisions, and Kyverno reads only the decisions.
    return CelVerdict("pass", f"Validation rule '{program.name}' passed.")


def _k8s_message(
    validation: CelValidation, activation: Activation, namespace: NamespaceBinding, b: Bindings
) -> str:
    if validation.message_expression is not None:
        try:
            value = run(validation.message_expression, activation, namespace, b)
        except (SkipEvaluation, CelEvaluationError):
            value = None
        if isinstance(value, str) and value.strip():
            return value.strip()
    if validation.message:
        return validation.message
    return f"failed expression: {validation.check.text.strip()}"


# -- ValidatingPolicy ----------------------------------------------------------------------


def _validating_policy(
    program: CelProgram, activation: Activation, namespace: NamespaceBinding, bindings: Bindings
) -> CelVerdict:
    errors: list[str] = []
    for condition in program.conditions:
        try:
            value = run(condition, activation, namespace, bindings)
        except SkipEvaluation as skip:
            return CelVerdict("skip", skip.reason, unsupported=True)
        except CelEvaluationError as err:
            errors.append(str(err))
            continue
        if not isinstance(value, bool):
            errors.append(f"a match condition returned {type(value).__name__}, not a bool")
            continue
        if not value:
            return CelVerdict("skip", "match conditions not met")
    if errors:
        if program.ignore_failures:
            return CelVerdict("skip", "match conditions not met (failurePolicy: Ignore)")
        return CelVerdict("error", f"failed to evaluate match conditions: {errors[0]}")
    for validation in program.validations:
        check = validation.check
        try:
            value = run(check, activation, namespace, bindings)
        except SkipEvaluation as skip:
            return CelVerdict("skip", skip.reason, unsupported=True)
        except CelEvaluationError as err:
            return CelVerdict("error", f"error: {err}", validation.index, check.paths)
        if not isinstance(value, bool):
            message = f"error: validation {validation.index} returned {describe(value)}, not a bool"
            return CelVerdict("error", message, validation.index, check.paths)
        if not value:
            message = _policy_message(validation, activation, namespace, bindings)
            return CelVerdict("fail", message, validation.index, check.paths)
    for key, expression in program.audit:
        try:
            run(expression, activation, namespace, bindings)
        except SkipEvaluation as skip:
            return CelVerdict("skip", skip.reason, unsupported=True)
        except CelEvaluationError as err:
            return CelVerdict("error", f"failed to evaluate auditAnnotation '{key}': {err}")
    return CelVerdict("pass", "success")


def _policy_message(
    validation: CelValidation, activation: Activation, namespace: NamespaceBinding, b: Bindings
) -> str:
    message = validation.message
    if validation.message_expression is not None:
        try:
            value = run(validation.message_expression, activation, namespace, b)
        except SkipEvaluation as skip:
            value = None
            message = message or skip.reason
        except CelEvaluationError as err:
            value = None
            message = f"failed to evaluate message expression: {err}"
        if isinstance(value, str):
            message = value
        elif value is not None:
            message = f"failed to convert message expression to string: {describe(value)}"
    return message or f"CEL expression validation failed at index {validation.index}"
