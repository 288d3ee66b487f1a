"""CEL for Kyverno's CEL policies: ``validate.cel`` rules and ValidatingPolicy.

The public surface is small on purpose: a runtime that compiles and evaluates, the two
environments, the errors, and the source rewrites the policy layer applies itself
(autogen) or inspects (referenced roots). See ``runtime.py`` for the protocol.
"""

from bot.analyzers.kyverno.cel.environment import DEFAULT_VARIABLES, Environment
from bot.analyzers.kyverno.cel.errors import (
    CelCompileError,
    CelError,
    CelEvaluationError,
    CelUnavailableError,
)
from bot.analyzers.kyverno.cel.rewrite import AutogenTarget, autogen, referenced_roots
from bot.analyzers.kyverno.cel.runtime import (
    Activation,
    CelRuntime,
    CompiledExpression,
    OptionalValue,
)

__all__ = [
    "DEFAULT_VARIABLES",
    "Activation",
    "AutogenTarget",
    "CelCompileError",
    "CelError",
    "CelEvaluationError",
    "CelRuntime",
    "CelUnavailableError",
    "CompiledExpression",
    "Environment",
    "OptionalValue",
    "autogen",
    "referenced_roots",
]
