"""The ``policies:`` config section: values, defaults, and findings at the offending line."""

from __future__ import annotations

from bot.analyzers.rego.policyset import PolicyPath
from bot.analyzers.rego.settings import (
    BuiltinConfig,
    EngineKind,
    OpaServerConfig,
    PoliciesConfig,
    RegoConfig,
    parse_policies_config,
)
from bot.configreader import Reader
from bot.core.document import load_text
from bot.core.filekind import FileKind
from bot.core.finding import Finding, Severity
from bot.engines.policy_engine import RegoVersion

CONFIG = ".github/gitops-gate.yml"


def parse(text: str) -> tuple[PoliciesConfig, list[Finding]]:
    loaded = load_text(CONFIG, text, FileKind.GATE_CONFIG)
    doc = loaded.documents[0]
    reader = Reader(doc, CONFIG)
    return parse_policies_config(reader, doc.data.get("policies")), reader.findings


def test_full_section() -> None:
    config, findings = parse(
        """\
policies:
  rego:
    paths: [policy/, {path: legacy/, rego_version: v0}]
    namespaces: [main, "k8s.*"]
    data: [policy/data/]
    rego_version: v1
    combine: true
    on_error: warning
  builtin:
    sets: [pss-baseline, best-practices]
    disable: [bp.ingress-tls]
  engine: opa-server
  opa_server:
    {url: "https://opa.internal:8181", token_env: OPA_TOKEN, timeout: 12, rego_version: v0}
"""
    )
    assert findings == []
    assert config.rego == RegoConfig(
        paths=(PolicyPath("policy/"), PolicyPath("legacy/", RegoVersion.V0)),
        namespaces=("main", "k8s.*"),
        data=("policy/data/",),
        combine=True,
        on_error=Severity.WARNING,
    )
    assert config.builtin.sets == ("pss-baseline", "best-practices")
    assert config.builtin.enabled
    assert config.builtin.disable == ("bp.ingress-tls",)
    assert config.engine is EngineKind.OPA_SERVER
    assert config.opa_server == OpaServerConfig(
        "https://opa.internal:8181", "OPA_TOKEN", 12.0, RegoVersion.V0
    )


def test_defaults() -> None:
    config, findings = parse("kubernetes_version: '1.31'\n")
    assert findings == []
    assert config == PoliciesConfig()
    assert config.rego.namespaces == ("main",) and config.rego.on_error is Severity.ERROR
    v0, _ = parse("policies: {rego: {paths: policy, rego_version: v0}}\n")
    assert v0.rego.paths == (PolicyPath("policy", RegoVersion.V0),)
    assert v0.with_paths(["extra/"]).rego.paths[-1] == PolicyPath("extra/", RegoVersion.V0)


def test_bad_values_are_findings_at_their_line() -> None:
    config, findings = parse(
        """\
policies:
  rego:
    paths: [/etc/policy, ../up, {rego_version: v0}, 3]
    namespaces: ["main[", ok]
    rego_version: v2
    on_error: ignore
    kyverno: yes
  engine: opa
  opa_server: {url: "ftp://x", token: s3cr3t}
"""
    )
    by_line = {(f.line, f.rule_id) for f in findings}
    assert (3, "config/invalid-value") in by_line  # the paths
    assert (4, "config/invalid-value") in by_line  # the bad glob
    assert (5, "config/invalid-value") in by_line  # rego_version
    assert (6, "config/invalid-value") in by_line  # on_error
    assert (7, "config/unknown-key") in by_line
    assert (8, "config/invalid-value") in by_line  # engine
    token = next(f for f in findings if "token" in f.locator)
    assert token.line == 9 and "s3cr3t" not in token.message
    assert config.rego.paths == () and config.rego.namespaces == ("ok",)
    assert config.rego.rego_version is RegoVersion.V1 and config.engine is EngineKind.REGORUS
    assert config.opa_server is None
    messages = " ".join(f.message for f in findings)
    assert "must be a path inside the repository" in messages


