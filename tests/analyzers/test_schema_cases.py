"""The schema analyzer, one test per case (kubeconform's fixtures, ported), through the whole
pipeline as the CLI runs it. Each test asserts the exact (path, line, rule_id) set, and columns
and messages where they carry the point."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.finding import Finding, Severity
from bot.core.pipeline import Report
from tests.conftest import check_tree, rules_at

Check = Callable[..., Report]

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
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
          image: nginx:1.27@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31
"""


def the(report: Report, rule_id: str) -> Finding:
    """The one finding with ``rule_id`` (fails when there are none or several)."""
    found = [f for f in report.findings if f.rule_id == rule_id]
    assert len(found) == 1, [f.to_dict() for f in report.findings]
    return found[0]


def config(text: str) -> dict[str, str]:
    return {".github/gitops-gate.yml": text}


def test_valid(check: Check) -> None:
    report = check({"deploy.yaml": DEPLOYMENT})
    assert report.findings == ()
    assert report.documents == 1
    assert report.conclusion == "success"


def test_wrong_type(check: Check) -> None:
    report = check({"deploy.yaml": DEPLOYMENT.replace("replicas: 2", 'replicas: "two"')})
    assert rules_at(report) == {("deploy.yaml", 6, "schema/wrong-type")}
    finding = the(report, "schema/wrong-type")
    assert finding.column == 13
    assert finding.message == "spec.replicas: expected integer, got string 'two'."
    assert finding.severity is Severity.ERROR
    assert finding.resource is not None and finding.resource.name == "web"
    assert report.conclusion == "failure"


UNKNOWN_FIELD = DEPLOYMENT + "          imagePullPolicy: Always\n          colour: blue\n"


def test_unknown_field_strict(check: Check) -> None:
    report = check({"deploy.yaml": UNKNOWN_FIELD})
    assert rules_at(report) == {("deploy.yaml", 19, "schema/unknown-field")}
    finding = the(report, "schema/unknown-field")
    assert finding.column == 11  # the key, not its value
    assert finding.message.startswith(
        'spec.template.spec.containers[0].colour: unknown field "colour"'
    )


def test_unknown_field_passes_when_not_strict(check: Check) -> None:
    report = check({"deploy.yaml": UNKNOWN_FIELD, **config("schema:\n  strict: false\n")})
    assert report.findings == ()


def test_missing_kind(check: Check) -> None:
    report = check({"cm.yaml": "apiVersion: v1\nmetadata:\n  name: a\n"})
    assert rules_at(report) == {("cm.yaml", 1, "schema/missing-kind")}
    assert '"kind"' in the(report, "schema/missing-kind").message


def test_missing_api_version(check: Check) -> None:
    report = check({"cm.yaml": "# a config map\nkind: ConfigMap\nmetadata:\n  name: a\n"})
    assert rules_at(report) == {("cm.yaml", 2, "schema/missing-api-version")}
    assert '"apiVersion"' in the(report, "schema/missing-api-version").message


def test_kind_that_is_not_a_string(check: Check) -> None:
    report = check({"cm.yaml": "apiVersion: v1\nkind: 5\nmetadata:\n  name: a\n"})
    assert rules_at(report) == {("cm.yaml", 2, "schema/missing-kind")}
    assert the(report, "schema/missing-kind").column == 7


def test_duplicate_key(check: Check) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\ndata:\n  k: v\n"
    report = check({"cm.yaml": text})
    assert rules_at(report) == {("cm.yaml", 5, "syntax/duplicate-key")}
    finding = the(report, "syntax/duplicate-key")
    assert finding.column == 3
    assert finding.message.startswith('Duplicate key "name" (first at line 4)')


LIST = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: good
    data:
      k: v
  - apiVersion: v1
    kind: Service
    metadata:
      name: svc
    spec:
      ports:
        - port: "eighty"
          bogus: 1
