"""Which Rego modules and data documents a run loads, chosen the way conftest chooses them.

- A policy path is a file or a folder walked recursively; only ``*.rego`` files are modules,
  and ``*_test.rego`` files are loaded too (conftest's ``test`` compiles them with the rest).
- A data path is a file or a folder walked recursively; only ``.json``, ``.yaml`` and ``.yml``
  files are data. A file named directly is merged at the root of ``data``; a file found under a
  folder is merged at the folders between the given folder and the file (``-d policy`` puts
  ``policy/exceptions/x.yaml`` at ``data.exceptions``), as OPA's loader does since conftest
  v0.56. Objects merge deeply; any other clash is an error naming both files.

Files are read through ``TrustedFiles`` (the base commit on a pull request, the working tree
locally, any path the user names with ``gitops-gate rego``), never from the change under test.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.analyzers.rego.inputs import InputError, parse_yaml_data
from bot.core.trusted import TrustedFiles
from bot.engines.policy_engine import PolicyError, PolicyModule, RegoVersion

REGO_SUFFIX = ".rego"
DATA_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class PolicyPath:
    """A policy file or folder, with the Rego version its modules are written in."""

    path: str
    rego_version: RegoVersion = RegoVersion.V1


@dataclass(frozen=True, slots=True)
class PolicySet:
    modules: tuple[PolicyModule, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    data_files: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.modules


def load_policy_set(
    tree: TrustedFiles,
    policies: Sequence[PolicyPath],
    data_paths: Sequence[str] = (),
) -> tuple[PolicySet, list[PolicyError]]:
    """Every module under ``policies`` and every data document under ``data_paths``.

    Problems (a missing path, a file that is not UTF-8, bad or clashing data, no module at all)
    come back as errors; whatever loaded is still returned.
    """
    modules, errors = collect_modules(tree, policies)
    if policies and not modules and not errors:
        names = " ".join(p.path for p in policies)
        errors.append(PolicyError(f"no policies found in [{names}]"))
    data, files, data_errors = collect_data(tree, data_paths)
    return PolicySet(tuple(modules), data, tuple(files)), errors + data_errors


def collect_modules(
    tree: TrustedFiles, policies: Sequence[PolicyPath]
) -> tuple[list[PolicyModule], list[PolicyError]]:
    modules: list[PolicyModule] = []
    errors: list[PolicyError] = []
    seen: set[str] = set()
    for policy in policies:
        found = tree.files_under(policy.path)
        if not found:
            errors.append(PolicyError(f'policy path "{policy.path}" does not exist'))
            continue
        for path in found:
            if not path.endswith(REGO_SUFFIX) or path in seen:
                continue
            seen.add(path)
            text, problem = _read_text(tree, path)
            if problem is not None:
                errors.append(problem)
                continue
            assert text is not None
            modules.append(PolicyModule(path, text, policy.rego_version))
    return modules, errors


def collect_data(
    tree: TrustedFiles, data_paths: Sequence[str]
) -> tuple[dict[str, Any], list[str], list[PolicyError]]:
    merged: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}  # where each merged leaf came from, for clashes
    files: list[str] = []
    errors: list[PolicyError] = []
    for root in data_paths:
        found = tree.files_under(root)
        if not found:
            errors.append(PolicyError(f'data path "{root}" does not exist'))
            continue
        for path in found:
            if not path.lower().endswith(DATA_SUFFIXES) or path in files:
                continue
            prefix = _prefix(root, path)
            document, problem = _read_data(tree, path)
            if problem is not None:
                errors.append(problem)
                continue
            if not prefix and not isinstance(document, dict):
                errors.append(
                    PolicyError(
                        f"{path}: a data file at the root of data must hold an object (a mapping), "
                        f"got {_type_name(document)}",
                        path,
                    )
                )
                continue
            clash = _merge(merged, prefix, document, path, origins)
            if clash is not None:
                errors.append(PolicyError(clash, path))
                continue
            files.append(path)
    return merged, files, errors


def _prefix(root: str, path: str) -> tuple[str, ...]:
    """The folders between the given data folder and the file (none for a file named directly)."""
    folder = root.replace("\\", "/").rstrip("/")
    if path == folder:
        return ()
    rel = path[len(folder) + 1 :] if folder not in ("", ".") else path
    return tuple(part for part in posixpath.dirname(rel).split("/") if part not in ("", "."))


def _merge(
    target: dict[str, Any],
    prefix: tuple[str, ...],
    document: Any,
    path: str,
    origins: dict[tuple[str, ...], str],
) -> str | None:
    """Merge ``document`` at ``prefix`` into ``target`` as OPA's loader does: objects merge
    deeply; any other pair of values at one place is a clash ("merge error")."""
    wrapped: Any = document
    for part in reversed(prefix):
        wrapped = {part: wrapped}
    assert isinstance(wrapped, dict)
    clash = _clash(target, wrapped, ())
    if clash is not None:
        first = _origin(origins, clash)
        return (
            f"{path}: data.{'.'.join(clash)} is also defined by {first}; "
            "data documents must not overlap"
        )
    _insert(target, wrapped, (), path, origins)
    return None


def _clash(
    into: Mapping[str, Any], new: Mapping[str, Any], at: tuple[str, ...]
) -> tuple[str, ...] | None:
    for key, value in new.items():
        if key not in into:
            continue
        here = (*at, key)
        if isinstance(into[key], dict) and isinstance(value, dict):
            found = _clash(into[key], value, here)
            if found is not None:
                return found
            continue
        return here
    return None


def _insert(
    into: dict[str, Any],
    new: Mapping[str, Any],
    at: tuple[str, ...],
    path: str,
    origins: dict[tuple[str, ...], str],
) -> None:
    for key, value in new.items():
        here = (*at, key)
        if key in into and isinstance(into[key], dict) and isinstance(value, dict):
            _insert(into[key], value, here, path, origins)
        else:
            into[key] = value
            origins[here] = path


def _origin(origins: Mapping[tuple[str, ...], str], at: tuple[str, ...]) -> str:
    """The file that put the value at ``at`` (or the object holding it) into data."""
    for depth in range(len(at), 0, -1):
        found = origins.get(at[:depth])
        if found is not None:
            return found
    return "another data file"


def _read_text(tree: TrustedFiles, path: str) -> tuple[str | None, PolicyError | None]:
    content = tree.read(path)
    if content is None:
        return None, PolicyError(f"{path}: cannot be read", path)
    try:
        return content.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        return None, PolicyError(f"{path}: not valid UTF-8 (line {line})", path, line)


def _read_data(tree: TrustedFiles, path: str) -> tuple[Any, PolicyError | None]:
    text, problem = _read_text(tree, path)
    if problem is not None:
        return None, problem
    assert text is not None
    if path.lower().endswith(".json"):
        try:
            return json.loads(text, parse_constant=_not_json), None
        except json.JSONDecodeError as exc:
            where = f"{path}:{exc.lineno}"
            return None, PolicyError(f"{where}: invalid JSON: {exc.msg}", path, exc.lineno)
        except (ValueError, RecursionError) as exc:  # NaN/Infinity, or nesting too deep
            return None, PolicyError(f"{path}: invalid JSON: {exc or 'nests too deeply'}", path)
    try:
        return parse_yaml_data(text), None
    except InputError as exc:
        return None, PolicyError(
            f"{path}:{exc.line}: {exc.message}" if exc.line else f"{path}: {exc.message}",
            path,
            exc.line,
        )


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


@dataclass(frozen=True, slots=True)
class LocalPaths:
    """Files named on the command line, relative to the working directory or absolute: the
    paths keep the spelling the user gave (as conftest prints them)."""

    def read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def files_under(self, path: str) -> list[str]:
        if os.path.isfile(path):
            return [path]
        if not os.path.isdir(path):
            return []
        out: list[str] = []
        base = path.rstrip("/\\") or path
        for folder, dirs, names in os.walk(base):
            dirs.sort()
            for name in sorted(names):
                full = os.path.join(folder, name)
                if os.path.isfile(full):
                    out.append(full.replace(os.sep, "/"))
        return out
