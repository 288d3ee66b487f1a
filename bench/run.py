"""gitops-gate performance benchmark: prints manifests per second for each stage.

    .venv/bin/python -m bench.run --manifests 1000 [--seed S] [--smoke] [--json FILE] [--profile]

Stages (see bench/README.md): (a) load, (b) syntax, (c) schema on loaded documents,
(d) load + schema (the headline), (e) the whole pipeline as the CLI runs it, (f) the peer
``kubernetes_validate.validate`` and the ratio of (d) to it, (g) the cold start of one
``gitops-gate check FILE`` process, (h) the peak RSS of a child process checking 10,000
manifests.

This is a script that prints figures, not a test: a missed speed target prints
"target missed"; the exit status is non-zero only when a stage crashed or produced an
obviously wrong result (no documents, invalid manifests not flagged, valid ones flagged).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import importlib.metadata
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):  # run as a file: make ``bench`` and ``bot`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import corpus
from bot.analyzers import schema as schema_analyzer
from bot.analyzers import syntax as syntax_analyzer
from bot.analyzers.crd import TreeCrdSchemas
from bot.config import SchemaConfig, parse_config
from bot.core.changeset import ChangedFile
from bot.core.document import Document, LoadedFile, load_file
from bot.core.filekind import FileKind
from bot.core.finding import Category, Finding
from bot.core.limits import DEFAULT_LIMITS
from bot.core.pipeline import Options, Report, collector_paused, load_files, run
from bot.engines import schema_store
from bot.engines.local import local_engines
from bot.engines.schema_validator import backend_name
from bot.workspace import from_paths

T = TypeVar("T")

KUBERNETES_VERSION = "1.37"
HEADLINE_TARGET = 2_000.0  # manifests/s for (d)
PEER_RATIO_TARGET = 50.0
COLD_START_TARGET = 1.0  # seconds
MEMORY_TARGET_MB = 500.0
MEMORY_MANIFESTS = 10_000
SMOKE_MEMORY_MANIFESTS = 1_000
PEER_SUBSET = 100
SMOKE_PEER_SUBSET = 30


@dataclass(slots=True)
class Stage:
    key: str
    name: str
    items: int  # manifests (documents) processed per pass
    cold_s: float | None = None
    warm_s: float | None = None  # best warm pass
    findings: int | None = None
    unit: str = "manifests/s"
    target: float | None = None  # on the warm rate (or on ``value`` for non-rate stages)
    value: float | None = None  # for stages that are not rates: seconds, MB, ratio
    note: str = ""
    crashed: bool = False

    @property
    def cold_rate(self) -> float | None:
        return self.items / self.cold_s if self.cold_s else None

    @property
    def warm_rate(self) -> float | None:
        return self.items / self.warm_s if self.warm_s else None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.unit == "manifests/s" or self.unit == "x":
            figure = self.value if self.unit == "x" else self.warm_rate
            return figure is not None and figure >= self.target
        return self.value is not None and self.value < self.target

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(cold_rate=self.cold_rate, warm_rate=self.warm_rate, met=self.met)
        return out


@dataclass(slots=True)
class Bench:
    manifests: list[corpus.Manifest]
    root: Path  # one manifest per file, under namespace folders
    files: list[tuple[str, bytes]]  # (relative path, content) in corpus order
    multi_files: list[tuple[str, bytes]]  # the same manifests in multi-document files
    passes: int
    smoke: bool
    stages: list[Stage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # wrong results: exit non-zero
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def expected_invalid(self) -> set[str]:
        return {self.rel(m) for m in self.manifests if m.invalid}

    @staticmethod
    def rel(m: corpus.Manifest) -> str:
        return f"{m.namespace or 'cluster'}/{m.file_name}"

    def wrong(self, message: str) -> None:
        self.problems.append(message)
        print(f"  WRONG: {message}", flush=True)


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# -- building blocks ----------------------------------------------------------------------------


def load_all(files: Sequence[tuple[str, bytes]]) -> list[LoadedFile]:
    return [load_file(path, content, FileKind.MANIFEST) for path, content in files]


def documents_of(loaded: Sequence[LoadedFile]) -> list[Document]:
    return [doc for item in loaded for doc in item.documents]


def schema_context(
    loaded: Sequence[LoadedFile], store: schema_store.EmbeddedSchemas
) -> schema_analyzer.SchemaContext:
    """What the pipeline builds for the embedded engine: built-in kinds, then tree CRDs."""
    sources: list[schema_analyzer.SchemaSource] = [
        store,
        TreeCrdSchemas(documents_of(loaded), strict=True),
    ]
    return schema_analyzer.SchemaContext(sources, SchemaConfig(), KUBERNETES_VERSION)


def fresh_store() -> schema_store.EmbeddedSchemas:
    """A store with nothing compiled and ``_definitions.json`` not yet read (a cold start)."""
    return schema_store.EmbeddedSchemas(KUBERNETES_VERSION, True)


def schema_pass(loaded: Sequence[LoadedFile], store: schema_store.EmbeddedSchemas) -> list[Finding]:
    return schema_analyzer.analyze(loaded, schema_context(loaded, store))


def load_and_schema(
    files: Sequence[tuple[str, bytes]], store: schema_store.EmbeddedSchemas
) -> tuple[list[LoadedFile], list[Finding]]:
    """Load and schema-validate as ``pipeline.run`` does it for the CLI: the cyclic collector
    paused, files loaded through the CLI's mapper (worker processes for big inputs)."""
    changed = [ChangedFile(path, content) for path, content in files]
    with collector_paused():
        loaded = load_files(changed, (), DEFAULT_LIMITS, local_engines(Path.cwd()).map)
        return loaded, schema_pass(loaded, store)


