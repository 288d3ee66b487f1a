"""The built-in library in the analyzer: loading it and its catalog, what ``policies.builtin``
selects, field paths, and one compile with the user's policies in the real engine."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.analyzers.rego import (
    LIBRARY_ENV,
    BuiltinConfig,
    LibraryError,
    PolicyPath,
    PolicySet,
    RegoConfig,
    analyze,
    library_root,
    load,
    parse_field,
    prepare_builtin,
)
from bot.analyzers.rego.builtin import Builtin, Scope, select
from bot.analyzers.rego.library import declared_package, load_library
from bot.core.document import LoadedFile, load_text
from bot.core.filekind import FileKind
from bot.core.finding import Severity
from bot.core.trusted import MemoryTree
from bot.engines.opa_server import OpaServerEngine
from bot.engines.policy_engine import (
    EvalRequest,
    Evaluation,
    PolicyError,
    PolicyModule,
    RuleHead,
)
from bot.engines.rego_engine import RegorusEngine
from tests.opa.server import run_opa_server

LIBRARY = Path(__file__).resolve().parents[3] / "policies" / "rego"

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  hostPID: true
  containers:
    - name: shell
      image: busybox:1.36
      securityContext:
        privileged: true
"""


@pytest.fixture(scope="module")
def engine() -> Iterator[RegorusEngine]:
    with RegorusEngine() as e:
        yield e


class CountingEngine:
    """The real engine, counting the calls the analyzer makes."""

    def __init__(self, inner: RegorusEngine) -> None:
        self.inner = inner
        self.compiles = 0
        self.evaluations: list[int] = []  # requests per evaluate call

    def compile(
        self, modules: Sequence[PolicyModule], data: Mapping[str, Any]
    ) -> tuple[list[RuleHead], list[PolicyError]]:
        self.compiles += 1
        return self.inner.compile(modules, data)

    def evaluate(self, refs: Sequence[str], requests: Sequence[EvalRequest]) -> list[Evaluation]:
        self.evaluations.append(len(requests))
        return self.inner.evaluate(refs, requests)

    def close(self) -> None:
        return None


def files(**texts: str) -> list[LoadedFile]:
    return [load_text(path, text, FileKind.MANIFEST) for path, text in texts.items()]


# --- the library and its catalog ---------------------------------------------------------------


def test_library_root_defaults_to_the_source_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LIBRARY_ENV, raising=False)
    assert library_root() == LIBRARY
    monkeypatch.setenv(LIBRARY_ENV, "/opt/gitops-gate/policies/rego")
    assert library_root() == Path("/opt/gitops-gate/policies/rego")


def test_catalog_is_read_from_the_library() -> None:
    library = load_library(LIBRARY)
    catalog = library.catalog
    assert catalog.default_sets == ("best-practices", "pss-baseline")
    assert catalog.implied(["pss-restricted"]) == {"pss-restricted", "pss-baseline"}
    assert catalog.sets["production"].combined == ("gitops_gate.production.combined",)
    rule = catalog.rules["pss.baseline.privileged"]
    assert (rule.set, rule.severity, rule.default) == ("pss-baseline", Severity.ERROR, True)
    assert catalog.rules["bp.cpu-limit"].default is False
    # Tests are not part of what the bot loads; module paths never look like repository paths.
    assert library.modules and all(m.path.startswith("@builtin/") for m in library.modules)
    assert not any(m.path.endswith("_test.rego") for m in library.modules)
    assert library.owns("@builtin/pss/baseline.rego") and not library.owns("pss/baseline.rego")


def test_an_edited_library_is_read_again(tmp_path: Path) -> None:
    copy = tmp_path / "rego"
    shutil.copytree(LIBRARY, copy)
    assert "bp.cpu-limit" in load_library(copy).catalog.rules
    catalog = copy / "lib" / "catalog.rego"
    catalog.write_text(catalog.read_text().replace('"bp.cpu-limit"', '"bp.cpu-limits"'))
    assert "bp.cpu-limits" in load_library(copy).catalog.rules


def test_a_missing_or_broken_library_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match=f"not found at {tmp_path / 'none'}; set {LIBRARY_ENV}"):
        load_library(tmp_path / "none")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "catalog.rego").write_text("package gitops_gate.catalog\n\nsets := {\n")
    with pytest.raises(LibraryError, match="cannot read its catalog"):
        load_library(broken)


