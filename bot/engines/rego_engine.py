"""The in-process Rego backend: Regorus, evaluated in a worker process (``rego_worker.py``).

How Regorus is used, and why (see the Regorus section of reference/rego-conftest.md):

- One engine per compiled policy set. Regorus' v0/v1 switch is per engine, so when any module
  is v0 the engine runs in v0 mode and every v1 module gets ``import rego.v1`` appended to its
  ``package`` line (same line, so line numbers hold): packages can mix versions and refer to
  each other, which separate engines per version could not.
- Every rule is queried by its full path, through one generated query per input:
  ``[[x | x := data.main.deny], ...]``. A one-element array per ref keeps "undefined" (``[]``)
  apart from "empty set" (``[[]]``); querying a package, or ``data.main[k]``, silently drops
  rules of modules that use an import alias.
- Errors surface late in Regorus, so ``compile`` provokes them: parse errors at load; unsafe
  variables, recursion and similar by a first query (one such module breaks every query, so it
  is dropped and reported, and the others stay usable); unknown functions by a lint of the AST
  against the functions this Regorus build has; everything else by one evaluation of every
  rule with ``input = {}``.
- A builtin error evaluating an input is that input's PolicyError (fail closed).
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from bot.engines.policy_engine import (
    EvalRequest,
    Evaluation,
    PolicyError,
    PolicyModule,
    RegoVersion,
    RuleHead,
)
from bot.engines.rego_worker import Reply, WorkerFailure, WorkerProcess

DEFAULT_TIME_LIMIT = 10.0  # seconds of wall-clock time per input (per test in run_tests)
DEFAULT_MEMORY_LIMIT = 1 << 30  # bytes of address space for the worker process
DEFAULT_LOAD_TIME_LIMIT = 60.0  # seconds to start the worker and load the policy set
MAX_LINE_LENGTH = 64 * 1024  # Regorus' default is 1,024 columns: too short for generated data
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_LINES = 200_000
DEFAULT_MAX_RESULT_BYTES = 64 * 1024 * 1024  # one input's results, as JSON
MAX_CONSECUTIVE_FAILURES = 3  # inputs in a row that hit a limit before the rest are given up

_SEGMENT = r"(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\"[^\"\\]*\"\])"
_REF = re.compile(rf"data{_SEGMENT}+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOCATION = re.compile(r"-->\s*(?P<path>.+?):(?P<line>\d+):(?P<column>\d+)")
_V1_IMPORT = re.compile(r"^[ \t]*import[ \t]+(?:rego\.v1|future\.keywords)\b", re.MULTILINE)
_PACKAGE = re.compile(r"\A(?:\s|#[^\n]*)*package[ \t]+[^\s#]+")
_V0_SYNTAX_ERRORS = ("`if` keyword is required", "`contains` keyword is required")
_V1_IN_V0 = re.compile(r"\b(?:if|contains)\b")
# Errors of the policy set rather than of one input: Regorus reports them at evaluation time,
# OPA at compile time. (Type errors such as "`add` expects numeric argument" are left to each
# input: with ``input = {}`` they may come from an input the rule never sees.)
_COMPILE_ERRORS = re.compile(
    r"is unsafe|could not find function|conflicts with rule|recursion detected"
    r"|expects \d+ arguments?\b|previous value is not|will be treated as identifier"
)
_NETWORK_FUNCTIONS = {
    "http.send",
    "net.lookup_ip_addr",
    "net.lookup_ip_addrs",
    "net.lookup_txt",
    "net.lookup_mx",
    "net.lookup_ns",
    "net.lookup_cname",
    "net.lookup_srv",
}
_NO_QUERY = "<query.rego>"
# sprintf verbs Regorus formats as OPA (Go's fmt) does; widths only for integers. Others print
# differently without an error (%f of 2 is "2", %t is "", %-5s drops its argument).
_FORMAT_VERB = re.compile(r"%(?P<flags>[-+# 0]*)(?P<width>\d*)(?P<precision>\.\d*)?(?P<verb>.)?")
_FAITHFUL_VERBS = set("vsdqxXbc%")
_WIDTH_VERBS = set("dxXb")


@dataclass(frozen=True, slots=True)
class TestResult:
    """One Rego unit test (``test_*`` rule; ``todo_test_*`` is skipped), as ``conftest verify``
    reports it."""

    package: str
    name: str
    path: str
    line: int
    passed: bool
    skipped: bool = False
    error: PolicyError | None = None


@dataclass(frozen=True, slots=True)
class _Job:
    query: str
    input_json: bytes


class RegorusEngine:
    """A ``PolicyEngine`` backed by Regorus in a worker process.

    Calls are serialised (one lock), so one instance may be shared by the App's threads; the
    worker owns the Regorus engine, so thread affinity never matters here. ``close()`` (or the
    context manager) ends the worker; a dropped instance ends it too.
    """

    def __init__(
        self,
        *,
        time_limit: float = DEFAULT_TIME_LIMIT,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        load_time_limit: float = DEFAULT_LOAD_TIME_LIMIT,
        max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    ) -> None:
        self.time_limit = time_limit
        self.max_result_bytes = max_result_bytes
        self.memory_limit = memory_limit
        self.load_time_limit = load_time_limit
        self.max_consecutive_failures = max_consecutive_failures
        self._lock = threading.Lock()
        self._worker: WorkerProcess | None = None
        self._finalizer: weakref.finalize[..., Any] | None = None
        self._load: tuple[dict[str, Any], bytes] | None = None
        self._broken: PolicyError | None = None  # the policy set cannot be evaluated at all
        # The loaded modules' versions and texts, for the hints in error messages.
        self._versions: dict[str, RegoVersion] = {}
        self._texts: dict[str, str] = {}

    # --- PolicyEngine ------------------------------------------------------------------------

    def compile(
        self, modules: Sequence[PolicyModule], data: Mapping[str, Any]
    ) -> tuple[list[RuleHead], list[PolicyError]]:
        with self._lock:
            return self._compile(modules, data)

    def evaluate(self, refs: Sequence[str], requests: Sequence[EvalRequest]) -> list[Evaluation]:
        for ref in refs:
            if not _REF.fullmatch(ref):
                raise ValueError(f"not a full rule path: {ref!r}")
        with self._lock:
            if self._load is None:
                raise RuntimeError("RegorusEngine.evaluate called before compile")
            if self._broken is not None:
                return [Evaluation({}, self._broken) for _ in requests]
            return self._evaluate(list(refs), requests)

    def close(self) -> None:
        with self._lock:
            self._stop_worker()

    def __enter__(self) -> RegorusEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- conftest verify ---------------------------------------------------------------------

    def run_tests(
        self, modules: Sequence[PolicyModule], data: Mapping[str, Any]
    ) -> tuple[list[TestResult], list[PolicyError]]:
        """Compile ``modules`` (test files included) and run every ``test_*`` rule, each by its
        full path, with the same limits as an input. Compile errors come back as the second
        element; tests are still run when the rest of the set loaded."""
        with self._lock:
            heads, errors = self._compile(modules, data)
            tests = _first_definitions(h for h in heads if _is_test(h.name))
            runnable = [h for h in tests if not h.name.startswith("todo_")]
            if self._broken is not None:
                outcomes: list[Reply | PolicyError] = [self._broken for _ in runnable]
            else:
                jobs = [_Job(_rule_ref(h.package, h.name), b"{}") for h in runnable]
                outcomes = self._run(jobs)
            by_head = dict(zip(runnable, outcomes, strict=True))
            return [_test_result(h, by_head.get(h)) for h in tests], errors

    # --- compiling ---------------------------------------------------------------------------

    def _compile(
        self, modules: Sequence[PolicyModule], data: Mapping[str, Any]
    ) -> tuple[list[RuleHead], list[PolicyError]]:
        self._stop_worker()
        self._load, self._broken = None, None
        v0 = any(m.rego_version is RegoVersion.V0 for m in modules)
        self._versions = {m.path: m.rego_version for m in modules}
        self._texts = {m.path: m.text for m in modules}
        try:
            data_json = json.dumps(data, separators=(",", ":"), default=str).encode()
        except ValueError as exc:
            return [], [PolicyError(f"policy data is not valid JSON: {exc}")]
        errors: list[PolicyError] = []
        loaded = {m.path: _as_loaded(m, v0_engine=v0) for m in modules}
        while True:
            found, dropped, reply = self._load_and_check(loaded, data_json, v0=v0)
            errors += found
            if reply is None:
                return [], _unique(errors)
            if not dropped:
                break
            for path in dropped:
                del loaded[path]
        ast: list[dict[str, Any]] = json.loads(reply.payload)
        heads = list(_rule_heads(ast))
        errors += self._lint(ast)
        return heads, _unique(errors)

    def _load_and_check(
        self, loaded: Mapping[str, str], data_json: bytes, *, v0: bool
    ) -> tuple[list[PolicyError], set[str], Reply | None]:
        """Load ``loaded`` into a fresh worker: the errors found, and the modules that must go
        because they did not parse, break every query, or crash or overrun a limit whatever
        the input. No reply when nothing can be evaluated (``self._broken``)."""
        self._load = _load_message(loaded, data_json, v0=v0)
        try:
            reply = self._start()
        except WorkerFailure as failure:
            self._broken = PolicyError(_failure_message(failure, self, "loading the policies"))
            return [self._broken], set(), None
        problems = reply.header["errors"]
        errors = [self._error(item["text"], item["path"] or None) for item in problems]
        dropped = {item["path"] for item in problems if item["path"] in loaded}
        if dropped:
            return errors, dropped, reply
        global_error = self._set_error()
        if global_error is not None:
            if global_error.path is None or global_error.path not in loaded:
                self._broken = global_error
                return [*errors, global_error], set(), None
            return [*errors, global_error], {global_error.path}, reply
        found, fatal = self._first_evaluation(list(_rule_heads(json.loads(reply.payload))))
        return [*errors, *found], fatal & set(loaded), reply

    def _set_error(self) -> PolicyError | None:
        """An error Regorus raises for every query (an unsafe variable, say): the module it
        names must go, or nothing can be evaluated."""
        (outcome,) = self._run([_Job("true", b"{}")])
        if isinstance(outcome, PolicyError):
            return outcome
        if outcome.header["ok"]:
            return None
        return self._error(outcome.header["error"])

    def _error(self, text: str, default_path: str | None = None) -> PolicyError:
        return _parse_error(text, default_path, self._versions, self._texts)

    def _lint(self, ast: list[dict[str, Any]]) -> list[PolicyError]:
        functions = {f"{m['package']}.{name}" for m in _modules(ast) for name in m["functions"]}
        errors: list[PolicyError] = []
        candidates: dict[str, list[PolicyError]] = {}
        for module in _modules(ast):
            for name, line, column in module["calls"]:
                resolved = _resolve_call(name, module, functions)
                where = (module["path"], line, column)
                if resolved == "user":
                    continue
                if resolved in _NETWORK_FUNCTIONS:
                    message = f"{resolved} is not available to policies (no network access)"
                    errors.append(PolicyError(message, *where))
                elif resolved.startswith("data."):
                    errors.append(PolicyError(f"unknown function {name} ({resolved})", *where))
                else:
                    message = f"unknown function {resolved}: not a Regorus built-in"
                    candidates.setdefault(resolved, []).append(PolicyError(message, *where))
            for text, line, column in module["formats"]:
                for verb, offset in _unfaithful_verbs(text):
                    message = (
                        f"sprintf format {verb} is not supported by the Regorus engine (its "
                        "output would differ from OPA's): use %v, %s, %d, %q or %x"
                    )
                    # The literal's span starts inside its quote: point at the verb itself.
                    where = (module["path"], line, column + offset)
                    errors.append(PolicyError(message, *where))
        if candidates:
            unknown = self._probe(sorted(candidates))
            errors += [error for name in unknown for error in candidates[name]]
        return sorted(errors, key=lambda e: (e.path or "", e.line or 0, e.column or 0))

    def _probe(self, names: list[str]) -> list[str]:
        try:
            worker = self._ensure_worker()
            reply = worker.request({"op": "probe", "names": names}, b"", self.load_time_limit)
        except WorkerFailure:
            self._stop_worker()
            return []
        return list(reply.header["unknown"])

    def _first_evaluation(self, heads: Sequence[RuleHead]) -> tuple[list[PolicyError], set[str]]:
        """Evaluate every rule once, by itself, with ``input = {}``: the compile-time errors
        Regorus only raises when it meets them (unsafe variables in a rule, arity, recursion),
        and the modules whose rules crash the engine or overrun a limit whatever the input."""
        first = {_rule_ref(h.package, h.name): h for h in reversed(heads) if not _is_test(h.name)}
        refs = sorted(first)
        errors: list[PolicyError] = []
        fatal: set[str] = set()
        for ref, outcome in zip(refs, self._run([_Job(ref, b"{}") for ref in refs]), strict=True):
            if isinstance(outcome, PolicyError):
                head = first[ref]
                errors.append(PolicyError(f"{ref}: {outcome.message}", head.path, head.line))
                fatal.add(head.path)
            elif not outcome.header["ok"]:
                error = self._error(outcome.header["error"])
                if _COMPILE_ERRORS.search(error.message):
                    errors.append(error)
        return errors, fatal

    # --- evaluating --------------------------------------------------------------------------

    def _evaluate(self, refs: list[str], requests: Sequence[EvalRequest]) -> list[Evaluation]:
        wrapper = _wrapper(refs)
        jobs: list[_Job | PolicyError] = []
        for request in requests:
            try:
                payload = json.dumps(
                    request.input, separators=(",", ":"), allow_nan=False, default=str
                ).encode()
            except ValueError as exc:
                jobs.append(PolicyError(f"the input is not valid JSON: {exc}"))
                continue
            query = wrapper
            if request.file is not None:
                query += f" with data.conftest.file as {json.dumps(dict(request.file))}"
            jobs.append(_Job(query, payload))
        runnable = [job for job in jobs if isinstance(job, _Job)]
        outcomes = iter(self._run(runnable))
        return [_evaluation(refs, next(outcomes) if isinstance(job, _Job) else job) for job in jobs]

    def _run(self, jobs: Sequence[_Job]) -> list[Reply | PolicyError]:
        """Every job on the worker, streamed; a job that overruns the time limit or kills the
        worker gets a PolicyError and the worker is restarted for the rest."""
        outcomes: list[Reply | PolicyError] = []
        failures = 0
        while len(outcomes) < len(jobs):
            try:
                worker = self._ensure_worker()
            except WorkerFailure as failure:
                error = PolicyError(_failure_message(failure, self, "starting the policy engine"))
                return outcomes + [error] * (len(jobs) - len(outcomes))
            pending = jobs[len(outcomes) :]
            writer = threading.Thread(target=_send_all, args=(worker, pending), daemon=True)
            writer.start()
            try:
                for _ in pending:
                    outcomes.append(worker.receive(self.time_limit))
                    failures = 0
            except WorkerFailure as failure:
                self._stop_worker()
                failures += 1
                error = PolicyError(_failure_message(failure, self, "evaluating this input"))
                outcomes.append(error)
                if failures >= self.max_consecutive_failures:
                    given_up = PolicyError(
                        f"not evaluated: the policy engine failed on {failures} inputs in a "
                        f"row (last: {error.message})"
                    )
                    outcomes += [given_up] * (len(jobs) - len(outcomes))
            finally:
                writer.join()
        return outcomes

    # --- the worker --------------------------------------------------------------------------

    def _ensure_worker(self) -> WorkerProcess:
        if self._worker is None:
            self._start()
        assert self._worker is not None
        return self._worker

    def _start(self) -> Reply:
        """Start a worker and load the current policy set into it (again, after a restart)."""
        self._stop_worker()
        assert self._load is not None
        cpu_limit = self.time_limit
        worker = WorkerProcess(self.memory_limit, cpu_limit, self.max_result_bytes)
        self._worker = worker
        self._finalizer = weakref.finalize(self, worker.close)
        try:
            return worker.request(*self._load, timeout=self.load_time_limit)
        except WorkerFailure:
            self._stop_worker()
            raise

    def _stop_worker(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # closes the worker, once
            self._finalizer = None
        self._worker = None


# --- helpers ---------------------------------------------------------------------------------


def _send_all(worker: WorkerProcess, jobs: Sequence[_Job]) -> None:
    """The writer side of a batch, in its own thread so that a large batch never deadlocks
    against a worker blocked on writing replies."""
    try:
        for job in jobs:
            worker.send({"op": "eval", "query": job.query}, job.input_json)
    except (OSError, ValueError):
        pass  # the worker was stopped; the reader reports why


def _load_message(
    modules: Mapping[str, str], data_json: bytes, *, v0: bool
) -> tuple[dict[str, Any], bytes]:
    header = {
        "op": "load",
        "v0": v0,
        "length_limits": {
            "max_col": MAX_LINE_LENGTH,
            "max_file_bytes": MAX_FILE_BYTES,
            "max_lines": MAX_LINES,
        },
        "modules": [{"path": path, "text": text} for path, text in modules.items()],
    }
    return header, data_json


def _as_loaded(module: PolicyModule, *, v0_engine: bool) -> str:
    """The module's text as the engine gets it: a v1 module in a v0 engine declares itself v1
    on its ``package`` line (unless it already imports rego.v1 or future keywords)."""
    if not v0_engine or module.rego_version is RegoVersion.V0:
        return module.text
    if _V1_IMPORT.search(module.text):
        return module.text
    match = _PACKAGE.match(module.text)
    if match is None:
        return module.text  # no package clause: Regorus reports it
    return f"{module.text[: match.end()]} import rego.v1{module.text[match.end() :]}"


def _wrapper(refs: Sequence[str]) -> str:
    return "[" + ", ".join(f"[__x | __x := {ref}]" for ref in refs) + "]"


def _evaluation(refs: Sequence[str], outcome: Reply | PolicyError) -> Evaluation:
    if isinstance(outcome, PolicyError):
        return Evaluation({}, outcome)
    prints = tuple(outcome.header.get("prints") or ())
    if not outcome.header["ok"]:
        return Evaluation({}, _parse_error(outcome.header["error"], None, {}, {}), prints)
    try:
        rows = json.loads(outcome.payload).get("result") or []
        columns = rows[0]["expressions"][0]["value"] if rows else None
        values = {ref: column[0] for ref, column in zip(refs, columns or (), strict=True) if column}
    except (ValueError, LookupError, TypeError, AttributeError):
        columns = None
    if columns is None:
        return Evaluation({}, PolicyError("the policy engine returned no result"), prints)
    return Evaluation(values, None, prints)


def _test_result(head: RuleHead, outcome: Reply | PolicyError | None) -> TestResult:
    where = (head.package, head.name, head.path, head.line)
    if outcome is None:
        return TestResult(*where, passed=False, skipped=True)
    if isinstance(outcome, PolicyError):
        return TestResult(*where, passed=False, error=outcome)
    if not outcome.header["ok"]:
        error = _parse_error(outcome.header["error"], head.path, {}, {})
        return TestResult(*where, passed=False, error=error)
    rows = json.loads(outcome.payload).get("result") or []
    # OPA's tester: a test fails when it is undefined or false.
    passed = bool(rows) and rows[0]["expressions"][0]["value"] is not False
    return TestResult(*where, passed=passed)


def _failure_message(failure: WorkerFailure, engine: RegorusEngine, doing: str) -> str:
    if failure.kind == "time":
        return f"policy evaluation exceeded the time limit of {engine.time_limit:g} s"
    if failure.kind == "result":
        mib = engine.max_result_bytes / (1 << 20)
        return f"the policy results exceed the size limit of {mib:g} MiB"
    if failure.kind == "memory":
        mib = engine.memory_limit / (1 << 20)
        return f"policy evaluation exceeded the memory limit of {mib:g} MiB"
    detail = f" ({failure.detail})" if failure.detail else ""
    return f"the policy engine crashed while {doing}{detail}"


def _parse_error(
    text: str,
    default_path: str | None,
    versions: Mapping[str, RegoVersion],
    texts: Mapping[str, str],
) -> PolicyError:
    """A PolicyError from Regorus' error text (``--> deny.rego:3:5`` ... ``error: ...``)."""
    text = text.split("Stack backtrace")[0]
    at = text.find("error: ")
    message = text[at + len("error: ") :].strip() if at >= 0 else " ".join(text.split())
    match = _LOCATION.search(text)
    if match is None:
        return PolicyError(message, default_path)
    path = match["path"]
    if path == _NO_QUERY:
        return PolicyError(message, default_path)
    version = versions.get(path)
    if version is RegoVersion.V1 and any(marker in message for marker in _V0_SYNTAX_ERRORS):
        message += " (this is Rego v0 syntax; set rego_version: v0 for this policy path)"
    elif version is RegoVersion.V0 and _looks_v1(texts.get(path, "")):
        message += " (this looks like Rego v1 syntax; set rego_version: v1 for this policy path)"
    return PolicyError(message, path, int(match["line"]), int(match["column"]))