def load_and_schema_collecting(
    files: Sequence[tuple[str, bytes]], store: schema_store.EmbeddedSchemas
) -> tuple[list[LoadedFile], list[Finding]]:
    loaded = load_all(files)
    return loaded, schema_pass(loaded, store)


def check_flagged(bench: Bench, stage: str, findings: Sequence[Finding]) -> None:
    """Every invalid manifest has a schema error, and no valid one has any schema finding."""
    flagged = {f.path for f in findings if f.category is Category.SCHEMA}
    expected = bench.expected_invalid
    missed = sorted(expected - flagged)
    extra = sorted(flagged - expected)
    if missed:
        bench.wrong(f"{stage}: {len(missed)} invalid manifests not flagged, e.g. {missed[:3]}")
    if extra:
        bench.wrong(f"{stage}: {len(extra)} valid manifests flagged, e.g. {extra[:3]}")
    if not expected:
        bench.wrong(f"{stage}: the corpus has no invalid manifests to flag")


def check_docs(bench: Bench, stage: str, loaded: Sequence[LoadedFile]) -> int:
    docs = sum(len(item.documents) for item in loaded)
    if docs != len(bench.manifests):
        bench.wrong(f"{stage}: loaded {docs} documents, expected {len(bench.manifests)}")
    errors = [f for item in loaded for f in item.findings]
    if errors:
        bench.wrong(f"{stage}: {len(errors)} loader findings on a well-formed corpus: {errors[0]}")
    return docs


def passes(bench: Bench, cold: Callable[[], T], warm: Callable[[], T]) -> tuple[float, float, T]:
    """One cold pass, then ``passes - 1`` warm passes; returns (cold s, best warm s, result)."""
    cold_s, result = timed(cold)
    warm_times = []
    for _ in range(max(1, bench.passes - 1)):
        del result  # the previous pass's objects must not inflate this pass's GC work
        gc.collect()
        seconds, result = timed(warm)
        warm_times.append(seconds)
    return cold_s, min(warm_times), result


# -- stages -------------------------------------------------------------------------------------


