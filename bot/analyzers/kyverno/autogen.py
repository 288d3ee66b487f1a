"""Autogen: the rules Kyverno derives for pod controllers from a rule written for ``Pod``
(reference/kyverno-semantics.md §9; kyverno ``pkg/autogen/v1``).

Works on the raw rule mappings, as Kyverno does (it marshals the rule to JSON and rewrites the
text), so that every field the rule carries goes through the same rewrite:

- ``autogen-<rule>`` for DaemonSet, Deployment, Job, StatefulSet, ReplicaSet,
  ReplicationController: ``pattern`` -> ``{spec: {template: pattern}}`` (each ``anyPattern``
  element too), ``request.object.spec`` -> ``request.object.spec.template.spec`` and
  ``request.object.metadata`` -> ``request.object.spec.template.metadata`` (and ``oldObject``);
- ``autogen-cronjob-<rule>`` for CronJob: the same, one level deeper
  (``spec.jobTemplate.spec.template``).

The annotation ``pod-policies.kyverno.io/autogen-controllers`` narrows the controllers
(``none`` turns autogen off). Names are cut at 63 characters.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.analyzers.kyverno.kinds import parse_kind

ANNOTATION = "pod-policies.kyverno.io/autogen-controllers"
CRONJOB = "CronJob"
CONTROLLERS = (
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
)
ALL_CONTROLLERS = (*CONTROLLERS, CRONJOB)
_POD_KINDS = frozenset((*ALL_CONTROLLERS, "Pod"))
_PREFIX = "autogen-"
_CRON_PREFIX = "autogen-cronjob-"
_MAX_NAME = 63
# Validate fields a generated rule keeps besides its body (kyverno generateRule).
_KEPT_VALIDATE = ("message", "failureAction", "failureActionOverrides", "allowExistingViolations")
_POD_REPLACEMENTS = (
    ("request.object.spec", "request.object.spec.template.spec"),
    ("request.oldObject.spec", "request.oldObject.spec.template.spec"),
    ("request.object.metadata", "request.object.spec.template.metadata"),
    ("request.oldObject.metadata", "request.oldObject.spec.template.metadata"),
)
_CRON_REPLACEMENTS = (
    ("request.object.spec", "request.object.spec.jobTemplate.spec.template.spec"),
    ("request.oldObject.spec", "request.oldObject.spec.jobTemplate.spec.template.spec"),
    ("request.object.metadata", "request.object.spec.jobTemplate.spec.template.metadata"),
    ("request.oldObject.metadata", "request.oldObject.spec.jobTemplate.spec.template.metadata"),
)
# The fields of a rule that survive autogen (kyverno's kyvernoRule JSON struct).
_RULE_FIELDS = (
    "name",
    "match",
    "exclude",
    "celPreconditions",
    "context",
    "preconditions",
    "mutate",
    "validate",
    "verifyImages",
    "skipBackgroundRequests",
)


@dataclass(frozen=True, slots=True)
class ComputedRule:
    """One rule to evaluate: a rule of the policy, or one autogen derived from it."""

    raw: dict[str, Any]
    index: int  # the position of the base rule in spec.rules
    base_name: str  # the name kyverno test results use
    autogen: bool = False


def compute_rules(rules: Sequence[Any], annotations: Mapping[str, Any]) -> list[ComputedRule]:
    """The policy's rules followed by the autogen rules, in Kyverno's order."""
    base = [
        ComputedRule(raw=rule, index=i, base_name=_name(rule))
        for i, rule in enumerate(rules)
        if isinstance(rule, dict)
    ]
    controllers = _controllers(rules, annotations)
    if controllers is None:
        return base
    generated: list[ComputedRule] = []
    for item in base:
        pod_rule = _for_controllers(item.raw, _strip_cronjob(controllers))
        if pod_rule is not None:
            generated.append(
                ComputedRule(
                    _rewrite(pod_rule, _POD_REPLACEMENTS), item.index, item.base_name, True
                )
            )
        cron_rule = _for_cronjob(item.raw, controllers)
        if cron_rule is not None:
            generated.append(
                ComputedRule(
                    _rewrite(cron_rule, _CRON_REPLACEMENTS), item.index, item.base_name, True
                )
            )
    if not generated:
        return base
    # Rules already named autogen-... are replaced by the generated ones (kyverno computeRules).
    kept = [item for item in base if not item.base_name.startswith(_PREFIX)]
    return kept + generated


def base_rule_name(name: str) -> str:
    """``autogen-cronjob-x`` and ``autogen-x`` -> ``x`` (for names that were not cut)."""
    for prefix in (_CRON_PREFIX, _PREFIX):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def autogen_names(name: str) -> tuple[str, str, str]:
    """The rule names a kyverno test result for rule ``name`` accepts."""
    return name, _PREFIX + name, _CRON_PREFIX + name


def _name(rule: Mapping[str, Any]) -> str:
    name = rule.get("name")
    return name if isinstance(name, str) else ""


def _controllers(rules: Sequence[Any], annotations: Mapping[str, Any]) -> str | None:
    """The comma-separated controllers to generate for, or None for no autogen."""
    if not _can_autogen(rules):
        return None
    value = annotations.get(ANNOTATION)
    if value is None:
        return ",".join(ALL_CONTROLLERS)
    text = str(value)
    # kyverno splits on "," without trimming and joins the set again: "none" alone disables.
    if text == "none":
        return None
    return text


def _can_autogen(rules: Sequence[Any]) -> bool:
    needed = False
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        if rule.get("generate"):
            return False
        mutate = rule.get("mutate")
        if isinstance(mutate, dict):
            if mutate.get("patchesJson6902"):
                return False
            for item in _list(mutate.get("foreach")):
                if isinstance(item, dict) and item.get("patchesJson6902"):
                    return False
        for description in _descriptions(rule.get("match")) + _descriptions(rule.get("exclude")):
            if not _supports_autogen(description):
                return False
            kinds = _list(description.get("kinds"))
            needed = needed or any(kind in _POD_KINDS for kind in kinds)
    return needed


def _supports_autogen(description: Mapping[str, Any]) -> bool:
    """Filters on names, selectors or annotations may not hold for the controller."""
    if description.get("name") or description.get("names"):
        return False
    if description.get("selector") is not None or description.get("annotations") is not None:
        return False
    kinds = [k for k in _list(description.get("kinds")) if isinstance(k, str)]
    return not (len(kinds) > 1 and _contains_kind(kinds, "Pod"))


def _descriptions(block: Any) -> list[dict[str, Any]]:
    """The resource descriptions of a match/exclude block: legacy, ``any`` and ``all``."""
    if not isinstance(block, dict):
        return []
    out = []
    if isinstance(block.get("resources"), dict):
        out.append(block["resources"])
    for key in ("any", "all"):
        for item in _list(block.get(key)):
            if isinstance(item, dict) and isinstance(item.get("resources"), dict):
                out.append(item["resources"])
    return out


def _kinds(block: Any) -> list[str]:
    return [
        kind
        for description in _descriptions(block)
        for kind in _list(description.get("kinds"))
        if isinstance(kind, str)
    ]


def _contains_kind(kinds: Sequence[str], kind: str) -> bool:
    return any(parse_kind(k).kind_without_subresource == kind for k in kinds)


def _strip_cronjob(controllers: str) -> str:
    return ",".join(c for c in sorted(controllers.split(",")) if c != CRONJOB)


def _for_controllers(rule: dict[str, Any], controllers: str) -> dict[str, Any] | None:
    name = _name(rule)
    if name.startswith(_PREFIX) or controllers == "":
        return None
    match_kinds = _kinds(rule.get("match"))
    exclude_kinds = _kinds(rule.get("exclude"))
    if not _contains_kind(match_kinds, "Pod") or (
        exclude_kinds and not _contains_kind(exclude_kinds, "Pod")
    ):
        return None
    if controllers == "all":
        controllers = ",".join(CONTROLLERS)
    elif controllers != "none":
        validated = [c for c in sorted(controllers.split(",")) if c in CONTROLLERS]
        if validated:
            controllers = ",".join(validated)
    return _generate(
        _cut(_PREFIX + name),
        rule,
        "template",
        sorted(controllers.split(",")),
        _replace_pod_kinds,
    )


def _for_cronjob(rule: dict[str, Any], controllers: str) -> dict[str, Any] | None:
    if CRONJOB not in controllers and "all" not in controllers:
        return None
    inner = _for_controllers(rule, controllers)
    if inner is None:
        return None
    return _generate(
        _cut(_CRON_PREFIX + _name(rule)), inner, "jobTemplate", [CRONJOB], _replace_all_kinds
    )


def _cut(name: str) -> str:
    return name[:_MAX_NAME]


Filters = list[Any]


def _replace_pod_kinds(filters: Filters, kinds: list[str]) -> Filters:
    out = copy.deepcopy(filters)
    for item in out:
        if not isinstance(item, dict):
            continue
        resources = item.get("resources")
        if isinstance(resources, dict):
            current = [k for k in _list(resources.get("kinds")) if isinstance(k, str)]
            if _contains_kind(current, "Pod"):
                resources["kinds"] = list(kinds)
    return out


def _replace_all_kinds(filters: Filters, kinds: list[str]) -> Filters:
    out = copy.deepcopy(filters)
    for item in out:
        if isinstance(item, dict):
            resources = item.get("resources")
            if not isinstance(resources, dict):
                resources = item["resources"] = {}
            resources["kinds"] = list(kinds)
    return out


def _generate(
    name: str,
    rule: dict[str, Any],
    template_key: str,
    kinds: list[str],
    replace_filters: Callable[[Filters, list[str]], Filters],
) -> dict[str, Any] | None:
    out = {key: copy.deepcopy(rule[key]) for key in _RULE_FIELDS if rule.get(key) is not None}
    out["name"] = name
    match = out.get("match")
    if not isinstance(match, dict):
        match = out["match"] = {}
    if _list(match.get("any")):
        match["any"] = replace_filters(match["any"], kinds)
    elif _list(match.get("all")):
        match["all"] = replace_filters(match["all"], kinds)
    else:
        resources = match.get("resources")
        if not isinstance(resources, dict):
            resources = match["resources"] = {}
        resources["kinds"] = list(kinds)
    exclude = out.get("exclude")
    if isinstance(exclude, dict):
        if _list(exclude.get("any")):
            exclude["any"] = replace_filters(exclude["any"], kinds)
        elif _list(exclude.get("all")):
            exclude["all"] = replace_filters(exclude["all"], kinds)
        elif isinstance(exclude.get("resources"), dict) and exclude["resources"].get("kinds"):
            exclude["resources"]["kinds"] = list(kinds)
    mutate = out.get("mutate")
    if isinstance(mutate, dict) and (mutate.get("patchStrategicMerge") or mutate.get("foreach")):
        return out  # not evaluated here, but its results still need the autogen name
    validate = out.get("validate")
    if isinstance(validate, dict) and validate:
        generated = _generate_validate(validate, template_key)
        if generated is None:
            return None
        out["validate"] = generated
        return out
    if out.get("verifyImages"):
        return out
    return None


def _generate_validate(validate: dict[str, Any], template_key: str) -> dict[str, Any] | None:
    kept = {key: validate[key] for key in _KEPT_VALIDATE if validate.get(key) is not None}
    if validate.get("pattern") is not None:
        return {**kept, "pattern": {"spec": {template_key: validate["pattern"]}}}
    if validate.get("deny") is not None:
        return {**kept, "deny": validate["deny"]}
    if validate.get("podSecurity") is not None:
        return {**kept, "podSecurity": validate["podSecurity"]}
    if validate.get("anyPattern") is not None:
        patterns = [{"spec": {template_key: p}} for p in _list(validate["anyPattern"])]
        return {**kept, "anyPattern": patterns}
    if validate.get("foreach"):
        return {**kept, "foreach": validate["foreach"]}
    if validate.get("cel") is not None or validate.get("assert") is not None:
        return validate
    return None


def _rewrite(rule: dict[str, Any], replacements: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Kyverno's textual rewrite of the rule's JSON: every ``request.object.spec`` becomes the
    controller's pod template, wherever it occurs (messages and patterns included)."""
    text = json.dumps(rule)
    for old, new in replacements:
        text = text.replace(old, new)
    result: dict[str, Any] = json.loads(text)
    return result


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
