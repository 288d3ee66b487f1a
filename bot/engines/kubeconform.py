"""The kubeconform binary as an optional schema backend (see reference/kubeconform.md).

``schema.engine: kubeconform`` validates the checked manifests with the real kubeconform instead
of the embedded validator. The wrapper follows the reference's checklist (section 8):

- the checked files' text is written to a private temporary directory (same relative paths;
  a name kubeconform would not read gets ``.yaml`` appended) and kubeconform reads it there:
  PR content is only read, never executed;
- flags come before the files: ``-output json -summary -n 2``, ``-strict`` when
  ``schema.strict``, ``-ignore-missing-schemas`` when ``schema.missing: skip``,
  ``-kubernetes-version X.Y.0``, ``-skip`` for the exact kinds of ``schema.skip`` (globs are
  applied to the results afterwards), one ``-schema-location`` per configured location (local
  paths resolved against the checked root) and one for the CRDs found in the checked files
  (converted as ``openapi2jsonschema.py`` does);
- the exit code is never trusted: stdout must be kubeconform's JSON document. Empty or non-JSON
  stdout, an exit code other than 0 or 1, or exit 1 without any failing resource is a tool
  failure, reported as one ``internal/engine-error`` finding (never as a pass);
- a wall-clock timeout kills the whole process group (kubeconform's HTTP client has none);
- kubeconform reports no lines: each ``validationErrors[].path`` (a JSON pointer) is located in
  the matching document (same file, kind, name and apiVersion); ``statusError`` messages are
  categorised by their prefix only, with a generic fallback; results are sorted.

Limitation: kubeconform cannot read the Kubernetes schemas bundled with gitops-gate
(kubernetes-validate's files use ``$id``-relative references), and the CRDs of files that are
not being checked are not passed either. Without ``schema.locations`` kubeconform uses its
default registry on the network; where there is no network, every built-in kind ends up as a
``schema/location-error`` or ``schema/missing-schema`` finding. For offline use, point
``schema.locations`` at a folder of standalone schemas in kubeconform's layout
(``<folder>/v1.31.0-standalone[-strict]/deployment-apps-v1.json``).
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.analyzers.crd import crd_versions, to_json_schema
from bot.analyzers.schema import SchemaContext, finding_at
from bot.config import MissingSchema
from bot.core.document import Document, FieldPath, LoadedFile, format_path
from bot.core.filekind import FileKind
from bot.core.finding import Category, Finding, Severity, Source
from bot.core.pipeline import SchemaBackend
from bot.engines.schema_http import HttpSchemaCache
from bot.engines.schema_store import LocationSchemas

ENV_VAR = "GITOPS_GATE_KUBECONFORM"
DEFAULT_TIMEOUT = 120.0  # seconds, for one kubeconform run
SOURCE = Source(engine="kubeconform")

_READABLE_SUFFIXES = (".yaml", ".yml", ".json")  # kubeconform reads nothing else
_FILES_DIR = "files"
_CRD_DIR = "crd-schemas"
_CRD_TEMPLATE = "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
_MISSING_SEVERITY = {MissingSchema.WARN: Severity.WARNING, MissingSchema.ERROR: Severity.ERROR}
_MAX_STDERR = 2000
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


def find_kubeconform(*, timeout: float = DEFAULT_TIMEOUT) -> KubeconformBackend | None:
    """The kubeconform backend when the binary is found, else None.

    ``GITOPS_GATE_KUBECONFORM`` names the binary (a path or a command on PATH); without it,
    ``kubeconform`` is looked up on PATH.
    """
    wanted = os.environ.get(ENV_VAR) or "kubeconform"
    binary = shutil.which(wanted)
    if binary is None:
        return None
    return KubeconformBackend(binary, timeout=timeout)


@dataclass(frozen=True, slots=True)
class Invocation:
    """What one kubeconform run returned."""

    stdout: str
    stderr: str
    returncode: int


class KubeconformBackend(SchemaBackend):
    """Runs kubeconform on the checked manifests and maps its JSON output to findings."""

    def __init__(self, binary: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.binary = binary
        self.timeout = timeout

    def analyze(self, files: Sequence[LoadedFile], ctx: SchemaContext) -> list[Finding]:
        manifests = [f for f in files if f.kind is FileKind.MANIFEST and f.text is not None]
        if not any(doc.looks_like_resource for f in manifests for doc in f.documents):
            return []
        with tempfile.TemporaryDirectory(prefix="gitops-gate-kubeconform-") as tmp:
            workdir = Path(tmp)
            by_name = write_inputs(workdir, manifests)
            crd_location = write_crd_schemas(workdir, manifests, strict=ctx.config.strict)
            args = build_args(
                self.binary,
                ctx,
                locations=resolve_locations(ctx),
                extra_locations=[crd_location] if crd_location else [],
                cache_dir=_cache_dir(ctx),
                inputs=[_FILES_DIR],
            )
            try:
                result = run_kubeconform(args, cwd=workdir, timeout=self.timeout)
            except subprocess.TimeoutExpired:
                return [
                    engine_error(
                        f"kubeconform did not finish within {self.timeout:g} s and was "
                        "stopped; the manifests were not validated."
                    )
                ]
            except OSError as exc:
                return [engine_error(f"kubeconform could not be started ({self.binary}): {exc}")]
        return parse_output(result, by_name, ctx)


def write_inputs(workdir: Path, files: Sequence[LoadedFile]) -> dict[str, LoadedFile]:
    """Write each file's text under ``workdir/files``; kubeconform's file name -> file."""
    out: dict[str, LoadedFile] = {}
    for index, loaded in enumerate(files):
        assert loaded.text is not None
        name = _safe_relative(loaded.path) or f"_/{index}.yaml"
        if not name.lower().endswith(_READABLE_SUFFIXES):
            name += ".yaml"
        arg = posixpath.join(_FILES_DIR, name)
        if arg in out:  # the same path twice (or a clash after renaming): keep both
            arg = posixpath.join(_FILES_DIR, "_", str(index), name)
        target = workdir / arg
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(loaded.text, encoding="utf-8")
        out[arg] = loaded
    return out


def _safe_relative(path: str) -> str | None:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or path.startswith("/") or ".." in parts or parts[0] == "_":
        return None
    return "/".join(parts)


def write_crd_schemas(workdir: Path, files: Sequence[LoadedFile], *, strict: bool) -> str | None:
    """JSON schemas for the CRDs among ``files``, as a kubeconform location template."""
    root = workdir / _CRD_DIR
    written = False
    for loaded in files:
        for doc in loaded.documents:
            for version in crd_versions(doc):
                gvk = version.gvk
                if not all(_plain_name(p) for p in (gvk.group, gvk.kind, gvk.version)):
                    continue
                target = root / gvk.group / f"{gvk.kind.lower()}_{gvk.version}.json"
                if target.exists():
                    continue  # the first CRD for a kind wins, as in the embedded engine
                schema = to_json_schema(version.schema or {"type": "object"}, strict=strict)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema), encoding="utf-8")
                written = True
    return f"{root}/{_CRD_TEMPLATE}" if written else None


def _plain_name(text: str) -> bool:
    return bool(text) and text not in (".", "..") and "/" not in text and "\\" not in text


def resolve_locations(ctx: SchemaContext) -> list[str]:
    """The configured locations, local ones made absolute (kubeconform runs elsewhere)."""
    base = _base_dir(ctx)
    out = []
    for location in ctx.config.locations:
        remote = location == "default" or location.startswith(("http://", "https://"))
        out.append(location if remote or os.path.isabs(location) else os.path.join(base, location))
    return out


def _base_dir(ctx: SchemaContext) -> str:
    for source in ctx.sources:
        if isinstance(source, LocationSchemas):
            return str(source.base_dir)
    return os.getcwd()


def _cache_dir(ctx: SchemaContext) -> Path | None:
    """The disk cache of the embedded engine's downloads: same layout as kubeconform's."""
    for source in ctx.sources:
        if isinstance(source, LocationSchemas) and isinstance(source.fetch, HttpSchemaCache):
            directory = source.fetch.directory
            return directory if directory.is_dir() else None
    return None


def kubernetes_version_flag(version: str) -> str:
    """``1.31`` -> ``1.31.0`` (kubeconform rejects ``X.Y``); ``master`` stays."""
    match = _VERSION.match(version.strip())
    if not match:
        return version
    return f"{match.group(1)}.{match.group(2)}.{match.group(3) or 0}"


def build_args(
    binary: str,
    ctx: SchemaContext,
    *,
    locations: Sequence[str],
    extra_locations: Sequence[str] = (),
    cache_dir: Path | None = None,
    inputs: Sequence[str],
) -> list[str]:
    """kubeconform's command line: every flag, then the inputs."""
    config = ctx.config
    args = [binary, "-output", "json", "-summary", "-n", "2"]
    if config.strict:
        args.append("-strict")
    if config.missing is MissingSchema.SKIP:
        args.append("-ignore-missing-schemas")
    args += ["-kubernetes-version", kubernetes_version_flag(ctx.kubernetes_version)]
    exact = [k for k in config.skip_kinds if not any(c in k for c in "*?[],")]
    if exact:
        args += ["-skip", ",".join(exact)]
    chosen = [*extra_locations, *locations]
    if extra_locations and not locations:
        chosen.append("default")  # a location replaces the default registry; keep it
    for location in chosen:
        args += ["-schema-location", location]
    if cache_dir is not None:
        args += ["-cache", str(cache_dir)]
    return [*args, *inputs]