def stage_load(bench: Bench) -> None:
    n = len(bench.manifests)
    cold_s, warm_s, loaded = passes(
        bench, lambda: load_all(bench.files), lambda: load_all(bench.files)
    )
    check_docs(bench, "load", loaded)
    findings = sum(len(item.findings) for item in loaded)
    bench.stages.append(Stage("a", f"load, {len(bench.files)} files", n, cold_s, warm_s, findings))
    cold_m, warm_m, loaded_m = passes(
        bench, lambda: load_all(bench.multi_files), lambda: load_all(bench.multi_files)
    )
    check_docs(bench, "load (multi-doc)", loaded_m)
    bench.stages.append(
        Stage(
            "a2",
            f"load, {len(bench.multi_files)} multi-doc files",
            n,
            cold_m,
            warm_m,
            sum(len(item.findings) for item in loaded_m),
        )
    )


def stage_syntax(bench: Bench) -> None:
    loaded = load_all(bench.files)
    rules, problems = syntax_analyzer.build_rules({})
    if problems:
        bench.wrong(f"syntax: default rules reported problems: {problems}")

    def lint() -> list[Finding]:
        return syntax_analyzer.analyze(loaded, rules)

    cold_s, warm_s, findings = passes(bench, lint, lint)
    flawed = {bench.rel(m) for m in bench.manifests if m.style_flaw}
    hit = {f.path for f in findings if f.rule_id == "syntax/trailing-spaces"}
    if flawed - hit:
        bench.wrong(f"syntax: {len(flawed - hit)} files with trailing spaces not reported")
    others = Counter(f.rule_id for f in findings if f.path not in flawed)
    note = f"{len(flawed)} files have trailing spaces"
    if others:
        note += f"; other rules: {dict(others)}"
    bench.stages.append(
        Stage(
            "b", "syntax (yamllint)", len(bench.manifests), cold_s, warm_s, len(findings), note=note
        )
    )


def stage_schema(bench: Bench) -> None:
    loaded = load_all(bench.files)
    warm_store = fresh_store()
    cold_s, warm_s, findings = passes(
        bench,
        lambda: schema_pass(loaded, warm_store),
        lambda: schema_pass(loaded, warm_store),
    )
    check_flagged(bench, "schema", findings)
    rules = Counter(f.rule_id for f in findings)
    bench.stages.append(
        Stage(
            "c",
            f"schema only ({backend_name()})",
            len(bench.manifests),
            cold_s,
            warm_s,
            len(findings),
            note=", ".join(f"{k.split('/')[1]} {v}" for k, v in sorted(rules.items())),
        )
    )
    bench.extra["schema_findings_by_rule"] = dict(rules)
    bench.extra["first_use_ms_per_kind"] = first_use_per_kind(bench)


def first_use_per_kind(bench: Bench) -> dict[str, float]:
    """Milliseconds for the first lookup (read + compile) of each built-in kind, fresh store."""
    store = fresh_store()
    out: dict[str, float] = {}
    seconds, _ = timed(store._load_definitions)  # read once, as the first kind would
    out["(_definitions.json)"] = round(seconds * 1000, 1)
    seen: set[tuple[str, str]] = set()
    for m in bench.manifests:
        key = (m.api_version, m.kind)
        if key in seen:
            continue
        seen.add(key)
        seconds, entry = timed(lambda k=key: store.lookup(*k))
        label = f"{m.kind} ({m.api_version})" + ("" if entry else " [not built-in]")
        out[label] = round(seconds * 1000, 2)
    return out


def stage_load_schema(bench: Bench) -> None:
    warm_store = fresh_store()
    cold_s, warm_s, (loaded, findings) = passes(
        bench,
        lambda: load_and_schema(bench.files, warm_store),
        lambda: load_and_schema(bench.files, warm_store),
    )
    check_docs(bench, "load + schema", loaded)
    check_flagged(bench, "load + schema", findings)
    bench.stages.append(
        Stage(
            "d",
            "load + schema (headline)",
            len(bench.manifests),
            cold_s,
            warm_s,
            len(findings),
            target=HEADLINE_TARGET,
            note="cold = fresh schema store (reads _definitions.json, compiles every kind)",
        )
    )


