"""The built-in library in ``gitops-gate check``: which of its rules run where (``policies.builtin``
read against the catalog), the refs to query, and its results as findings.

- ``sets`` (default: the catalog's default sets) run their default-on rules; a set implies
  others (``pss-restricted`` runs ``pss-baseline``). ``enable`` adds rules by id, or every rule
  of a set by its name (which also runs that set); ``disable`` removes ids (or a whole set) and
  wins over everything. The same choice reaches the Rego as ``data.gitops_gate.config``, so
  the library filters as it does under conftest; the analyzer filters again by id, so a rule
  enabled alone never brings its set's other rules with it.
- ``paths: {<set>: [globs]}`` restricts where a set's findings are reported (the production set
  on production paths); a set run only because another implies it is reported where that one
  is. The combined packages (production's PodDisruptionBudget and HPA checks) still see every
  document: a PodDisruptionBudget outside the production paths may cover a workload inside.
- A finding lands on the line of its ``field`` (the deepest node that exists). On a kustomize
  patch (a partial object) only findings about a value the patch itself sets are reported
  (``privileged: true``, ``replicas: 1``, a ``hostPath`` volume): "X is missing" cannot be
  judged from a patch, whose base may set X.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wcmatch import glob as wcglob

from bot.analyzers.rego.library import Catalog, Library, load_library
from bot.analyzers.rego.settings import BuiltinConfig
from bot.core.document import Document, FieldPath, PathElem, format_path
from bot.core.finding import Category, Finding, Severity, Source

ENGINE = "rego"
_GLOB_FLAGS = wcglob.GLOBSTAR | wcglob.DOTGLOB | wcglob.BRACE
_SEVERITIES = {s.value: s for s in Severity}
# A finding's "field": ".name" segments, "[3]" list indices, '["a.b/c"]' quoted map keys.
_SEGMENT = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')

Globs = tuple[str, ...] | None  # None: every path


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a set's findings are reported: inside its own ``paths`` (when given) and inside
    the scope of at least one set that runs it (itself when chosen directly)."""

    within: Globs = None
    via: tuple[Globs, ...] = (None,)

    def covers(self, path: str) -> bool:
        return _matches(path, self.within) and any(_matches(path, globs) for globs in self.via)


@dataclass(frozen=True, slots=True)
class Selection:
    scopes: Mapping[str, Scope]  # the sets to query, and where their findings count
    rules: frozenset[str]  # the rule ids that may be reported
    config: Mapping[str, Any]  # data.gitops_gate.config

    @property
    def data(self) -> dict[str, Any]:
        return {"gitops_gate": {"config": dict(self.config)}}

    def sets_at(self, path: str) -> list[str]:
        return sorted(name for name, scope in self.scopes.items() if scope.covers(path))

    def reports(self, rule_id: str, set_name: str, path: str) -> bool:
        scope = self.scopes.get(set_name)
        return rule_id in self.rules and scope is not None and scope.covers(path)


@dataclass(frozen=True, slots=True)
class Builtin:
    """The library for a run and what the config selects of it."""

    library: Library
    selection: Selection

    @property
    def catalog(self) -> Catalog:
        return self.library.catalog

    def document_refs(self, path: str) -> tuple[str, ...]:
        """The rules to query for a document at ``path``."""
        sets = self.selection.sets_at(path)
        return tuple(_refs(p for name in sets for p in self.catalog.sets[name].document))

    def combined_refs(self) -> tuple[str, ...]:
        sets = sorted(self.selection.scopes)
        return tuple(_refs(p for name in sets for p in self.catalog.sets[name].combined))


def prepare(config: BuiltinConfig, root: Path | None = None) -> Builtin:
    """The library (``library_root()`` unless ``root``) and the config's selection of it;
    raises LibraryError when the library cannot be used."""
    library = load_library(root)
    return Builtin(library, select(library.catalog, config))


def select(catalog: Catalog, config: BuiltinConfig) -> Selection:
    """What ``policies.builtin`` turns on. Names the catalog does not know are ignored here
    (the config reader reports them at their line)."""
    enable_sets = {n for n in config.enable if n in catalog.sets}
    enable_ids = {n for n in config.enable if n in catalog.rules}
    disabled: set[str] = set()
    for name in config.disable:
        disabled.update(catalog.rules_of(name) if name in catalog.sets else [name])
    disabled &= set(catalog.rules)
    chosen = {n for n in (config.sets or catalog.default_sets) if n in catalog.sets} | enable_sets
    running = catalog.implied(chosen)
    active = frozenset(
        rule_id
        for rule_id, rule in catalog.rules.items()
        if rule_id not in disabled
        and (
            rule_id in enable_ids
            or rule.set in enable_sets
            or (rule.default and rule.set in running)
        )
    )
    paths = dict(config.paths)
    vias: dict[str, list[Globs]] = {name: [None] for name in chosen}
    for name in sorted(chosen):
        own = _globs(paths.get(name))
        for implied in sorted(catalog.implied([name]) - chosen):
            vias.setdefault(implied, []).append(own)
    for rule_id in sorted(enable_ids):
        vias.setdefault(catalog.rules[rule_id].set, [None])
    queried = {catalog.rules[rule_id].set for rule_id in active}
    scopes = {
        name: Scope(_globs(paths.get(name)), tuple(via))
        for name, via in sorted(vias.items())
        if name in queried
    }
    names = [*sorted(enable_sets), *sorted(enable_ids)]
    return Selection(scopes, active, {"disable": sorted(disabled), "enable": names})


