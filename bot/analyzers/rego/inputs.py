"""Input files as conftest parses them for ``conftest test`` (``parser/yaml``, ``parser/json``).

YAML is split only on the exact byte sequence ``\\n---\\n`` (``\\r\\n---\\r\\n`` when the file
has any CRLF): a leading ``---`` line is not a separator, ``--- # note`` does not split (only the
first document of such a chunk is read, as go-yaml reads one), and an empty chunk is a ``null``
document that is still evaluated. A file with several documents, or whose only document is a
list, becomes a list that conftest checks element by element. Values are JSON values as
``sigs.k8s.io/yaml`` makes them: timestamps and binary stay text, mapping keys become strings.

This is deliberately not ``bot.core.document``'s splitting (kubeconform's), which the ``check``
pipeline uses: ``gitops-gate rego test`` must give conftest's answer on the same files.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode

from bot.core.limits import DEFAULT_LIMITS, Limits

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
PARSERS = ("yaml", "json")
STDIN = "-"


@dataclass(frozen=True, slots=True)
class InputError(Exception):
    """An input (or data) file that cannot be parsed: ``line`` is 1-based in the file."""

    message: str
    line: int | None = None

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


def parser_for(path: str, forced: str | None = None) -> str | None:
    """``yaml``, ``json`` or None (a type conftest would hand to a parser we do not have)."""
    if forced:
        return forced
    if path == STDIN:
        return "yaml"
    lower = path.lower()
    if lower.endswith(YAML_SUFFIXES):
        return "yaml"
    if lower.endswith(JSON_SUFFIXES):
        return "json"
    return None


def expand_arguments(arguments: Sequence[str], ignore: str | None = None) -> list[str]:
    """The files named (empty arguments skipped, as conftest skips them), folders walked for
    YAML and JSON files; raises InputError for a path that does not exist or when none is left.
    ``ignore`` (conftest's ``--ignore``) is a regex searched in the paths found in folders."""
    try:
        skip = re.compile(ignore) if ignore else None
    except re.error as exc:
        raise InputError(f"--ignore: {exc}") from None
    files: list[str] = []
    for argument in arguments:
        if argument == "":
            continue
        if argument == STDIN:
            files.append(STDIN)
            continue
        if os.path.isdir(argument):
            for folder, dirs, names in os.walk(argument):
                dirs.sort()
                for name in sorted(names):
                    full = os.path.join(folder, name)
                    full = full.replace(os.sep, "/")
                    if skip is not None and skip.search(full):
                        continue
                    if parser_for(full) is not None and os.path.isfile(full):
                        files.append(full)
        elif os.path.exists(argument):
            files.append(argument)
        else:
            raise InputError(f'"{argument}": no such file or directory')
    if not files:
        raise InputError("no files found")
    return files


def parse_input(
    path: str, text: str, forced: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> Any:
    """One input file's value; raises InputError (with the line where known)."""
    kind = parser_for(path, forced)
    if kind is None:
        raise InputError(
            "no parser for this file type (gitops-gate rego test reads YAML and JSON; "
            "use --parser yaml|json to force one)"
        )
    if kind == "json":
        return parse_json(text)
    return parse_yaml(text, limits)


def parse_json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise InputError("JSON nests too deeply") from None


def _not_json(constant: str) -> Any:
    raise InputError(f"{constant} is not a JSON value")


def split_documents(text: str) -> list[tuple[int, str]]:
    """conftest's split: (lines before the chunk, chunk) for each sub-document."""
    linebreak = "\r\n" if "\r\n" in text else "\n"
    separator = f"{linebreak}---{linebreak}"
    parts = text.split(separator)
    if text.startswith("%") and len(parts) > 2:
        # A directive belongs to the first real document after it.
        parts = [parts[0] + separator + parts[1], *parts[2:]]
    elif text.startswith("%") or len(parts) <= 1:
        parts = [text]
    out: list[tuple[int, str]] = []
    line = 0
    for index, part in enumerate(parts):
        out.append((line, part))
        line += part.count("\n") + (separator.count("\n") if index < len(parts) - 1 else 0)
    return out


def parse_yaml(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    chunks = split_documents(text)
    if len(chunks) > limits.max_documents:
        raise InputError(f"more than {limits.max_documents:,} documents")
    if len(chunks) == 1:
        return _first_document(chunks[0][1], chunks[0][0], limits)
    return [_first_document(chunk, offset, limits) for offset, chunk in chunks]


def parse_yaml_data(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A YAML data document (``--data``): one document, as OPA's loader reads it."""
    return _first_document(text, 0, limits)


class _GoYamlLoader(_SafeLoader):
    """The safe loader with sigs.k8s.io/yaml's value types: JSON only."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[str, Any]:  # type: ignore[override]
        # Keys become strings as they are built: 1 and true must stay two keys ("1", "true").
        self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key_text(self.construct_object(key_node, deep=deep))
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def _timestamp_as_text(loader: _GoYamlLoader, node: ScalarNode) -> str:
    return str(node.value)


def _binary_as_text(loader: _GoYamlLoader, node: ScalarNode) -> str:
    return "".join(str(node.value).split())


def _set_as_object(loader: _GoYamlLoader, node: MappingNode) -> Any:
    data: dict[str, None] = {}
    yield data
    for key_node, _ in node.value:
        data[_key_text(loader.construct_object(key_node))] = None


def _pairs_as_list(loader: _GoYamlLoader, node: Any) -> Any:
    data: list[dict[str, Any]] = []
    yield data
    for item in node.value:
        for key_node, value_node in item.value:
            data.append(
                {_key_text(loader.construct_object(key_node)): loader.construct_object(value_node)}
            )


def _go_bool(loader: _GoYamlLoader, node: ScalarNode) -> bool:
    return str(node.value).lower() in ("y", "yes", "true", "on")


def _int_unless_sexagesimal(loader: _GoYamlLoader, node: ScalarNode) -> int | str:
    # YAML 1.1's base 60 ("1:30") is text to go-yaml, as it is to Kubernetes.
    if ":" in str(node.value):
        return str(node.value)
    return int(loader.construct_yaml_int(node))


def _float_unless_sexagesimal(loader: _GoYamlLoader, node: ScalarNode) -> float | str:
    if ":" in str(node.value):
        return str(node.value)
    return float(loader.construct_yaml_float(node))


# go-yaml v2 (sigs.k8s.io/yaml) also reads y, Y, n and N as booleans.
_GoYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN")
)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:bool", _go_bool)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:int", _int_unless_sexagesimal)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:float", _float_unless_sexagesimal)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:binary", _binary_as_text)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:set", _set_as_object)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:omap", _pairs_as_list)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:pairs", _pairs_as_list)


def _first_document(chunk: str, offset: int, limits: Limits) -> Any:
    loader = _GoYamlLoader(chunk)
    try:
        if not loader.check_node():
            return None
        node = loader.get_node()
        if node is None:
            return None
        _bound(node, limits)
        value = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = offset + mark.line + 1 if mark is not None else offset + 1
        raise InputError(f"YAML syntax error: {exc.problem or exc.context}", line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"YAML error: {exc}", offset + 1) from None
    except RecursionError:
        raise InputError("YAML nests too deeply", offset + 1) from None
    finally:
        loader.dispose()
    return _jsonable(value, offset)


def _bound(root: Any, limits: Limits) -> None:
    """Refuse alias bombs before building them: count the expanded node tree, each aliased
    node once per use (memoised), and the depth."""
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int) -> int:
        if depth > limits.max_depth:
            raise InputError(
                f"nests deeper than {limits.max_depth} levels", node.start_mark.line + 1
            )
        known = sizes.get(id(node))
        if known is not None:
            return known
        total = 1
        if isinstance(node, MappingNode):
            for key, value in node.value:
                total += size(key, depth + 1) + size(value, depth + 1)
        elif not isinstance(node, ScalarNode):
            for item in node.value:
                total += size(item, depth + 1)
        if total > limits.max_nodes_per_document:
            raise InputError(
                f"document expands to more than {limits.max_nodes_per_document:,} nodes "
                "(an alias bomb?)",
                node.start_mark.line + 1,
            )
        sizes[id(node)] = total
        return total

    size(root, 0)


def _jsonable(value: Any, offset: int) -> Any:
    """Keys as strings (sigs.k8s.io/yaml's rule), and refuse what JSON cannot hold."""
    if isinstance(value, dict):
        return {_key_text(k): _jsonable(v, offset) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v, offset) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise InputError(f"{value} cannot be represented in JSON", offset + 1)
    if isinstance(value, bytes):  # pragma: no cover - binary is constructed as text above
        return value.decode("utf-8", "replace")
    return value


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)
