"""CEL policies and rules as the engine holds them: a ``validate.cel`` rule of a ClusterPolicy,
or a ValidatingPolicy (``policies.kyverno.io`` v1alpha1, v1beta1, v1; also
NamespacedValidatingPolicy), compiled once, and how one applies to a request.

A ValidatingPolicy becomes one engine rule (results name no rule, as in kyverno test files)
with its own matching: ``matchConstraints`` (``cel_match``) for the policy and for each autogen
variant (``cel_autogen``); ``spec.evaluation.mode: JSON`` binds only ``object`` and
``variables`` and matches every resource, as Kyverno's JSON path does. ``validationActions``
decide how a failure is reported (``Deny`` blocks; ``Audit`` and ``Warn`` warn).

A ``validate.cel`` rule keeps Kyverno's ``match``/``exclude`` (evaluated by the engine) and
adds the CEL program; with ``paramKind`` it is checked against every parameter object found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from bot.analyzers.kyverno.cel import CelCompileError, CelRuntime, Environment
from bot.analyzers.kyverno.cel.context import using
from bot.analyzers.kyverno.cel_autogen import rewrite, variants
from bot.analyzers.kyverno.cel_bindings import Bindings, match_labels
from bot.analyzers.kyverno.cel_exceptions import CelException, exceptions_for
from bot.analyzers.kyverno.cel_match import (
    ConstraintError,
    MatchConstraints,
    compile_constraints,
    match_request,
)
from bot.analyzers.kyverno.cel_params import ParamError, ParamSpec, read_params
from bot.analyzers.kyverno.cel_rule import (
    STRING,
    STRING_OR_NULL,
    CelExpression,
    CelProgram,
    CelProgramError,
    CelValidation,
    CelVerdict,
    ExceptionFailed,
    Flavor,
    ProgramCompiler,
    SkipEvaluation,
    conditions_hold,
    evaluate,
)
from bot.analyzers.kyverno.match import Decision
from bot.core.document import FieldPath

VALIDATING_KINDS = ("ValidatingPolicy", "NamespacedValidatingPolicy")
# The other CEL policy kinds: not validation, so not evaluated here.
OTHER_KINDS = {
    "MutatingPolicy": "MutatingPolicy changes resources at admission; it is not evaluated here",
    "NamespacedMutatingPolicy": (
        "NamespacedMutatingPolicy changes resources at admission; it is not evaluated here"
    ),
    "GeneratingPolicy": "GeneratingPolicy creates resources in the cluster; it is not evaluated "
    "here",
    "NamespacedGeneratingPolicy": "NamespacedGeneratingPolicy creates resources in the cluster; "
    "it is not evaluated here",
    "ImageValidatingPolicy": "ImageValidatingPolicy verifies image signatures in registries; use "
    "the image checks instead",
    "NamespacedImageValidatingPolicy": "NamespacedImageValidatingPolicy verifies image signatures "
    "in registries; use the image checks instead",
    "DeletingPolicy": "DeletingPolicy deletes cluster resources on a schedule; it is not "
    "evaluated here",
    "NamespacedDeletingPolicy": "NamespacedDeletingPolicy deletes cluster resources on a "
    "schedule; it is not evaluated here",
}
VALIDATE_CEL_DECLARATIONS = (
    "authorizer",
    "namespaceObject",
    "object",
    "oldObject",
    "request",
    "variables",
)
POLICY_DECLARATIONS = (*VALIDATE_CEL_DECLARATIONS, "exceptions")
JSON_DECLARATIONS = ("object", "variables")
DENY = "Deny"


class CelPolicyError(ValueError):
    """A CEL policy or rule that cannot be used; ``where`` is the field in its document."""

    def __init__(self, message: str, where: FieldPath) -> None:
        super().__init__(message)
        self.where = where


@cache
def runtime(environment: Environment) -> CelRuntime:
    """One runtime per environment for the process: compiled expressions and the CEL
    environments are shared by every policy (and activations by every policy of a request)."""
    return CelRuntime(environment)


@dataclass(frozen=True, slots=True, eq=False)
class CelVariant:
    constraints: MatchConstraints | None  # None: every resource (JSON evaluation mode)
    program: CelProgram


@dataclass(frozen=True, slots=True, eq=False)
class CelRule:
    """The CEL part of an engine rule."""

    flavor: Flavor
    variants: tuple[CelVariant, ...]
    policy_name: str
    policy_kind: str
    params: ParamSpec | None = None
    actions: tuple[str, ...] = ()  # ValidatingPolicy validationActions
    namespace: str = ""  # NamespacedValidatingPolicy: its namespace

    @property
    def own_match(self) -> bool:
        """A ValidatingPolicy matches with matchConstraints, not Kyverno match blocks."""
        return self.flavor is Flavor.VALIDATING_POLICY

    @property
    def blocking(self) -> bool:
        return DENY in self.actions

    def kind_names(self) -> frozenset[str] | None:
        out: set[str] = set()
        for variant in self.variants:
            if variant.constraints is None:
                return None
            kinds = variant.constraints.kind_names()
            if kinds is None:
                return None
            out |= kinds
        return frozenset(out)


# -- ValidatingPolicy ----------------------------------------------------------------------


def compile_validating_policy(data: Mapping[str, Any], name: str, kind: str) -> CelRule:
    what = f"{kind} {name}"
    spec = data.get("spec")
    if not isinstance(spec, dict):
        raise CelPolicyError(f"{what}: spec must be a mapping", ("spec",))
    evaluation = spec.get("evaluation")
    mode = evaluation.get("mode") if isinstance(evaluation, dict) else None
    json_mode = str(mode or "").lower() == "json"
    actions = _strings(spec.get("validationActions"), ("spec", "validationActions"), what)
    for i, action in enumerate(actions):
        if action not in (DENY, "Audit", "Warn"):
            raise CelPolicyError(
                f'{what}: unknown validation action "{action}"; use Deny, Audit or Warn',
                ("spec", "validationActions", i),
            )
    failure_policy = str(spec.get("failurePolicy") or "Fail")
    if failure_policy not in ("Fail", "Ignore"):
        raise CelPolicyError(
            f"{what}: failurePolicy must be Fail or Ignore", ("spec", "failurePolicy")
        )
    ignore = failure_policy == "Ignore"
    program = _policy_program(spec, what, json_mode, ignore)
    raw_constraints = spec.get("matchConstraints")
    if json_mode:
        out = [CelVariant(None, program)]  # JSON mode: no matching, every resource
    elif raw_constraints is None:
        out = []  # without matchConstraints Kyverno's matcher never matches
    else:
        try:
            constraints = compile_constraints(raw_constraints)
        except ConstraintError as exc:
            raise CelPolicyError(
                f"{what}: matchConstraints: {exc}", ("spec", "matchConstraints", *exc.where)
            ) from None
        out = [CelVariant(constraints, program)]
        for variant in variants(constraints, _controllers(spec)):
            rewritten = rewrite(_cel_fields(spec), variant.cronjob, protect=True)
            autogen = _policy_program(rewritten, what, json_mode, ignore)
            out.append(CelVariant(variant.constraints, autogen))
    metadata = data.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if not kind.startswith("Namespaced"):
        namespace = None
    return CelRule(
        Flavor.VALIDATING_POLICY,
        tuple(out),
        name,
        kind,
        actions=tuple(actions) or (DENY,),
        namespace=namespace if isinstance(namespace, str) else "",
    )


def _cel_fields(spec: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("matchConditions", "variables", "validations", "auditAnnotations")
    return {key: spec[key] for key in keys if spec.get(key) is not None}


def _controllers(spec: Mapping[str, Any]) -> list[str] | None:
    autogen = spec.get("autogen")
    pods = autogen.get("podControllers") if isinstance(autogen, dict) else None
    controllers = pods.get("controllers") if isinstance(pods, dict) else None
    if isinstance(controllers, list):
        return [str(c).lower() for c in controllers]
    return None


def _policy_program(
    spec: Mapping[str, Any], what: str, json_mode: bool, ignore: bool
) -> CelProgram:
    environment = Environment.VALIDATING_POLICY
    declarations = JSON_DECLARATIONS if json_mode else POLICY_DECLARATIONS
    variables = _variables(spec.get("variables"), ("spec", "variables"), what)
    compiler = ProgramCompiler(runtime(environment), declarations, variables, what)
    try:
        compiler.check_variables(("spec", "variables"))
        conditions = _conditions(compiler, spec.get("matchConditions"), ("spec", "matchConditions"))
        validations = _validations(compiler, spec.get("validations"), ("spec", "validations"), "")
        audit = _audit(compiler, spec.get("auditAnnotations"), ("spec", "auditAnnotations"))
    except CelProgramError as exc:
        raise CelPolicyError(str(exc), exc.where) from None
    if not validations:
        raise CelPolicyError(f"{what}: spec.validations must be a non-empty list", ("spec",))
    return CelProgram(
        Flavor.VALIDATING_POLICY,
        runtime(environment),
        declarations,
        conditions,
        validations,
        audit,
        json_mode=json_mode,
        ignore_failures=ignore,
    )


# -- validate.cel --------------------------------------------------------------------------


def compile_validate_cel(
    raw: Mapping[str, Any],
    where: FieldPath,
    *,
    policy_name: str,
    rule_name: str,
    autogen_name: str | None = None,
) -> CelRule:
    """The CEL rule of ``raw`` (a rule of ``spec.rules``). For an autogen rule pass the base
    rule as ``raw`` and the generated name: its CEL is rewritten for the controllers."""
    validate = raw.get("validate")
    assert isinstance(validate, dict)
    fields = {"cel": validate.get("cel"), "celPreconditions": raw.get("celPreconditions")}
    fields["message"] = validate.get("message")
    if autogen_name is not None:
        fields = rewrite(fields, autogen_name.startswith("autogen-cronjob-"), protect=False)
    cel = fields["cel"]
    what = f"rule {rule_name}"
    here = (*where, "validate", "cel")
    if not isinstance(cel, dict):
        raise CelPolicyError(f"{what}: validate.cel must be a mapping", here)
    try:
        params = read_params(cel.get("paramKind"), cel.get("paramRef"))
    except ParamError as exc:
        raise CelPolicyError(f"{what}: {exc}", (*here, *exc.where)) from None
    declarations = VALIDATE_CEL_DECLARATIONS + (("params",) if params is not None else ())
    environment = Environment.VALIDATE_CEL
    variables = _variables(cel.get("variables"), (*here, "variables"), what)
    compiler = ProgramCompiler(runtime(environment), tuple(sorted(declarations)), variables, what)
    message = fields.get("message")
    try:
        compiler.check_variables((*here, "variables"))
        conditions = _conditions(
            compiler, fields.get("celPreconditions"), (*where, "celPreconditions")
        )
        validations = _validations(
            compiler,
            cel.get("expressions"),
            (*here, "expressions"),
            message if isinstance(message, str) else "",
        )
        audit = _audit(compiler, cel.get("auditAnnotations"), (*here, "auditAnnotations"))
    except CelProgramError as exc:
        raise CelPolicyError(str(exc), exc.where) from None
    if not validations:
        raise CelPolicyError(
            f"{what}: validate.cel.expressions must be a non-empty list", (*here, "expressions")
        )
    program = CelProgram(
        Flavor.VALIDATE_CEL,
        runtime(environment),
        compiler.declarations,
        conditions,
        validations,
        audit,
        name=autogen_name or rule_name,
    )
    return CelRule(
        Flavor.VALIDATE_CEL,
        (CelVariant(None, program),),
        policy_name,
        "ClusterPolicy",
        params=params,
    )


# -- shared pieces -------------------------------------------------------------------------


def _variables(value: Any, where: FieldPath, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, item in enumerate(_list(value, where, what, "variables")):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise CelPolicyError(f"{what}: a variable needs a name", (*where, i))
        if not isinstance(item.get("expression"), str):
            raise CelPolicyError(
                f"{what}: variable {item['name']} needs an expression", (*where, i, "expression")
            )
        out[item["name"]] = item["expression"]
    return out


def _conditions(
    compiler: ProgramCompiler, value: Any, where: FieldPath
) -> tuple[CelExpression, ...]:
    out = []
    for i, item in enumerate(_list(value, where, compiler.what, "conditions")):
        if not isinstance(item, dict):
            raise CelProgramError(f"{compiler.what}: a condition must be a mapping", (*where, i))
        name = item.get("name") or i
        out.append(
            compiler.expression(
                item.get("expression"), (*where, i, "expression"), f"condition {name}"
            )
        )
    return tuple(out)


def _validations(
    compiler: ProgramCompiler, value: Any, where: FieldPath, default_message: str
) -> tuple[CelValidation, ...]:
    out = []
    for i, item in enumerate(_list(value, where, compiler.what, "validations")):
        here = (*where, i)
        if not isinstance(item, dict):
            raise CelProgramError(f"{compiler.what}: a validation must be a mapping", here)
        check = compiler.expression(
            item.get("expression"), (*here, "expression"), f"validation {i}"
        )
        message_expression = None
        if item.get("messageExpression") is not None:
            message_expression = compiler.expression(
                item["messageExpression"],
                (*here, "messageExpression"),
                f"messageExpression of validation {i}",
                STRING,
            )
        message = item.get("message")
        out.append(
            CelValidation(
                i,
                check,
                message if isinstance(message, str) and message else default_message,
                message_expression,
            )
        )
    return tuple(out)


def _audit(
    compiler: ProgramCompiler, value: Any, where: FieldPath
) -> tuple[tuple[str, CelExpression], ...]:
    out = []
    for i, item in enumerate(_list(value, where, compiler.what, "auditAnnotations")):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise CelProgramError(f"{compiler.what}: an audit annotation needs a key", (*where, i))
        expression = compiler.expression(
            item.get("valueExpression"),
            (*where, i, "valueExpression"),
            f"audit annotation {item['key']}",
            STRING_OR_NULL,
        )
        out.append((item["key"], expression))
    return tuple(out)


def _list(value: Any, where: FieldPath, what: str, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CelProgramError(f"{what}: {name} must be a list", where)
    return value


def _strings(value: Any, where: FieldPath, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CelPolicyError(f"{what}: {where[-1]} must be a list of strings", where)
    return list(value)


# -- evaluation ----------------------------------------------------------------------------


def evaluate_rule(rule: CelRule, bindings: Bindings) -> CelVerdict | None:
    """The verdict of ``rule`` on the request of ``bindings``; None when a ValidatingPolicy
    does not match it (no result at all, as in Kyverno)."""
    context = bindings.facts.inputs.context
    if context is None:
        return _evaluate_rule(rule, bindings)
    with using(context):
        return _evaluate_rule(rule, bindings)


def _evaluate_rule(rule: CelRule, bindings: Bindings) -> CelVerdict | None:
    facts = bindings.facts
    if rule.flavor is Flavor.VALIDATE_CEL:
        return _validate_cel(rule, bindings)
    if rule.namespace and facts.namespace != rule.namespace:
        return None
    chosen = None
    for variant in rule.variants:
        if variant.constraints is None:
            chosen = variant
            break
        request = match_request(
            facts.object, facts.old_object, facts.operation, facts.api, match_labels(facts)
        )
        outcome = variant.constraints.decide(request)
        if outcome.decision is Decision.UNKNOWN:
            return CelVerdict("skip", outcome.reason, unsupported=True)
        if outcome.decision is Decision.YES:
            chosen = variant
            break
    if chosen is None:
        return None
    return _with_exceptions(rule, chosen.program, bindings)


def _with_exceptions(rule: CelRule, program: CelProgram, bindings: Bindings) -> CelVerdict:
    candidates = exceptions_for(
        bindings.facts.inputs.exceptions, rule.policy_name, rule.policy_kind
    )
    matched: list[CelException] = []
    for exception in candidates:
        try:
            conditions = _exception_conditions(exception, program)
            if conditions_hold(conditions, program, bindings):
                matched.append(exception)
        except SkipEvaluation as skip:
            return CelVerdict("skip", skip.reason, unsupported=True)
        except ExceptionFailed as failed:
            return CelVerdict("error", failed.message)
        except CelProgramError as exc:
            return CelVerdict("error", f"PolicyException {exception.key}: {exc}")
    if not matched:
        return evaluate(program, bindings)
    keys = tuple(e.key for e in matched)
    if not any(e.lets_policy_run for e in matched):
        chosen = max(matched, key=lambda e: e.priority)
        verb = "passed" if chosen.report_pass else "skipped"
        status = "pass" if chosen.report_pass else "skip"
        message = f"rule is {verb} due to policy exception: {', '.join(keys)}"
        return CelVerdict(status, message, exceptions=keys)
    allowed = {
        "allowedImages": [i for e in matched for i in e.images],
        "allowedValues": [v for e in matched for v in e.allowed_values],
    }
    return evaluate(program, bindings, exceptions=allowed)


def _exception_conditions(
    exception: CelException, program: CelProgram
) -> tuple[CelExpression, ...]:
    compiler = ProgramCompiler(
        program.runtime, program.declarations, {}, f"PolicyException {exception.key}"
    )
    return tuple(
        compiler.expression(
            c.expression, ("spec", "matchConditions", c.index), f"condition {c.name}"
        )
        for c in exception.conditions
    )


def _validate_cel(rule: CelRule, bindings: Bindings) -> CelVerdict:
    program = rule.variants[0].program
    if rule.params is None:
        return evaluate(program, bindings)
    found = rule.params.find(bindings.facts.inputs.params, bindings.facts.namespace)
    if not found:
        return CelVerdict(
            "skip",
            f"the rule's parameter resource {rule.params.describe()} is not among the "
            "repository's manifests",
            unsupported=True,
        )
    verdict = CelVerdict("pass", f"Validation rule '{program.name}' passed.")
    for params in found:
        verdict = evaluate(program, bindings, params=params)
        if verdict.status != "pass":
            return verdict
    return verdict


def check_exception(exception: CelException) -> str | None:
    """Why an exception's conditions do not compile, or None."""
    program_runtime = runtime(Environment.VALIDATING_POLICY)
    for condition in exception.conditions:
        try:
            program_runtime.compile(condition.expression, POLICY_DECLARATIONS)
        except CelCompileError as err:
            return f"PolicyException {exception.key}: condition {condition.name}: {err}"
    return None
