"""Kyverno's functions that parse text into JSON values or query and build objects and arrays.

``parse_json``, ``parse_yaml`` (timestamps kept as the text they were written as, as
sigs.k8s.io/yaml does), ``lookup``, ``items``, ``object_from_lists`` and ``label_match``:
separate from the text functions because they produce or consume structured values.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import yaml

from bot.analyzers.kyverno.jmespath_arguments import FunctionTable, arg, fail, iface_to_string
from bot.analyzers.kyverno.jmespath_json import json_equal


def _fn_parse_json(name: str, args: list[Any]) -> Any:
    text = arg(name, args, 0, "string")
    try:
        return json.loads(text)
    except ValueError as error:
        raise fail(name, str(error)) from None


def _fn_parse_yaml(name: str, args: list[Any]) -> Any:
    text = arg(name, args, 0, "string")
    try:
        return _jsonable(yaml.load(text, Loader=_TextTimestampLoader))  # a SafeLoader
    except yaml.YAMLError as error:
        raise fail(name, str(error).splitlines()[0]) from None


class _TextTimestampLoader(yaml.SafeLoader):
    """The safe loader, with timestamps left as the text they were written as (what
    sigs.k8s.io/yaml's YAML-to-JSON conversion gives)."""


_TextTimestampLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _fn_lookup(name: str, args: list[Any]) -> Any:
    container = arg(name, args, 0, "object", "array")
    if isinstance(container, dict):
        return container.get(arg(name, args, 1, "string"))
    index = arg(name, args, 1, "number")
    if float(index) != int(index):
        raise fail(name, "argument #2: expected an integer number")
    index = int(index)
    return container[index] if 0 <= index < len(container) else None


def _fn_items(name: str, args: list[Any]) -> Any:
    container = arg(name, args, 0, "object", "array")
    key_name = arg(name, args, 1, "string")
    value_name = arg(name, args, 2, "string")
    if isinstance(container, dict):
        return [{key_name: k, value_name: container[k]} for k in sorted(container)]
    return [{key_name: i, value_name: v} for i, v in enumerate(container)]


def _fn_object_from_lists(name: str, args: list[Any]) -> Any:
    keys = arg(name, args, 0, "array")
    values = arg(name, args, 1, "array")
    return {
        iface_to_string(name, key, 0): values[i] if i < len(values) else None
        for i, key in enumerate(keys)
    }


def _fn_label_match(name: str, args: list[Any]) -> Any:
    selector = arg(name, args, 0, "object")
    labels = arg(name, args, 1, "object")
    return all(key in labels and json_equal(labels[key], v) for key, v in selector.items())


FUNCTIONS: FunctionTable = {
    "parse_json": (1, _fn_parse_json),
    "parse_yaml": (1, _fn_parse_yaml),
    "lookup": (2, _fn_lookup),
    "items": (3, _fn_items),
    "object_from_lists": (2, _fn_object_from_lists),
    "label_match": (2, _fn_label_match),
}