def stage_load_schema_no_gc(bench: Bench) -> None:
    """Diagnostic: (d) with the cyclic garbage collector left running, to show what the
    pipeline's pause saves."""
    warm_store = fresh_store()

    def collecting() -> tuple[list[LoadedFile], list[Finding]]:
        return load_and_schema_collecting(bench.files, warm_store)

    cold_s, warm_s, (loaded, findings) = passes(bench, collecting, collecting)
    check_docs(bench, "load + schema, GC running", loaded)
    check_flagged(bench, "load + schema, GC running", findings)
    bench.stages.append(
        Stage(
            "d*",
            "load + schema, cyclic GC running (diagnostic)",
            len(bench.manifests),
            cold_s,
            warm_s,
            len(findings),
            note="in one process, without pipeline.collector_paused()",
        )
    )


def check_tree(root: Path, cache_dir: Path) -> Report:
    """As tests/conftest.py ``check_tree`` and the CLI: the whole pipeline on a directory."""
    changeset = from_paths(root, [root], None)
    config, config_findings = parse_config(
        changeset.config_text,
        changeset.config_path or ".github/gitops-gate.yml",
        supported_versions=schema_store.shipped_versions(),
    )
    engines = local_engines(root, cache_dir)
    return run(changeset, config, Options(), engines, config_findings)


def stage_pipeline(bench: Bench, cache_dir: Path) -> None:
    def cold() -> Report:
        schema_store.embedded.cache_clear()  # forget compiled validators: a cold process
        return check_tree(bench.root, cache_dir)

    cold_s, warm_s, report = passes(bench, cold, lambda: check_tree(bench.root, cache_dir))
    if report.documents != len(bench.manifests):
        bench.wrong(f"pipeline: {report.documents} documents, expected {len(bench.manifests)}")
    internal = [f for f in report.findings if f.category is Category.INTERNAL]
    if internal:
        bench.wrong(f"pipeline: internal findings: {internal[0].message}")
    check_flagged(bench, "pipeline", report.findings)
    by_category = Counter(f.category.value for f in report.findings)
    bench.stages.append(
        Stage(
            "e",
            "whole run() pipeline (disk read, syntax, schema)",
            len(bench.manifests),
            cold_s,
            warm_s,
            len(report.findings),
            note=", ".join(f"{k} {v}" for k, v in sorted(by_category.items()))
            + f"; conclusion {report.conclusion}",
        )
    )


def stage_peer(bench: Bench) -> None:
    import kubernetes_validate
    import yaml

    size = min(len(bench.manifests), SMOKE_PEER_SUBSET if bench.smoke else PEER_SUBSET)
    subset = bench.manifests[:size]
    data = [yaml.safe_load(m.text) for m in subset]
    verdicts: Counter[str] = Counter()
    peer_flagged: set[str] = set()
    errors: list[str] = []

    def validate_all() -> None:
        for m, item in zip(subset, data, strict=True):
            try:
                kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
                verdicts["valid"] += 1
            except kubernetes_validate.ValidationError:
                verdicts["invalid"] += 1
                peer_flagged.add(bench.rel(m))
            except kubernetes_validate.SchemaNotFoundError:
                verdicts["no schema (custom resource or CRD kind)"] += 1
            except Exception as exc:  # the peer's own crashes are data, not ours
                verdicts["peer crashed"] += 1
                errors.append(f"{m.file_name}: {type(exc).__name__}: {exc}")

    seconds, _ = timed(validate_all)
    invalid_builtin = {
        bench.rel(m)
        for m in subset
        if m.invalid and m.kind not in (corpus.WIDGET_KIND, corpus.GADGET_KIND)
    }
    missed = invalid_builtin - peer_flagged
    note = ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))
    if missed:
        kinds = Counter(m.invalid for m in subset if bench.rel(m) in missed)
        note += f"; peer missed {len(missed)} invalid built-ins ({dict(kinds)})"
    stage = Stage(
        "f",
        f"peer kubernetes_validate.validate (first {size})",
        size,
        seconds,
        seconds,
        verdicts["invalid"],
        note=note,
    )
    bench.stages.append(stage)
    if errors:
        bench.extra["peer_errors"] = errors[:10]
    headline = next((s for s in bench.stages if s.key == "d"), None)
    if headline is not None and headline.warm_rate and stage.warm_rate:
        ratio = headline.warm_rate / stage.warm_rate
        cold_ratio = (headline.cold_rate or 0.0) / stage.warm_rate
        schema_only = next((s for s in bench.stages if s.key == "c"), None)
        schema_ratio = ((schema_only.warm_rate or 0.0) if schema_only else 0.0) / stage.warm_rate
        bench.stages.append(
            Stage(
                "f2",
                "ratio (d) / peer",
                size,
                unit="x",
                value=ratio,
                target=PEER_RATIO_TARGET,
                note=(
                    f"warm (d); with cold (d): {cold_ratio:,.0f}x; "
                    f"schema-only (c) warm / peer: {schema_ratio:,.0f}x (the peer parses no YAML)"
                ),
            )
        )


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "gitops-gate"
    if script.exists():
        return [str(script), "check"]
    return [sys.executable, "-m", "bot", "check"]


