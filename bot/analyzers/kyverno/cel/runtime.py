"""The CEL runtime behind a narrow protocol: compile text, evaluate on plain values.

    runtime = CelRuntime(Environment.VALIDATING_POLICY)
    check = runtime.compile("variables.names.all(n, n.size() < 64)",
                            lazy_variables={"names": "object.spec.containers.map(c, c.name)"})
    check.evaluate({"object": pod})            # -> True / False / any JSON value

cel-expr-python (Google's binding of cel-cpp) is the engine; nothing else imports it.
Compiling applies Kyverno's source rewrites (orValue compatibility, lazy variables, the
format library's optional forms) and checks homogeneous literals; compiled expressions
are cached per runtime (one runtime per run) by text, declared variables and lazy
variable definitions. Errors are CelCompileError / CelEvaluationError /
CelUnavailableError with the author's expression.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel  # type: ignore[import-untyped]

from bot.analyzers.kyverno.cel import literals
from bot.analyzers.kyverno.cel.environment import DEFAULT_VARIABLES, Environment, new_env
from bot.analyzers.kyverno.cel.errors import (
    CelCompileError,
    CelEvaluationError,
    CelUnavailableError,
)
from bot.analyzers.kyverno.cel.libs.base import UNAVAILABLE_MARKER
from bot.analyzers.kyverno.cel.rewrite import (
    inline_variables,
    rewrite_library_calls,
    rewrite_or_value,
)
from bot.analyzers.kyverno.cel.scanner import line_column

Declarations = Sequence[str] | Mapping[str, str]

_RUNTIME_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): ([^\n]*)")
_STATUS_PREFIX = re.compile(r"^[A-Z_]+: ")
_STATUS_SUFFIX = re.compile(r"\s*\[[A-Z_]+\]$")
_UNAVAILABLE_FUNCTION = re.compile(re.escape(UNAVAILABLE_MARKER) + r" ([\w.]+)\(\)")
_RESULT = "__kg_result"


@dataclass(frozen=True, slots=True)
class OptionalValue:
    """A CEL optional returned by an expression (``object.?spec.x``): ``present`` or not."""

    present: bool
    value: Any = None


class Activation:
    """Variable bindings prepared once for evaluating many expressions on one object.

    Building the runtime's activation is cheap but converting it again for each expression
    is not free; the policy layer prepares one per resource and passes it to every
    expression compiled by the same runtime with the same declarations.
    """

    def __init__(self, env: Any, values: Mapping[str, Any]) -> None:
        self.values = dict(values)
        self._env = env
        self.native = env.Activation(self.values)

    def for_env(self, env: Any) -> Any:
        return self.native if env is self._env else env.Activation(self.values)


class CompiledExpression:
    """A compiled expression; ``evaluate`` returns plain Python (JSON-like) values."""

    def __init__(
        self,
        expression: str,
        source: str,
        env: Any,
        program: Any,
        optional: bool,
        result_type: str = "DYN",
    ):
        self.expression = expression  # as the author wrote it
        self.source = source  # after Kyverno's rewrites: what cel-cpp runs
        # The checker's type of the result (BOOL, STRING, DYN, optional_type(...), ...), so
        # the policy layer can refuse a validation that cannot be a bool, as Kyverno does.
        self.result_type = result_type
        self._env = env
        self._program = program
        self._optional = optional

    def evaluate(self, activation: Mapping[str, Any] | Activation) -> Any:
        """The value of the expression; an optional result is an OptionalValue.

        Raises CelEvaluationError (CelUnavailableError for cluster/network functions).
        """
        try:
            if isinstance(activation, Activation):
                native = activation.for_env(self._env)
            else:
                native = self._env.Activation(dict(activation))
            value = self._program.eval(native)
        except (RuntimeError, TypeError) as err:
            # A binding cel-cpp cannot take (an int beyond 64 bits, a Python set) or the
            # planner failing on a form it lacks (transformMap in cel-expr-python 0.1.3).
            message = _STATUS_SUFFIX.sub("", _STATUS_PREFIX.sub("", str(err)))
            raise CelEvaluationError(message, self.expression) from None
        if value.type() == cel.Type.ERROR:
            raise self._error(value)
        try:
            result = value.plain_value()
        except TypeError:
            raise CelEvaluationError(
                "the result is an optional value of dynamic type; use .orValue() or "
                ".value() to read it",
                self.expression,
            ) from None
        if self._optional:
            return OptionalValue(True, result[0]) if result else OptionalValue(False)
        return result

    def _error(self, value: Any) -> CelEvaluationError:
        try:
            raw = str(value.value())
        except TypeError:
            # cel-expr-python reports a (dynamically typed) optional result as an error
            # value it cannot convert.
            return CelEvaluationError(
                "the result is an optional value of dynamic type; use .orValue() or "
                ".value() to read it",
                self.expression,
            )
        message = _STATUS_SUFFIX.sub("", _STATUS_PREFIX.sub("", raw))
        unavailable = _UNAVAILABLE_FUNCTION.search(message)
        if unavailable is not None:
            clean = message.replace(UNAVAILABLE_MARKER, "").strip()
            return CelUnavailableError(clean, self.expression, unavailable.group(1))
        return CelEvaluationError(message, self.expression)


class CelRuntime:
    """Compiles and caches expressions for one environment (one instance per run)."""

    def __init__(
        self, environment: Environment = Environment.VALIDATING_POLICY, max_cached: int = 8192
    ) -> None:
        self.environment = environment
        self._envs: dict[tuple[tuple[str, str], ...], Any] = {}
        self._compiled: dict[tuple[Any, ...], CompiledExpression | CelCompileError] = {}
        self._rewritten: dict[str, str] = {}
        # A long-running process (the App) compiles the policies of many repositories with
        # one shared runtime: the caches are bounded, the oldest entries go first.
        self._max_cached = max_cached

    def compile(
        self,
        expression: str,
        variables: Declarations = DEFAULT_VARIABLES,
        lazy_variables: Mapping[str, str] | None = None,
    ) -> CompiledExpression:
        """Compile ``expression`` declaring ``variables`` (names, or name -> type name).

        ``lazy_variables`` are the policy's ``spec.variables`` (name -> expression):
        ``variables.NAME`` is inlined, so unused variables are never evaluated. Without
        them ``variables`` is an ordinary variable the activation binds.
        Raises CelCompileError (syntax, types, heterogeneous literals, variable cycles).
        """
        declared = _declarations(variables)
        lazy = None if lazy_variables is None else tuple(sorted(lazy_variables.items()))
        key = (expression, declared, lazy)
        cached = self._compiled.get(key)
        if cached is None:
            try:
                cached = self._compile(expression, declared, None if lazy is None else dict(lazy))
            except CelCompileError as err:
                cached = err
            if len(self._compiled) >= self._max_cached:
                self._compiled.pop(next(iter(self._compiled)))
                self._rewritten.clear()
            self._compiled[key] = cached
        if isinstance(cached, CelCompileError):
            raise cached
        return cached

    def activation(
        self, values: Mapping[str, Any], variables: Declarations = DEFAULT_VARIABLES
    ) -> Activation:
        """Bindings to evaluate many expressions compiled with the same ``variables``."""
        return Activation(self._env(_declarations(variables)), values)

    def _env(self, declared: tuple[tuple[str, str], ...]) -> Any:
        env = self._envs.get(declared)
        if env is None:
            env = self._envs[declared] = new_env(self.environment, dict(declared))
        return env

    def _compile(
        self,
        expression: str,
        declared: tuple[tuple[str, str], ...],
        lazy: Mapping[str, str] | None,
    ) -> CompiledExpression:
        env = self._env(declared)
        # The author's text (with the library rewrites, which keep it valid CEL) is checked
        # first, so syntax and type errors point at the author's line and column.
        written = self._library_rewrite(expression)
        positions = written == expression
        self._check(env, written, expression, positions)
        mismatch = literals.check(written, lambda text: _compile_message(env, text))
        if mismatch is not None:
            line, column = line_column(written, mismatch.offset) if positions else (None, None)
            raise CelCompileError(
                f"{mismatch.kind} literal mixes {mismatch.found}; Kyverno requires "
                f"homogeneous literals: wrap the elements in dyn() for a mixed {mismatch.kind}",
                expression,
                line,
                column,
            )
        source = self._full_rewrite(expression)
        if lazy is not None:
            definitions = {name: self._full_rewrite(text) for name, text in lazy.items()}
            source = inline_variables(source, definitions, expression)
        program = self._check(env, source, expression, source == expression)
        result_type = str(program.return_type())
        optional = result_type.startswith("optional_type")
        if optional:
            wrapped = (
                f"cel.bind({_RESULT}, {source}, {_RESULT}.hasValue() ? [{_RESULT}.value()] : [])"
            )
            program = self._check(env, wrapped, expression, False)
        return CompiledExpression(expression, source, env, program, optional, result_type)

    def _library_rewrite(self, text: str) -> str:
        return rewrite_library_calls(text)

    def _full_rewrite(self, text: str) -> str:
        rewritten = self._rewritten.get(text)
        if rewritten is None:
            rewritten = self._rewritten[text] = rewrite_or_value(rewrite_library_calls(text))
        return rewritten

    @staticmethod
    def _check(env: Any, text: str, expression: str, positions: bool) -> Any:
        try:
            return env.compile(text)
        except RuntimeError as err:
            raise _compile_error(str(err), expression, positions) from None


def _declarations(variables: Declarations) -> tuple[tuple[str, str], ...]:
    if isinstance(variables, Mapping):
        return tuple(sorted(variables.items()))
    return tuple(sorted((name, "dyn") for name in variables))


def _compile_message(env: Any, text: str) -> str | None:
    try:
        env.compile(text)
    except RuntimeError as err:
        return str(err)
    return None


def _compile_error(raw: str, expression: str, positions: bool) -> CelCompileError:
    found = _RUNTIME_ERROR.search(raw)
    if found is None:
        message = _STATUS_SUFFIX.sub("", _STATUS_PREFIX.sub("", raw.strip()))
        return CelCompileError(message or "invalid expression", expression)
    line, column, message = found.groups()
    if not positions:
        return CelCompileError(message, expression)
    return CelCompileError(message, expression, int(line), int(column))