"""


def test_list(check: Check) -> None:
    report = check({"list.yaml": LIST})
    assert report.documents == 2  # the items, not the List
    assert rules_at(report) == {
        ("list.yaml", 16, "schema/wrong-type"),
        ("list.yaml", 17, "schema/unknown-field"),
    }
    wrong = the(report, "schema/wrong-type")
    assert wrong.column == 17
    assert wrong.message.startswith("spec.ports[0].port: expected integer")
    assert wrong.resource is not None
    assert (wrong.resource.kind, wrong.resource.name) == ("Service", "svc")
    assert the(report, "schema/unknown-field").column == 11


def test_list_item_without_identity(check: Check) -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n  - metadata:\n      name: x\n  - just text\n"
    report = check({"list.yaml": text})
    assert rules_at(report) == {
        ("list.yaml", 4, "schema/missing-api-version"),
        ("list.yaml", 6, "schema/invalid"),
    }


def test_empty_list(check: Check) -> None:
    report = check({"list.yaml": "apiVersion: v1\nkind: List\nitems: []\n"})
    assert report.findings == ()
    assert report.documents == 0


def test_empty_document(check: Check) -> None:
    text = (
        "---\n---\n# only a comment\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n"
    )
    report = check({"cm.yaml": text, "comments.yaml": "# nothing here\n", "null.yaml": "~\n"})
    assert report.findings == ()
    assert report.documents == 1  # empty documents are skipped, not counted


MULTI = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
data:
  a: b
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: second
data:
  n: 1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: third
"""


def test_multi_document_with_one_invalid(check: Check) -> None:
    report = check({"cms.yaml": MULTI})
    assert report.documents == 3
    assert rules_at(report) == {("cms.yaml", 13, "schema/wrong-type")}
    finding = the(report, "schema/wrong-type")
    assert finding.column == 6
    assert finding.message == "data.n: expected string, got integer 1."
    assert finding.resource is not None and finding.resource.name == "second"


def _service(target_ports: list[str]) -> str:
    ports = "".join(
        f"    - name: p{i}\n      port: {8000 + i}\n      targetPort: {value}\n"
        for i, value in enumerate(target_ports)
    )
    return f"apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n{ports}"


def test_int_or_string(check: Check) -> None:
    # Lines of targetPort: 9, 12, 15, 18.
    report = check({"svc.yaml": _service(["80", '"http"', "1.5", "{a: 1}"])})
    assert rules_at(report) == {
        ("svc.yaml", 15, "schema/wrong-type"),
        ("svc.yaml", 18, "schema/wrong-type"),
    }
    messages = sorted(f.message for f in report.findings)
    assert messages == [
        "spec.ports[2].targetPort: expected integer or string, got number 1.5.",
        "spec.ports[3].targetPort: expected integer or string, got object.",
    ]


def test_int_or_string_valid_values(check: Check) -> None:
    assert check({"svc.yaml": _service(["80", "http", "'8080'"])}).findings == ()


def _pod_resources(values: list[str]) -> str:
    lines = "".join(f"            r{i}: {value}\n" for i, value in enumerate(values))
    return (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
        "    - name: c\n"
        "      image: busybox:1.36@sha256:"
        "0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31\n"
        "      resources:\n"
        f"        limits:\n{lines.replace('            ', '          ')}"
    )


def test_quantities(check: Check) -> None:
    valid = ["500m", "1", "0.5", "128Mi", '"1e3"', "2G", '"1.5"', "100n"]
    assert check({"pod.yaml": _pod_resources(valid)}).findings == ()


def test_quantities_invalid(check: Check) -> None:
    # limits.r0..r3 are on lines 11..14.
    report = check({"pod.yaml": _pod_resources(["500m", "1GB", "128Mi", "abc"])})
    assert rules_at(report) == {
        ("pod.yaml", 12, "schema/invalid-value"),
        ("pod.yaml", 14, "schema/invalid-value"),
    }
    by_line = {f.line: f for f in report.findings}
    assert by_line[12].column == 15
    assert by_line[12].message.startswith(
        "spec.containers[0].resources.limits.r1: '1GB' is not a Kubernetes quantity"
    )
    assert "'abc'" in by_line[14].message


