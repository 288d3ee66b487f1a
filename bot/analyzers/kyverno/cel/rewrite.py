"""Source rewrites that give cel-cpp Kyverno's CEL behaviour (all token-aware).

- ``rewrite_or_value``: Kyverno's ``orValue`` compatibility. cel-go used to return the
  receiver of ``x.orValue(y)`` when ``x`` is not optional and Kyverno keeps that behaviour
  with a compat function; cel-cpp fails with "no matching overload". The rewrite turns
  ``R.orValue(Y)`` into ``cel.bind(v, R, type(v) == optional_type ? dyn(v).orValue(Y) :
  dyn(v))``. ``cel.bind`` evaluates ``R`` once (nested rewrites would otherwise double the
  work per level) and ``dyn`` lets the checker accept both a typed optional and a plain
  receiver. Receivers whose chain already has ``.?``/``[?`` are left alone: they are
  optional for sure and keep their precise type.
- ``inline_variables``: Kyverno's lazy ``variables.NAME`` become ``(expression)``,
  recursively, so a variable is evaluated only where (and if) it is used, keeps its static
  type and needs no result value fed back into the runtime. A cycle is a compile error.
- ``autogen``: the pod-controller rewrites of ``object.spec``/``object.metadata`` (and
  ``oldObject``) that Kyverno applies to rules generated for Deployments, CronJobs, ...
- ``rewrite_library_calls``: forms of the Kubernetes format library that return
  optionals, which Python functions cannot return (see ``libs/format.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from bot.analyzers.kyverno.cel.errors import CelCompileError
from bot.analyzers.kyverno.cel.scanner import (
    Kind,
    Token,
    chain_is_optional,
    is_root,
    matching,
    receiver_start,
    tokenize,
    variable_roots,
)

# Names the rewrites introduce; the double underscore keeps them out of authors' way.
BIND_PREFIX = "__kg_ov"
FORMAT_NAMED_FUNCTION = "__kg_format_named"
FORMAT_VALIDATE_FUNCTION = "__kg_format_validate"

Emit = Callable[[int, int], str]


@dataclass(frozen=True, slots=True)
class _Site:
    """A rewrite of ``text[start:end]``; ``build`` gets ``emit`` for rewritten sub-ranges."""

    start: int
    end: int
    build: Callable[[Emit], str]


def _splice(text: str, sites: Sequence[_Site]) -> str:
    """Apply nested rewrites: each site sees its sub-ranges already rewritten."""
    if not sites:
        return text
    ordered = sorted(sites, key=lambda site: (site.start, -site.end))

    def emit(start: int, end: int) -> str:
        out: list[str] = []
        position = start
        for site in ordered:
            if site.start >= position and site.end <= end:
                out.append(text[position : site.start])
                out.append(site.build(emit))
                position = site.end
        out.append(text[position:end])
        return "".join(out)

    return emit(0, len(text))


def _member_calls(tokens: Sequence[Token], name: str) -> list[tuple[int, int, int, int]]:
    """(receiver start, dot, open paren, close paren) token indexes of ``R.name(...)``."""
    calls: list[tuple[int, int, int, int]] = []
    for i in range(len(tokens) - 2):
        if not (
            tokens[i].is_punct(".")
            and tokens[i + 1].kind is Kind.IDENT
            and tokens[i + 1].text == name
            and tokens[i + 2].is_punct("(")
        ):
            continue
        close = matching(tokens, i + 2)
        start = receiver_start(tokens, i)
        if close < 0 or start < 0:
            continue
        calls.append((start, i, i + 2, close))
    return calls


# --- orValue compatibility -------------------------------------------------------------


def rewrite_or_value(text: str) -> str:
    """Kyverno's orValue compat: ``R.orValue(Y)`` also works when ``R`` is not optional."""
    tokens = tokenize(text)
    sites: list[_Site] = []
    for number, (start, dot, opened, close) in enumerate(_member_calls(tokens, "orValue")):
        if chain_is_optional(tokens, start, dot):
            continue
        sites.append(_or_value_site(tokens, start, dot, opened, close, f"{BIND_PREFIX}{number}"))
    return _splice(text, sites)


