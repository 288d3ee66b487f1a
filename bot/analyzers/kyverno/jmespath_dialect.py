"""JMESPath as Kyverno evaluates it (kyverno/go-jmespath plus Kyverno's custom functions).

Two differences from stock JMESPath matter for policy results:

- a field looked up on an object that lacks it raises ``NotFoundError`` ("Unknown key"); the error
  passes through sub-expressions and index expressions and is swallowed (the value becomes null)
  by comparators, function arguments, projections, filters, flatten, pipes, ``||``, ``&&``
  (left side), ``!`` and multi-selects (``pkg/engine/jmespath/interpreter.go``);
- Kyverno's functions (``regex_match``, ``add`` with quantities, ``parse_yaml``, ``time_*``...)
  with Kyverno's argument order (``pkg/engine/jmespath/functions.go``, ``arithmetic.go``,
  ``time.go``).

This module holds the first (the interpreter), the compile cache and the entry points; the
functions are in ``jmespath_functions`` and the family modules it joins. The helpers other
modules use (``to_json``, ``normalize_image``, the semver ones) are re-exported here so that
callers keep one import for the dialect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, cast

import jmespath  # type: ignore[import-untyped,unused-ignore]
from jmespath import exceptions as jp_exceptions  # type: ignore[import-untyped,unused-ignore]
from jmespath.visitor import (  # type: ignore[import-untyped,unused-ignore]
    Options,
    TreeInterpreter,
    _Expression,
)

from bot.analyzers.kyverno.errors import JMESPathError, NotFoundError
from bot.analyzers.kyverno.jmespath_functions import CUSTOM_FUNCTIONS, KyvernoFunctions
from bot.analyzers.kyverno.jmespath_json import json_equal, to_json
from bot.analyzers.kyverno.jmespath_references import normalize_image
from bot.analyzers.kyverno.jmespath_semver import semver_compare_versions, semver_matches
from bot.analyzers.kyverno.values import is_number

__all__ = [
    "CUSTOM_FUNCTIONS",
    "CompiledExpression",
    "Node",
    "compile_expression",
    "normalize_image",
    "semver_compare_versions",
    "semver_matches",
    "to_json",
]


Node = dict[str, Any]
"""A node of the parsed expression tree (``jmespath``'s AST)."""


# ---------------------------------------------------------------------------------------------
# The interpreter


class _SwallowingExpression(_Expression):  # type: ignore[misc,unused-ignore]
    """An expression reference (``&expr``) whose unknown keys read as null, as in Kyverno."""

    def visit(self, node: Node, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.interpreter.visit(node, *args, **kwargs)
        except NotFoundError:
            return None


class _KyvernoInterpreter(TreeInterpreter):  # type: ignore[misc,unused-ignore]
    """``TreeInterpreter`` with kyverno/go-jmespath's NotFoundError rules."""

    def _quiet(self, node: Node, value: Any) -> Any:
        try:
            return self.visit(node, value)
        except NotFoundError:
            return None

    def _silent(self, node: Node, value: Any) -> Any:
        # go-jmespath drops every error of the left side of filters, flatten and value
        # projections, not only unknown keys.
        try:
            return self.visit(node, value)
        except (JMESPathError, jp_exceptions.JMESPathError):
            return None

    def visit_field(self, node: Node, value: Any) -> Any:
        if isinstance(value, dict):
            try:
                return value[node["value"]]
            except KeyError:
                raise NotFoundError(node["value"]) from None
        return None

    def visit_subexpression(self, node: Node, value: Any) -> Any:
        children = node["children"]
        result = self.visit(children[0], value)
        for child in children[1:]:
            if result is None:
                return None
            result = self.visit(child, result)
        return result

    visit_index_expression = visit_subexpression

    def visit_comparator(self, node: Node, value: Any) -> Any:
        left = self._quiet(node["children"][0], value)
        right = self._quiet(node["children"][1], value)
        op = node["value"]
        if op == "eq":
            return json_equal(left, right)
        if op == "ne":
            return not json_equal(left, right)
        if not (is_number(left) and is_number(right)):
            return None
        if op == "lt":
            return left < right
        if op == "lte":
            return left <= right
        if op == "gt":
            return left > right
        return left >= right

    def visit_expref(self, node: Node, value: Any) -> Any:
        return _SwallowingExpression(node["children"][0], self)

    def visit_function_expression(self, node: Node, value: Any) -> Any:
        args = [self._quiet(child, value) for child in node["children"]]
        return self._functions.call_function(node["value"], args)

    def visit_filter_projection(self, node: Node, value: Any) -> Any:
        base = self._silent(node["children"][0], value)
        if not isinstance(base, list):
            return None
        condition, projected = node["children"][2], node["children"][1]
        kept = (e for e in base if self._is_true(self._quiet(condition, e)))
        return self._project(projected, kept)

    def visit_flatten(self, node: Node, value: Any) -> Any:
        base = self._silent(node["children"][0], value)
        if not isinstance(base, list):
            return None
        merged: list[Any] = []
        for element in base:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged

    def visit_index(self, node: Node, value: Any) -> Any:
        if not isinstance(value, list):
            return None
        index = node["value"]
        if -len(value) <= index < len(value):
            return value[index]
        return None

    def visit_multi_select_dict(self, node: Node, value: Any) -> Any:
        return {child["value"]: self._quiet(child, value) for child in node["children"]}

    def visit_multi_select_list(self, node: Node, value: Any) -> Any:
        return [self._quiet(child, value) for child in node["children"]]

    def visit_or_expression(self, node: Node, value: Any) -> Any:
        matched = self._quiet(node["children"][0], value)
        if self._is_false(matched):
            matched = self._quiet(node["children"][1], value)
        return matched

    def visit_and_expression(self, node: Node, value: Any) -> Any:
        matched = self._quiet(node["children"][0], value)
        if self._is_false(matched):
            return matched
        return self.visit(node["children"][1], value)

    def visit_not_expression(self, node: Node, value: Any) -> Any:
        return self._is_false(self._quiet(node["children"][0], value))

    def visit_pipe(self, node: Node, value: Any) -> Any:
        result = value
        for child in node["children"]:
            result = self._quiet(child, result)
        return result

    def visit_projection(self, node: Node, value: Any) -> Any:
        base = self._quiet(node["children"][0], value)
        if not isinstance(base, list):
            return None
        return self._project(node["children"][1], base)

    def visit_value_projection(self, node: Node, value: Any) -> Any:
        base = self._silent(node["children"][0], value)
        if not isinstance(base, dict):
            return None
        return self._project(node["children"][1], base.values())

    def _project(self, projected: Node, elements: Iterable[Any]) -> list[Any]:
        """``projected`` on each element, null results dropped (every JMESPath projection).
        ``elements`` may be lazy: a filter's condition then runs just before each element."""
        results = (self._quiet(projected, element) for element in elements)
        return [result for result in results if result is not None]

    def _is_false(self, value: Any) -> bool:
        return value is None or value is False or value in ("", [], {})

    def _is_true(self, value: Any) -> bool:
        return not self._is_false(value)


# ---------------------------------------------------------------------------------------------
# Compiled expressions

_OPTIONS = Options(custom_functions=KyvernoFunctions())


_INTERPRETER = _KyvernoInterpreter(_OPTIONS)


_SIMPLE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class CompiledExpression:
    """A parsed expression; ``search`` evaluates it with Kyverno's dialect."""

    __slots__ = ("_ast", "_fields", "text")

    def __init__(self, text: str, ast: Node) -> None:
        self.text = text
        self._ast = ast
        # plain dotted field paths (the most common variables) skip the tree interpreter
        stripped = text.strip()
        self._fields = tuple(stripped.split(".")) if _SIMPLE_PATH.fullmatch(stripped) else None

    def search(self, data: Any) -> Any:
        """Evaluate over ``data``: raises ``NotFoundError`` for an unknown key that nothing
        swallowed, ``JMESPathError`` for a function or type error."""
        if self._fields is not None:
            return _walk_fields(data, self._fields)
        try:
            return _INTERPRETER.visit(self._ast, data)
        except JMESPathError:
            raise
        except jp_exceptions.JMESPathError as error:
            raise JMESPathError(f"{self.text}: {error}") from None
        except (TypeError, ValueError, ArithmeticError, RecursionError) as error:
            raise JMESPathError(f"{self.text}: {error}") from None


def _walk_fields(data: Any, fields: tuple[str, ...]) -> Any:
    value = data
    for field in fields:
        if isinstance(value, dict):
            try:
                value = value[field]
            except KeyError:
                raise NotFoundError(field) from None
        else:
            return None
    return value


@lru_cache(maxsize=8192)
def compile_expression(expr: str) -> CompiledExpression:
    """Parse once per expression text; a syntax error raises ``JMESPathError``."""
    try:
        ast = jmespath.compile(expr).parsed
    except jp_exceptions.JMESPathError as error:
        message = str(error).replace("\n", " ")
        raise JMESPathError(f"invalid JMESPath expression {expr!r}: {message}") from None
    return CompiledExpression(expr, cast(Node, ast))