# --- selection ---------------------------------------------------------------------------------


def test_default_selection() -> None:
    catalog = load_library(LIBRARY).catalog
    selection = select(catalog, BuiltinConfig(enabled=True))
    assert sorted(selection.scopes) == ["best-practices", "pss-baseline"]
    assert selection.rules == {
        i for i, r in catalog.rules.items() if r.default and r.set in catalog.default_sets
    }
    assert selection.data == {"gitops_gate": {"config": {"disable": [], "enable": []}}}


def test_restricted_implies_baseline_where_it_runs() -> None:
    catalog = load_library(LIBRARY).catalog
    config = BuiltinConfig(
        enabled=True, sets=("pss-restricted",), paths=(("pss-restricted", ("prod/**",)),)
    )
    selection = select(catalog, config)
    assert selection.scopes == {
        "pss-restricted": Scope(("prod/**",), (None,)),
        "pss-baseline": Scope(None, (("prod/**",),)),
    }
    assert selection.sets_at("prod/a.yaml") == ["pss-baseline", "pss-restricted"]
    assert selection.sets_at("dev/a.yaml") == []
    # Chosen directly as well: Baseline runs everywhere.
    both = select(
        catalog, BuiltinConfig(True, ("pss-restricted", "pss-baseline"), paths=config.paths)
    )
    assert both.sets_at("dev/a.yaml") == ["pss-baseline"]


def test_enable_by_id_brings_only_that_rule_and_disable_wins() -> None:
    catalog = load_library(LIBRARY).catalog
    config = BuiltinConfig(
        enabled=True,
        sets=("pss-baseline",),
        enable=("bp.liveness-probe", "production"),
        disable=("prod.pdb", "pss-baseline"),
    )
    selection = select(catalog, config)
    assert selection.rules == {
        "bp.liveness-probe",
        "prod.replicas",
        "prod.hpa-min-replicas",
        "prod.pdb-zero-disruption",
    }
    assert sorted(selection.scopes) == ["best-practices", "production"]  # baseline: all disabled
    config_data = selection.data["gitops_gate"]["config"]
    assert config_data["enable"] == ["production", "bp.liveness-probe"]
    assert (
        "prod.pdb" in config_data["disable"] and "pss.baseline.privileged" in config_data["disable"]
    )


def test_parse_field() -> None:
    assert parse_field("spec.containers[0].securityContext") == (
        "spec",
        "containers",
        0,
        "securityContext",
    )
    annotation = 'metadata.annotations["container.apparmor.security.beta.kubernetes.io/app"]'
    assert parse_field(annotation) == (
        "metadata",
        "annotations",
        "container.apparmor.security.beta.kubernetes.io/app",
    )
    assert parse_field("rules[1].verbs[0]") == ("rules", 1, "verbs", 0)
    for bad in ("spec..x", "spec[x]", "spec containers", 'a["unterminated]'):
        with pytest.raises(ValueError):
            parse_field(bad)


# --- the analyzer --------------------------------------------------------------------------------

USER_POLICY = """\
package main

deny contains msg if {
    input.kind == "Pod"
    not input.metadata.labels.team
    msg := "field metadata.name: the pod names no team"
}
"""


def builtin(**config: Any) -> Builtin:
    return prepare_builtin(BuiltinConfig(enabled=True, **config), LIBRARY)


def test_user_policies_and_library_compile_once_and_evaluate_each_document_once(
    engine: RegorusEngine,
) -> None:
    tree = MemoryTree({"policy/pod.rego": USER_POLICY.encode()})
    config = RegoConfig(paths=(PolicyPath("policy/"),), all_namespaces=True)
    policy_set, errors = load(tree, config)
    assert errors == []
    counting = CountingEngine(engine)
    found, _ = analyze(
        files(**{"a.yaml": POD, "b.yaml": POD}), policy_set, counting, config, builtin()
    )
    assert counting.compiles == 1
    assert counting.evaluations == [2]  # one call, both documents, user and library refs
    at = sorted((f.path, f.line, f.rule_id) for f in found)
    assert at == [
        (path, line, rule)
        for path in ("a.yaml", "b.yaml")
        for line, rule in (
            (4, "rego/main/deny"),  # all_namespaces never reaches the library's packages
            (6, "pss.baseline.host-namespaces"),
            (8, "bp.memory-limit"),
            (8, "bp.resources-requests"),
            (11, "pss.baseline.privileged"),
        )
    ]


