"""The repository config: defaults, every key parsed, and bad keys/values as findings at their
line (the run goes on with the default for that key)."""

from __future__ import annotations

from bot.config import Config, FailOn, MissingSchema, SchemaEngine, parse_config
from bot.core.finding import Category, Severity

VERSIONS = ("1.32", "1.33", "1.37")


def test_no_config_means_defaults() -> None:
    config, findings = parse_config(None)
    assert config == Config()
    assert config.schema.strict is True
    assert config.schema.missing is MissingSchema.WARN
    assert config.schema.engine is SchemaEngine.EMBEDDED
    assert findings == []


def test_every_key_is_parsed() -> None:
    text = """\
kubernetes_version: "1.33"
include: ["clusters/**"]
exclude: "clusters/legacy/**"
schema:
  strict: false
  missing: error
  locations: ["schemas/", "https://example.test/{{.Group}}/{{.ResourceKind}}.json"]
  engine: kubeconform
  skip: [ServiceMonitor]
syntax:
  rules:
    truthy: off
    line-length: {severity: notice, max: 120}
severity:
  "syntax/*": notice
environments:
  prod:
    paths: ["clusters/prod/**"]
    fail_on: warning
    severity: {"schema/missing-schema": error}
"""
    config, findings = parse_config(text, supported_versions=VERSIONS)
    assert findings == []
    assert config.kubernetes_version == "1.33"
    assert config.include == ("clusters/**",)
    assert config.exclude == ("clusters/legacy/**",)
    assert config.schema.strict is False
    assert config.schema.missing is MissingSchema.ERROR
    assert config.schema.locations[1].endswith("{{.ResourceKind}}.json")
    assert config.schema.engine is SchemaEngine.KUBECONFORM
    assert config.schema.skip_kinds == ("ServiceMonitor",)
    assert config.syntax.rules["truthy"] == {"severity": "off"}
    assert config.syntax.rules["line-length"] == {"severity": "notice", "max": 120}
    assert config.severity == (("syntax/*", "notice"),)
    (prod,) = config.environments
    assert prod.name == "prod"
    assert prod.paths == ("clusters/prod/**",)
    assert prod.fail_on is FailOn.WARNING
    assert prod.severity == (("schema/missing-schema", "error"),)


def test_unknown_key_is_a_finding_at_its_line() -> None:
    text = "schema:\n  strict: true\n  strcit: false\nkubernetes_versoin: 1.30\n"
    config, findings = parse_config(text, supported_versions=VERSIONS)
    got = {(f.rule_id, f.line, f.column) for f in findings}
    assert got == {("config/unknown-key", 3, 3), ("config/unknown-key", 4, 1)}
    assert all(f.category is Category.CONFIG and f.severity is Severity.ERROR for f in findings)
    assert "schema.strcit" in findings[0].message or "schema.strcit" in findings[1].message
    assert config.schema.strict is True  # the rest still applies


def test_bad_values_fall_back_to_defaults_with_a_finding() -> None:
    text = """\
kubernetes_version: "1.9"
schema:
  strict: "yes please"
  missing: ignore
environments:
  prod:
    fail_on: sometimes
"""
    config, findings = parse_config(text, supported_versions=VERSIONS)
    by_line = {f.line: f for f in findings}
    assert set(by_line) == {1, 3, 4, 6}
    assert "no bundled schemas" in by_line[1].message
    assert "expected true or false" in by_line[3].message
    assert "one of skip, warn, error" in by_line[4].message
    assert 'needs "paths"' in by_line[6].message
    assert config.kubernetes_version is None
    assert config.schema.strict is True
    assert config.schema.missing is MissingSchema.WARN
    assert config.environments == ()


def test_invalid_yaml_config_is_a_config_finding() -> None:
    config, findings = parse_config("schema: [unclosed\n")
    assert [f.rule_id for f in findings] == ["config/syntax/parse-error"]
    assert findings[0].category is Category.CONFIG
    assert config == Config(source_path=".github/gitops-gate.yml")


def test_sections_of_later_analyzers_are_accepted_with_a_notice() -> None:
    config, findings = parse_config("render:\n  kustomize: [apps/]\n")
    assert [(f.rule_id, f.severity, f.line) for f in findings] == [
        ("config/not-supported", Severity.NOTICE, 1)
    ]
    assert config.schema.strict is True


def test_environment_severity_override_and_threshold(check) -> None:  # type: ignore[no-untyped-def]
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: yes\n"
    report = check(
        {
            ".github/gitops-gate.yml": """\
severity:
  "syntax/truthy": notice
environments:
  prod:
    paths: ["prod/**"]
    fail_on: notice
    severity:
      "schema/*": "off"
""",
            "dev/cm.yaml": bad,
            "prod/cm.yaml": bad,
        }
    )
    got = {
        (f.path, f.rule_id, f.severity.value, b)
        for f, b in zip(report.findings, report.blocking, strict=True)
    }
    assert got == {
        ("dev/cm.yaml", "schema/wrong-type", "error", True),
        ("dev/cm.yaml", "syntax/truthy", "notice", False),
        ("prod/cm.yaml", "syntax/truthy", "notice", True),  # prod fails on notices
    }


def test_yamllint_rules_are_configurable(check) -> None:  # type: ignore[no-untyped-def]
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x   \ndata:\n  a: 'yes'\n"
    default = check({"cm.yaml": text})
    assert {f.rule_id for f in default.findings} == {"syntax/trailing-spaces"}
    tuned = check(
        {
            ".github/gitops-gate.yml": "syntax:\n  rules:\n    trailing-spaces: off\n"
            "    quoted-strings:\n"
            "      {severity: warning, quote-type: double, required: only-when-needed}\n",
            "cm.yaml": text,
        }
    )
    assert {
        (f.rule_id, f.line, f.severity.value) for f in tuned.findings if f.path == "cm.yaml"
    } == {("syntax/quoted-strings", 6, "warning")}


def test_bad_yamllint_options_are_config_findings(check) -> None:  # type: ignore[no-untyped-def]
    report = check(
        {
            ".github/gitops-gate.yml": "syntax:\n  rules:\n    no-such-rule: warning\n",
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        }
    )
    assert [f.rule_id for f in report.findings] == ["config/invalid-value"]
    assert "no-such-rule" in report.findings[0].message


def test_report_annotation_cap() -> None:
    config, findings = parse_config("report:\n  max_annotations: 120\n")
    assert findings == [] and config.report.max_annotations == 120
    config, findings = parse_config("report:\n  max_annotations: -1\n  review_comments: true\n")
    assert config.report.max_annotations == 1000
    assert {(f.rule_id, f.line) for f in findings} == {
        ("config/invalid-value", 2),
        ("config/not-supported", 3),
    }


def test_environment_require_digest() -> None:
    text = """\
environments:
  prod:
    paths: ["clusters/prod/**"]
    require_digest: true
  dev:
    paths: ["clusters/dev/**"]
    require_digest: sometimes
  staging:
    paths: ["clusters/staging/**"]
"""
    config, findings = parse_config(text)
    by_name = {env.name: env for env in config.environments}
    assert by_name["prod"].require_digest is True
    assert by_name["dev"].require_digest is None  # bad value: reported, the global one applies
    assert by_name["staging"].require_digest is None
    assert [(f.rule_id, f.line) for f in findings] == [("config/invalid-value", 7)]
    assert "true or false" in findings[0].message
