"""The kubeconform backend: output mapping (no binary needed), the subprocess wrapper against a
stand-in script, and end-to-end runs against the real binary when it is installed."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.analyzers.schema import SchemaContext, SchemaSource
from bot.config import MissingSchema, SchemaConfig, SchemaEngine
from bot.core.document import LoadedFile, load_text
from bot.core.filekind import FileKind
from bot.core.finding import Category, Finding, Severity
from bot.core.pipeline import Report, SchemaBackend
from bot.engines import kubeconform as kc
from bot.engines.schema_http import HttpSchemaCache
from bot.engines.schema_store import LocationSchemas
from tests.conftest import WIDGET_CRD

Check = Callable[..., Report]

needs_binary = pytest.mark.skipif(
    shutil.which("kubeconform") is None, reason="kubeconform binary not installed"
)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  replicas: "three"
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:1.27
          imagePullPolicy: Sometimes
          colour: blue
"""

TWO_DOCS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
data:
  a: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: second
data:
  b: 2
"""

LIST = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata:
      name: one
    spec:
      ports:
        - port: 80
  - apiVersion: v1
    kind: Service
    metadata:
      name: two
    spec:
      ports:
        - port: "eighty"
"""

NO_KIND = """\
apiVersion: v1
metadata:
  name: orphan
---
just: data
"""


def ctx(
    *,
    missing: MissingSchema = MissingSchema.WARN,
    strict: bool = True,
    locations: tuple[str, ...] = (),
    skip: tuple[str, ...] = (),
    version: str = "1.31",
    sources: tuple[SchemaSource, ...] = (),
) -> SchemaContext:
    config = SchemaConfig(
        strict=strict,
        missing=missing,
        locations=locations,
        engine=SchemaEngine.KUBECONFORM,
        skip_kinds=skip,
    )
    return SchemaContext(sources, config, version)


def loaded(path: str, text: str) -> LoadedFile:
    return load_text(path, text, FileKind.MANIFEST)


def output(*resources: dict[str, Any], summary: bool = True) -> str:
    body: dict[str, Any] = {"resources": list(resources)}
    if summary:
        body["summary"] = {"valid": 0, "invalid": 0, "errors": 0, "skipped": 0}
    return json.dumps(body, indent=2)


def mapped(
    stdout: str,
    files: dict[str, LoadedFile],
    context: SchemaContext | None = None,
    *,
    returncode: int = 1,
    stderr: str = "",
) -> list[Finding]:
    return kc.parse_output(kc.Invocation(stdout, stderr, returncode), files, context or ctx())


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


# ---------------------------------------------------------------------------------------------
# statusInvalid: validationErrors located in the right document


def test_invalid_resource_errors_point_at_the_failing_fields() -> None:
    web = loaded("apps/web/deploy.yaml", DEPLOYMENT)
    stdout = output(
        {
            "filename": "apps/web/deploy.yaml",
            "kind": "Deployment",
            "name": "web",
            "version": "apps/v1",
            "status": "statusInvalid",
            "msg": "problem validating schema. Check JSON formatting: jsonschema validation "
            "failed with 'file:///schemas/deployment-apps-v1.json#' - at '/spec/replicas': "
            "got string, want null or integer",
            "validationErrors": [
                {"path": "/spec/replicas", "msg": "got string, want null or integer"},
                {
                    "path": "/spec/template/spec/containers/0/imagePullPolicy",
                    "msg": "value must be one of 'Always', 'IfNotPresent', 'Never'",
                },
                {
                    "path": "/spec/template/spec/containers/0",
                    "msg": "additional properties 'colour' not allowed",
                },
                {"path": "/spec/template/spec", "msg": "validation failed"},
            ],
        }
    )
    findings = mapped(stdout, {"apps/web/deploy.yaml": web})

    got = [(f.line, f.column, f.rule_id, f.locator) for f in findings]
    assert got == [
        (line_of(DEPLOYMENT, "replicas"), 13, "schema/wrong-type", "spec.replicas"),
        # a mapping's node starts at its first key
        (line_of(DEPLOYMENT, "containers:"), 7, "schema/invalid", "spec.template.spec"),
        (
            line_of(DEPLOYMENT, "imagePullPolicy"),
            28,
            "schema/invalid-value",
            "spec.template.spec.containers[0].imagePullPolicy",
        ),
        (
            line_of(DEPLOYMENT, "colour"),
            11,
            "schema/unknown-field",
            "spec.template.spec.containers[0].colour",
        ),
    ]
    for finding in findings:
        assert finding.category is Category.SCHEMA
        assert finding.severity is Severity.ERROR
        assert finding.path == "apps/web/deploy.yaml"
        assert finding.source.engine == "kubeconform"
        assert finding.resource is not None
        assert (finding.resource.kind, finding.resource.name) == ("Deployment", "web")
        assert finding.resource.namespace == "prod"
    assert findings[0].message == "spec.replicas: got string, want null or integer (kubeconform)."
    assert 'unknown field "colour"' in findings[3].message