def _or_value_site(
    tokens: Sequence[Token], start: int, dot: int, opened: int, close: int, name: str
) -> _Site:
    receiver = (tokens[start].start, tokens[dot].start)
    argument = (tokens[opened].end, tokens[close].start)

    def build(emit: Emit) -> str:
        return (
            f"cel.bind({name}, {emit(*receiver)}, type({name}) == optional_type"
            f" ? dyn({name}).orValue({emit(*argument)}) : dyn({name}))"
        )

    return _Site(tokens[start].start, tokens[close].end, build)


# --- library forms that return optionals ------------------------------------------------


def rewrite_library_calls(text: str) -> str:
    """``format.named(n)`` and ``F.validate(s)`` -> internal functions wrapped in optionals.

    Python functions cannot return CEL optionals, so the internal functions return a value
    (a format map or ``null``; a list of errors) that ``optional.ofNonZeroValue`` turns
    into the optional the Kubernetes library returns: none for ``null`` or ``[]``.
    """
    tokens = tokenize(text)
    sites: list[_Site] = []
    for start, dot, opened, close in _member_calls(tokens, "validate"):
        sites.append(_validate_site(tokens, start, dot, opened, close))
    for i in range(len(tokens) - 3):
        if (
            tokens[i].kind is Kind.IDENT
            and tokens[i].text == "format"
            and is_root(tokens, i)
            and tokens[i + 1].is_punct(".")
            and tokens[i + 2].text == "named"
            and tokens[i + 3].is_punct("(")
        ):
            close = matching(tokens, i + 3)
            if close >= 0:
                sites.append(_named_site(tokens, i, i + 3, close))
    return _splice(text, sites)


def _validate_site(tokens: Sequence[Token], start: int, dot: int, opened: int, close: int) -> _Site:
    receiver = (tokens[start].start, tokens[dot].start)
    argument = (tokens[opened].end, tokens[close].start)

    def build(emit: Emit) -> str:
        return (
            f"optional.ofNonZeroValue({emit(*receiver)}"
            f".{FORMAT_VALIDATE_FUNCTION}({emit(*argument)}))"
        )

    return _Site(tokens[start].start, tokens[close].end, build)


def _named_site(tokens: Sequence[Token], first: int, opened: int, close: int) -> _Site:
    argument = (tokens[opened].end, tokens[close].start)

    def build(emit: Emit) -> str:
        return f"optional.ofNonZeroValue({FORMAT_NAMED_FUNCTION}({emit(*argument)}))"

    return _Site(tokens[first].start, tokens[close].end, build)


# --- lazy variables ---------------------------------------------------------------------


def inline_variables(text: str, definitions: Mapping[str, str], expression: str = "") -> str:
    """Replace ``variables.NAME`` by ``(definition)``, recursively; ``has(variables.NAME)``
    by whether NAME is defined. Unknown names are left alone: they read the ``variables``
    map at run time, where the lookup fails as it does in Kyverno.

    Raises CelCompileError naming the variables of a cycle (``a -> b -> a``).
    """
    inliner = _Inliner(definitions, expression or text)
    return inliner.inline(text, ())


class _Inliner:
    def __init__(self, definitions: Mapping[str, str], expression: str) -> None:
        self._definitions = definitions
        self._expression = expression
        self._done: dict[str, str] = {}

    def inline(self, text: str, stack: tuple[str, ...]) -> str:
        tokens = tokenize(text)
        sites: list[_Site] = []
        for i, token in enumerate(tokens):
            if token.kind is not Kind.IDENT or not is_root(tokens, i):
                continue
            if token.text == "has":
                site = self._has_site(tokens, i)
            elif token.text == "variables":
                site = self._reference_site(tokens, i, stack)
            else:
                site = None
            if site is not None:
                sites.append(site)
        return _splice(text, sites)

    def _reference_site(
        self, tokens: Sequence[Token], i: int, stack: tuple[str, ...]
    ) -> _Site | None:
        found = _variable_name(tokens, i)
        if found is None:
            return None
        name, last = found
        if name not in self._definitions:
            return None
        body = self._definition(name, stack)
        return _Site(tokens[i].start, tokens[last].end, lambda _emit: f"({body})")

    def _has_site(self, tokens: Sequence[Token], i: int) -> _Site | None:
        if i + 2 >= len(tokens) or not tokens[i + 1].is_punct("("):
            return None
        if tokens[i + 2].text != "variables":
            return None
        found = _variable_name(tokens, i + 2)
        if found is None:
            return None
        name, last = found
        if last + 1 >= len(tokens) or not tokens[last + 1].is_punct(")"):
            return None
        value = "true" if name in self._definitions else "false"
        return _Site(tokens[i].start, tokens[last + 1].end, lambda _emit: value)

    def _definition(self, name: str, stack: tuple[str, ...]) -> str:
        if name in stack:
            cycle = " -> ".join((*stack[stack.index(name) :], name))
            raise CelCompileError(f"variable '{name}' refers to itself: {cycle}", self._expression)
        if name not in self._done:
            self._done[name] = self.inline(self._definitions[name], (*stack, name))
        return self._done[name]