def document_findings(
    builtin: Builtin,
    values: Mapping[str, Any],
    refs: Sequence[str],
    document: Document,
    *,
    patch: bool = False,
) -> list[Finding]:
    """The findings of the library's per-document ``refs`` for ``document``."""
    out: list[Finding] = []
    for ref in refs:
        for item in _items(values.get(ref)):
            found = _finding(builtin, item, document, patch=patch)
            if found is not None:
                out.append(found)
    return out


def combined_findings(
    builtin: Builtin,
    values: Mapping[str, Any],
    refs: Sequence[str],
    documents: Sequence[Document],
) -> list[Finding]:
    """The findings of the combined packages; ``documents`` in the order of the input array
    (each finding names its document by ``document_index``)."""
    out: list[Finding] = []
    for ref in refs:
        for item in _items(values.get(ref)):
            index = item.get("document_index")
            if isinstance(index, bool) or not isinstance(index, int):
                continue
            if not 0 <= index < len(documents) or item.get("path") != documents[index].path:
                continue
            found = _finding(builtin, item, documents[index], patch=False)
            if found is not None:
                out.append(found)
    return out


def combined_input(documents: Sequence[Document]) -> list[dict[str, Any]]:
    """conftest's ``--combine`` input, in the order of ``documents``."""
    return [{"path": doc.path, "contents": doc.data} for doc in documents]


def parse_field(text: str) -> FieldPath:
    """``spec.containers[0].securityContext`` -> ("spec", "containers", 0, "securityContext");
    ``metadata.annotations["a.b/c"]`` -> ("metadata", "annotations", "a.b/c"). Raises
    ValueError for anything else."""
    out: list[PathElem] = []
    pos = 0
    while pos < len(text):
        match = _SEGMENT.match(text, pos)
        if match is None or (pos > 0 and match.group(1) and text[pos] != "."):
            raise ValueError(f"not a field path: {text!r} (at {pos})")
        name, index, quoted = match.groups()
        if name is not None:
            out.append(name)
        elif index is not None:
            out.append(int(index))
        else:
            out.append(str(json.loads(quoted)))
        pos = match.end()
    return tuple(out)


# --- helpers ---------------------------------------------------------------------------------


def _refs(packages: Iterable[str]) -> Iterator[str]:
    for package in dict.fromkeys(packages):
        yield f"data.{package}.deny"
        yield f"data.{package}.warn"


def _items(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _finding(
    builtin: Builtin, item: Mapping[str, Any], document: Document, *, patch: bool
) -> Finding | None:
    rule_id, message = item.get("id"), item.get("msg")
    rule = builtin.catalog.rules.get(rule_id) if isinstance(rule_id, str) else None
    if rule is None or not isinstance(message, str):
        return None
    if not builtin.selection.reports(rule.id, rule.set, document.path):
        return None
    path = _field(item.get("field"))
    if patch and not _set_by_patch(document.data, path):
        return None
    position = document.locate(path, key=bool(path) and isinstance(path[-1], str))
    severity = _SEVERITIES.get(str(item.get("severity")), rule.severity)
    help_url = item.get("help_url")
    remediation = item.get("remediation")
    remediation = remediation if isinstance(remediation, str) and remediation else rule.remediation
    return Finding(
        rule_id=rule.id,
        category=Category.POLICY,
        severity=severity,
        message=f"{message}. {remediation}" if remediation else message,
        path=document.path,
        line=position.line,
        column=position.column,
        end_line=position.end_line,
        resource=document.resource_ref() if document.looks_like_resource else None,
        source=Source(engine=ENGINE, policy=rule.set, rule=rule.id),
        help_url=help_url if isinstance(help_url, str) and help_url else rule.help_url,
        locator=f"{format_path(path)}|{message}",
    )


def _field(value: Any) -> FieldPath:
    if not isinstance(value, str):
        return ()
    try:
        return parse_field(value)
    except ValueError:
        return ()  # the resource's first line, rather than no finding


def _set_by_patch(data: Any, path: FieldPath) -> bool:
    """Does the patch itself set the node ``path`` names: a value, or a volume it adds?"""
    node = data
    for elem in path:
        if isinstance(elem, int):
            if not isinstance(node, list) or not 0 <= elem < len(node):
                return False
        elif not isinstance(node, dict) or elem not in node:
            return False
        node = node[elem]
    if not path:
        return False
    if not isinstance(node, (dict, list)):
        return True
    return len(path) >= 3 and path[-3] == "volumes" and isinstance(path[-2], int)


def _globs(value: Sequence[str] | None) -> Globs:
    return tuple(value) if value is not None else None


def _matches(path: str, globs: Globs) -> bool:
    return globs is None or bool(globs and wcglob.globmatch(path, list(globs), flags=_GLOB_FLAGS))
