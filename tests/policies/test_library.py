"""The built-in Rego library (policies/rego), run in Regorus.

- every ``test_*`` rule of the library passes, and every rule id is asserted by one of them;
- the catalog, the README table and the fixtures agree;
- realistic, well-written manifests (fixtures/good) give no finding with the default sets, nor
  with every rule of every set enabled;
- each bad fixture reports exactly the rule ids its ``# expect:`` lines name, and its findings'
  ``field`` paths point at nodes of the document;
- the bot's own engine (``RegorusEngine``) loads the library and runs its tests;
- malformed documents never raise a builtin error (Regorus is strict where OPA is lenient);
- the whole library evaluates 1,000 documents in under 3 seconds (one wrapper query each).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import regorus

from bot.analyzers.rego import parse_field
from bot.core.document import Document, load_text
from bot.core.filekind import FileKind
from bot.engines.policy_engine import EvalRequest, PolicyModule
from bot.engines.rego_engine import RegorusEngine
from tests.policies.rego_library import (
    LIBRARY,
    catalog,
    engine,
    evaluate,
    findings,
    library_files,
    rego_tests,
)

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = sorted((FIXTURES / "good").glob("*.yaml"))
BAD = sorted((FIXTURES / "bad").glob("*.yaml"))
README = LIBRARY.parent / "README.md"
SEVERITIES = {"error", "warning", "notice"}


@pytest.fixture(scope="module")
def lib() -> regorus.Engine:
    """The library as the bot loads it: no test modules, no configuration."""
    return engine()


@pytest.fixture(scope="module")
def cat(lib: regorus.Engine) -> dict[str, Any]:
    return catalog(lib)


@pytest.fixture(scope="module")
def lib_all(cat: dict[str, Any]) -> regorus.Engine:
    """The library with every rule of every set enabled."""
    return engine(data={"gitops_gate": {"config": {"enable": sorted(cat["sets"])}}})


def load(path: Path) -> list[Document]:
    loaded = load_text(str(path.relative_to(FIXTURES)), path.read_text("utf-8"), FileKind.MANIFEST)
    assert not loaded.findings, [f.message for f in loaded.findings]
    return [d for d in loaded.documents if d.data is not None]


def expected_ids(path: Path) -> set[str]:
    ids: set[str] = set()
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("# expect:"):
            ids.update(line.removeprefix("# expect:").split())
    return ids


def default_sets(cat: dict[str, Any]) -> list[str]:
    chosen = [name for name, s in cat["sets"].items() if s["default"]]
    return sorted({*chosen, *(i for name in chosen for i in cat["sets"][name].get("implies", []))})


def run(
    e: regorus.Engine, cat: dict[str, Any], sets: Iterable[str], docs: list[Document]
) -> list[tuple[Document, dict[str, Any]]]:
    """Every finding of the sets' packages: per document, and once over all (combined)."""
    out: list[tuple[Document, dict[str, Any]]] = []
    for name in sets:
        for package in cat["sets"][name]["document"]:
            for doc in docs:
                out.extend((doc, f) for f in findings(e, package, doc.data))
        for package in cat["sets"][name]["combined"]:
            combined = [{"path": d.path, "contents": d.data} for d in docs]
            out.extend((docs[f["document_index"]], f) for f in findings(e, package, combined))
    return out


def describe(found: list[tuple[Document, dict[str, Any]]]) -> list[str]:
    return [f"{d.path}: {f['id']}: {f['msg']}" for d, f in found]


# --- the library's own Rego tests ----------------------------------------------------------


def test_every_rego_test_passes() -> None:
    e = engine(tests=True)
    rules = rego_tests(e)
    failed = [rule.ref for rule in rules if e.eval_rule(rule.ref) is not True]
    assert failed == []
    assert len(rules) >= 150
    assert {rule.path.parent.name for rule in rules} == {
        "lib",
        "pss",
        "best_practices",
        "production",
    }


def modules(*, tests: bool) -> list[PolicyModule]:
    root = LIBRARY.parents[1]
    return [
        PolicyModule(str(p.relative_to(root)), p.read_text("utf-8"))
        for p in library_files(tests=tests)
    ]


def test_the_bot_engine_runs_every_rego_test() -> None:
    """The same tests through the bot's Regorus backend (worker process, lints, limits)."""
    with RegorusEngine() as bot_engine:
        results, errors = bot_engine.run_tests(modules(tests=True), {})
    assert errors == []
    assert [r for r in results if not r.passed] == []
    assert len(results) == len(rego_tests(engine(tests=True)))