def _looks_v1(text: str) -> bool:
    return bool(_V1_IN_V0.search(text)) and not _V1_IMPORT.search(text)


def _unique(errors: Sequence[PolicyError]) -> list[PolicyError]:
    return list(dict.fromkeys(errors))


def _is_test(name: str) -> bool:
    return name.startswith(("test_", "todo_test_"))


def _first_definitions(heads: Iterator[RuleHead] | Sequence[RuleHead]) -> list[RuleHead]:
    first: dict[tuple[str, str], RuleHead] = {}
    for head in heads:
        first.setdefault((head.package, head.name), head)
    return list(first.values())


def _rule_ref(package: str, name: str) -> str:
    parts = [*package.split("."), *name.split(".")]
    return "data" + "".join(
        f".{part}" if _IDENTIFIER.fullmatch(part) else f"[{json.dumps(part)}]" for part in parts
    )


# --- the AST ---------------------------------------------------------------------------------


def _ref_parts(node: Mapping[str, Any]) -> list[str] | None:
    """The static parts of a ref (``a.b["c"]``), or None when it has a variable part."""
    if "Var" in node:
        return [str(node["Var"]["value"])]
    if "RefDot" in node:
        base = _ref_parts(node["RefDot"]["refr"])
        return None if base is None else [*base, str(node["RefDot"]["field"][1])]
    if "RefBrack" in node:
        base = _ref_parts(node["RefBrack"]["refr"])
        index = node["RefBrack"]["index"]
        if base is None or "String" not in index:
            return None
        return [*base, str(index["String"]["value"])]
    return None


