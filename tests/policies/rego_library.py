"""The built-in Rego library (policies/rego) loaded into Regorus, the in-process engine.

Helpers for tests: load the library, list its ``test_*`` rules from the engine's AST (never
with a regex over the source), evaluate a set's rules on one document or on a combined input.
Every query names a rule by its full path, as Regorus requires.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regorus

LIBRARY = Path(__file__).resolve().parents[2] / "policies" / "rego"
TEST_SUFFIX = "_test.rego"

# Regorus appends Rust stack traces to error texts unless told not to.
os.environ.setdefault("RUST_BACKTRACE", "0")
os.environ.setdefault("RUST_LIB_BACKTRACE", "0")


@dataclass(frozen=True, slots=True)
class RegoTest:
    package: str
    name: str
    path: Path
    text: str  # the rule's source, head and body

    @property
    def ref(self) -> str:
        return f"data.{self.package}.{self.name}"


def library_files(*, tests: bool) -> list[Path]:
    files = sorted(LIBRARY.rglob("*.rego"))
    return [f for f in files if tests or not f.name.endswith(TEST_SUFFIX)]


def engine(*, tests: bool = False, data: dict[str, Any] | None = None) -> regorus.Engine:
    e = regorus.Engine()
    for path in library_files(tests=tests):
        e.add_policy(str(path.relative_to(LIBRARY)), path.read_text(encoding="utf-8"))
    if data is not None:
        e.add_data_json(json.dumps(data))
    return e


def rego_tests(e: regorus.Engine) -> list[RegoTest]:
    """Every rule named test_* of every module, in file order."""
    found: list[RegoTest] = []
    seen: set[tuple[str, str]] = set()
    for module in json.loads(e.get_ast_as_json()):
        ast = module["ast"]
        path = LIBRARY / module["source"]["file"]
        source = path.read_bytes()
        package = ".".join(_ref_parts(ast["package"]["refr"]))
        for rule in ast["rules"]:
            name = _rule_name(rule)
            if name is None or not name.startswith("test_") or (package, name) in seen:
                continue
            seen.add((package, name))
            span = rule["Spec"]["span"]
            text = source[span["start"] : span["end"]].decode("utf-8")
            found.append(RegoTest(package, name, path, text))
    return found


def _ref_parts(ref: dict[str, Any]) -> list[str]:
    if "Var" in ref:
        return [str(ref["Var"]["value"])]
    if "RefDot" in ref:
        dot = ref["RefDot"]
        return [*_ref_parts(dot["refr"]), str(dot["field"][1])]
    raise ValueError(f"unexpected package reference {sorted(ref)}")


def _rule_name(rule: dict[str, Any]) -> str | None:
    spec = rule.get("Spec")
    if spec is None:
        return None
    head = next(iter(spec["head"].values()))
    ref = head.get("refr", {})
    if "Var" in ref:
        return str(ref["Var"]["value"])
    return None


def evaluate(e: regorus.Engine, ref: str, document: Any) -> Any:
    """The value of ``ref`` for ``document`` (None when undefined)."""
    e.set_input_json(json.dumps(document))
    result = json.loads(e.eval_query_as_json(ref))
    if not result.get("result"):
        return None
    return result["result"][0]["expressions"][0]["value"]


def findings(e: regorus.Engine, package: str, document: Any) -> list[dict[str, Any]]:
    """The deny and warn findings of one package for one document (or combined input)."""
    out: list[dict[str, Any]] = []
    for rule in ("deny", "warn"):
        value = evaluate(e, f"data.{package}.{rule}", document)
        out.extend(value or [])
    return out


def catalog(e: regorus.Engine) -> dict[str, Any]:
    value = evaluate(e, "data.gitops_gate.catalog", {})
    assert isinstance(value, dict)
    return value


def iter_ids(found: list[dict[str, Any]]) -> Iterator[str]:
    for f in found:
        yield str(f["id"])