def test_documents_are_matched_by_kind_and_name() -> None:
    file = loaded("cm.yaml", TWO_DOCS)
    stdout = output(
        {
            "filename": "cm.yaml",
            "kind": "ConfigMap",
            "name": "second",
            "version": "v1",
            "status": "statusInvalid",
            "msg": "...",
            "validationErrors": [{"path": "/data/b", "msg": "got number, want string"}],
        }
    )
    (finding,) = mapped(stdout, {"cm.yaml": file})
    assert finding.line == line_of(TWO_DOCS, "b: 2")
    assert finding.rule_id == "schema/wrong-type"
    assert finding.resource is not None and finding.resource.name == "second"


def test_list_items_are_located_inside_the_list() -> None:
    file = loaded("svc.yaml", LIST)
    stdout = output(
        {
            "filename": "svc.yaml",
            "kind": "Service",
            "name": "two",
            "version": "v1",
            "status": "statusInvalid",
            "msg": "...",
            "validationErrors": [{"path": "/spec/ports/0/port", "msg": "got string, want integer"}],
        }
    )
    (finding,) = mapped(stdout, {"svc.yaml": file})
    assert finding.line == line_of(LIST, '"eighty"')
    assert finding.locator == "items[1].spec.ports[0].port"


def test_json_pointer_escapes_and_root() -> None:
    data = {"metadata": {"annotations": {"a/b": "x", "c~d": "y"}}, "items": [1]}
    assert kc.pointer_to_path("/metadata/annotations/a~1b", data) == (
        "metadata",
        "annotations",
        "a/b",
    )
    assert kc.pointer_to_path("/metadata/annotations/c~0d", data)[-1] == "c~d"
    assert kc.pointer_to_path("/items/0", data) == ("items", 0)
    # a digit key of a mapping stays a string
    assert kc.pointer_to_path("/metadata/5", {"metadata": {"5": 1}}) == ("metadata", "5")
    assert kc.pointer_to_path("", data) == ()


def test_root_validation_error_points_at_the_document_start() -> None:
    file = loaded("cm.yaml", TWO_DOCS)
    stdout = output(
        {
            "filename": "cm.yaml",
            "kind": "ConfigMap",
            "name": "second",
            "version": "v1",
            "status": "statusInvalid",
            "msg": "...",
            "validationErrors": [{"path": "", "msg": "missing property 'data'"}],
        }
    )
    (finding,) = mapped(stdout, {"cm.yaml": file})
    assert finding.line == line_of(TWO_DOCS, "---") + 1
    assert finding.rule_id == "schema/missing-field"
    assert finding.message.startswith("(document root): missing property")


def test_invalid_without_validation_errors_keeps_kubeconforms_message() -> None:
    web = loaded("deploy.yaml", DEPLOYMENT)
    stdout = output(
        {
            "filename": "deploy.yaml",
            "kind": "Deployment",
            "name": "web",
            "version": "apps/v1",
            "status": "statusInvalid",
            "msg": "problem validating schema",
        }
    )
    (finding,) = mapped(stdout, {"deploy.yaml": web})
    assert (finding.rule_id, finding.line) == ("schema/invalid", 1)
    assert "problem validating schema" in finding.message


