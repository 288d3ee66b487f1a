"""The bundled example repository: every planted problem is reported where it is planted, and
nothing else is (examples/demo/README.md lists them)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.core.finding import Severity
from tests.conftest import check_tree, rules_at

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo"

PLANTED = {
    ("apps/api/deployment.yaml", 12, "syntax/parse-error"),
    ("apps/api/deployment.yaml", 31, "schema/wrong-type"),
    ("apps/web/base/deployment.yaml", 6, "schema/wrong-type"),
    ("apps/web/base/deployment.yaml", 15, "syntax/truthy"),
    ("apps/web/base/service.yaml", 6, "schema/unknown-field"),
    ("apps/web/overlays/dev/replicas.yaml", 6, "syntax/trailing-spaces"),
    ("apps/web/overlays/prod/resources.yaml", 14, "schema/invalid-value"),
    ("apps/web/overlays/staging/configmap.yaml", 8, "syntax/duplicate-key"),
    ("infra/backups/nightly.yaml", 8, "schema/wrong-type"),
    ("infra/backups/nightly.yaml", 12, "schema/unknown-field"),
    ("infra/monitoring/servicemonitor.yaml", 1, "schema/missing-schema"),
    ("apps/worker/deployment.yaml", 19, "secret/database-url"),
    ("apps/worker/deployment.yaml", 21, "secret/generic-password"),
    ("apps/worker/secret.yaml", 7, "secret/stripe-secret-key"),
    ("apps/web/base/deployment.yaml", 18, "images/tag-without-digest"),
    ("apps/web/base/deployment.yaml", 4, "kyverno/require-team-label/check-team"),
    ("apps/worker/deployment.yaml", 4, "kyverno/require-team-label/check-team"),
    ("apps/web/overlays/dev/debug-pod.yaml", 8, "images/latest-tag"),
    ("apps/web/overlays/dev/debug-pod.yaml", 8, "images/registry-not-allowed"),
    ("apps/web/overlays/prod/kustomization.yaml", 11, "images/tag-without-digest"),
    # The built-in Rego library (policies.builtin in the demo's config).
    ("apps/web/base/deployment.yaml", 22, "bp.memory-limit"),
    ("apps/web/overlays/dev/debug-pod.yaml", 7, "bp.memory-limit"),
    ("apps/web/overlays/dev/debug-pod.yaml", 7, "bp.resources-requests"),
    ("apps/web/overlays/dev/debug-pod.yaml", 11, "pss.baseline.privileged"),
    ("apps/web/overlays/dev/debug-pod.yaml", 12, "pss.baseline.host-namespaces"),
    ("apps/web/overlays/prod/pdb.yaml", 6, "prod.pdb-zero-disruption"),
    ("apps/worker/deployment.yaml", 15, "bp.memory-limit"),
    ("apps/worker/deployment.yaml", 15, "bp.resources-requests"),
}


def test_demo_reports_exactly_the_planted_problems() -> None:
    report = check_tree(DEMO)
    assert rules_at(report) == PLANTED
    assert len(report.findings) == len(PLANTED)


def test_demo_columns_point_at_the_offending_field() -> None:
    report = check_tree(DEMO)
    columns = {(f.path, f.line): f.column for f in report.findings}
    assert columns[("apps/web/base/deployment.yaml", 6)] == 13  # the value "2"
    assert columns[("apps/web/base/service.yaml", 6)] == 3  # the key selectr
    assert columns[("infra/backups/nightly.yaml", 12)] == 5  # the key region


def test_demo_prod_environment_blocks_on_warnings() -> None:
    report = check_tree(DEMO)
    blocking = {
        f.rule_id + "@" + f.path: b for f, b in zip(report.findings, report.blocking, strict=True)
    }
    # A warning in prod (infra/** is in the prod environment, which fails on warnings) blocks...
    assert blocking["schema/missing-schema@infra/monitoring/servicemonitor.yaml"] is True
    # ...while the same severity outside prod does not.
    truthy = next(f for f in report.findings if f.rule_id == "syntax/truthy")
    assert truthy.severity is Severity.WARNING
    assert blocking["syntax/truthy@apps/web/base/deployment.yaml"] is False
    assert blocking["syntax/trailing-spaces@apps/web/overlays/dev/replicas.yaml"] is False
    assert blocking["schema/wrong-type@apps/web/base/deployment.yaml"] is True
    # prod requires digests: a tag alone is an error there and a warning elsewhere.
    severities = {(f.path, f.rule_id): f.severity for f in report.findings}
    assert (
        severities[("apps/web/overlays/prod/kustomization.yaml", "images/tag-without-digest")]
        is Severity.ERROR
    )
    assert (
        severities[("apps/web/base/deployment.yaml", "images/tag-without-digest")]
        is Severity.WARNING
    )
    assert report.conclusion == "failure"


def test_demo_cli_exit_code_is_findings() -> None:
    result = CliRunner().invoke(main, ["check", str(DEMO)])
    assert result.exit_code == 1, result.output
    assert "spec.selectr: unknown field" in result.output
    assert result.output.rstrip().splitlines()[-1].startswith("FAIL: 16 errors, 11 warnings")
    assert "sk_live_4eC39" not in result.output  # secrets are redacted


def test_demo_builtin_policies_respect_paths_and_patches() -> None:
    report = check_tree(DEMO)
    builtin = [f for f in report.findings if f.source.engine == "rego"]
    # The production set runs on production paths only: the dev overlay's "replicas: 1" and the
    # worker's unset replicas (no HPA) are not reported; the prod PDB is, and blocks there.
    assert {f.rule_id for f in builtin if f.rule_id.startswith("prod.")} == {
        "prod.pdb-zero-disruption"
    }
    pdb = next(f for f in builtin if f.rule_id == "prod.pdb-zero-disruption")
    assert report.blocking[report.findings.index(pdb)] is True
    # A kustomize patch is a partial object: nothing "missing" is reported on it.
    assert not [f for f in builtin if f.path.endswith(("resources.yaml", "replicas.yaml"))]
    # Disabled in the config (the images section reports tags): never reported.
    assert not [f for f in builtin if f.rule_id.startswith("bp.image-")]
    privileged = next(f for f in builtin if f.rule_id == "pss.baseline.privileged")
    assert privileged.source.policy == "pss-baseline"
    assert privileged.help_url is not None and "pod-security-standards" in privileged.help_url
    assert privileged.column == 9  # the key "privileged"
