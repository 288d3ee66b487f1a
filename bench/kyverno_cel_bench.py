"""Kyverno CEL policy throughput: N CEL policies (compiled once) against M generated manifests.

    python -m bench.kyverno_cel_bench                # 100 policies x 1,000 manifests, 3 passes
    python -m bench.kyverno_cel_bench --smoke        # 20 x 100, 1 pass (CI: does it still work)
    python -m bench.kyverno_cel_bench --policies 200 --resources 5000 --json out.json

Policies: the CEL policies of the public Kyverno library under tests/data/kyverno-library-cel
(ValidatingPolicies with autogen for pod controllers, ``validate.cel`` ClusterPolicies) and the
CEL suites under tests/data/kyverno/cel-*; to reach N they are repeated under new names.
Manifests: ``bench.corpus`` (Deployments, StatefulSets, CronJobs, Services, ConfigMaps,
Ingresses, custom resources), seed 7.

Measured with ``time.perf_counter``, best of the passes:

- compile: read and compile the policy files into a PolicySet (CEL compilation, autogen
  variants), once; the CEL runtime caches compiled expressions, so passes after the first
  measure the YAML and policy layer only (the first pass is shown too);
- evaluate: ``Engine.evaluate`` on every manifest (CEL bindings built once per manifest and
  shared by every policy; the kind index skips policies that cannot match);
- check: ``analyzer.analyze`` on the loaded documents, as ``gitops-gate check`` does it.
  Target: < 5 s for 100 x 1,000.

Exit status is non-zero only when a stage crashed or the results are obviously wrong (no rule
result at all, or a policy problem in the library policies), never because a target is missed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python bench/kyverno_cel_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import generate
from bot.analyzers.kyverno.analyzer import Subject, analyze
from bot.analyzers.kyverno.engine import Engine, Request
from bot.analyzers.kyverno.policy import Policy, PolicySet, compile_policy_files
from bot.analyzers.kyverno.resources import prepare_resource
from bot.core.document import load_text
from bot.core.filekind import FileKind

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SOURCES = (DATA / "kyverno-library-cel", DATA / "kyverno")
TARGET_SECONDS = 5.0


def policy_files() -> list[tuple[str, str]]:
    out = []
    for root in SOURCES:
        for path in sorted(root.rglob("*.yaml")):
            if path.name == "kyverno-test.yaml" or ".kyverno-test" in path.parts:
                continue
            if root.name == "kyverno" and not path.parent.name.startswith("cel-"):
                continue
            text = path.read_text(encoding="utf-8")
            if "kind: ValidatingPolicy" in text or "cel:" in text:
                out.append((str(path.relative_to(DATA)), text))
    return out


def _cel(policy: Policy) -> bool:
    return any(rule.cel is not None for rule in policy.rules)


def policy_mix(base: Sequence[Policy], count: int) -> list[Policy]:
    """``count`` CEL policies: every base policy once, then repeated under new names."""
    cel = [p for p in base if _cel(p)]
    out = cel[:count]
    index = 0
    while len(out) < count and cel:
        policy = cel[index % len(cel)]
        out.append(dataclasses.replace(policy, name=f"{policy.name}-{len(out)}"))
        index += 1
    return out


def best(passes: int, run: Any) -> tuple[float, float, Any]:
    """(best, first, result) over ``passes`` runs."""
    times, result = [], None
    for _ in range(passes):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), times[0], result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policies", type=int, default=100)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="20 policies x 100 manifests, 1 pass.")
    parser.add_argument("--json", type=Path, help="Write the figures here.")
    args = parser.parse_args(argv)
    if args.smoke:
        args.policies, args.resources, args.passes = 20, 100, 1

    problems: list[str] = []
    files = policy_files()
    compile_seconds, compile_first, compiled = best(
        args.passes, lambda: compile_policy_files(files)
    )
    base, policy_problems, exceptions = compiled
    problems += [f"policy problem: {p.path}:{p.line}: {p.message}" for p in policy_problems]
    policies = policy_mix(base, args.policies)
    policy_set = PolicySet.build(policies, (), exceptions)
    vpols = sum(1 for p in policies if p.kind.endswith("ValidatingPolicy"))

    manifests = generate(args.resources, args.seed)
    loaded = [load_text(f"m{i}.yaml", m.text, FileKind.MANIFEST) for i, m in enumerate(manifests)]
    documents = [d for file in loaded for d in file.documents]
    kinds = Counter(d.kind for d in documents)

    engine = Engine(policy_set)

    def evaluate() -> Counter[str]:
        statuses: Counter[str] = Counter()
        for document in documents:
            resource = prepare_resource(document.data)
            for result in engine.evaluate(Request(resource=resource)):
                statuses[result.result.value] += 1
        return statuses

    evaluate_seconds, evaluate_first, statuses = best(args.passes, evaluate)
    subjects = [Subject(d) for d in documents]
    check_seconds, _, findings = best(args.passes, lambda: analyze(subjects, policy_set))
    if not statuses or not findings:
        problems.append("no rule results or no findings: the engine did not run")

    rows = [
        (
            "compile",
            compile_seconds,
            f"{len(files)} files -> {len(base)} policies "
            f"(first pass {compile_first * 1000:.0f} ms)",
        ),
        (
            "evaluate",
            evaluate_seconds,
            f"{sum(statuses.values())} results {dict(statuses)} "
            f"(first pass {evaluate_first * 1000:.0f} ms)",
        ),
        ("check (analyze)", check_seconds, f"{len(findings)} findings"),
    ]
    print(
        f"{len(policies)} CEL policies ({vpols} ValidatingPolicy, "
        f"{len(policies) - vpols} with validate.cel) x {len(documents)} manifests "
        f"{dict(kinds)}; best of {args.passes}"
    )
    for name, seconds, note in rows:
        print(f"  {name:16s} {seconds * 1000:9.1f} ms   {note}")
    pairs = len(policies) * len(documents)
    met = check_seconds < TARGET_SECONDS
    if args.smoke:
        print("  (smoke run: the target applies to 100 policies x 1,000 manifests)")
    else:
        print(f"  target check < {TARGET_SECONDS:.0f} s: {'ok' if met else 'target missed'}")
    print(f"  {pairs / check_seconds:,.0f} policy/manifest pairs per second")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "policies": len(policies),
                    "validating_policies": vpols,
                    "manifests": len(documents),
                    "passes": args.passes,
                    "seconds": {name: seconds for name, seconds, _ in rows},
                    "first_pass_seconds": {
                        "compile": compile_first,
                        "evaluate": evaluate_first,
                    },
                    "statuses": dict(statuses),
                    "findings": len(findings),
                    "target_met": met,
                    "python": platform.python_version(),
                    "problems": problems,
                },
                indent=2,
            )
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