def test_opa_server_engine_needs_a_url() -> None:
    config, findings = parse("policies: {engine: opa-server}\n")
    assert config.engine is EngineKind.REGORUS
    assert [f.rule_id for f in findings] == ["config/invalid-value"]
    assert "opa_server.url" in findings[0].message


def test_all_namespaces_overrides_namespaces_with_a_warning() -> None:
    config, findings = parse("policies: {rego: {all_namespaces: true, namespaces: [main]}}\n")
    assert config.rego.all_namespaces
    assert [f.severity for f in findings] == [Severity.WARNING]


# --- policies.builtin ------------------------------------------------------------------------


def test_builtin_is_off_unless_configured() -> None:
    assert parse("policies: {rego: {paths: [policy/]}}\n")[0].builtin == BuiltinConfig()
    assert not BuiltinConfig().enabled
    for text in (
        "policies: {builtin: {}}\n",
        "policies: {builtin: true}\n",
        "policies:\n  builtin:\n",
    ):
        config, findings = parse(text)
        assert findings == [], text
        assert config.builtin == BuiltinConfig(enabled=True), text
    assert parse("policies: {builtin: false}\n")[0].builtin == BuiltinConfig(enabled=False)


def test_builtin_section_values() -> None:
    config, findings = parse(
        """\
policies:
  builtin:
    sets: [pss-restricted, production]
    disable: [bp.ingress-tls, best-practices]
    enable: bp.liveness-probe
    paths:
      production: ["clusters/prod/**", "apps/*/prod/**"]
      pss-restricted: clusters/**
"""
    )
    assert findings == []
    assert config.builtin == BuiltinConfig(
        enabled=True,
        sets=("pss-restricted", "production"),
        disable=("bp.ingress-tls", "best-practices"),
        enable=("bp.liveness-probe",),
        paths=(
            ("production", ("clusters/prod/**", "apps/*/prod/**")),
            ("pss-restricted", ("clusters/**",)),
        ),
    )


def test_unknown_sets_and_rule_ids_are_findings_at_their_line() -> None:
    config, findings = parse(
        """\
policies:
  builtin:
    sets: [pss-baseline, pss-basline]
    disable:
      - pss.baseline.privileged
      - pss.baseline.priviliged
    enable: [best-practises]
    paths:
      prod: ["clusters/prod/**"]
      production: []
    extra: 1
"""
    )
    at = {(f.line, f.rule_id) for f in findings}
    assert at == {
        (3, "config/invalid-value"),
        (6, "config/invalid-value"),
        (7, "config/invalid-value"),
        (9, "config/invalid-value"),
        (10, "config/invalid-value"),
        (11, "config/unknown-key"),
    }
    messages = {f.line: f.message for f in findings}
    assert "'pss-basline' is not a built-in policy set" in messages[3]
    assert "Did you mean pss-baseline?" in messages[3]
    assert "Did you mean pss.baseline.privileged?" in messages[6]
    assert "Did you mean best-practices?" in messages[7]
    assert "the sets: best-practices, production, pss-baseline, pss-restricted" in messages[9]
    # The known names are kept; the unknown ones are dropped.
    assert config.builtin.sets == ("pss-baseline",)
    assert config.builtin.disable == ("pss.baseline.privileged",)
    assert config.builtin.enable == () and config.builtin.paths == ()


def test_paths_for_a_set_that_does_not_run_is_a_warning() -> None:
    config, findings = parse(
        "policies:\n  builtin:\n    paths:\n      production: [prod/**]\n"
        "      pss-baseline: [apps/**]\n"
    )
    assert [(f.line, f.severity) for f in findings] == [(4, Severity.WARNING)]
    assert "the set production is not enabled" in findings[0].message
    assert config.builtin.paths == (("production", ("prod/**",)), ("pss-baseline", ("apps/**",)))