# ---------------------------------------------------------------------------------------------
# statusError: categorised by message prefix


def _error(filename: str, msg: str, kind: str = "", name: str = "", version: str = "") -> str:
    return output(
        {
            "filename": filename,
            "kind": kind,
            "name": name,
            "version": version,
            "status": "statusError",
            "msg": msg,
        }
    )


@pytest.mark.parametrize(
    ("missing", "severity"),
    [
        (MissingSchema.WARN, Severity.WARNING),
        (MissingSchema.ERROR, Severity.ERROR),
        (MissingSchema.SKIP, None),
    ],
)
def test_missing_schema_uses_the_configured_severity(
    missing: MissingSchema, severity: Severity | None
) -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
    file = loaded("w.yaml", text)
    stdout = _error("w.yaml", "could not find schema for Widget", "Widget", "w", "example.com/v1")
    findings = mapped(stdout, {"w.yaml": file}, ctx(missing=missing, locations=("schemas",)))
    if severity is None:
        assert findings == []
        return
    (finding,) = findings
    assert finding.rule_id == "schema/missing-schema"
    assert finding.category is Category.SCHEMA
    assert finding.severity is severity
    assert finding.line == 1
    assert "example.com/v1 Widget" in finding.message
    assert "schema.locations" in finding.message  # says how to fix the limitation
    assert "bundled Kubernetes schemas" in finding.message


def test_missing_kind_blames_the_resource_not_plain_data() -> None:
    file = loaded("mixed.yaml", NO_KIND)
    stdout = output(
        *(
            {
                "filename": "mixed.yaml",
                "kind": "",
                "name": "",
                "version": "",
                "status": "statusError",
                "msg": "error while parsing: missing 'kind' key",
            }
            for _ in range(2)
        )
    )
    (finding,) = mapped(stdout, {"mixed.yaml": file})
    assert (finding.rule_id, finding.line) == ("schema/missing-kind", 1)
    assert finding.severity is Severity.ERROR


def test_missing_api_version() -> None:
    text = "kind: ConfigMap\nmetadata:\n  name: x\n"
    stdout = _error("x.yaml", "error while parsing: missing 'apiVersion' key")
    (finding,) = mapped(stdout, {"x.yaml": loaded("x.yaml", text)})
    assert finding.rule_id == "schema/missing-api-version"


DUPLICATE = """\
apiVersion: v1
kind: Pod
metadata:
  name: dup
spec:
  containers: []
  containers: []
"""
DUPLICATE_MSG = (
    "error unmarshalling resource: error converting YAML to JSON: yaml: unmarshal errors:\n"
    '  line 7: key "containers" already set in map'
)


def test_duplicate_key_already_reported_by_the_loader_is_not_repeated() -> None:
    file = loaded("dup.yaml", DUPLICATE)
    assert [f.rule_id for f in file.findings] == ["syntax/duplicate-key"]
    stdout = _error("dup.yaml", DUPLICATE_MSG, "Pod", "dup", "v1")
    assert mapped(stdout, {"dup.yaml": file}) == []


def test_duplicate_key_without_a_loader_finding_is_reported() -> None:
    file = loaded("dup.yaml", DUPLICATE)
    file.findings.clear()
    stdout = _error("dup.yaml", DUPLICATE_MSG, "Pod", "dup", "v1")
    (finding,) = mapped(stdout, {"dup.yaml": file})
    assert (finding.rule_id, finding.line) == ("schema/duplicate-key", 1)
    assert "already set in map" in finding.message


def test_unreadable_document() -> None:
    file = loaded("scalar.yaml", "just a string\n")
    stdout = _error("scalar.yaml", "error unmarshalling resource: error converting YAML to JSON")
    (finding,) = mapped(stdout, {"scalar.yaml": file})
    assert finding.rule_id == "schema/parse-error"
    assert (finding.path, finding.line) == ("scalar.yaml", None)