def _variable_name(tokens: Sequence[Token], i: int) -> tuple[str, int] | None:
    """(name, index of its last token) for ``variables.NAME`` or ``variables['NAME']``."""
    if i + 2 < len(tokens) and tokens[i + 1].is_punct(".") and tokens[i + 2].kind is Kind.IDENT:
        if i + 3 < len(tokens) and tokens[i + 3].is_punct("("):
            return None  # a method call on the map itself
        return tokens[i + 2].text, i + 2
    if (
        i + 3 < len(tokens)
        and tokens[i + 1].is_punct("[")
        and tokens[i + 2].kind is Kind.STRING
        and tokens[i + 3].is_punct("]")
    ):
        name = _string_value(tokens[i + 2].text)
        if name is not None:
            return name, i + 3
    return None


def _string_value(literal: str) -> str | None:
    """The value of a plain (non-raw, non-bytes) CEL string literal, when Python agrees."""
    if literal[:1] not in "'\"":
        return None
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


# --- autogen ----------------------------------------------------------------------------


class AutogenTarget(Enum):
    """Where the pod template lives in the generated rule's resources."""

    POD_CONTROLLER = "spec.template"  # Deployment, DaemonSet, StatefulSet, ReplicaSet, Job
    CRONJOB = "spec.jobTemplate.spec.template"


def autogen(text: str, target: AutogenTarget, keep_namespace: bool = False) -> str:
    """Kyverno's autogen replacements for ``object``/``oldObject`` (token-aware).

    ``object.spec`` -> ``object.<template>.spec`` and ``object.metadata`` ->
    ``object.<template>.metadata``. With ``keep_namespace`` (newer ValidatingPolicy
    autogen) ``object.metadata.namespace`` keeps pointing at the controller's namespace,
    which is the one the generated pods get.
    """
    tokens = tokenize(text)
    sites: list[_Site] = []
    for i in range(len(tokens) - 2):
        token = tokens[i]
        if token.kind is not Kind.IDENT or token.text not in ("object", "oldObject"):
            continue
        if not is_root(tokens, i) or not tokens[i + 1].is_punct("."):
            continue
        field = tokens[i + 2]
        if field.kind is not Kind.IDENT or field.text not in ("spec", "metadata"):
            continue
        if field.text == "metadata" and keep_namespace and _selects(tokens, i + 3, "namespace"):
            continue
        replacement = f"{token.text}.{target.value}.{field.text}"
        sites.append(_Site(token.start, field.end, _constant(replacement)))
    return _splice(text, sites)


def _constant(text: str) -> Callable[[Emit], str]:
    return lambda _emit: text


def _selects(tokens: Sequence[Token], i: int, name: str) -> bool:
    """True when ``tokens[i:]`` starts with ``.name`` or ``.?name``."""
    if i < len(tokens) and tokens[i].is_punct("."):
        i += 1
        if i < len(tokens) and tokens[i].is_punct("?"):
            i += 1
        return i < len(tokens) and tokens[i].text == name
    return False


# --- analysis -----------------------------------------------------------------------------


def referenced_roots(text: str) -> frozenset[str]:
    """Identifiers used as roots (``request`` in ``request.userInfo``), calls excluded.

    Lets the policy layer skip expressions that need ``authorizer``, ``params``,
    ``request.userInfo`` ... before evaluating them. Comprehension variables appear too.
    """
    tokens = tokenize(text)
    return frozenset(tokens[i].text for i in variable_roots(tokens))
