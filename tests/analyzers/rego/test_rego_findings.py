"""conftest results as findings: severity, rule id, metadata and the line of the field."""

from __future__ import annotations

from bot.analyzers.rego.findings import locate_in_message, policy_error_finding, policy_findings
from bot.analyzers.rego.results import CheckResult, Result
from bot.core.document import Document, load_text
from bot.core.filekind import FileKind
from bot.core.finding import Category, Severity, Source
from bot.engines.policy_engine import PolicyError

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      hostNetwork: true
      initContainers:
        - name: init
          image: busybox
      containers:
        - name: app
          image: nginx:latest
          securityContext:
            privileged: true
        - name: sidecar
          image: envoy
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
    - port: 80
"""


def docs() -> list[Document]:
    return load_text("apps/web.yaml", DEPLOYMENT, FileKind.MANIFEST).documents


def failure(msg: str, **metadata: object) -> Result:
    meta = {**metadata, "query": "data.k8s.security.deny_privileged"}
    return Result(msg, meta, rule="deny_privileged", namespace="k8s.security")


def one(result: Result, doc: Document, *, warning: bool = False) -> object:
    check = CheckResult(doc.path, result.namespace)
    (check.warnings if warning else check.failures).append(result)
    findings, allowances = policy_findings(check, doc)
    assert allowances == []
    (finding,) = findings
    return finding


def test_failure_defaults() -> None:
    deployment = docs()[0]
    finding = one(failure("Deployment web must not run privileged"), deployment)
    assert finding.rule_id == "rego/k8s.security/deny_privileged"
    assert finding.category is Category.POLICY and finding.severity is Severity.ERROR
    assert finding.source == Source("rego", "k8s.security", "deny_privileged")
    assert finding.path == "apps/web.yaml" and finding.line == 1
    assert finding.resource is not None and finding.resource.name == "web"
    assert finding.resource.namespace == "shop"
    assert finding.help_url is None


def test_warning_and_metadata_overrides() -> None:
    deployment = docs()[0]
    plain = one(
        Result("w", {"query": "q"}, rule="warn_x", namespace="main"), deployment, warning=True
    )
    assert plain.severity is Severity.WARNING
    finding = one(
        failure(
            "no privileged containers",
            severity="warning",
            id="ACME-7",
            title="Privileged",
            help_url="https://docs.example/acme-7",
        ),
        deployment,
    )
    assert finding.severity is Severity.WARNING and finding.rule_id == "ACME-7"
    assert finding.message == "Privileged: no privileged containers"
    assert finding.help_url == "https://docs.example/acme-7"
    unknown = one(failure("m", severity="catastrophic"), deployment)
    assert unknown.severity is Severity.ERROR


def test_line_from_field_path_container_and_quoted_key() -> None:
    deployment = docs()[0]
    by_path = one(
        failure("spec.template.spec.containers[0].securityContext.privileged is true"), deployment
    )
    assert by_path.line == 17
    with_input = one(failure("input.spec.template.spec.hostNetwork must be false"), deployment)
    assert with_input.line == 9
    container = one(failure('container "sidecar" has no resource limits'), deployment)
    assert container.line == 18
    init = one(failure("initContainer init runs as root"), deployment)
    assert init.line == 11
    quoted = one(failure('"hostNetwork" is not allowed'), deployment)
    assert quoted.line == 9


def test_ambiguous_or_unknown_names_fall_back_to_the_document() -> None:
    deployment, service = docs()
    for message in (
        'container "missing" is bad',  # no such container
        '"image" must be pinned',  # three image keys
        "spec.template.spec.nothing is set",  # no such field
        "containers app and sidecar both bad",  # names two containers
        "spec.replicas and spec.template.spec.hostNetwork",  # one exists: used
    ):
        path, _ = locate_in_message(message, deployment)
        if message.startswith("spec.replicas"):
            assert path == ("spec", "template", "spec", "hostNetwork")
        else:
            assert path is None, message
    assert one(failure('"image" must be pinned'), deployment).line == 1
    assert one(failure('"port" is 80'), service).line == 27  # "- port: 80"


def test_loc_of_this_file_wins_and_other_files_are_noted() -> None:
    deployment = docs()[0]
    here = Result("m", {"query": "q"}, {"file": "apps/web.yaml", "line": 15}, "deny", "main")
    assert one(here, deployment).line == 15
    elsewhere = Result("m", {"query": "q"}, {"file": "test.txt", "line": 123}, "deny", "main")
    finding = one(elsewhere, deployment)
    assert finding.line == 1 and finding.message == "m (reported at test.txt:123)"


def test_combined_results_land_on_the_file_their_loc_names() -> None:
    deployment, service = docs()
    combined = CheckResult("Combined", "main")
    combined.failures.append(
        Result("svc", {"query": "q"}, {"file": "apps/web.yaml", "line": 25}, "deny", "main")
    )
    combined.failures.append(Result("somewhere", {"query": "q"}, rule="deny", namespace="main"))
    findings, _ = policy_findings(combined, None, {"apps/web.yaml": [deployment, service]})
    assert (findings[0].path, findings[0].line) == ("apps/web.yaml", 25)
    assert findings[0].resource is not None and findings[0].resource.kind == "Service"
    assert (findings[1].path, findings[1].line) == ("", None)


def test_exceptions_become_allowances() -> None:
    deployment = docs()[0]
    check = CheckResult(deployment.path, "main")
    check.exceptions.append(
        Result(
            'data.main.exception[_][_] == "run_as_root"', rule="deny_run_as_root", namespace="main"
        )
    )
    findings, allowances = policy_findings(check, deployment)
    assert findings == []
    (allowance,) = allowances
    assert allowance.rule_id == "rego/main/deny_run_as_root"
    assert (allowance.path, allowance.line, allowance.how) == ("apps/web.yaml", 1, "rego exception")
    assert "data.main.exception exempts deny_run_as_root" in allowance.reason
    assert len(allowance.fingerprint) == 32


def test_policy_error_finding() -> None:
    error = PolicyError("var x is unsafe", "policy/deny.rego", 7, 3)
    finding = policy_error_finding(error, context="evaluating apps/web.yaml, document 1")
    assert finding.rule_id == "config/policy-error" and finding.category is Category.CONFIG
    assert (finding.path, finding.line, finding.column) == ("policy/deny.rego", 7, 3)
    assert finding.severity is Severity.ERROR
    assert finding.message == (
        "Rego policy error: var x is unsafe (evaluating apps/web.yaml, document 1)"
    )
    assert policy_error_finding(error, Severity.WARNING).severity is Severity.WARNING