@pytest.mark.parametrize(
    ("msg", "rule"),
    [
        ("prohibited resource kind Deployment", "schema/rejected-kind"),
        (
            "failed downloading schema at https://example.invalid/deployment-apps-v1.json: "
            "Get: dial tcp: lookup example.invalid: no such host",
            "schema/location-error",
        ),
        ("something new in a later kubeconform", "schema/engine-error"),
    ],
)
def test_other_errors_are_categorised_by_prefix(msg: str, rule: str) -> None:
    web = loaded("deploy.yaml", DEPLOYMENT)
    stdout = _error("deploy.yaml", msg, "Deployment", "web", "apps/v1")
    (finding,) = mapped(stdout, {"deploy.yaml": web})
    assert finding.rule_id == rule
    assert finding.category is Category.SCHEMA
    assert finding.severity is Severity.ERROR
    assert finding.line == 1
    assert finding.resource is not None and finding.resource.name == "web"


def test_missing_input_path_is_an_engine_error() -> None:
    stdout = output(
        {
            "filename": "files/gone.yaml",
            "status": "statusError",
            "msg": "lstat files/gone.yaml: no such file or directory",
        }
    )
    (finding,) = mapped(stdout, {"files/gone.yaml": loaded("gone.yaml", DEPLOYMENT)})
    assert (finding.rule_id, finding.category) == ("internal/engine-error", Category.INTERNAL)


def test_skip_globs_filter_results() -> None:
    web = loaded("deploy.yaml", DEPLOYMENT)
    stdout = _error("deploy.yaml", "could not find schema for Deployment", "Deployment", "web")
    assert mapped(stdout, {"deploy.yaml": web}, ctx(skip=("Deploy*",))) == []


def test_results_are_sorted_whatever_kubeconforms_order() -> None:
    a = loaded("a.yaml", TWO_DOCS)
    b = loaded("b.yaml", DEPLOYMENT)
    resources = [
        {
            "filename": "b.yaml",
            "kind": "Deployment",
            "name": "web",
            "version": "apps/v1",
            "status": "statusInvalid",
            "msg": "",
            "validationErrors": [{"path": "/spec/replicas", "msg": "got string, want integer"}],
        },
        {
            "filename": "a.yaml",
            "kind": "ConfigMap",
            "name": "second",
            "version": "v1",
            "status": "statusInvalid",
            "msg": "",
            "validationErrors": [{"path": "/data/b", "msg": "got number, want string"}],
        },
        {
            "filename": "a.yaml",
            "kind": "ConfigMap",
            "name": "first",
            "version": "v1",
            "status": "statusError",
            "msg": "could not find schema for ConfigMap",
        },
    ]
    files = {"a.yaml": a, "b.yaml": b}
    forward = mapped(output(*resources), files)
    backward = mapped(output(*reversed(resources)), files)
    assert forward == backward
    assert [(f.path, f.line) for f in forward] == [
        ("a.yaml", 1),
        ("a.yaml", line_of(TWO_DOCS, "b: 2")),
        ("b.yaml", line_of(DEPLOYMENT, "replicas")),
    ]


def test_valid_skipped_and_empty_results_are_not_findings() -> None:
    web = loaded("deploy.yaml", DEPLOYMENT)
    stdout = output(
        {"filename": "deploy.yaml", "kind": "Deployment", "name": "web", "status": "statusValid"},
        {"filename": "deploy.yaml", "kind": "Secret", "name": "s", "status": "statusSkipped"},
        {"filename": "deploy.yaml", "kind": "", "name": "", "status": ""},
    )
    assert mapped(stdout, {"deploy.yaml": web}, returncode=0) == []
    assert mapped(output(), {"deploy.yaml": web}, returncode=0) == []


# ---------------------------------------------------------------------------------------------
# Tool failures are never a pass