def test_a_broken_user_policy_does_not_stop_the_library(engine: RegorusEngine) -> None:
    tree = MemoryTree(
        {"policy/bad.rego": b"package main\n\ndeny contains msg if {\n  msg := \n}\n"}
    )
    config = RegoConfig(paths=(PolicyPath("policy/"),))
    policy_set, _ = load(tree, config)
    found, _ = analyze(
        files(**{"a.yaml": POD}), policy_set, engine, config, builtin(sets=("pss-baseline",))
    )
    errors = [f for f in found if f.rule_id == "config/policy-error"]
    assert [f.path for f in errors] == ["policy/bad.rego"]
    assert {f.rule_id for f in found} - {"config/policy-error"} == {
        "pss.baseline.host-namespaces",
        "pss.baseline.privileged",
    }


OVERRIDE = b'{"gitops_gate": {"config": {"disable": ["pss.baseline.privileged"]}}}'


def test_the_library_namespace_and_data_are_reserved(engine: RegorusEngine) -> None:
    # Functions only: no rule head would give its package away.
    hijack = b"# comment\npackage gitops_gate.catalog\n\nenabled(_) := false\n"
    tree = MemoryTree(
        {
            "policy/hijack.rego": hijack,
            "policy/ok.rego": USER_POLICY.encode(),
            "data/gitops_gate.json": OVERRIDE,
        }
    )
    config = RegoConfig(paths=(PolicyPath("policy/"),), data=("data/gitops_gate.json",))
    policy_set, errors = load(tree, config)
    assert errors == []
    found, _ = analyze(
        files(**{"a.yaml": POD}), policy_set, engine, config, builtin(sets=("pss-baseline",))
    )
    errors = sorted(
        (f.path, f.line, f.message) for f in found if f.rule_id == "config/policy-error"
    )
    assert [(path, line) for path, line, _ in errors] == [("", None), ("policy/hijack.rego", 2)]
    assert "data.gitops_gate is reserved for the built-in policy library" in errors[0][2]
    assert "package gitops_gate.catalog is reserved" in errors[1][2]
    # The library is intact: its own configuration, not the user's data, decides.
    assert "pss.baseline.privileged" in {f.rule_id for f in found}
    # A policy set with errors is not evaluated (fail closed), as without the library.
    assert "rego/main/deny" not in {f.rule_id for f in found}


def test_library_alone_without_user_policies(engine: RegorusEngine) -> None:
    found, allowances = analyze(
        files(**{"a.yaml": POD}), PolicySet(), engine, RegoConfig(), builtin()
    )
    assert allowances == []
    assert {f.rule_id for f in found} == {
        "pss.baseline.host-namespaces",
        "pss.baseline.privileged",
        "bp.memory-limit",
        "bp.resources-requests",
    }
    assert all(f.source.engine == "rego" and f.resource is not None for f in found)


def test_declared_package() -> None:
    assert declared_package("package main\n") == ("main", 1)
    assert declared_package("# a\n\n  # b\npackage gitops_gate.x\n") == ("gitops_gate.x", 4)
    assert declared_package('package gitops_gate["pss"].baseline\n') == (
        "gitops_gate.pss.baseline",
        1,
    )
    assert declared_package("import rego.v1\npackage main\n") is None


def test_the_library_through_a_remote_opa_server(engine: RegorusEngine) -> None:
    """The App's opa-server engine: the library's packages, imports and data are moved under
    the run's prefix like any policy, and give the same findings as Regorus."""
    documents = files(**{"a.yaml": POD})
    expected = analyze(documents, PolicySet(), engine, RegoConfig(), builtin())[0]
    with run_opa_server() as server:
        remote = OpaServerEngine(server.url, None, 10.0, repository="o/r", retries=0)
        with remote:
            found, _ = analyze(documents, PolicySet(), remote, RegoConfig(), builtin())
    assert found == expected and len(found) == 4
