"""CEL evaluation time per expression for Kyverno CEL policies (cel-expr-python / cel-cpp).

    python -m bench.cel_bench                 # 20,000 evaluations per expression, 5 passes
    python -m bench.cel_bench --smoke         # 500 evaluations, 1 pass (CI: does it still work)
    python -m bench.cel_bench --json out.json

For each typical policy expression (from kyverno/policies, plus library-heavy ones) it
reports the compile time (first compile: rewrites, literal checks and cel-cpp's checker;
the environment itself is built before and shown once) and
the evaluation time per call, best pass, in two ways: with one prepared activation reused
(what the policy layer does for all expressions of a resource) and with a mapping per call.
Target: evaluation **<= 50 us** per expression. The object is a two-container Pod.

The exit status is non-zero only when an expression fails or returns a wrong value, never
because the target is missed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python bench/cel_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.analyzers.kyverno.cel import CelRuntime, Environment
from tests.analyzers.kyverno_cel.cel_helpers import pod

TARGET_US = 50.0
ALL_CONTAINERS = (
    "object.spec.containers + object.spec.?initContainers.orValue([]) + "
    "object.spec.?ephemeralContainers.orValue([])"
)

# name, expression, lazy variables, expected result on the benchmark pod
EXPRESSIONS: list[tuple[str, str, dict[str, str], Any]] = [
    ("field equality", "object.metadata.name == 'web'", {}, True),
    (
        "host namespaces (validate.cel)",
        "(!has(object.spec.hostNetwork) || object.spec.hostNetwork == false) && "
        "(!has(object.spec.hostIPC) || object.spec.hostIPC == false) && "
        "(!has(object.spec.hostPID) || object.spec.hostPID == false)",
        {},
        True,
    ),
    (
        "capabilities (vpol, lazy variables)",
        "variables.allContainers.all(container, container.?securityContext.?capabilities"
        ".?add.orValue([]).all(capability, capability == '' || "
        "capability in variables.allowedCapabilities))",
        {
            "allContainers": ALL_CONTAINERS,
            "allowedCapabilities": "['AUDIT_WRITE','CHOWN','NET_BIND_SERVICE','SETUID']",
        },
        True,
    ),
    (
        "run as non-root (vpol)",
        "(object.spec.?securityContext.?runAsNonRoot.orValue(false) == true && "
        "variables.ctnrs.all(c, c.?securityContext.?runAsNonRoot.orValue(true) == true)) || "
        "variables.ctnrs.all(c, c.?securityContext.?runAsNonRoot.orValue(false) == true)",
        {"ctnrs": ALL_CONTAINERS},
        True,
    ),
    (
        "orValue compat on a plain field",
        "object.spec.containers.all(c, c.volumeMounts.orValue([]).size() >= 0 || true)",
        {},
        True,
    ),
    (
        "requests and limits",
        "object.spec.containers.all(container, has(container.resources) && "
        "has(container.resources.requests) && has(container.resources.requests.memory) && "
        "has(container.resources.requests.cpu) && has(container.resources.limits) && "
        "has(container.resources.limits.memory))",
        {},
        True,
    ),
    (
        "quantity library (Python functions)",
        "object.spec.containers.all(c, "
        "quantity(c.resources.limits.memory).compareTo(quantity('1Gi')) <= 0)",
        {},
        True,
    ),
    (
        "image library (Python functions)",
        "object.spec.containers.all(c, image(c.image).registry() != 'index.docker.io')",
        {},
        True,
    ),
    (
        "message expression",
        "'Missing probes in containers: ' + object.spec.containers.filter(c, "
        "!(has(c.livenessProbe) || has(c.readinessProbe))).map(c, c.name).join(', ')",
        {},
        "Missing probes in containers: ",
    ),
]


@dataclass
class Figure:
    name: str
    environment_ms: float
    compile_ms: float
    evaluate_us: float
    evaluate_fresh_mapping_us: float
    within_target: bool


def _best_per_call(call: Any, count: int, passes: int) -> float:
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        for _ in range(count):
            call()
        best = min(best, (time.perf_counter() - start) / count)
    return best * 1e6


def measure(count: int, passes: int) -> list[Figure]:
    figures: list[Figure] = []
    bindings = {"object": pod(), "variables": {}, "namespaceObject": {"metadata": {"name": "x"}}}
    for name, expression, variables, expected in EXPRESSIONS:
        environment = (
            Environment.VALIDATE_CEL if "validate.cel" in name else Environment.VALIDATING_POLICY
        )
        start = time.perf_counter()
        runtime = CelRuntime(environment)
        runtime.compile("true")  # creates the environment
        environment_ms = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        compiled = runtime.compile(expression, lazy_variables=variables or None)
        compile_ms = (time.perf_counter() - start) * 1e3
        activation = runtime.activation(bindings)
        result = compiled.evaluate(activation)
        if result != expected:
            raise AssertionError(f"{name}: expected {expected!r}, got {result!r}")
        reused = _best_per_call(lambda c=compiled, a=activation: c.evaluate(a), count, passes)
        fresh = _best_per_call(lambda c=compiled: c.evaluate(bindings), count, passes)
        figures.append(Figure(name, environment_ms, compile_ms, reused, fresh, reused <= TARGET_US))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="few evaluations, one pass")
    parser.add_argument("--count", type=int, default=None, help="evaluations per pass")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    count = args.count or (500 if args.smoke else 20_000)
    passes = 1 if args.smoke else 5
    try:
        figures = measure(count, passes)
    except Exception as err:  # a crash or a wrong value: the benchmark itself is broken
        print(f"cel_bench: FAILED: {err}", file=sys.stderr)
        return 1
    python = platform.python_version()
    print(f"CEL evaluation, {count} calls x {passes} pass(es), best pass; Python {python}")
    print(f"environment creation (once per runtime): {figures[0].environment_ms:.1f} ms")
    header = f"{'expression':40} {'compile ms':>10} {'eval us':>8} {'fresh us':>9}"
    print(f"{header}  target <= {TARGET_US:.0f} us")
    for f in figures:
        verdict = "ok" if f.within_target else "target missed"
        print(
            f"{f.name:40} {f.compile_ms:10.2f} {f.evaluate_us:8.1f} "
            f"{f.evaluate_fresh_mapping_us:9.1f}  {verdict}"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in figures], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