@pytest.mark.parametrize(
    ("stdout", "returncode", "stderr", "why"),
    [
        ("", 1, "failed opening cache folder /nope: stat /nope: no such file", "not the expected"),
        (
            "Usage: kubeconform [OPTION]... [FILE OR FOLDER]...\n  -cache string\n",
            1,
            'invalid value "1.31" for flag -kubernetes-version',
            "not the expected",
        ),
        ("", 0, "", "not the expected"),
        ('["not", "an", "object"]', 0, "", "not the expected"),
        (output(), 1, "something went wrong", "no failing resource"),
        (output(), 2, "panic: runtime error", "status 2"),
        (output(), -9, "", "status -9"),
    ],
)
def test_tool_failure_is_one_engine_error(
    stdout: str, returncode: int, stderr: str, why: str
) -> None:
    web = loaded("deploy.yaml", DEPLOYMENT)
    findings = mapped(stdout, {"deploy.yaml": web}, returncode=returncode, stderr=stderr)
    (finding,) = findings
    assert finding.rule_id == "internal/engine-error"
    assert finding.category is Category.INTERNAL
    assert finding.severity is Severity.ERROR
    assert finding.source.engine == "kubeconform"
    assert why in finding.message
    if stderr:
        assert stderr in finding.message
    else:
        assert "nothing on stderr" in finding.message


def test_long_stderr_is_truncated() -> None:
    (finding,) = mapped("", {}, stderr="x" * 10_000)
    assert len(finding.message) < 2_300


# ---------------------------------------------------------------------------------------------
# Command line and inputs


def test_flags_come_before_the_inputs() -> None:
    args = kc.build_args(
        "/bin/kubeconform",
        ctx(missing=MissingSchema.SKIP, skip=("Secret", "v1/ConfigMap", "Foo*")),
        locations=["/abs/schemas", "https://x.invalid/{{ .ResourceKind }}.json"],
        inputs=["files"],
    )
    assert args == [
        "/bin/kubeconform",
        "-output",
        "json",
        "-summary",
        "-n",
        "2",
        "-strict",
        "-ignore-missing-schemas",
        "-kubernetes-version",
        "1.31.0",
        "-skip",
        "Secret,v1/ConfigMap",
        "-schema-location",
        "/abs/schemas",
        "-schema-location",
        "https://x.invalid/{{ .ResourceKind }}.json",
        "files",
    ]


def test_non_strict_warn_and_crd_location_keep_the_default_registry(tmp_path: Path) -> None:
    args = kc.build_args(
        "kc",
        ctx(strict=False, version="1.30"),
        locations=[],
        extra_locations=["/tmp/crds/{{ .Group }}.json"],
        cache_dir=tmp_path,
        inputs=["files"],
    )
    assert "-strict" not in args and "-ignore-missing-schemas" not in args and "-skip" not in args
    assert args[args.index("-kubernetes-version") + 1] == "1.30.0"
    locations = [args[i + 1] for i, a in enumerate(args) if a == "-schema-location"]
    assert locations == ["/tmp/crds/{{ .Group }}.json", "default"]
    assert args[args.index("-cache") + 1] == str(tmp_path)
    assert args[-1] == "files"


@pytest.mark.parametrize(
    ("given", "flag"),
    [("1.31", "1.31.0"), ("v1.29", "1.29.0"), ("1.28.3", "1.28.3"), ("master", "master")],
)
def test_kubernetes_version_flag(given: str, flag: str) -> None:
    assert kc.kubernetes_version_flag(given) == flag