def test_null_values(check: Check) -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels:\n  annotations: null\n"
        "spec:\n  selector: ~\n  ports:\n    - port: 80\n      targetPort:\n"
    )
    assert check({"svc.yaml": text}).findings == ()


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    kind: Widget
    plural: widgets
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            metadata:
              type: object
              properties:
                name:
                  type: string
                  maxLength: 20
            spec:
              type: object
              required: [size]
              properties:
                size:
                  type: integer
                  format: int32
                port:
                  x-kubernetes-int-or-string: true
                  anyOf:
                    - type: integer
                    - type: string
                extra:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
                shape:
                  type: object
                  properties:
                    width:
                      type: integer
                    height:
                      type: integer
                  allOf:
                    - properties:
                        width:
                          minimum: 1
"""

CUSTOM_RESOURCES = """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: bad
  namespace: default
spec:
  size: big
  colour: red
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: good
  namespace: default
  labels:
    app: w
spec:
  size: 3
  port: http
  extra:
    anything: {goes: [1, 2]}
  shape:
    width: 2
    height: 3
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: numbers
spec:
  size: 3
  port: 8080
  shape:
    width: 0
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: float-port
spec:
  size: 1
  port: 1.5
"""


def test_crd_from_the_tree(check: Check) -> None:
    report = check({"crds/widget.yaml": CRD, "apps/widgets.yaml": CUSTOM_RESOURCES})
    assert rules_at(report) == {
        ("apps/widgets.yaml", 7, "schema/wrong-type"),
        ("apps/widgets.yaml", 8, "schema/unknown-field"),
        ("apps/widgets.yaml", 34, "schema/invalid"),  # allOf: width >= 1
        ("apps/widgets.yaml", 42, "schema/wrong-type"),  # int-or-string
    }
    wrong = {f.line: f for f in report.findings}
    assert wrong[7].message == "spec.size: expected integer, got string 'big'."
    assert wrong[8].column == 3
    assert wrong[8].message.startswith('spec.colour: unknown field "colour"')
    assert "CRD crds/widget.yaml:1" in wrong[8].message
    assert wrong[42].message == "spec.port: expected integer or string, got number 1.5."


def test_crd_from_the_tree_without_the_crd(check: Check) -> None:
    report = check({"apps/widgets.yaml": CUSTOM_RESOURCES})
    assert {f.rule_id for f in report.findings} == {"schema/missing-schema"}
    assert {f.line for f in report.findings} == {1, 10, 26, 36}


def test_crd_with_a_broken_schema(check: Check) -> None:
    broken = CRD.replace("type: integer\n                  format: int32", "type: 5")
    report = check({"crds/widget.yaml": broken, "apps/widgets.yaml": CUSTOM_RESOURCES})
    # The CRD itself is invalid against the Kubernetes schema, and its resources are reported
    # as not validated (never as valid, and never an analyzer crash).
    assert rules_at(report) == {
        ("crds/widget.yaml", 30, "schema/wrong-type"),
        *{("apps/widgets.yaml", line, "schema/location-error") for line in (1, 10, 26, 36)},
    }
    errors = [f for f in report.findings if f.rule_id == "schema/location-error"]
    assert all("CRD crds/widget.yaml:1" in f.message for f in errors)


# A schema as openapi2jsonschema writes it (no $schema: Draft 4, formats asserted).
WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "size": {"type": "integer"},
                "when": {"type": "string", "format": "date-time"},
            },
        },
    },
}

LOCATED = """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
spec:
  size: big
  when: yesterday
  colour: red
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: ok
spec:
  size: 1
