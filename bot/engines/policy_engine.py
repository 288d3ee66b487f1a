"""The protocol every Rego backend implements: the in-process Regorus engine (run in worker
processes, ``rego_engine.py``) and a remote OPA server (``opa_server.py``).

The conftest conventions (which rules count, exceptions, messages, success arithmetic) live
above this protocol, in ``bot.analyzers.rego``, so both backends give the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class RegoVersion(StrEnum):
    V0 = "v0"
    V1 = "v1"


@dataclass(frozen=True, slots=True)
class PolicyModule:
    path: str  # as reported to the user (repository-relative, or as given on the command line)
    text: str
    rego_version: RegoVersion = RegoVersion.V1


@dataclass(frozen=True, slots=True)
class PolicyError:
    """A policy that did not load or evaluate: never a pass."""

    message: str
    path: str | None = None  # the policy file, when known
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class RuleHead:
    """One rule definition, from the engine's AST (never from a regex over the source)."""

    package: str  # dotted, without "data.": "main", "kubernetes.security"
    name: str  # "deny", "warn_latest", "exception", "test_denies_root"
    path: str  # the module's path
    line: int


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The values of the queried refs for one input; an undefined ref is absent."""

    values: Mapping[str, Any]  # "data.main.deny" -> JSON value
    error: PolicyError | None = None  # the input's evaluation failed (values may be partial)
    prints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EvalRequest:
    input: Any  # JSON-compatible document (or list of {path, contents} in combined mode)
    # data.conftest.file for this input: {"name": basename, "dir": directory}
    file: Mapping[str, str] | None = None


class PolicyEngine(Protocol):
    """Compile once per run, evaluate many inputs. Implementations own their isolation
    (processes, time and memory limits, network) and turn every failure into PolicyError."""

    def compile(
        self, modules: Sequence[PolicyModule], data: Mapping[str, Any]
    ) -> tuple[list[RuleHead], list[PolicyError]]: ...

    def evaluate(self, refs: Sequence[str], requests: Sequence[EvalRequest]) -> list[Evaluation]:
        """One Evaluation per request, in order; ``refs`` are full paths ("data.main.deny")."""
        ...

    def close(self) -> None: ...


class UnavailableEngine:
    """An engine that cannot run: every load and every input is a PolicyError saying why, so
    configured policies are reported as not checked, never as passing."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def compile(
        self, modules: Sequence[PolicyModule], data: Mapping[str, Any]
    ) -> tuple[list[RuleHead], list[PolicyError]]:
        return [], [PolicyError(self.reason)]

    def evaluate(self, refs: Sequence[str], requests: Sequence[EvalRequest]) -> list[Evaluation]:
        return [Evaluation(values={}, error=PolicyError(self.reason)) for _ in requests]

    def close(self) -> None:
        return None