def test_the_bot_engine_loads_the_library_and_reports_its_findings(cat: dict[str, Any]) -> None:
    packages = [p for name in default_sets(cat) for p in cat["sets"][name]["document"]]
    refs = [f"data.{p}.{rule}" for p in packages for rule in ("deny", "warn")]
    docs = load(FIXTURES / "bad" / "sloppy-deployment.yaml")
    with RegorusEngine() as bot_engine:
        _, errors = bot_engine.compile(modules(tests=False), {})
        assert errors == []
        (evaluation,) = bot_engine.evaluate(refs, [EvalRequest(docs[0].data)])
    assert evaluation.error is None
    found = {f["id"] for ref in refs for f in evaluation.values.get(ref, [])}
    assert found == {
        "bp.default-namespace",
        "bp.image-missing-tag",
        "bp.image-latest-tag",
        "bp.resources-requests",
        "bp.memory-limit",
    }


def test_a_failing_rego_test_is_detected() -> None:
    e = engine(tests=True)
    e.add_policy(
        "broken_test.rego",
        "package broken_test\nimport rego.v1\nimport data.gitops_gate.pss.baseline\n"
        "import data.gitops_gate.test.fixtures as fx\n"
        "test_wrong if {\n"
        '  count(baseline.findings) == 0 with input as fx.pod_with({"hostPID": true})\n'
        "}\n",
    )
    assert e.eval_rule("data.broken_test.test_wrong") is None


def test_every_rule_is_asserted_by_a_rego_test(cat: dict[str, Any]) -> None:
    rules = rego_tests(engine(tests=True))
    asserting = [r.text for r in rules if "ids(" in r.text]
    missing = [i for i in cat["rules"] if not any(f'"{i}"' in text for text in asserting)]
    assert missing == []


# --- catalog and README ---------------------------------------------------------------------


def test_catalog_rules_are_complete(cat: dict[str, Any]) -> None:
    for rule_id, rule in cat["rules"].items():
        assert rule["set"] in cat["sets"], rule_id
        assert rule["severity"] in SEVERITIES, rule_id
        assert isinstance(rule["default"], bool), rule_id
        assert rule["help_url"].startswith("https://kubernetes.io/docs/"), rule_id
    assert len(cat["rules"]) == 46