"""
URL_TEMPLATE = "/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
LOCATED_RULES = {
    ("w.yaml", 6, "schema/wrong-type"),
    ("w.yaml", 7, "schema/invalid-value"),
    ("w.yaml", 8, "schema/unknown-field"),
}


def test_crd_from_a_configured_folder(check: Check) -> None:
    report = check(
        {
            "w.yaml": LOCATED,
            "schemas/v1.31.0-standalone-strict/widget-example-v1.json": json.dumps(WIDGET_SCHEMA),
            **config('kubernetes_version: "1.31"\nschema:\n  locations:\n    - schemas\n'),
        }
    )
    assert rules_at(report) == LOCATED_RULES
    assert "schemas/v1.31.0-standalone-strict/widget-example-v1.json" in next(
        f.message for f in report.findings if f.rule_id == "schema/unknown-field"
    )


def test_crd_from_a_configured_file_template(check: Check) -> None:
    report = check(
        {
            "w.yaml": LOCATED,
            "schemas/example.com/widget_v1.json": json.dumps(WIDGET_SCHEMA),
            **config(
                "schema:\n  locations:\n"
                "    - 'schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json'\n"
            ),
        }
    )
    assert rules_at(report) == LOCATED_RULES


def test_configured_local_schema_that_is_not_json(check: Check) -> None:
    report = check(
        {
            "w.yaml": LOCATED,
            "schemas/example.com/widget_v1.json": "not: json",
            **config(f"schema:\n  locations:\n    - 'schemas{URL_TEMPLATE}'\n"),
        }
    )
    assert rules_at(report) == {
        ("w.yaml", 1, "schema/location-error"),
        ("w.yaml", 10, "schema/location-error"),
    }


class _SchemaServer:
    """A real HTTP server on 127.0.0.1 serving ``files`` (path -> body) and counting GETs."""

    def __init__(self, files: dict[str, bytes], status: int = 200) -> None:
        self.files = files
        self.status = status
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                body = owner.files.get(self.path)
                code = owner.status if body is not None or owner.status != 200 else 404
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                payload = body if code == 200 and body is not None else b'{"error": "x"}'
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def schema_server() -> Iterator[Callable[..., _SchemaServer]]:
    started: list[_SchemaServer] = []

    def start(files: dict[str, bytes], status: int = 200) -> _SchemaServer:
        server = _SchemaServer(files, status)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.thread.is_alive():
            server.stop()


def test_crd_from_an_http_url_template_with_the_disk_cache(
    tmp_path: Path, schema_server: Callable[..., _SchemaServer]
) -> None:
    server = schema_server({"/example.com/widget_v1.json": json.dumps(WIDGET_SCHEMA).encode()})
    files = {
        "w.yaml": LOCATED,
        **config(f"schema:\n  locations:\n    - '{server.base}{URL_TEMPLATE}'\n"),
    }
    cache = tmp_path / "cache"
    first = check_tree(tmp_path / "repo", files, cache_dir=cache)
    assert rules_at(first) == LOCATED_RULES
    assert server.requests == ["/example.com/widget_v1.json"]  # once for both documents
    url = f"{server.base}/example.com/widget_v1.json"
    assert (cache / hashlib.sha256(url.encode()).hexdigest()).read_bytes() == json.dumps(
        WIDGET_SCHEMA
    ).encode()

    server.stop()
    second = check_tree(tmp_path / "repo", cache_dir=cache)  # offline: from the cache
    assert rules_at(second) == LOCATED_RULES
    assert len(server.requests) == 1
    # Without the cache the same run cannot reach the schema: the cache is what made it work.
    cold = check_tree(tmp_path / "repo", cache_dir=tmp_path / "empty-cache")
    assert {f.rule_id for f in cold.findings} == {"schema/location-error"}


def test_http_500_is_a_location_error(
    tmp_path: Path, schema_server: Callable[..., _SchemaServer]
) -> None:
    server = schema_server({}, status=500)
    files = {
        "w.yaml": LOCATED,
        **config(f"schema:\n  locations:\n    - '{server.base}{URL_TEMPLATE}'\n"),
    }
    report = check_tree(tmp_path / "repo", files, cache_dir=tmp_path / "cache")
    assert rules_at(report) == {
        ("w.yaml", 1, "schema/location-error"),
        ("w.yaml", 10, "schema/location-error"),
    }
    assert all("HTTP 500" in f.message for f in report.findings)
    assert report.conclusion == "failure"
    assert len(server.requests) == 1  # the failure is remembered per kind
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_http_404_falls_through_to_the_next_location(
    tmp_path: Path, schema_server: Callable[..., _SchemaServer]
) -> None:
    server = schema_server({})
    files = {
        "w.yaml": LOCATED,
        "schemas/example.com/widget_v1.json": json.dumps(WIDGET_SCHEMA),
        **config(
            f"schema:\n  locations:\n    - '{server.base}{URL_TEMPLATE}'\n"
            "    - 'schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json'\n"
        ),
    }
    report = check_tree(tmp_path / "repo", files, cache_dir=tmp_path / "cache")
    assert rules_at(report) == LOCATED_RULES
    assert server.requests == ["/example.com/widget_v1.json"]


UNKNOWN_KIND = "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n"


def test_unknown_kind_missing_schema_skip(check: Check) -> None:
    report = check({"g.yaml": UNKNOWN_KIND, **config("schema:\n  missing: skip\n")})
    assert report.findings == ()


def test_unknown_kind_missing_schema_warn(check: Check) -> None:
    report = check({"g.yaml": UNKNOWN_KIND, **config("schema:\n  missing: warn\n")})
    assert rules_at(report) == {("g.yaml", 1, "schema/missing-schema")}
    finding = the(report, "schema/missing-schema")
    assert finding.severity is Severity.WARNING
    assert "example.com/v1 Gadget" in finding.message
    assert report.conclusion == "success"


def test_unknown_kind_missing_schema_error(check: Check) -> None:
    report = check({"g.yaml": UNKNOWN_KIND, **config("schema:\n  missing: error\n")})
    assert rules_at(report) == {("g.yaml", 1, "schema/missing-schema")}
    assert the(report, "schema/missing-schema").severity is Severity.ERROR
    assert report.conclusion == "failure"


WORKFLOW = """\
name: ci
on:
  push:
    branches: [main]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make test
