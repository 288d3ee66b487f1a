"""The Rego engine's benchmark: the built-in policy library against generated documents.

    python -m bench.rego_bench --documents 1000 [--seed 1] [--json out.json]
    python -m bench.rego_bench --smoke            # a few seconds: 200 documents, one pass

Figures (documents per second of wall time, ``time.perf_counter``; best of the passes):

- worker start: a new ``RegorusEngine`` compiling a one-line module (process start, Regorus
  import, load); and ``compile`` of the library (load, lint, first evaluation of every rule);
- wrapper: ``RegorusEngine.evaluate`` with every per-document rule of the library in one
  generated query per document, ``data.conftest.file`` set per document (the production path);
  also without ``data.conftest.file``, and the same wrapper in-process (no worker: the cost
  of the process boundary);
- naive: what conftest does, in-process: one query per rule per document, plus its exception
  query per rule;
- combined: the cross-document package once over every document as one input;
- check: what ``gitops-gate check`` does with ``policies.builtin`` (every set and rule on):
  ``bot.analyzers.rego.analyze`` on the loaded files, with a new engine (worker start,
  compile, one evaluation per document for the per-document packages, the combined package
  once, and every result turned into a finding at its line).

Target: the whole library against 1,000 documents through the engine in at most 3 s. The exit
status is non-zero only when something crashed or the paths disagree, never for a missed target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python bench/rego_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import regorus

from bench import corpus
from bot.analyzers.rego import BuiltinConfig, PolicySet, RegoConfig, analyze, prepare_builtin
from bot.core.document import load_text
from bot.core.filekind import FileKind
from bot.engines.policy_engine import EvalRequest, Evaluation, PolicyModule
from bot.engines.rego_engine import RegorusEngine

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "policies" / "rego"
TARGET_SECONDS_PER_1000 = 3.0
# conftest's rule names (policy/engine.go), plus the library's structured findings.
RULE = re.compile(r"^(deny|violation|warn)(_[a-zA-Z0-9]+)*$|^exception$|^findings$")
# Every set of the library on, so that every rule runs.
LIBRARY_DATA = {"gitops_gate": {"config": {"enable": ["pss-restricted", "production"]}}}
COMBINED_SUFFIX = ".combined"


def library_modules() -> list[PolicyModule]:
    paths = sorted(p for p in LIBRARY.rglob("*.rego") if not p.name.endswith("_test.rego"))
    return [PolicyModule(str(p.relative_to(ROOT)), p.read_text()) for p in paths]


def fallback_modules() -> list[PolicyModule]:
    """conftest-style policies, for a tree without the built-in library."""
    policy = """\
package main

deny contains msg if {
    input.kind == "Deployment"
    not input.spec.template.spec.securityContext.runAsNonRoot
    msg := sprintf("Containers must not run as root in Deployment %s", [input.metadata.name])
}

deny contains msg if {
    some c in input.spec.template.spec.containers
    endswith(c.image, ":latest")
    msg := sprintf("%s uses a latest tag", [c.name])
}

warn contains msg if {
    some c in input.spec.template.spec.containers
    not c.resources.limits.memory
    msg := sprintf("%s has no memory limit", [c.name])
}
"""
    return [PolicyModule("policy/main.rego", policy)]


def timed(fn: Callable[[], Any], passes: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(passes):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def worker_start(passes: int) -> float:
    def start() -> None:
        with RegorusEngine() as engine:
            engine.compile([PolicyModule("p.rego", "package p\n\nx := 1\n")], {})

    return statistics.median(timed(start, 1)[0] for _ in range(passes))


def in_process_engine(modules: Sequence[PolicyModule], data: Any) -> Any:
    engine = regorus.Engine()
    engine.set_policy_length_config(max_col=65536, max_file_bytes=4 << 20, max_lines=200_000)
    for module in modules:
        engine.add_policy(module.path, module.text)
    engine.add_data_json(json.dumps(data))
    return engine


def wrapper_in_process(engine: Any, refs: Sequence[str], documents: Sequence[Any]) -> int:
    query = "[" + ", ".join(f"[__x | __x := {ref}]" for ref in refs) + "]"
    found = 0
    for document in documents:
        engine.set_input_json(json.dumps(document))
        value = json.loads(engine.eval_query_as_json(query))["result"][0]["expressions"][0]
        found += sum(len(column[0]) for column in value["value"] if column)
    return found


def naive_in_process(engine: Any, refs: Sequence[str], documents: Sequence[Any]) -> int:
    """conftest's queries: per rule, its exception query, then the rule itself."""
    found = 0
    for document in documents:
        engine.set_input_json(json.dumps(document))
        for ref in refs:
            namespace, _, rule = ref.rpartition(".")
            suffix = re.sub(r"^(deny|violation|warn)_?", "", rule)
            engine.eval_query_as_json(f'{namespace}.exception[_][_] == "{suffix}"')
            result = json.loads(engine.eval_query_as_json(ref))
            if result.get("result"):
                found += len(result["result"][0]["expressions"][0]["value"])
    return found


def count_found(evaluations: Sequence[Evaluation]) -> int:
    errors = [e.error for e in evaluations if e.error is not None]
    if errors:
        raise RuntimeError(f"{len(errors)} documents failed to evaluate, first: {errors[0]}")
    return sum(len(value) for e in evaluations for value in e.values.values())


