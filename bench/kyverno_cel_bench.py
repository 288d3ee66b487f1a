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

import json
import platform
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # python bench/kyverno_cel_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.kyverno_bench import (
    bench_parser,
    best,
    evaluate_all,
    manifest_documents,
    parse_args,
    print_figures,
    top_up,
)
from bot.analyzers.kyverno.analyzer import Subject, analyze
from bot.analyzers.kyverno.engine import Engine
from bot.analyzers.kyverno.policy import Policy, PolicySet, compile_policy_files

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
    return top_up(cel[:count], cel, count)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(bench_parser(__doc__), argv)

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

    documents = manifest_documents(args.resources, args.seed)
    kinds = Counter(d.kind for d in documents)

    engine = Engine(policy_set)
    evaluate_seconds, evaluate_first, statuses = best(
        args.passes, lambda: evaluate_all(engine, documents)
    )
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
    pairs = len(policies) * len(documents)
    met = print_figures(rows, check_seconds, pairs, TARGET_SECONDS, args.smoke, problems)
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