def test_relative_locations_resolve_against_the_checked_root(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    source = LocationSchemas(
        ("schemas", "/abs", "https://h.invalid/x.json", "default"),
        version="1.31",
        strict=True,
        base_dir=tmp_path,
        fetch=HttpSchemaCache(cache),
    )
    context = ctx(locations=source.locations, sources=(source,))
    assert kc.resolve_locations(context) == [
        str(tmp_path / "schemas"),
        "/abs",
        "https://h.invalid/x.json",
        "default",
    ]
    assert kc._cache_dir(context) == cache


def test_inputs_keep_their_paths_and_get_a_readable_suffix(tmp_path: Path) -> None:
    files = [
        LoadedFile("apps/web.yaml", FileKind.MANIFEST, "a: 1\n"),
        LoadedFile("apps/odd.yaml.txt", FileKind.MANIFEST, "b: 2\n"),
        LoadedFile("../escape.yaml", FileKind.MANIFEST, "c: 3\n"),
        LoadedFile("UPPER.JSON", FileKind.MANIFEST, "{}"),
    ]
    names = kc.write_inputs(tmp_path, files)
    assert names == {
        "files/apps/web.yaml": files[0],
        "files/apps/odd.yaml.txt.yaml": files[1],
        "files/_/2.yaml": files[2],
        "files/UPPER.JSON": files[3],
    }
    for name, file in names.items():
        assert (tmp_path / name).read_text() == file.text
    assert not (tmp_path.parent / "escape.yaml").exists()


def test_crds_of_the_checked_files_become_a_schema_location(tmp_path: Path) -> None:
    location = kc.write_crd_schemas(tmp_path, [loaded("crd.yaml", WIDGET_CRD)], strict=True)
    assert location == (
        f"{tmp_path}/crd-schemas/"
        + "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
    )
    expanded = location.replace("{{ .Group }}", "example.com")
    expanded = expanded.replace("{{ .ResourceKind }}", "widget")
    expanded = expanded.replace("{{ .ResourceAPIVersion }}", "v1")
    schema = json.loads(Path(expanded).read_text())
    assert schema["properties"]["spec"]["properties"]["size"] == {"type": "integer"}
    assert schema["properties"]["spec"]["additionalProperties"] is False  # strict conversion
    assert kc.write_crd_schemas(tmp_path / "none", [loaded("d.yaml", DEPLOYMENT)], strict=True) is (
        None
    )


# ---------------------------------------------------------------------------------------------
# Discovery and the pipeline's config error


def test_find_kubeconform_is_none_without_a_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv(kc.ENV_VAR, raising=False)
    assert kc.find_kubeconform() is None
    monkeypatch.setenv(kc.ENV_VAR, "/nonexistent/kubeconform")
    assert kc.find_kubeconform() is None


def test_env_var_names_the_binary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    binary = _script(tmp_path / "kc-somewhere", "print('{}')")
    monkeypatch.setenv("PATH", "")
    monkeypatch.setenv(kc.ENV_VAR, str(binary))
    backend = kc.find_kubeconform()
    assert isinstance(backend, kc.KubeconformBackend)
    assert isinstance(backend, SchemaBackend)
    assert backend.binary == str(binary)


GATE_CONFIG = "schema:\n  engine: kubeconform\n"


def test_pipeline_reports_a_config_error_without_the_binary(
    check: Check, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv(kc.ENV_VAR, raising=False)
    report = check({".github/gitops-gate.yml": GATE_CONFIG, "deploy.yaml": DEPLOYMENT})
    errors = [f for f in report.findings if f.category is Category.CONFIG]
    assert [(f.rule_id, f.path, f.severity) for f in errors] == [
        ("config/invalid-value", ".github/gitops-gate.yml", Severity.ERROR)
    ]
    assert "kubeconform" in errors[0].message
    assert report.has_config_errors()
    assert report.conclusion == "failure"
    # the embedded engine did not silently stand in for kubeconform
    assert not [f for f in report.findings if f.category is Category.SCHEMA]


# ---------------------------------------------------------------------------------------------
# The subprocess wrapper, with a stand-in script for the binary


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


FAKE = """\
import json, os, sys
record = {"argv": sys.argv[1:], "cwd": os.getcwd(), "files": {}}
for root, _, names in os.walk("files"):
    for name in names:
        full = os.path.join(root, name)
        with open(full, encoding="utf-8") as fh:
            record["files"][full] = fh.read()
with open(os.environ["FAKE_KC_RECORD"], "w") as fh:
    json.dump(record, fh)
sys.stdout.write(os.environ.get("FAKE_KC_STDOUT", ""))
sys.stderr.write(os.environ.get("FAKE_KC_STDERR", ""))
sys.exit(int(os.environ.get("FAKE_KC_RC", "0")))
"""


@pytest.fixture
def fake_kc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "bin").mkdir()
    _script(tmp_path / "bin" / "kubeconform", FAKE)
    record = tmp_path / "record.json"
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv(kc.ENV_VAR, raising=False)
    monkeypatch.setenv("FAKE_KC_RECORD", str(record))
    return record


def test_pipeline_runs_kubeconform_on_a_copy_and_maps_its_output(
    check: Check, fake_kc: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stdout = output(
        {
            "filename": "files/apps/deploy.yaml",
            "kind": "Deployment",
            "name": "web",
            "version": "apps/v1",
            "status": "statusInvalid",
            "msg": "...",
            "validationErrors": [{"path": "/spec/replicas", "msg": "got string, want integer"}],
        }
    )
    monkeypatch.setenv("FAKE_KC_STDOUT", stdout)
    monkeypatch.setenv("FAKE_KC_RC", "1")
    config = GATE_CONFIG + "  missing: error\n  locations: [schemas]\n  skip: [Secret]\n"
    report = check(
        {
            ".github/gitops-gate.yml": config,
            "apps/deploy.yaml": DEPLOYMENT,
            "values.txt": "not checked",
        }
    )
    schema = [f for f in report.findings if f.category is Category.SCHEMA]
    assert [(f.path, f.line, f.rule_id, f.source.engine) for f in schema] == [
        ("apps/deploy.yaml", line_of(DEPLOYMENT, "replicas"), "schema/wrong-type", "kubeconform")
    ]
    assert report.conclusion == "failure"

    record = json.loads(fake_kc.read_text())
    argv = record["argv"]
    assert argv[-1] == "files"  # the inputs, after every flag
    assert all(not a.startswith("-") for a in argv[argv.index("files") :])
    assert argv[:6] == ["-output", "json", "-summary", "-n", "2", "-strict"]
    assert "-ignore-missing-schemas" not in argv
    assert argv[argv.index("-skip") + 1] == "Secret"
    repo = tmp_path / "repo"
    assert argv[argv.index("-schema-location") + 1] == str(repo / "schemas")
    assert record["files"] == {"files/apps/deploy.yaml": DEPLOYMENT}
    assert not Path(record["cwd"]).exists()  # the temporary copy is removed afterwards


def test_a_failing_binary_is_an_engine_error_not_a_pass(
    check: Check, fake_kc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KC_STDOUT", "")
    monkeypatch.setenv("FAKE_KC_STDERR", "failed initialising schema location registry: boom")
    monkeypatch.setenv("FAKE_KC_RC", "1")
    report = check({".github/gitops-gate.yml": GATE_CONFIG, "deploy.yaml": DEPLOYMENT})
    (finding,) = [f for f in report.findings if f.category is Category.INTERNAL]
    assert finding.rule_id == "internal/engine-error"
    assert "failed initialising schema location registry: boom" in finding.message
    assert report.conclusion == "failure"


def test_no_resources_means_no_run(fake_kc: Path) -> None:
    backend = kc.find_kubeconform()
    assert backend is not None
    files = [loaded("plain.yaml", "just: data\n")]
    assert backend.analyze(files, ctx()) == []
    assert not fake_kc.exists()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    binary = _script(
        tmp_path / "slow-kubeconform",
        f"""\
        import subprocess, time
        child = subprocess.Popen(["sleep", "60"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(60)
        """,
    )
    backend = kc.KubeconformBackend(str(binary), timeout=2)
    started = time.monotonic()
    (finding,) = backend.analyze([loaded("deploy.yaml", DEPLOYMENT)], ctx())
    assert time.monotonic() - started < 20
    assert finding.rule_id == "internal/engine-error"
    assert "did not finish within 2 s" in finding.message
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_a_binary_that_cannot_start_is_an_engine_error(tmp_path: Path) -> None:
    backend = kc.KubeconformBackend(str(tmp_path / "vanished"))
    (finding,) = backend.analyze([loaded("deploy.yaml", DEPLOYMENT)], ctx())
    assert finding.rule_id == "internal/engine-error"
    assert "could not be started" in finding.message


# ---------------------------------------------------------------------------------------------
# The real kubeconform (skipped where it is not installed)

# A small standalone schema in kubeconform's folder layout, so no network is needed.
DEPLOYMENT_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": ["integer", "null"]},
                "selector": {"type": "object"},
                "template": {"type": "object"},
            },
            "additionalProperties": False,
        },
    },
}

