"""Where schemas come from: the Kubernetes schemas shipped by ``kubernetes-validate``, CRDs
found in the checked tree, and configured locations (folders, file templates and
kubeconform-style URL templates, cached on disk).

One compiled validator per (Kubernetes version, apiVersion, kind, strict) is built lazily, under
a lock, and kept for the life of the process (kubeconform compiles the same schema once per
worker; we compile it once).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bot.engines.schema_validator import Validator, compile_schema

# Kubernetes' quantity grammar (k8s.io/apimachinery/pkg/api/resource): the shipped schema
# accepts any string, so "1GB" would pass although the API server rejects it.
QUANTITY_PATTERN = (
    r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$"
)
_QUANTITY_DEF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# The shipped IntOrString is a oneOf whose failure says only "not valid under any of the
# schemas"; one type list gives "expected string or integer, got number" for the same rule.
_INT_OR_STRING_DEF = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
# Kinds, groups and versions are DNS-ish names; anything else (a "/" or "..") must never reach a
# file path or a URL template.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")


@dataclass(frozen=True, slots=True)
class SchemaEntry:
    validator: Validator
    origin: str  # where the schema came from, for messages


@dataclass(frozen=True, slots=True)
class GroupVersionKind:
    group: str  # "" for the core group
    version: str
    kind: str

    @classmethod
    def parse(cls, api_version: str, kind: str) -> GroupVersionKind:
        group, _, version = api_version.rpartition("/")
        return cls(group, version, kind)

    @property
    def is_safe(self) -> bool:
        """Only names that cannot escape a schema folder or change a URL's meaning."""
        return all(_SAFE_NAME.fullmatch(part) for part in (self.kind, self.version)) and (
            not self.group or _SAFE_NAME.fullmatch(self.group) is not None
        )

    @property
    def kind_suffix(self) -> str:
        """kubeconform's ``{{ .KindSuffix }}``: ``-apps-v1``, ``-v1`` for the core group."""
        if not self.group:
            return f"-{self.version}"
        return f"-{self.group.split('.')[0].lower()}-{self.version}"


def _package_schema_root() -> Path | None:
    try:
        import kubernetes_validate
    except ImportError:  # pragma: no cover - it is a hard dependency
        return None
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    return root if root.is_dir() else None


@cache
def shipped_versions() -> tuple[str, ...]:
    """Kubernetes minor versions with bundled schemas, oldest first ("1.25", ..., "1.37")."""
    root = _package_schema_root()
    if root is None:
        return ()
    found = set()
    for child in root.iterdir():
        match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local", child.name)
        if match:
            found.add((int(match.group(1)), int(match.group(2))))
    return tuple(f"{a}.{b}" for a, b in sorted(found))


def newest_version() -> str:
    versions = shipped_versions()
    return versions[-1] if versions else "1.37"