def readme_rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in README.read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([a-z.-]+)`", cells[0]) if len(cells) >= 6 else None
        if match:
            rows[match.group(1)] = cells
    return rows


def test_readme_table_matches_the_catalog(cat: dict[str, Any]) -> None:
    rows = readme_rows()
    assert sorted(rows) == sorted(cat["rules"])
    for rule_id, rule in cat["rules"].items():
        _, set_name, severity, default = rows[rule_id][:4]
        assert set_name == rule["set"], rule_id
        assert severity == rule["severity"], rule_id
        assert default == ("on" if rule["default"] else "off"), rule_id


# --- fixtures -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_manifests_are_quiet_with_the_default_sets(
    lib: regorus.Engine, cat: dict[str, Any], path: Path
) -> None:
    assert default_sets(cat) == ["best-practices", "pss-baseline"]
    assert describe(run(lib, cat, default_sets(cat), load(path))) == []


def test_good_manifests_are_quiet_with_every_rule(
    lib_all: regorus.Engine, cat: dict[str, Any]
) -> None:
    docs = [d for path in GOOD for d in load(path)]
    assert len(docs) >= 15
    assert describe(run(lib_all, cat, cat["sets"], docs)) == []


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_manifest_reports_exactly_its_expected_rules(
    lib_all: regorus.Engine, cat: dict[str, Any], path: Path
) -> None:
    found = run(lib_all, cat, cat["sets"], load(path))
    assert {f["id"] for _, f in found} == expected_ids(path), describe(found)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_default_sets_report_only_default_rules(
    lib: regorus.Engine, cat: dict[str, Any], path: Path
) -> None:
    sets = default_sets(cat)
    wanted = {
        i
        for i in expected_ids(path)
        if cat["rules"][i]["default"] and cat["rules"][i]["set"] in sets
    }
    found = run(lib, cat, sets, load(path))
    assert {f["id"] for _, f in found} == wanted, describe(found)


def test_bad_manifests_cover_every_rule(cat: dict[str, Any]) -> None:
    covered = set().union(*(expected_ids(p) for p in BAD))
    assert sorted(set(cat["rules"]) - covered) == []
    assert sorted(covered - set(cat["rules"])) == []


def test_findings_are_conftest_objects_pointing_at_their_field(
    lib_all: regorus.Engine, cat: dict[str, Any]
) -> None:
    checked = 0
    for path in BAD:
        for doc, f in run(lib_all, cat, cat["sets"], load(path)):
            rule = cat["rules"][f["id"]]
            assert isinstance(f["msg"], str) and f["msg"], f
            assert f["severity"] == rule["severity"]
            assert f["title"] == rule["title"] and f["remediation"] == rule["remediation"]
            assert f["set"] == rule["set"]
            assert "default" not in f
            field = parse_field(f["field"])
            assert node_at(doc.data, field) is not None, f"{doc.path}: {f['field']}"
            position = doc.locate(field)
            assert position.line > doc.start.line or field[0] in ("apiVersion", "kind"), f
            checked += 1
    assert checked >= 80


def node_at(data: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` (None when any step is missing)."""
    for elem in path:
        in_list = isinstance(elem, int) and isinstance(data, list) and elem < len(data)
        in_map = isinstance(elem, str) and isinstance(data, dict) and elem in data
        if not (in_list or in_map):
            return None
        data = data[elem]
    return data if data is not None else "null"


def test_combined_findings_name_their_document(
    lib_all: regorus.Engine, cat: dict[str, Any]
) -> None:
    docs = load(FIXTURES / "bad" / "production-gaps.yaml")
    combined = [{"path": d.path, "contents": d.data} for d in docs]
    found = findings(lib_all, "gitops_gate.production.combined", combined)
    located = {(f["id"], f["path"], f["document_index"], f["resource"]["name"]) for f in found}
    assert located == {
        ("prod.pdb", "bad/production-gaps.yaml", 0, "checkout"),
        ("prod.replicas", "bad/production-gaps.yaml", 1, "cart"),
    }


# --- robustness ---------------------------------------------------------------------------

ODD_VALUES: list[Any] = [None, "text", 0, [], {}, ["text"]]


def paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterable[tuple[str | int, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def replaced(value: Any, path: tuple[str | int, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: replaced(v, rest, new) if k == head else v for k, v in value.items()}
    return [replaced(v, rest, new) if i == head else v for i, v in enumerate(value)]


def test_malformed_documents_never_raise_builtin_errors(
    lib_all: regorus.Engine, cat: dict[str, Any]
) -> None:
    """Regorus raises on builtin errors (object.get on a string, `in` over a number...), where
    OPA would leave the expression undefined: every field of every fixture, replaced by a value
    of the wrong type, must still evaluate."""
    packages = sorted(p for s in cat["sets"].values() for p in s["document"])
    query = "[" + ", ".join(f"data.{p}.findings" for p in packages) + "]"
    combined = "data.gitops_gate.production.combined.findings"
    evaluated = 0
    for path in BAD:
        for doc in load(path):
            for field in paths(doc.data):
                for odd in ODD_VALUES:
                    mutated = replaced(doc.data, field, odd)
                    assert evaluate(lib_all, query, mutated) is not None
                    assert (
                        evaluate(lib_all, combined, [{"path": "x", "contents": mutated}])
                        is not None
                    )
                    evaluated += 1
    assert evaluated > 2000


# --- speed ----------------------------------------------------------------------------------


def test_whole_library_evaluates_1000_documents_within_3_seconds(cat: dict[str, Any]) -> None:
    packages = sorted(p for s in cat["sets"].values() for p in s["document"])
    refs = [f"data.{p}.{rule}" for p in packages for rule in ("deny", "warn")]
    entries = ",\n".join(f'  "{ref}": {ref}' for ref in refs)
    wrapper = f"package gitops_gate_bench\nimport rego.v1\nresult := {{\n{entries}\n}}\n"
    e = engine(data={"gitops_gate": {"config": {"enable": sorted(cat["sets"])}}})
    e.add_policy("bench.rego", wrapper)
    docs = [d.data for path in [*GOOD, *BAD] for d in load(path)]
    corpus = [docs[i % len(docs)] for i in range(1000)]
    reported = 0
    started = time.perf_counter()
    for doc in corpus:
        result = evaluate(e, "data.gitops_gate_bench.result", doc)
        reported += sum(len(v) for v in result.values())
    elapsed = time.perf_counter() - started
    assert reported > 1000  # the bad documents really were evaluated
    assert elapsed < 3.0, f"{elapsed:.2f} s for 1,000 documents"