def _head_name(node: Mapping[str, Any]) -> str | None:
    """A rule's name: its ref up to the first variable part (``p[x]`` is ``p``)."""
    while True:
        parts = _ref_parts(node)
        if parts is not None:
            return ".".join(parts)
        if "RefBrack" in node:
            node = node["RefBrack"]["refr"]
        elif "RefDot" in node:
            node = node["RefDot"]["refr"]
        else:
            return None


def _rule_heads(ast: list[dict[str, Any]]) -> Iterator[RuleHead]:
    for module in _modules(ast):
        for name, line in module["rules"]:
            yield RuleHead(module["package"], name, module["path"], line)


def _modules(ast: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each module's facts the engine needs: path, package, rules (name, line; functions
    apart), function names, import aliases and calls (name, line, column)."""
    for item in ast:
        source = item["source"]
        module = item["ast"]
        package = ".".join(_ref_parts(module["package"]["refr"]) or [])
        if package.startswith("data."):
            package = package[len("data.") :]
        rules: list[tuple[str, int]] = []
        functions: list[str] = []
        for rule in module["rules"]:
            kind, body = next(iter(rule.items()))
            if kind == "Spec":
                head_kind, head = next(iter(body["head"].items()))
                name = _head_name(head["refr"])
                if name is None:
                    continue
                if head_kind == "Func":
                    functions.append(name)
                else:
                    rules.append((name, head["span"]["line"]))
            elif kind == "Default":
                name = _head_name(body["refr"])
                if name is not None and body.get("args"):
                    functions.append(name)
                elif name is not None:
                    rules.append((name, body["span"]["line"]))
        yield {
            "path": source["file"],
            "package": package,
            "rules": rules,
            "functions": functions,
            "imports": dict(_imports(module, source["contents"])),
            "calls": list(_calls(module["rules"])),
            "formats": list(_sprintf_formats(module["rules"])),
        }


def _imports(module: Mapping[str, Any], contents: str) -> Iterator[tuple[str, str]]:
    """alias -> imported path, for ``import data.x.y [as z]``."""
    raw = contents.encode()
    for item in module.get("imports") or []:
        parts = _ref_parts(item["refr"])
        if not parts or parts[0] != "data":
            continue
        alias = item.get("as")
        name = raw[alias["start"] : alias["end"]].decode() if alias else parts[-1]
        yield name, ".".join(parts)


def _calls(node: Any) -> Iterator[tuple[str, int, int]]:
    if isinstance(node, dict):
        call = node.get("Call")
        if isinstance(call, dict) and "fcn" in call:
            parts = _ref_parts(call["fcn"])
            if parts is not None:
                span = _leftmost(call["fcn"])["span"]
                yield ".".join(parts), span["line"], span["col"]
        for value in node.values():
            yield from _calls(value)
    elif isinstance(node, list):
        for value in node:
            yield from _calls(value)


def _sprintf_formats(node: Any) -> Iterator[tuple[str, int, int]]:
    """The literal format strings of ``sprintf`` calls, with their locations."""
    if isinstance(node, dict):
        call = node.get("Call")
        if isinstance(call, dict) and _ref_parts(call.get("fcn", {})) == ["sprintf"]:
            params = call.get("params") or []
            if params and "String" in params[0]:
                literal = params[0]["String"]
                yield str(literal["value"]), literal["span"]["line"], literal["span"]["col"]
        for value in node.values():
            yield from _sprintf_formats(value)
    elif isinstance(node, list):
        for value in node:
            yield from _sprintf_formats(value)


def _unfaithful_verbs(text: str) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for match in _FORMAT_VERB.finditer(text):
        verb = match["verb"] or ""
        flags, width, precision = match["flags"], match["width"], match["precision"]
        faithful = verb in _FAITHFUL_VERBS and not precision
        if flags.strip("0") or ((flags or width) and verb not in _WIDTH_VERBS):
            faithful = False
        if not faithful:
            found.append((match[0], match.start()))
    return found


def _leftmost(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """The first variable of a ref, whose span starts where the ref does."""
    kind, body = next(iter(node.items()))
    if kind in ("RefDot", "RefBrack"):
        return _leftmost(body["refr"])
    return dict(body)


def _resolve_call(name: str, module: Mapping[str, Any], functions: set[str]) -> str:
    """ "user" for a function the policies define, else the name to look up: a builtin, or a
    ``data.`` path that names no function."""
    first, _, rest = name.partition(".")
    if first == "data":
        full = name
    elif first in module["imports"]:
        full = module["imports"][first] + (f".{rest}" if rest else "")
    elif not rest and f"{module['package']}.{name}" in functions:
        return "user"
    else:
        return name
    if full.removeprefix("data.") in functions:
        return "user"
    return full