def check_path(manifests: Sequence[corpus.Manifest], passes: int) -> tuple[float, int]:
    """``analyze`` as ``check`` runs it, every set and rule of the library on."""
    files = [load_text(f"manifests/{m.file_name}", m.text, FileKind.MANIFEST) for m in manifests]
    everything = ("best-practices", "production", "pss-baseline", "pss-restricted")
    builtin = prepare_builtin(BuiltinConfig(enabled=True, sets=everything, enable=everything))

    def run() -> int:
        with RegorusEngine() as engine:
            found, _ = analyze(files, PolicySet(), engine, RegoConfig(), builtin)
        errors = [f for f in found if f.rule_id == "config/policy-error"]
        if errors:
            raise RuntimeError(f"policy errors: {errors[0].message}")
        return len(found)

    return timed(run, passes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="200 documents, one pass")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    count = 200 if args.smoke else args.documents
    passes = 1 if args.smoke else 3

    manifests = corpus.generate(count, args.seed)
    documents = [m.data for m in manifests]
    files = [{"name": f"doc-{i}.yaml", "dir": "/bench/manifests"} for i in range(count)]
    modules = library_modules()
    data: Any = LIBRARY_DATA
    if not modules:
        modules, data = fallback_modules(), {}
    print(
        f"regorus bench: {len(modules)} policy modules, {count} documents, python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs"
    )

    figures: dict[str, float] = {}
    status = 0
    try:
        figures["worker_start_s"] = worker_start(passes if args.smoke else 5)
        with RegorusEngine() as engine:
            compile_s, (heads, errors) = timed(lambda: engine.compile(modules, data), 1)
            figures["compile_s"] = compile_s
            if errors:
                print(f"  compile errors: {errors[:3]}")
                return 1
            per_document = sorted(
                {f"data.{h.package}.{h.name}" for h in heads if RULE.match(h.name)}
            )
            combined = [r for r in per_document if r.rsplit(".", 1)[0].endswith(COMBINED_SUFFIX)]
            per_document = [r for r in per_document if r not in combined]
            requests = [EvalRequest(d, f) for d, f in zip(documents, files, strict=True)]
            wrapper_s, evaluations = timed(lambda: engine.evaluate(per_document, requests), passes)
            found = count_found(evaluations)
            plain = [EvalRequest(d) for d in documents]
            plain_s, plain_evaluations = timed(lambda: engine.evaluate(per_document, plain), passes)
            if count_found(plain_evaluations) != found:
                print("  MISMATCH: with and without data.conftest.file")
                status = 1
            figures.update(wrapper_s=wrapper_s, wrapper_without_file_s=plain_s)
            if combined:
                whole = EvalRequest(
                    [
                        {"path": f["name"], "contents": d}
                        for d, f in zip(documents, files, strict=True)
                    ]
                )
                figures["combined_s"], (result,) = timed(
                    lambda: engine.evaluate(combined, [whole]), passes
                )
                if result.error is not None:
                    print(f"  combined evaluation failed: {result.error}")
                    status = 1
        in_process = in_process_engine(modules, data)
        raw_s, raw_found = timed(
            lambda: wrapper_in_process(in_process, per_document, documents), passes
        )
        naive_s, naive_found = timed(
            lambda: naive_in_process(in_process, per_document, documents), 1
        )
        figures.update(wrapper_in_process_s=raw_s, naive_in_process_s=naive_s)
        if data is LIBRARY_DATA:
            figures["check_s"], check_findings = check_path(manifests, passes)
            figures["check_findings"] = float(check_findings)
        if not (found == raw_found == naive_found):
            print(f"  MISMATCH: results engine={found} in-process={raw_found} naive={naive_found}")
            status = 1
    except Exception:
        traceback.print_exc()
        return 1

    per_doc = lambda seconds: seconds / count * 1000  # noqa: E731
    scaled = figures.get("check_s", figures["wrapper_s"]) * 1000 / count
    verdict = "ok" if scaled <= TARGET_SECONDS_PER_1000 else "target missed"
    print(
        f"  rules queried per document: {len(per_document)} refs in "
        f"{len({r.rsplit('.', 1)[0] for r in per_document})} packages; results found: {found}"
    )
    print(
        f"  worker start (new engine, one-line module): {figures['worker_start_s'] * 1000:.0f} ms"
    )
    print(f"  compile library (load, lint, first evaluation): {figures['compile_s'] * 1000:.0f} ms")
    rows = [
        ("wrapper, engine (worker), conftest.file", figures["wrapper_s"]),
        ("wrapper, engine (worker), no conftest.file", figures["wrapper_without_file_s"]),
        ("wrapper, in-process (no worker)", figures["wrapper_in_process_s"]),
        ("naive (conftest: query per rule + exception)", figures["naive_in_process_s"]),
    ]
    if "check_s" in figures:
        rows.append(("check: analyze() + library, end to end", figures["check_s"]))
    for label, seconds in rows:
        print(
            f"  {label:<48} {seconds:7.3f} s  {per_doc(seconds):6.3f} ms/doc  "
            f"{count / seconds:8.0f} docs/s"
        )
    if "combined_s" in figures:
        print(f"  combined package, {count} documents as one input: {figures['combined_s']:.3f} s")
    print(
        f"  target: library vs 1,000 documents (check path) <= {TARGET_SECONDS_PER_1000:g} s: "
        f"{scaled:.2f} s ({verdict})"
    )
    if args.json:
        args.json.write_text(json.dumps({"documents": count, **figures}, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