REAL_CONFIG = GATE_CONFIG + "  locations: [schemas]\n"


def _schema_files(version: str = "1.31.0") -> dict[str, str]:
    body = json.dumps(DEPLOYMENT_SCHEMA)
    return {
        f"schemas/v{version}-standalone-strict/deployment-apps-v1.json": body,
        f"schemas/v{version}-standalone/deployment-apps-v1.json": body,
    }


@needs_binary
def test_real_kubeconform_locates_an_invalid_field(check: Check) -> None:
    report = check(
        {
            ".github/gitops-gate.yml": REAL_CONFIG + "kubernetes_version: '1.31'\n",
            **_schema_files(),
            "apps/deploy.yaml": DEPLOYMENT,
        }
    )
    schema = [f for f in report.findings if f.source.engine == "kubeconform"]
    assert ("apps/deploy.yaml", line_of(DEPLOYMENT, "replicas"), "schema/wrong-type") in {
        (f.path, f.line, f.rule_id) for f in schema
    }
    assert all(f.category is Category.SCHEMA for f in schema)


@needs_binary
def test_real_kubeconform_valid_manifest_passes(check: Check) -> None:
    valid = DEPLOYMENT.replace('"three"', "3")
    report = check(
        {
            ".github/gitops-gate.yml": REAL_CONFIG + "kubernetes_version: '1.31'\n",
            **_schema_files(),
            "deploy.yaml": valid,
        }
    )
    assert [f for f in report.findings if f.source.engine == "kubeconform"] == []