def run_kubeconform(args: Sequence[str], *, cwd: Path, timeout: float) -> Invocation:
    """Run kubeconform in its own process group; on timeout, kill the group and re-raise."""
    with subprocess.Popen(
        list(args),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise
        except BaseException:
            _kill_group(proc)
            raise
    return Invocation(
        stdout.decode("utf-8", errors="replace"),
        stderr.decode("utf-8", errors="replace"),
        proc.returncode,
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


# ---------------------------------------------------------------------------------------------
# Output -> findings


def parse_output(
    result: Invocation, files: Mapping[str, LoadedFile], ctx: SchemaContext
) -> list[Finding]:
    """kubeconform's JSON output as findings; ``files`` maps kubeconform's file names."""
    resources = _resources(result.stdout)
    if resources is None:
        return [_tool_failure(result, "its output was not the expected JSON document")]
    if result.returncode not in (0, 1):
        return [_tool_failure(result, f"it exited with status {result.returncode}")]
    failing = [r for r in resources if r.get("status") in ("statusInvalid", "statusError")]
    if result.returncode == 1 and not failing:
        return [_tool_failure(result, "it exited with status 1 but reported no failing resource")]
    by_name = {posixpath.normpath(name): loaded for name, loaded in files.items()}
    mapper = _Mapper(by_name, ctx)
    findings: list[Finding] = []
    for resource in sorted(failing, key=_resource_key):
        findings.extend(mapper.map(resource))
    findings.sort(key=Finding.sort_key)
    return findings


def _resources(stdout: str) -> list[dict[str, Any]] | None:
    if not stdout.strip():
        return None
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        return None
    return [r for r in data["resources"] if isinstance(r, dict)]


def _resource_key(resource: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(resource.get(key) or "") for key in ("filename", "kind", "name", "version", "msg")
    )


def engine_error(message: str) -> Finding:
    return Finding(
        rule_id="internal/engine-error",
        category=Category.INTERNAL,
        severity=Severity.ERROR,
        message=message,
        path="",
        source=SOURCE,
        locator="kubeconform",
    )


def _tool_failure(result: Invocation, why: str) -> Finding:
    stderr = result.stderr.strip()
    if len(stderr) > _MAX_STDERR:
        stderr = stderr[:_MAX_STDERR] + "..."
    detail = f": {stderr}" if stderr else " (nothing on stderr)"
    return engine_error(
        f"kubeconform failed ({why}, exit status {result.returncode}){detail}; "
        "the manifests were not validated."
    )


class _Mapper:
    def __init__(self, files: Mapping[str, LoadedFile], ctx: SchemaContext) -> None:
        self.files = files
        self.ctx = ctx
        self._claimed: set[int] = set()  # documents already blamed for a missing kind/apiVersion

    def map(self, resource: dict[str, Any]) -> list[Finding]:
        filename = posixpath.normpath(str(resource.get("filename") or ""))
        loaded = self.files.get(filename)
        kind = _text(resource.get("kind"))
        name = _text(resource.get("name"))
        version = _text(resource.get("version"))
        msg = _text(resource.get("msg"))
        if kind and _skipped(version, kind, self.ctx.config.skip_kinds):
            return []
        if loaded is None:
            return [engine_error(f"kubeconform reported an unknown file {filename!r}: {msg}")]
        if resource.get("status") == "statusInvalid":
            doc = self._document(loaded, kind, name, version)
            errors = resource.get("validationErrors")
            if not isinstance(errors, list) or not errors:
                return [self._at(loaded, doc, "schema/invalid", f"{msg} (kubeconform).", ())]
            return [self._validation_error(loaded, doc, e) for e in errors if isinstance(e, dict)]
        return self._error(loaded, kind, name, version, msg)

    # statusInvalid ---------------------------------------------------------------------------

    def _validation_error(
        self, loaded: LoadedFile, doc: Document | None, error: dict[str, Any]
    ) -> Finding:
        msg = _text(error.get("msg")) or "validation failed"
        data = doc.data if doc is not None else None
        path = pointer_to_path(_text(error.get("path")), data)
        rule = _validation_rule(msg)
        if rule == "schema/unknown-field":
            key = _unknown_key(msg, _value_at(data, path))
            if key is not None:
                return self._at(
                    loaded,
                    doc,
                    rule,
                    f'{format_path((*path, key))}: unknown field "{key}" ({msg}; kubeconform).',
                    (*path, key),
                    key=True,
                )
        return self._at(loaded, doc, rule, f"{format_path(path)}: {msg} (kubeconform).", path)

    # statusError -----------------------------------------------------------------------------

    def _error(
        self, loaded: LoadedFile, kind: str, name: str, version: str, msg: str
    ) -> list[Finding]:
        lower = msg.lower()
        what = " ".join(p for p in (version, kind, name) if p) or "a document"
        if lower.startswith("could not find schema for"):
            severity = _MISSING_SEVERITY.get(self.ctx.config.missing)
            if severity is None:
                return []
            where = ", ".join(self.ctx.config.locations) or (
                "kubeconform's default registry (which needs network access)"
            )
            return [
                self._at(
                    loaded,
                    self._document(loaded, kind, name, version),
                    "schema/missing-schema",
                    f"kubeconform found no schema for {version} {kind} (Kubernetes "
                    f"{self.ctx.kubernetes_version}) in {where} or the CRDs of the checked files; "
                    "kubeconform does not use gitops-gate's bundled Kubernetes schemas, so add a "
                    "folder of standalone schemas to schema.locations. It was not validated.",
                    (),
                    severity=severity,
                )
            ]
        if lower.startswith("error while parsing: missing"):
            key = "apiVersion" if "apiversion" in lower else "kind"
            doc = self._missing_identity(loaded, key)
            if doc is None:
                return []  # plain YAML data, not a resource: not a schema error (as embedded)
            rule = "schema/missing-api-version" if key == "apiVersion" else "schema/missing-kind"
            message = f'Resource has no "{key}"; Kubernetes cannot identify it (kubeconform).'
            return [self._at(loaded, doc, rule, message, ())]
        if lower.startswith("error unmarshalling resource"):
            duplicate = "already set in map" in lower
            if _already_reported(loaded, duplicate=duplicate):
                return []  # the loader reported it at its line
            rule = "schema/duplicate-key" if duplicate else "schema/parse-error"
            return [
                self._at(
                    loaded,
                    self._document(loaded, kind, name, version),
                    rule,
                    f"kubeconform could not read {what}: {msg}",
                    (),
                )
            ]
        if lower.startswith("prohibited resource kind"):
            doc = self._document(loaded, kind, name, version)
            return [self._at(loaded, doc, "schema/rejected-kind", f"{msg} (kubeconform).", ())]
        if lower.startswith("failed downloading schema"):
            return [
                self._at(
                    loaded,
                    self._document(loaded, kind, name, version),
                    "schema/location-error",
                    f"Could not fetch the schema for {version} {kind}: {msg} (kubeconform).",
                    (),
                )
            ]
        if lower.startswith(("lstat ", "open ")):
            return [engine_error(f"kubeconform could not read its input: {msg}")]
        return [
            self._at(
                loaded,
                self._document(loaded, kind, name, version),
                "schema/engine-error",
                f"kubeconform could not validate {what}: {msg or 'no message'}",
                (),
            )
        ]

    # helpers ---------------------------------------------------------------------------------

    def _document(self, loaded: LoadedFile, kind: str, name: str, version: str) -> Document | None:
        if not kind:
            return None
        candidates = [
            doc
            for doc in loaded.documents
            if doc.kind == kind
            and (doc.name or "") == name
            and (not version or doc.api_version == version)
        ]
        return candidates[0] if candidates else None

    def _missing_identity(self, loaded: LoadedFile, key: str) -> Document | None:
        for doc in loaded.documents:
            if id(doc) in self._claimed or not doc.looks_like_resource:
                continue
            if not isinstance(doc.data.get(key), str):
                self._claimed.add(id(doc))
                return doc
        return None

    def _at(
        self,
        loaded: LoadedFile,
        doc: Document | None,
        rule: str,
        message: str,
        path: FieldPath,
        *,
        key: bool = False,
        severity: Severity = Severity.ERROR,
    ) -> Finding:
        if doc is None:  # kubeconform named no document we can find: the whole file
            return Finding(
                rule_id=rule,
                category=Category.SCHEMA,
                severity=severity,
                message=message,
                path=loaded.path,
                source=SOURCE,
                locator=rule,
            )
        return finding_at(doc, rule, severity, message, path, key=key, source=SOURCE)


def pointer_to_path(pointer: str, data: Any = None) -> FieldPath:
    """A JSON pointer (``/spec/containers/0/image``) as a field path; array indexes become
    ints where ``data`` has an array (so the position lookup follows the document)."""
    if not pointer:
        return ()
    out: list[str | int] = []
    current = data
    for raw in pointer.removeprefix("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        elem: str | int = token
        if token.isdigit() and (current is None or isinstance(current, list)):
            elem = int(token)
        out.append(elem)
        current = _step(current, elem)
    return tuple(out)


def _step(data: Any, elem: str | int) -> Any:
    try:
        return data[elem]
    except (KeyError, IndexError, TypeError):
        return None


def _value_at(data: Any, path: FieldPath) -> Any:
    for elem in path:
        data = _step(data, elem)
    return data


def _validation_rule(msg: str) -> str:
    """A rule id from the message's prefix only (santhosh-tekuri/jsonschema v6 wording, as in
    kubeconform v0.7, and v5 wording, as in v0.6); the message itself is passed through."""
    lower = msg.lower()
    if lower.startswith(("additional properties", "additionalproperties")):
        return "schema/unknown-field"
    if (lower.startswith("got ") and ", want " in lower) or (
        lower.startswith("expected ") and "but got" in lower
    ):
        return "schema/wrong-type"
    if lower.startswith("missing propert"):
        return "schema/missing-field"
    if lower.startswith(("value must be", "value should be")) or "does not match pattern" in lower:
        return "schema/invalid-value"
    return "schema/invalid"


def _unknown_key(msg: str, parent: Any) -> str | None:
    """The first quoted name in an additional-properties message that really is a key there."""
    if not isinstance(parent, dict):
        return None
    for name in re.findall(r"['\"]([^'\"]+)['\"]", msg):
        if name in parent:
            return str(name)
    return None


def _already_reported(loaded: LoadedFile, *, duplicate: bool) -> bool:
    if duplicate:
        return any(f.rule_id == "syntax/duplicate-key" for f in loaded.findings)
    return any(f.category is Category.SYNTAX for f in loaded.findings)


def _skipped(version: str, kind: str, patterns: Sequence[str]) -> bool:
    qualified = f"{version}/{kind}"
    return any(fnmatch.fnmatchcase(kind, p) or fnmatch.fnmatchcase(qualified, p) for p in patterns)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
