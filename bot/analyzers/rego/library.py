"""gitops-gate's built-in Rego library (``policies/rego`` of the source tree): where it is, its
modules, and its catalog of rules and sets.

The catalog (``data.gitops_gate.catalog`` in ``lib/catalog.rego``) is the one source of truth
for rule ids, sets, severities and defaults: the config is validated against it and the
analyzer selects packages from it. It is read by evaluating the library's own Rego in this
process (the library is part of the installation, never content of a change), once per
version of the files on disk.

Where: ``$GITOPS_GATE_POLICY_LIBRARY`` when set, else ``policies/rego`` next to the ``bot``
package (a source checkout or an editable install). A wheel does not carry it: the container
image copies the folder and sets the variable.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bot
from bot.core.finding import Severity
from bot.engines.policy_engine import PolicyModule

LIBRARY_ENV = "GITOPS_GATE_POLICY_LIBRARY"
# Every package of the library lives under this root; user policies may not use it when the
# library is loaded beside them (their rules would merge into the library's).
RESERVED_PACKAGE = "gitops_gate"
# Module paths as reported in errors: never a path of the checked repository.
MODULE_PREFIX = "@builtin/"
TEST_SUFFIX = "_test.rego"
_CATALOG_QUERY = "[data.gitops_gate.catalog.sets, data.gitops_gate.catalog.rules]"
_SEVERITIES = {s.value: s for s in Severity}
# The package clause: comments and blank lines may come before it, nothing else.
_PACKAGE_CLAUSE = re.compile(
    r"(?P<lead>(?:\s|#[^\n]*)*)package[ \t]+"
    r'(?P<ref>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\s*"[^"\\\n]*"\s*\])*)'
)


class LibraryError(Exception):
    """The library cannot be used: missing, unreadable, or its catalog is malformed."""


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: str
    set: str
    severity: Severity
    default: bool  # runs when its set runs, without being enabled by id
    title: str = ""
    remediation: str = ""
    help_url: str | None = None


@dataclass(frozen=True, slots=True)
class SetInfo:
    name: str
    default: bool  # one of the default curated sets
    document: tuple[str, ...]  # packages evaluated once per document
    combined: tuple[str, ...]  # packages evaluated once over every document together
    implies: tuple[str, ...] = ()  # sets that choosing this one also runs


@dataclass(frozen=True, slots=True)
class Catalog:
    rules: Mapping[str, RuleInfo]
    sets: Mapping[str, SetInfo]

    @property
    def default_sets(self) -> tuple[str, ...]:
        return tuple(sorted(name for name, s in self.sets.items() if s.default))

    def implied(self, names: Iterable[str]) -> set[str]:
        """``names`` and every set they imply, transitively."""
        out: set[str] = set()
        pending = [n for n in names if n in self.sets]
        while pending:
            name = pending.pop()
            if name not in out:
                out.add(name)
                pending.extend(i for i in self.sets[name].implies if i in self.sets)
        return out

    def rules_of(self, set_name: str) -> list[str]:
        return sorted(i for i, rule in self.rules.items() if rule.set == set_name)


@dataclass(frozen=True, slots=True)
class Library:
    root: Path
    modules: tuple[PolicyModule, ...]
    catalog: Catalog
    paths: frozenset[str] = frozenset()  # the modules' paths

    def owns(self, module_path: str | None) -> bool:
        return module_path is not None and module_path in self.paths


def library_root() -> Path:
    configured = os.environ.get(LIBRARY_ENV, "").strip()
    if configured:
        return Path(configured)
    return Path(bot.__file__).resolve().parent.parent / "policies" / "rego"


def is_reserved_package(package: str) -> bool:
    return package == RESERVED_PACKAGE or package.startswith(RESERVED_PACKAGE + ".")


def declared_package(text: str) -> tuple[str, int] | None:
    """The package a module declares, dotted, and its line. Rego requires the ``package``
    clause before anything but comments, so it is read there: a module of functions only has
    no rule heads to take it from."""
    match = _PACKAGE_CLAUSE.match(text)
    if match is None:
        return None
    parts = [p for p in re.split(r'\.|\[\s*"|"\s*\]', match.group("ref")) if p]
    return ".".join(parts), match.group("lead").count("\n") + 1


def load_library(root: Path | None = None) -> Library:
    """The library at ``root`` (default: ``library_root()``); raises LibraryError."""
    root = root or library_root()
    if not root.is_dir():
        raise LibraryError(
            f"built-in policy library not found at {root}; set {LIBRARY_ENV} to the folder "
            "holding it (policies/rego of gitops-gate's source)"
        )
    files = sorted(p for p in root.rglob("*.rego") if not p.name.endswith(TEST_SUFFIX))
    try:
        stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    except OSError as exc:
        raise LibraryError(f"built-in policy library at {root}: {exc}") from None
    return _load(str(root), stamp)


@functools.lru_cache(maxsize=8)
def _load(root: str, stamp: tuple[tuple[str, int, int], ...]) -> Library:
    """Cached per root and per (file, mtime, size) list: edited files are read again."""
    base = Path(root)
    modules: list[PolicyModule] = []
    for file, _, _ in stamp:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LibraryError(f"built-in policy library: {path}: {exc}") from None
        modules.append(PolicyModule(MODULE_PREFIX + path.relative_to(base).as_posix(), text))
    if not modules:
        raise LibraryError(f"built-in policy library at {root} holds no .rego files")
    sets, rules = _evaluate_catalog(modules)
    paths = frozenset(m.path for m in modules)
    return Library(base, tuple(modules), _catalog(sets, rules), paths)


def _evaluate_catalog(modules: Iterable[PolicyModule]) -> tuple[Any, Any]:
    import regorus  # the engine's own dependency; imported only when the library is used

    engine = regorus.Engine()
    engine.set_policy_length_config(max_col=65536, max_file_bytes=4 << 20, max_lines=200_000)
    try:
        for module in modules:
            engine.add_policy(module.path, module.text)
        result = json.loads(engine.eval_query_as_json(_CATALOG_QUERY))
        sets, rules = result["result"][0]["expressions"][0]["value"]
    except Exception as exc:  # Regorus raises RuntimeError; a missing catalog is a LookupError
        detail = str(exc).split("Stack backtrace")[0].strip() or type(exc).__name__
        raise LibraryError(f"built-in policy library: cannot read its catalog: {detail}") from None
    return sets, rules


def _catalog(sets: Any, rules: Any) -> Catalog:
    if not isinstance(sets, dict) or not isinstance(rules, dict):
        raise LibraryError("built-in policy library: the catalog's sets and rules must be objects")
    parsed_sets = {name: _set(name, value) for name, value in sets.items()}
    parsed_rules = {rule_id: _rule(rule_id, value, parsed_sets) for rule_id, value in rules.items()}
    return Catalog(parsed_rules, parsed_sets)


def _set(name: str, value: Any) -> SetInfo:
    if not isinstance(value, dict):
        raise LibraryError(f"built-in policy library: catalog set {name!r} is not an object")
    return SetInfo(
        name=name,
        default=value.get("default") is True,
        document=_strings(value.get("document"), f"set {name!r} document"),
        combined=_strings(value.get("combined"), f"set {name!r} combined"),
        implies=_strings(value.get("implies"), f"set {name!r} implies"),
    )


def _rule(rule_id: str, value: Any, sets: Mapping[str, SetInfo]) -> RuleInfo:
    if not isinstance(value, dict) or value.get("set") not in sets:
        raise LibraryError(f"built-in policy library: catalog rule {rule_id!r} has no known set")
    severity = _SEVERITIES.get(str(value.get("severity")))
    if severity is None:
        raise LibraryError(f"built-in policy library: catalog rule {rule_id!r}: bad severity")
    help_url = value.get("help_url")
    return RuleInfo(
        id=rule_id,
        set=value["set"],
        severity=severity,
        default=value.get("default") is True,
        title=str(value.get("title") or ""),
        remediation=str(value.get("remediation") or ""),
        help_url=help_url if isinstance(help_url, str) and help_url else None,
    )


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LibraryError(f"built-in policy library: catalog {what} must be a list of strings")
    return tuple(value)