@needs_binary
def test_real_kubeconform_missing_schema_is_a_warning(check: Check) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {}\n"
    report = check(
        {
            ".github/gitops-gate.yml": REAL_CONFIG + "kubernetes_version: '1.31'\n",
            **_schema_files(),
            "cm.yaml": cm,
        }
    )
    (finding,) = [f for f in report.findings if f.source.engine == "kubeconform"]
    assert (finding.rule_id, finding.severity, finding.line) == (
        "schema/missing-schema",
        Severity.WARNING,
        1,
    )


@needs_binary
def test_real_kubeconform_tool_failure_is_an_engine_error(check: Check) -> None:
    config = GATE_CONFIG + "  locations: ['schemas/{{ .Unknown }}.json']\n"
    report = check({".github/gitops-gate.yml": config, "deploy.yaml": DEPLOYMENT})
    engine = [f for f in report.findings if f.rule_id == "internal/engine-error"]
    assert len(engine) == 1
    assert report.conclusion == "failure"


@needs_binary
def test_real_kubeconform_validates_tree_crds(check: Check) -> None:
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: big\n"
    report = check(
        {
            ".github/gitops-gate.yml": REAL_CONFIG + "  skip: [CustomResourceDefinition]\n",
            **_schema_files("1.37.0"),
            "crd.yaml": WIDGET_CRD,
            "widget.yaml": widget,
        }
    )
    found = {
        (f.path, f.line, f.rule_id) for f in report.findings if f.source.engine == "kubeconform"
    }
    assert ("widget.yaml", 6, "schema/wrong-type") in found


def test_environment_is_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxy settings reach kubeconform (it honours HTTPS_PROXY): the env is passed through."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    result = kc.run_kubeconform(
        [sys.executable, "-c", "import os; print(os.environ['HTTPS_PROXY'])"],
        cwd=Path(os.getcwd()),
        timeout=30,
    )
    assert (result.stdout.strip(), result.returncode) == ("http://proxy.invalid:3128", 0)