class EmbeddedSchemas:
    """The Kubernetes built-in kinds, from kubernetes-validate's data files."""

    def __init__(self, version: str, strict: bool) -> None:
        self.version = version
        self.strict = strict
        root = _package_schema_root()
        suffix = "-local-strict" if strict else "-local"
        self._dir = root / f"v{version}.0{suffix}" if root else None
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], SchemaEntry | None] = {}
        self._definitions: dict[str, Any] | None = None

    def lookup(self, api_version: str, kind: str) -> SchemaEntry | None:
        key = (api_version, kind)
        try:
            return self._cache[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._build(api_version, kind)
            return self._cache[key]

    def _build(self, api_version: str, kind: str) -> SchemaEntry | None:
        if self._dir is None:
            return None
        gvk = GroupVersionKind.parse(api_version, kind)
        if not gvk.is_safe:
            return None
        path = self._dir / f"{kind.lower()}{gvk.kind_suffix}.json"
        if not path.is_file():
            return None
        schema = json.loads(path.read_text())
        # "networking.example.io/v1 Ingress" maps to the same file name as the built-in
        # Ingress: only use the schema when it really describes this apiVersion.
        allowed = schema.get("properties", {}).get("apiVersion", {}).get("enum")
        if allowed and api_version not in allowed:
            return None
        definitions = self._load_definitions()
        validator = compile_schema(schema, [(definitions["$id"], definitions)])
        return SchemaEntry(validator, f"Kubernetes {self.version}")

    def _load_definitions(self) -> dict[str, Any]:
        if self._definitions is None:
            assert self._dir is not None
            definitions = json.loads((self._dir / "_definitions.json").read_text())
            defs = definitions["$defs"]
            if _QUANTITY_DEF in defs:
                # One schema instead of a oneOf: "pattern" only constrains strings, and its
                # error names the pattern with either validator backend.
                defs[_QUANTITY_DEF] = {
                    "type": ["string", "number", "null"],
                    "pattern": QUANTITY_PATTERN,
                }
            if _INT_OR_STRING_DEF in defs:
                defs[_INT_OR_STRING_DEF] = {"type": ["string", "integer", "null"]}
            self._definitions = definitions
        return self._definitions


@cache
def embedded(version: str, strict: bool) -> EmbeddedSchemas:
    """One store per (version, strict) per process, shared by every run."""
    return EmbeddedSchemas(version, strict)


Fetcher = Callable[[str], bytes | None]


class LocationSchemas:
    """Configured schema locations, tried in order for each kind (kubeconform semantics).

    A location is a folder in kubeconform's layout, a file path or URL template using
    ``{{.Group}}``, ``{{.ResourceKind}}``, ``{{.ResourceAPIVersion}}``, ``{{.KindSuffix}}``,
    ``{{.StrictSuffix}}`` and ``{{.NormalizedKubernetesVersion}}``, relative to ``base_dir``.
    Schemas without ``$schema`` are Draft 4, like openapi2jsonschema output, so ``format`` is
    asserted for them.
    """

    def __init__(
        self,
        locations: tuple[str, ...],
        *,
        version: str,
        strict: bool,
        base_dir: Path,
        fetch: Fetcher,
    ) -> None:
        self.locations = locations
        self.version = version
        self.strict = strict
        self.base_dir = base_dir
        self.fetch = fetch
        self._cache: dict[tuple[str, str], SchemaEntry | SchemaFetchError | None] = {}
        self.errors: list[str] = []  # schemas found but unusable (kubeconform: "try the next")

    def lookup(self, api_version: str, kind: str) -> SchemaEntry | None:
        key = (api_version, kind)
        if key not in self._cache:
            try:
                self._cache[key] = self._find(GroupVersionKind.parse(api_version, kind))
            except SchemaFetchError as exc:
                # Remembered: one unreachable server is one attempt per kind, not per document.
                self._cache[key] = exc
        cached = self._cache[key]
        if isinstance(cached, SchemaFetchError):
            raise cached
        return cached

    def _find(self, gvk: GroupVersionKind) -> SchemaEntry | None:
        if not gvk.is_safe:
            return None
        for location in self.locations:
            target = expand_location(location, gvk, self.version, self.strict)
            remote = _is_url(target)
            body = self._read(target)
            if body is None:
                continue
            try:
                schema = json.loads(body)
            except ValueError:
                if not remote:  # kubeconform: a local file that is not JSON is an error
                    raise SchemaFetchError(f"{target}: not a JSON schema") from None
                self.errors.append(f"{target}: not JSON")
                continue
            if not isinstance(schema, dict):
                self.errors.append(f"{target}: not a JSON object")
                continue
            try:
                validator = compile_schema(schema, draft4="$schema" not in schema)
            except Exception as exc:  # a broken schema file: try the next location
                self.errors.append(f"{target}: {exc}")
                continue
            return SchemaEntry(validator, target)
        return None

    def _read(self, target: str) -> bytes | None:
        if _is_url(target):
            return self.fetch(target)
        path = Path(target)
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            return path.read_bytes()
        except OSError:
            return None


def _is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def normalized_version(version: str) -> str:
    """kubeconform's ``{{ .NormalizedKubernetesVersion }}``: "1.31" -> "v1.31.0"."""
    if version == "master":
        return version
    parts = version.removeprefix("v").split(".")
    while len(parts) < 3:
        parts.append("0")
    return "v" + ".".join(parts)


def expand_location(location: str, gvk: GroupVersionKind, version: str, strict: bool) -> str:
    template = location
    if not location.endswith("json"):
        template = (
            location.rstrip("/")
            + "/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}"
            + "/{{ .ResourceKind }}{{ .KindSuffix }}.json"
        )
    values = {
        "NormalizedKubernetesVersion": normalized_version(version),
        "StrictSuffix": "-strict" if strict else "",
        "ResourceKind": gvk.kind.lower(),
        "ResourceAPIVersion": gvk.version,
        # kubeconform's quirk: the core group's "Group" is the version ("v1").
        "Group": gvk.group or gvk.version,
        "KindSuffix": gvk.kind_suffix,
    }
    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), template)


def template_variables_ok(location: str) -> str | None:
    """The first unknown template variable in ``location``, or None."""
    known = {
        "NormalizedKubernetesVersion",
        "StrictSuffix",
        "ResourceKind",
        "ResourceAPIVersion",
        "Group",
        "KindSuffix",
    }
    for name in re.findall(r"\{\{\s*\.(\w+)\s*\}\}", location):
        if name not in known:
            return str(name)
    return None


class SchemaFetchError(Exception):
    """A schema location could not be reached (not a 404): never treated as 'no schema'."""
