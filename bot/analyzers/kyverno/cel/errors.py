"""Errors of the CEL layer; every message is written for the policy author."""

from __future__ import annotations


class CelError(Exception):
    """Base of every CEL error; ``expression`` is the text the author wrote."""

    def __init__(self, message: str, expression: str) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression


class CelCompileError(CelError):
    """The expression does not parse or does not type-check.

    ``line`` and ``column`` are 1-based positions in ``expression`` when the runtime gave
    one that maps back to the author's text, else ``None``.
    """

    def __init__(
        self,
        message: str,
        expression: str,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message, expression)
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line is not None else ""
        return f"{self.message}{where} in CEL expression: {self.expression}"


class CelEvaluationError(CelError):
    """Evaluating a compiled expression failed (missing field, bad argument, ...)."""

    def __str__(self) -> str:
        return f"{self.message} in CEL expression: {self.expression}"


class CelUnavailableError(CelEvaluationError):
    """The expression needs something an offline run cannot have: a cluster, the network.

    ``function`` names the CEL function (``resource.Get``, ``http.Get``, ...); the policy
    layer turns this into a *skip* with ``message`` as the reason.
    """

    def __init__(self, message: str, expression: str, function: str) -> None:
        super().__init__(message, expression)
        self.function = function
