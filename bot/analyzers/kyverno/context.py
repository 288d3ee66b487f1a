"""The JSON data Kyverno variables see (``request.object``, ``element``, context entries...)."""

from __future__ import annotations

from typing import Any

from bot.analyzers.kyverno.jmespath_dialect import compile_expression


class Context:
    """A scope of variables. ``child`` makes a new scope that shares the parent's data and adds
    top-level keys (foreach ``element``...); writes never reach the parent's dictionaries."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})

    @property
    def data(self) -> dict[str, Any]:
        """The top-level mapping (read it; change it with the methods below)."""
        return self._data

    def query(self, expr: str) -> Any:
        """Evaluate a JMESPath expression (Kyverno's dialect) over the data; raises
        ``NotFoundError`` for an unknown key and ``JMESPathError`` for other problems."""
        return compile_expression(expr).search(self._data)

    def child(self, **bindings: Any) -> Context:
        """A new scope with ``bindings`` as extra top-level keys."""
        scope = Context.__new__(Context)
        scope._data = {**self._data, **bindings}
        return scope

    def set_path(self, dotted: str, value: Any) -> None:
        """Set a value at a dotted path (``request.operation``), creating maps on the way;
        maps on the path are copied so that a parent scope is not changed."""
        keys = [key for key in dotted.split(".") if key]
        if not keys:
            return
        node = self._data
        for key in keys[:-1]:
            current = node.get(key)
            copied = dict(current) if isinstance(current, dict) else {}
            node[key] = copied
            node = copied
        node[keys[-1]] = value

    def add_variable(self, name: str, value: Any) -> None:
        """A rule ``context[]`` entry of type variable (a dotted name nests, as in Kyverno)."""
        self.set_path(name, value)

    def operation(self) -> str:
        """``request.operation`` (``CREATE`` when absent)."""
        request = self._data.get("request")
        if isinstance(request, dict):
            operation = request.get("operation")
            if isinstance(operation, str):
                return operation
        return "CREATE"
