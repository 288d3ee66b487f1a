"""Kyverno engine throughput: N policies (compiled once) against M generated manifests.

    python -m bench.kyverno_bench                    # 100 policies x 1,000 manifests, 3 passes
    python -m bench.kyverno_bench --smoke            # 20 x 100, 1 pass (CI: does it still work)
    python -m bench.kyverno_bench --policies 200 --resources 5000 --json out.json

Policies: the public-library policies under tests/data/kyverno-library (patterns with anchors,
deny conditions with JMESPath, foreach, preconditions, autogen for controllers); to reach N,
the pattern/deny/foreach policies are repeated under new names. ``validate.podSecurity``
policies are included once each, not repeated: a cluster runs one Pod Security profile, and
each evaluation checks every control of it (``--pss-repeat`` repeats them too, to see that
cost). Manifests: ``bench.corpus`` (Deployments, StatefulSets, CronJobs, Services, ConfigMaps,
Ingresses, custom resources), seed 7.

Measured with ``time.perf_counter``, best of the passes:

- compile: read and compile the policy files into a PolicySet (autogen included), once;
- evaluate: ``Engine.evaluate`` on every manifest (the request context built once per
  manifest; the kind index skips policies that cannot match);
- check: ``analyzer.analyze`` on the loaded documents, as ``gitops-gate check`` does it
  (resource preparation, evaluation, findings at the failing line). Target: < 2 s for
  100 x 1,000.

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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

if __package__ in (None, ""):  # python bench/kyverno_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import generate
from bot.analyzers.kyverno.analyzer import Subject, analyze
from bot.analyzers.kyverno.engine import Engine, Request
from bot.analyzers.kyverno.policy import BodyKind, Policy, PolicySet, compile_policies
from bot.analyzers.kyverno.resources import prepare_resource
from bot.core.document import Document, load_text
from bot.core.filekind import FileKind

LIBRARY = Path(__file__).resolve().parent.parent / "tests" / "data" / "kyverno-library"
TARGET_SECONDS = 2.0
T = TypeVar("T")


def policy_files() -> list[tuple[str, str]]:
    out = []
    for path in sorted(LIBRARY.rglob("*.yaml")):
        if path.name == "kyverno-test.yaml" or ".kyverno-test" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "kind: ClusterPolicy" in text:
            out.append((str(path.relative_to(LIBRARY)), text))
    return out


def _pod_security(policy: Policy) -> bool:
    return any(r.body is not None and r.body.kind is BodyKind.POD_SECURITY for r in policy.rules)


def policy_mix(base: Sequence[Policy], count: int, pss_repeat: bool) -> list[Policy]:
    """``count`` policies: every base policy once, then the repeatable ones renamed."""
    repeatable = [p for p in base if pss_repeat or not _pod_security(p)]
    return top_up(list(base)[:count], repeatable, count)


def top_up(policies: list[Policy], repeatable: Sequence[Policy], count: int) -> list[Policy]:
    """``policies`` with ``repeatable`` ones added in turn under new names, up to ``count``."""
    index = 0
    while len(policies) < count and repeatable:
        policy = repeatable[index % len(repeatable)]
        policies.append(dataclasses.replace(policy, name=f"{policy.name}-{len(policies)}"))
        index += 1
    return policies


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """The options both Kyverno benchmarks take; ``doc`` is the module's docstring."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--policies", type=int, default=100)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="20 policies x 100 manifests, 1 pass.")
    parser.add_argument("--json", type=Path, help="Write the figures here.")
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if args.smoke:
        args.policies, args.resources, args.passes = 20, 100, 1
    return args


def best(passes: int, run: Callable[[], T]) -> tuple[float, float, T]:
    """(best, first, result) over ``passes`` runs."""
    times: list[float] = []
    for _ in range(passes):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), times[0], result


def manifest_documents(resources: int, seed: int) -> list[Document]:
    """The documents of ``resources`` generated manifests, loaded as ``check`` loads them."""
    manifests = generate(resources, seed)
    loaded = [load_text(f"m{i}.yaml", m.text, FileKind.MANIFEST) for i, m in enumerate(manifests)]
    return [d for file in loaded for d in file.documents]


def evaluate_all(engine: Engine, documents: Sequence[Document]) -> Counter[str]:
    """Rule results by status, every document evaluated against every policy."""
    statuses: Counter[str] = Counter()
    for document in documents:
        resource = prepare_resource(document.data)
        for result in engine.evaluate(Request(resource=resource)):
            statuses[result.result.value] += 1
    return statuses


def print_figures(
    rows: Sequence[tuple[str, float, str]],
    check_seconds: float,
    pairs: int,
    target_seconds: float,
    smoke: bool,
    problems: Sequence[str],
) -> bool:
    """The timing rows, the target verdict, throughput and problems; True if the target is met."""
    for name, seconds, note in rows:
        print(f"  {name:16s} {seconds * 1000:9.1f} ms   {note}")
    met = check_seconds < target_seconds
    if smoke:
        print("  (smoke run: the target applies to 100 policies x 1,000 manifests)")
    else:
        print(f"  target check < {target_seconds:.0f} s: {'ok' if met else 'target missed'}")
    print(f"  {pairs / check_seconds:,.0f} policy/manifest pairs per second")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    return met


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--pss-repeat", action="store_true", help="Repeat podSecurity policies.")
    args = parse_args(parser, argv)

    problems: list[str] = []
    files = policy_files()
    compile_seconds, _, compiled = best(args.passes, lambda: compile_policies(files))
    base, policy_problems = compiled
    problems += [f"policy problem: {p.path}:{p.line}: {p.message}" for p in policy_problems]
    policies = policy_mix(base, args.policies, args.pss_repeat)
    policy_set = PolicySet.build(policies)
    rules = sum(len(p.rules) for p in policies)

    documents = manifest_documents(args.resources, args.seed)
    kinds = Counter(d.kind for d in documents)

    engine = Engine(policy_set)
    evaluate_seconds, _, statuses = best(args.passes, lambda: evaluate_all(engine, documents))
    subjects = [Subject(d) for d in documents]
    check_seconds, _, findings = best(args.passes, lambda: analyze(subjects, policy_set))
    if not statuses or not findings:
        problems.append("no rule results or no findings: the engine did not run")

    rows = [
        ("compile", compile_seconds, f"{len(files)} files -> {len(base)} policies"),
        ("evaluate", evaluate_seconds, f"{sum(statuses.values())} rule results {dict(statuses)}"),
        ("check (analyze)", check_seconds, f"{len(findings)} findings"),
    ]
    pss = sum(1 for p in policies if _pod_security(p))
    print(
        f"{len(policies)} policies ({rules} rules incl. autogen, {pss} podSecurity) x "
        f"{len(documents)} manifests {dict(kinds)}; best of {args.passes}"
    )
    pairs = len(policies) * len(documents)
    met = print_figures(rows, check_seconds, pairs, TARGET_SECONDS, args.smoke, problems)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "policies": len(policies),
                    "rules": rules,
                    "manifests": len(documents),
                    "passes": args.passes,
                    "seconds": {name: seconds for name, seconds, _ in rows},
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