"""
KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deploy.yaml
images:
  - name: nginx
    newTag: "1.27"
    digest: sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31
"""
CHART = "apiVersion: v2\nname: web\nversion: 0.1.0\n"
TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
        {{- range .Values.containers }}
        - name: {{ .name }}
        {{- end }}
"""
VALUES = "replicas: 2\ncontainers:\n  - name: web\nkind: not-a-resource\n"


def test_non_resource_yaml(check: Check) -> None:
    report = check(
        {
            "data/settings.yaml": "name: app\nfeatures:\n  - a\n  - b\nlimits: {cpu: 2}\n",
            "data/list.json": '[1, 2, {"a": null}]\n',
            ".github/workflows/ci.yml": WORKFLOW,
            "app/kustomization.yaml": KUSTOMIZATION,
            "app/deploy.yaml": DEPLOYMENT,
            "charts/web/Chart.yaml": CHART,
            "charts/web/templates/deployment.yaml": TEMPLATE,
            "charts/web/values.yaml": VALUES,
        }
    )
    assert report.findings == ()
    assert report.conclusion == "success"


def test_sops_encrypted_manifest(check: Check) -> None:
    """The ``sops`` block is removed before the cluster sees the object: not an unknown field
    (an unknown field elsewhere still is)."""
    enc = (
        "ENC[AES256_GCM,data:Ym9DdQ==,iv:7rD0ZtM2Y9m5H9qQnG0tBkq8s1vYt2Xw5c3f6JdL0aE=,"
        "tag:Q1w2E3r4T5y6U7i8O9p0Aa==,type:str]"
    )
    text = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: {enc}
bogus: 1
sops:
  lastmodified: "2026-11-20T10:12:00Z"
  mac: {enc}
  version: 3.9.1
"""
    report = check({"db.enc.yaml": text})
    assert rules_at(report) == {("db.enc.yaml", 7, "schema/unknown-field")}