def child_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(cache)  # never touch the user's schema cache
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def run_child(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, float, str]:
    """(wall seconds, exit code, peak memory in MB, stderr) of one child process.

    Peak memory is the largest sum, over samples every 20 ms, of the proportional set size
    (PSS) of the child and all its descendants (the CLI's worker processes): shared pages are
    counted once, so forked workers are neither missed nor double-counted. ``ru_maxrss`` from
    ``wait4`` (the single largest process) is the floor when a run is too short to sample.
    """
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        peak_kb = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, _tree_pss_kb(proc.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    rss_mb = max(peak_kb, usage.ru_maxrss) / 1024  # kilobytes on Linux
    return wall, proc.returncode, rss_mb, stderr


def _tree_pss_kb(root: int) -> int:
    total = 0
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            total += next(
                int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")
            )
            for task in Path(f"/proc/{pid}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(c) for c in children)
        except (OSError, StopIteration, ValueError):
            continue  # the process ended between two reads
    return total


def stage_cold_start(bench: Bench, work: Path) -> None:
    folder = work / "one-file"
    folder.mkdir()
    deployment = next(m for m in bench.manifests if m.kind == "Deployment" and not m.invalid)
    target = folder / "deployment.yaml"
    target.write_text(deployment.text, encoding="utf-8")
    env = child_env(work / "cache")
    runs = []
    rss = 0.0
    for _ in range(3 if bench.smoke else 5):
        wall, code, rss, stderr = run_child([*cli_command(), target.name], folder, env)
        if code not in (0, 1):
            bench.wrong(f"cold start: exit {code}: {stderr.strip()[-500:]}")
            break
        if code == 1 and not deployment.style_flaw:
            bench.wrong("cold start: a valid Deployment failed the check")
        runs.append(wall)
    baseline = [run_child([sys.executable, "-c", "pass"], folder, env)[0] for _ in range(3)]
    imports = [
        run_child([sys.executable, "-c", "import bot.cli"], folder, env)[0] for _ in range(3)
    ]
    if not runs:
        return
    median = statistics.median(runs)
    bench.stages.append(
        Stage(
            "g",
            "cold start: gitops-gate check FILE (wall)",
            1,
            runs[0],
            min(runs),
            unit="s",
            value=median,
            target=COLD_START_TARGET,
            note=(
                f"first {runs[0]:.3f} s, median {median:.3f} s of {len(runs)}; "
                f"bare interpreter {min(baseline):.3f} s, import bot.cli {min(imports):.3f} s; "
                f"max RSS {rss:.0f} MB"
            ),
        )
    )


def stage_memory(bench: Bench, work: Path, seed: int) -> None:
    count = SMOKE_MEMORY_MANIFESTS if bench.smoke else MEMORY_MANIFESTS
    folder = work / f"memory-{count}"
    manifests = corpus.generate(count, seed + 1)
    corpus.write(manifests, folder)
    report_path = work / "memory-report.json"
    cmd = [*cli_command(), ".", "--format", "json", "--output", str(report_path)]
    wall, code, rss_mb, stderr = run_child(cmd, folder, child_env(work / "cache"))
    if code not in (0, 1):
        bench.wrong(f"memory: exit {code}: {stderr.strip()[-500:]}")
        return
    report = json.loads(report_path.read_text())
    documents = report.get("summary", {}).get("documents")
    flagged = {f["path"] for f in report.get("findings", []) if f.get("category") == "schema"}
    expected = {Bench.rel(m) for m in manifests if m.invalid}
    if documents != count:
        bench.wrong(f"memory: the child checked {documents} documents, expected {count}")
    if flagged != expected:
        bench.wrong(
            f"memory: schema findings on {len(flagged)} files, expected the {len(expected)} "
            "invalid ones"
        )
    label = f"peak memory (PSS, process tree), {count:,} manifests"
    if bench.smoke:
        label = f"peak memory (PSS, tree), {count:,} (smoke; full: {MEMORY_MANIFESTS:,})"
    bench.stages.append(
        Stage(
            "h",
            label,
            count,
            wall,
            wall,
            len(report.get("findings", [])),
            unit="MB",
            value=rss_mb,
            target=MEMORY_TARGET_MB,
            note=f"child wall {wall:.1f} s = {count / wall:,.0f} manifests/s end to end",
        )
    )


# -- profile ------------------------------------------------------------------------------------


def profile_load_schema(bench: Bench, top: int = 18) -> str:
    out = io.StringIO()
    store = fresh_store()
    for label in ("cold", "warm"):
        profiler = cProfile.Profile()
        profiler.enable()
        load_and_schema(bench.files, store)
        profiler.disable()
        for sort in ("tottime", "cumulative"):
            out.write(f"\n--- profile of (d) load + schema, {label} pass, by {sort} ---\n")
            stats = pstats.Stats(profiler, stream=out)
            stats.strip_dirs().sort_stats(sort).print_stats(top)
    return out.getvalue()


# -- output -------------------------------------------------------------------------------------


def _fmt_rate(value: float | None) -> str:
    return f"{value:,.0f}/s" if value else "-"


def _fmt_s(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


def render(bench: Bench) -> str:
    header = (
        f"{'':3} {'stage':52} {'items':>6} {'cold s':>8} {'warm s':>8} "
        f"{'cold rate':>11} {'warm rate':>11} {'findings':>8}  target"
    )
    lines = [header, "-" * len(header)]
    for s in bench.stages:
        if s.crashed:
            lines.append(f"{s.key:3} {s.name:52} CRASHED: {s.note}")
            continue
        if s.unit == "manifests/s":
            figures = (
                f"{s.items:>6} {_fmt_s(s.cold_s):>8} {_fmt_s(s.warm_s):>8} "
                f"{_fmt_rate(s.cold_rate):>11} {_fmt_rate(s.warm_rate):>11} "
                f"{s.findings if s.findings is not None else '-':>8}"
            )
        else:
            shown = f"{s.value:,.0f}x" if s.unit == "x" else f"{s.value:,.3f} {s.unit}"
            if s.unit == "MB":
                shown = f"{s.value:,.0f} MB"
            figures = f"{s.items:>6} {shown:>41} {s.findings if s.findings is not None else '':>8}"
        target = ""
        if s.target is not None:
            op = ">=" if s.unit in ("manifests/s", "x") else "<"
            unit = "/s" if s.unit == "manifests/s" else s.unit
            verdict = "ok" if s.met else "target missed"
            target = f"{op} {s.target:,.0f}{unit}: {verdict}"
        lines.append(f"{s.key:3} {s.name:52} {figures}  {target}")
        if s.note:
            lines.append(f"{'':7}{s.note}")
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    import yaml

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "schema_backend": backend_name(),
        "jsonschema_rs": importlib.metadata.version("jsonschema-rs"),
        "kubernetes_validate": importlib.metadata.version("kubernetes-validate"),
        "pyyaml": yaml.__version__,
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
        "kubernetes_version": KUBERNETES_VERSION,
    }


def build(n: int, seed: int, work: Path, smoke: bool) -> Bench:
    # Keep only the texts: the generated dicts would add ~17 objects per manifest to every
    # full garbage collection of the timed stages (the peer re-reads its subset from text).
    manifests = [dataclasses.replace(m, data={}) for m in corpus.generate(n, seed)]
    root = work / "tree"
    corpus.write(manifests, root)
    multi = corpus.write(manifests, work / "multi", per_file=8, seed=seed)
    files = [(Bench.rel(m), m.text.encode()) for m in manifests]
    multi_files = [(w.path.name, w.path.read_bytes()) for w in multi]
    return Bench(manifests, root, files, multi_files, passes=2 if smoke else 4, smoke=smoke)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="gitops-gate performance benchmark")
    parser.add_argument("--manifests", type=int, default=None, help="corpus size (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="quick run (< 60 s), small counts")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument("--profile", action="store_true", help="cProfile (d), cold and warm")
    parser.add_argument("--skip", default="", help="comma-separated stage keys to skip (e.g. h)")
    args = parser.parse_args(argv)
    n = args.manifests if args.manifests is not None else (200 if args.smoke else 1000)
    if n < 10:
        parser.error("--manifests must be at least 10 (the corpus starts with two CRDs)")
    skip = {k.strip() for k in args.skip.split(",") if k.strip()}
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="gitops-gate-bench-") as tmp:
        work = Path(tmp)
        bench = build(n, args.seed, work, args.smoke)
        invalid = Counter(m.invalid for m in bench.manifests if m.invalid)
        kinds = Counter(m.kind for m in bench.manifests)
        print(
            f"gitops-gate bench: {n} manifests (seed {args.seed}, {sum(invalid.values())} invalid: "
            f"{dict(invalid)}), {len(bench.multi_files)} multi-doc files"
            + (" [smoke]" if args.smoke else ""),
            flush=True,
        )
        print(f"  kinds: {dict(kinds)}", flush=True)
        print(f"  {environment()}", flush=True)
        steps: list[tuple[str, str, Callable[[], None]]] = [
            ("a", "load", lambda: stage_load(bench)),
            ("b", "syntax", lambda: stage_syntax(bench)),
            ("c", "schema only", lambda: stage_schema(bench)),
            ("d", "load + schema", lambda: stage_load_schema(bench)),
            ("d*", "load + schema, GC paused", lambda: stage_load_schema_no_gc(bench)),
            ("e", "pipeline", lambda: stage_pipeline(bench, work / "schema-cache")),
            ("f", "peer", lambda: stage_peer(bench)),
            ("g", "cold start", lambda: stage_cold_start(bench, work)),
            ("h", "peak memory", lambda: stage_memory(bench, work, args.seed)),
        ]
        for key, name, step in steps:
            if key in skip:
                continue
            print(f"- ({key}) {name} ...", flush=True)
            step_start = time.perf_counter()
            try:
                step()
            except Exception as exc:
                traceback.print_exc()
                bench.stages.append(
                    Stage(key, name, 0, note=f"{type(exc).__name__}: {exc}", crashed=True)
                )
                bench.problems.append(f"({key}) {name} crashed: {type(exc).__name__}: {exc}")
            print(f"  ({time.perf_counter() - step_start:.1f} s)", flush=True)
        profile = profile_load_schema(bench) if args.profile else ""

    elapsed = time.perf_counter() - started
    print()
    print(render(bench))
    first_use = bench.extra.get("first_use_ms_per_kind")
    if first_use:
        print(
            "\nfirst use per kind (read + compile, ms): "
            + ", ".join(f"{k} {v}" for k, v in first_use.items())
        )
    if profile:
        print(profile)
    print(f"\ntotal {elapsed:.1f} s")
    if args.json:
        payload = {
            "manifests": n,
            "seed": args.seed,
            "smoke": args.smoke,
            "environment": environment(),
            "stages": [s.to_json() for s in bench.stages],
            "extra": bench.extra,
            "problems": bench.problems,
            "elapsed_s": elapsed,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    if bench.problems:
        print("\nWRONG RESULTS OR CRASHES:")
        for problem in bench.problems:
            print(f"  - {problem}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
