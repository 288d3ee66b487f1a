"""Rego evaluation on a running OPA server (``policies.engine: opa-server``), through
opa-python-client's ``AsyncOpaClient`` and OPA's REST API.

OPA has one global ``data`` tree and nearly every conftest policy is ``package main``, so a
run's policies are loaded under a package prefix of their own,
``gitops_gate.r<sha256(repository)[:12]>.s<random>``. The repository part groups a
repository's modules for whoever operates the server; the run part keeps two runs of the same
repository (two pull requests checked at once) apart: with a shared prefix, one run's upload
would change the other's policies mid-run and its ``close()`` would leave the other evaluating
nothing, which reads as a pass.

Modules are rewritten on the token level (comments, strings and raw strings are never
touched): ``package main`` becomes ``package <prefix>.main`` and every ``data.<name>``
reference (imports, ``with`` targets, data documents) becomes ``data.<prefix>.<name>``, so a
policy sees its own policy set and data and nothing else, as under conftest. A reference to
the whole ``data`` document is refused, since it would read other repositories' trees. The
rewrite only inserts text, never a newline, so the server's line numbers are the file's, and
columns are mapped back. The caller's refs (``data.main.deny``) are mapped the same way.

Rego versions follow the local engine's rule, without rewriting: a module is parsed as the
version it is declared in, or refused. OPA's Policy API has no per-module version switch
(the documented mechanisms are server-wide: OPA 1.x parses v1, ``opa run --v0-compatible``
and OPA 0.x parse v0), so ``server_rego_version`` states what the server parses: on a v1
server a v0 module is refused; on a v0 server a v1 module must ``import rego.v1`` (which
makes OPA read it as v1) or is refused. Uploads pass ``rego_compat=False``: the client would
otherwise silently retry a rejected v0 module through a regex rewrite.

Evaluation is batched: one ``POST /v1/query`` per batch (capped by body size) with, per input,
``rI := [[x | x := <ref>], ...] with input as <doc> with data.<prefix>.conftest.file as {...}``,
always defined, where an empty inner array means the ref is undefined. A batch that fails to
evaluate (a conflict, a type error) is retried input by input, so the error lands on the input
that caused it. An unreachable server, a timeout, a 5xx or a rejected token is a PolicyError
for every request, never a pass; after the first such failure the rest of the run fails fast
instead of waiting for one timeout per batch.

The engine owns one event loop on a thread of its own, so it works from any synchronous
caller (the CLI, a worker thread of the App); the client's aiohttp session lives on that loop.
``print()`` output is not returned (OPA writes it to its own log), so ``prints`` stays empty.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import threading
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

import aiohttp
from opa_client.errors import RegoParseError
from opa_client.opa_async import AsyncOpaClient

from bot.engines.policy_engine import (
    EvalRequest,
    Evaluation,
    PolicyError,
    PolicyModule,
    RegoVersion,
    RuleHead,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

ROOT_PACKAGE = "gitops_gate"
DEFAULT_TIMEOUT = 30.0  # the client's default of 1.5 s is too short for a cold server
DEFAULT_MAX_BATCH_BYTES = 1 << 20
DEFAULT_MAX_BATCH_INPUTS = 200
DEFAULT_CONCURRENCY = 4
_AUTH_STATUSES = frozenset({401, 403})
_EVALUATION_FAILED = "error(s) occurred while evaluating query"


def repository_namespace(repository: str) -> str:
    """The package under which a repository's runs load their policies (for operators)."""
    digest = hashlib.sha256(repository.encode("utf-8")).hexdigest()[:12]
    return f"{ROOT_PACKAGE}.r{digest}"


# --- Rego on the token level ------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      |(?P<comment>\#[^\n]*)
      |(?P<string>"(?:[^"\\\n]|\\.)*")
      |(?P<raw>`[^`]*`)
      |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<number>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)
      |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_OPENING = frozenset("([{")
_CLOSING = frozenset(")]}")
# Words that start a line inside a statement rather than a new rule.
_NOT_RULE_START = frozenset(
    {"package", "import", "else", "if", "contains", "with", "as", "not", "some", "every", "in"}
)
# A caller's ref: data.a.b or data.a["b-c"].d
_REF = re.compile(r'data((?:\.[A-Za-z_][A-Za-z0-9_]*|\["(?:[^"\\]|\\.)*"\])+)')


class _Token(NamedTuple):
    kind: str
    text: str
    start: int
    line: int
    column: int


def _tokens(text: str) -> list[_Token]:
    """The significant tokens of a Rego module (whitespace and comments dropped)."""
    out: list[_Token] = []
    line, line_start = 1, 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        start = match.start()
        if kind not in ("space", "comment"):
            out.append(_Token(kind, match.group(), start, line, start - line_start + 1))
        newlines = match.group().count("\n")
        if newlines:
            line += newlines
            line_start = match.start() + match.group().rindex("\n") + 1
    return out


@dataclass(frozen=True, slots=True)
class _RuleStart:
    name: str
    line: int


@dataclass
class _Namespaced:
    """A module rewritten under the run's prefix, and what is needed to map answers back."""

    text: str
    package: str | None
    imports_rego_v1: bool
    insertions: dict[int, list[tuple[int, int]]]  # line -> [(original column, length)]
    rule_starts: list[_RuleStart]
    problems: list[PolicyError] = field(default_factory=list)

    def original_column(self, line: int, column: int) -> int:
        shift = 0
        for at, length in self.insertions.get(line, ()):
            begins = at + shift
            if column < begins:
                break
            if column < begins + length:
                return at  # inside the inserted prefix: point at the name it precedes
            shift += length
        return column - shift


def _namespace_module(module: PolicyModule, prefix: str) -> _Namespaced:
    tokens = _tokens(module.text)
    inserts: list[_Token] = []  # the prefix goes in front of each of these tokens
    problems: list[PolicyError] = []
    package: str | None = None
    imports_rego_v1 = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        follows_dot = i > 0 and tokens[i - 1].text == "."
        if token.kind != "name" or follows_dot:
            i += 1
            continue
        if token.text == "package" and package is None and i + 1 < len(tokens):
            end, segments = _ref_segments(tokens, i + 1)
            if segments:
                inserts.append(tokens[i + 1])
                package = ".".join(segments)
                i = end
                continue
        elif token.text == "import" and _texts(tokens, i + 1, 3) == ["rego", ".", "v1"]:
            imports_rego_v1 = True
        elif token.text == "data":
            if _texts(tokens, i + 1, 1) == ["."] and i + 2 < len(tokens):
                if tokens[i + 2].kind == "name":
                    inserts.append(tokens[i + 2])
            else:
                problems.append(
                    PolicyError(
                        "refers to the whole `data` document, which the remote OPA engine "
                        "does not allow (on a shared server it holds other repositories' "
                        "policies); refer to `data.<name>` instead",
                        module.path,
                        token.line,
                        token.column,
                    )
                )
        i += 1
    text, insertions = _insert(module.text, inserts, f"{prefix}.")
    return _Namespaced(
        text=text,
        package=package,
        imports_rego_v1=imports_rego_v1,
        insertions=insertions,
        rule_starts=_rule_starts(tokens),
        problems=problems,
    )


def _texts(tokens: Sequence[_Token], start: int, count: int) -> list[str]:
    return [t.text for t in tokens[start : start + count]]


def _ref_segments(tokens: Sequence[_Token], start: int) -> tuple[int, list[str]]:
    """A package path from ``start``: ``a.b`` or ``a["b-c"]``; (index after it, segments)."""
    if tokens[start].kind != "name":
        return start, []
    segments = [tokens[start].text]
    i = start + 1
    while i + 1 < len(tokens):
        if tokens[i].text == "." and tokens[i + 1].kind == "name":
            segments.append(tokens[i + 1].text)
            i += 2
        elif (
            tokens[i].text == "["
            and tokens[i + 1].kind == "string"
            and _texts(tokens, i + 2, 1) == ["]"]
        ):
            segments.append(str(json.loads(tokens[i + 1].text)))
            i += 3
        else:
            break
    return i, segments


def _insert(
    text: str, before: Sequence[_Token], prefix: str
) -> tuple[str, dict[int, list[tuple[int, int]]]]:
    parts: list[str] = []
    insertions: dict[int, list[tuple[int, int]]] = {}
    last = 0
    for token in sorted(before, key=lambda t: t.start):
        parts.append(text[last : token.start])
        parts.append(prefix)
        insertions.setdefault(token.line, []).append((token.column, len(prefix)))
        last = token.start
    parts.append(text[last:])
    return "".join(parts), insertions


def _rule_starts(tokens: Sequence[_Token]) -> list[_RuleStart]:
    """Where rules begin: a name opening a line outside any bracket (``default x`` counts as
    ``x``). OPA's AST carries no locations by default, so rule lines come from here, matched
    in order to the AST's rules by name."""
    starts: list[_RuleStart] = []
    depth = 0
    previous_line = 0
    for i, token in enumerate(tokens):
        first_on_line = token.line != previous_line
        previous_line = token.line
        if token.kind == "other":
            if token.text in _OPENING:
                depth += 1
            elif token.text in _CLOSING:
                depth = max(0, depth - 1)
            continue
        if depth or not first_on_line or token.kind != "name":
            continue
        if token.text in _NOT_RULE_START:
            continue
        if token.text == "default":
            if i + 1 < len(tokens) and tokens[i + 1].kind == "name":
                starts.append(_RuleStart(tokens[i + 1].text, token.line))
            continue
        starts.append(_RuleStart(token.text, token.line))
    return starts


# --- the client and its loop ------------------------------------------------------------


class _Client(AsyncOpaClient):  # type: ignore[misc]  # opa-python-client has no type hints
    async def query(self, query: str) -> tuple[int, Any]:
        """``POST /v1/query`` keeping the error body, which ``ad_hoc_query`` drops (it calls
        raise_for_status first): OPA's evaluation errors name the policy file and line. Goes
        through the client's own request path (session, token, timeout, retries)."""
        async with self._request("POST", f"{self.root_url}/query", json={"query": query}) as r:
            return int(r.status), await _body(r)


async def _body(response: aiohttp.ClientResponse) -> Any:
    text = await response.text()
    try:
        return json.loads(text)
    except ValueError:
        return text


class _LoopThread:
    """An event loop on a thread of its own: synchronous callers on any thread can run the
    client's coroutines on it, and the aiohttp session stays on the loop that created it."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="opa-server-client", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("OpaServerEngine called from its own event loop thread")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()


class _Unavailable(Exception):
    """The server cannot serve this run: unreachable, failing, or refusing the token."""

    def __init__(self, error: PolicyError) -> None:
        super().__init__(error.message)
        self.error = error


class _EvaluationFailed(Exception):
    """The server answered, but this query did not evaluate (a conflict, a type error)."""

    def __init__(self, error: PolicyError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True, slots=True)
class _Upload:
    policy_id: str
    module: PolicyModule
    namespaced: _Namespaced


# --- the engine -------------------------------------------------------------------------


class OpaServerEngine:
    """``PolicyEngine`` on a remote OPA server. One instance per run: ``compile`` uploads the
    run's modules and data under its own prefix, ``evaluate`` queries them, ``close`` deletes
    them (best effort) and closes the client."""

    def __init__(
        self,
        url: str,
        token: str | None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        repository: str,
        server_rego_version: RegoVersion = RegoVersion.V1,
        retries: int = 2,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        max_batch_inputs: int = DEFAULT_MAX_BATCH_INPUTS,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._token = token or None
        self._timeout = timeout
        self._retries = retries
        self._server_rego_version = server_rego_version
        self._max_batch_bytes = max_batch_bytes
        self._max_batch_inputs = max(1, max_batch_inputs)
        self._concurrency = max(1, concurrency)
        self.namespace = f"{repository_namespace(repository)}.s{secrets.token_hex(4)}"
        self._display_url, self._address, url_problem = _parse_url(url)
        # A bad URL is reported by compile and evaluate like any other failure, never raised
        # from here, so a configuration mistake cannot turn into a skipped check.
        self._outage: PolicyError | None = (
            PolicyError(f"OPA server URL {url_problem}") if url_problem else None
        )
        self._lock = threading.Lock()  # compile and close
        self._loop_lock = threading.Lock()
        self._loop: _LoopThread | None = None
        self._client: _Client | None = None
        self._uploaded: list[_Upload] = []
        self._data_uploaded = False
        self._compiled = False
        self._closed = False

    # -- PolicyEngine --

    def compile(
        self, modules: Sequence[PolicyModule], data: Mapping[str, Any]
    ) -> tuple[list[RuleHead], list[PolicyError]]:
        with self._lock:
            if self._closed:
                return [], [PolicyError("the OPA server engine is closed")]
            if self._outage is not None:
                return [], [self._outage]
            if self._compiled:  # a second compile replaces the first policy set
                try:
                    self._run(self._delete_uploads())
                except Exception as exc:
                    log.warning("OPA server clean-up failed: %s", self._scrub(str(exc)))
                self.namespace = f"{self.namespace.rsplit('.', 1)[0]}.s{secrets.token_hex(4)}"
            self._compiled = True
            uploads, errors = self._prepare(modules)
            try:
                _rego_json(dict(data))
            except (TypeError, ValueError) as exc:
                return [], [*errors, PolicyError(f"the data cannot be sent to OPA as JSON: {exc}")]
            try:
                heads, upload_errors = self._run(self._compile(uploads, data))
            except _Unavailable as exc:
                self._outage = exc.error
                return [], [*errors, exc.error]
            return heads, errors + upload_errors

    def evaluate(self, refs: Sequence[str], requests: Sequence[EvalRequest]) -> list[Evaluation]:
        if not requests:
            return []
        failure = self._failure()
        if failure is not None:
            return [Evaluation({}, failure) for _ in requests]
        server_refs: list[str] = []
        for ref in dict.fromkeys(refs):
            server_ref = self._server_ref(ref)
            if server_ref is None:
                error = PolicyError(f"not a rule reference the engine can query: {ref!r}")
                return [Evaluation({}, error) for _ in requests]
            server_refs.append(server_ref)
        if not server_refs:
            return [Evaluation({}) for _ in requests]
        return self._run(self._evaluate(list(dict.fromkeys(refs)), server_refs, requests))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with self._loop_lock:
                loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            loop.run(self._shutdown())
        except Exception as exc:  # best effort: the run's answers are already in
            log.warning("OPA server clean-up failed: %s", self._scrub(str(exc)))
        finally:
            loop.stop()

    def __enter__(self) -> OpaServerEngine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- preparation --

    def _failure(self) -> PolicyError | None:
        if self._closed:
            return PolicyError("the OPA server engine is closed")
        if self._outage is not None:
            return self._outage
        if not self._compiled:
            return PolicyError("the OPA server engine evaluated before compiling any policy")
        return None

    def _prepare(self, modules: Sequence[PolicyModule]) -> tuple[list[_Upload], list[PolicyError]]:
        uploads: list[_Upload] = []
        errors: list[PolicyError] = []
        base = self.namespace.replace(".", "/")
        for index, module in enumerate(modules):
            namespaced = _namespace_module(module, self.namespace)
            problem = self._version_problem(module, namespaced)
            if problem is not None:
                errors.append(problem)
                continue
            if namespaced.problems:
                errors.extend(namespaced.problems)
                continue
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", module.path.rsplit("/", 1)[-1])
            uploads.append(_Upload(f"{base}/m{index}-{name}", module, namespaced))
        return uploads, errors

    def _version_problem(self, module: PolicyModule, namespaced: _Namespaced) -> PolicyError | None:
        server = self._server_rego_version
        if module.rego_version == server:
            return None
        if module.rego_version is RegoVersion.V0:
            return PolicyError(
                "Rego v0 policies are not supported by the remote OPA engine: OPA 1.x parses "
                "every module uploaded through its REST API as v1 (only a server-wide "
                "`opa run --v0-compatible` parses v0; set the server's Rego version to v0 "
                "for such a server), and the policy is never rewritten behind your back; "
                "migrate it with `opa fmt --v0-v1` or use the local engine",
                module.path,
                1,
            )
        if namespaced.imports_rego_v1:
            return None  # `import rego.v1` makes a v0 server read the module as v1
        return PolicyError(
            "this Rego v1 policy lacks `import rego.v1`, which the configured OPA server "
            "(Rego v0: OPA 0.x or `--v0-compatible`) needs to read it as v1; add the import",
            module.path,
            1,
        )

    def _server_ref(self, ref: str) -> str | None:
        match = _REF.fullmatch(ref)
        if match is None:
            return None
        return f"data.{self.namespace}{match.group(1)}"

    # -- the loop --

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        with self._loop_lock:
            if self._loop is None:
                self._loop = _LoopThread()
            loop = self._loop
        return loop.run(coroutine)

    async def _session(self) -> _Client:
        if self._client is None:
            host, port, ssl = self._address
            client = _Client(
                host=f"[{host}]" if ":" in host else host,
                port=port,
                ssl=ssl,
                token=self._token,
                retries=self._retries,
                timeout=self._timeout,
            )
            await client.__aenter__()
            self._client = client
        return self._client

    # -- compile --

    async def _compile(
        self, uploads: Sequence[_Upload], data: Mapping[str, Any]
    ) -> tuple[list[RuleHead], list[PolicyError]]:
        client = await self._session()
        if data:
            # Data goes in first: OPA refuses a data write under a path its rules own.
            await self._call(client.update_or_create_data(dict(data), self._data_path()))
            self._data_uploaded = True
        failed = await self._upload(client, uploads)
        errors: list[PolicyError] = []
        for upload, exc in failed:
            errors.extend(self._compile_errors(upload, exc))
        heads = await self._rule_heads(client)
        return heads, errors

    async def _upload(
        self, client: _Client, uploads: Sequence[_Upload]
    ) -> list[tuple[_Upload, Any]]:
        """PUT every module. OPA compiles on each PUT, so a module calling a function of one
        not uploaded yet is rejected ("undefined function"): rejected modules are retried
        after the others until a round makes no progress."""
        pending = list(uploads)
        while True:
            failed: list[tuple[_Upload, Any]] = []
            for upload in pending:
                try:
                    await self._call(
                        client.update_policy_from_string(
                            upload.namespaced.text, upload.policy_id, rego_compat=False
                        ),
                        rejections=True,
                    )
                except RegoParseError as exc:
                    failed.append((upload, exc))
                else:
                    self._uploaded.append(upload)
            if not failed or len(failed) == len(pending):
                return failed
            pending = [upload for upload, _ in failed]

    def _compile_errors(self, upload: _Upload, exc: Any) -> list[PolicyError]:
        by_id = {u.policy_id: u for u in [*self._uploaded, upload]}
        errors: list[PolicyError] = []
        for item in exc.errors or []:
            if not isinstance(item, Mapping):
                continue
            location = item.get("location") or {}
            owner = by_id.get(str(location.get("file", "")), upload)
            line = _int(location.get("row"))
            column = _int(location.get("col"))
            if line is not None and column is not None:
                column = owner.namespaced.original_column(line, column)
            message = self._clean(f"{item.get('code', 'error')}: {item.get('message', '')}")
            errors.append(PolicyError(message, owner.module.path, line, column))
        if not errors:
            message = self._clean(f"{exc.expression}: {exc.message}")
            errors.append(PolicyError(message, upload.module.path))
        return errors

    async def _rule_heads(self, client: _Client) -> list[RuleHead]:
        answers = await asyncio.gather(
            *(self._call(client.get_policy(u.policy_id)) for u in self._uploaded)
        )
        heads: list[RuleHead] = []
        for upload, answer in zip(self._uploaded, answers, strict=True):
            result = answer.get("result") if isinstance(answer, Mapping) else None
            ast = result.get("ast") if isinstance(result, Mapping) else None
            if not isinstance(ast, Mapping):
                raise _Unavailable(self._error(f"no AST for policy {upload.policy_id}"))
            heads.extend(self._heads_of(upload, ast))
        return heads

    def _heads_of(self, upload: _Upload, ast: Mapping[str, Any]) -> list[RuleHead]:
        package = self._package_of(ast) or upload.namespaced.package or ""
        starts = upload.namespaced.rule_starts
        cursor = 0
        heads: list[RuleHead] = []
        for rule in ast.get("rules") or []:
            head = rule.get("head") or {}
            name, first = _head_name(head)
            line = _int((rule.get("location") or {}).get("row"))
            if line is None:
                found = next(
                    (k for k in range(cursor, len(starts)) if starts[k].name == first), None
                )
                if found is not None:
                    line, cursor = starts[found].line, found + 1
            heads.append(RuleHead(package, name, upload.module.path, line or 1))
        return heads

    def _package_of(self, ast: Mapping[str, Any]) -> str | None:
        terms = (ast.get("package") or {}).get("path") or []
        segments = [str(t.get("value")) for t in terms[1:] if isinstance(t, Mapping)]
        ours = self.namespace.split(".")
        if segments[: len(ours)] != ours:
            return None
        return ".".join(segments[len(ours) :])

    # -- evaluate --

    async def _evaluate(
        self, refs: Sequence[str], server_refs: Sequence[str], requests: Sequence[EvalRequest]
    ) -> list[Evaluation]:
        out: list[Evaluation | None] = [None] * len(requests)
        terms: list[str | None] = []
        for i, request in enumerate(requests):
            term = self._term(server_refs, request)
            if isinstance(term, PolicyError):
                out[i] = Evaluation({}, term)
                terms.append(None)
            else:
                terms.append(term)
        batches = self._batches(terms)
        limit = asyncio.Semaphore(self._concurrency)

        async def run(batch: list[int]) -> None:
            async with limit:
                answers = await self._query(refs, [terms[i] or "" for i in batch])
            if isinstance(answers, _EvaluationFailed) and len(batch) > 1:
                await asyncio.gather(*(run([i]) for i in batch))  # find the input at fault
                return
            for k, i in enumerate(batch):
                if isinstance(answers, PolicyError):
                    out[i] = Evaluation({}, answers)
                elif isinstance(answers, _EvaluationFailed):
                    out[i] = Evaluation({}, answers.error)
                else:
                    out[i] = Evaluation(answers[k])

        await asyncio.gather(*(run(batch) for batch in batches))
        return [e if e is not None else Evaluation({}, self._error("no answer")) for e in out]

    def _term(self, server_refs: Sequence[str], request: EvalRequest) -> str | PolicyError:
        try:
            document = _rego_json(request.input)
            file = None if request.file is None else _rego_json(dict(request.file))
        except (TypeError, ValueError) as exc:
            return PolicyError(f"the input cannot be sent to OPA as JSON: {exc}")
        values = ", ".join(f"[x | x := {ref}]" for ref in server_refs)
        term = f"[{values}] with input as {document}"
        if file is not None:
            term += f" with data.{self.namespace}.conftest.file as {file}"
        return term

    def _batches(self, terms: Sequence[str | None]) -> list[list[int]]:
        batches: list[list[int]] = []
        current: list[int] = []
        size = 0
        for i, term in enumerate(terms):
            if term is None:
                continue
            cost = len(term.encode("utf-8", "replace")) + 16
            full = len(current) >= self._max_batch_inputs or size + cost > self._max_batch_bytes
            if current and full:
                batches.append(current)
                current, size = [], 0
            current.append(i)
            size += cost
        if current:
            batches.append(current)
        return batches

    async def _query(
        self, refs: Sequence[str], terms: Sequence[str]
    ) -> list[dict[str, Any]] | PolicyError | _EvaluationFailed:
        """The values of ``refs`` for each term, or why not: a PolicyError for the whole
        batch (the server is unavailable) or an _EvaluationFailed to narrow down."""
        if self._outage is not None:
            return self._outage
        # One statement per line: OPA reads newline-separated expressions like `;` ones.
        query = "\n".join(f"r{k} := {term}" for k, term in enumerate(terms))
        try:
            client = await self._session()
            status, body = await self._call(client.query(query))
            return self._answers(refs, len(terms), status, body)
        except _Unavailable as exc:
            self._outage = self._outage or exc.error
            return self._outage
        except _EvaluationFailed as exc:
            return exc

    def _answers(
        self, refs: Sequence[str], count: int, status: int, body: Any
    ) -> list[dict[str, Any]]:
        if status == 200:
            rows = body.get("result") if isinstance(body, Mapping) else None
            if not rows or not isinstance(rows[0], Mapping):
                raise _EvaluationFailed(self._error("the query was undefined on the server"))
            return [_values(refs, rows[0].get(f"r{k}")) for k in range(count)]
        code, message, details = _error_parts(body)
        if status in _AUTH_STATUSES:
            raise _Unavailable(self._auth_error(status, code, message))
        evaluation = status == 400 or (status == 500 and (details or message == _EVALUATION_FAILED))
        if not evaluation:
            raise _Unavailable(self._unreachable(f"HTTP {status} {code}: {message}".strip()))
        raise _EvaluationFailed(self._evaluation_error(code, message, details))

    def _evaluation_error(
        self, code: str, message: str, details: Sequence[Mapping[str, Any]]
    ) -> PolicyError:
        by_id = {u.policy_id: u for u in self._uploaded}
        for item in details:
            location = item.get("location") or {}
            owner = by_id.get(str(location.get("file", "")))
            text = self._clean(f"{item.get('code', code)}: {item.get('message', message)}")
            if owner is None:
                return PolicyError(text)
            line = _int(location.get("row"))
            column = _int(location.get("col"))
            if line is not None and column is not None:
                column = owner.namespaced.original_column(line, column)
            return PolicyError(text, owner.module.path, line, column)
        return PolicyError(self._clean(f"{code}: {message}"))

    # -- clean-up --

    async def _shutdown(self) -> None:
        try:
            await self._delete_uploads()
        finally:
            if self._client is not None:
                await self._client.close_connection()
                self._client = None

    async def _delete_uploads(self) -> None:
        """Delete modules newest first (OPA refuses to delete a module others still use),
        retrying refusals until a round makes no progress, then the data document."""
        if self._client is None:
            return
        client = self._client
        pending = list(reversed(self._uploaded))
        self._uploaded = []
        while pending:
            kept: list[_Upload] = []
            for upload in pending:
                try:
                    await client.delete_policy(upload.policy_id)
                except Exception as exc:
                    if isinstance(exc, aiohttp.ClientError | TimeoutError):
                        raise
                    kept.append(upload)
            if len(kept) == len(pending):
                names = ", ".join(u.policy_id for u in kept)
                log.warning("OPA server kept policies it refused to delete: %s", names)
                break
            pending = kept
        if self._data_uploaded:
            self._data_uploaded = False
            await client.delete_data(self._data_path())

    # -- errors --

    async def _call(self, awaitable: Coroutine[Any, Any, T], *, rejections: bool = False) -> T:
        """Await one client call, turning transport failures, auth refusals and server
        errors into _Unavailable; with ``rejections``, a 400 stays a RegoParseError."""
        try:
            return await awaitable
        except RegoParseError as exc:
            code = str(exc.expression or "")
            if code == "unauthorized":
                raise _Unavailable(self._auth_error(401, code, str(exc.message))) from None
            if rejections and (exc.errors or code == "invalid_parameter"):
                raise
            if code == "internal_error":
                raise _Unavailable(self._unreachable(f"{code}: {exc.message}")) from None
            raise _Unavailable(self._error(f"refused the request: {code}: {exc.message}")) from None
        except TimeoutError:
            raise _Unavailable(self._unreachable(f"no answer within {self._timeout:g} s")) from None
        except aiohttp.ClientResponseError as exc:
            if exc.status in _AUTH_STATUSES:
                raise _Unavailable(self._auth_error(exc.status, "", exc.message)) from None
            raise _Unavailable(self._unreachable(f"HTTP {exc.status} {exc.message}")) from None
        except aiohttp.ClientError as exc:
            raise _Unavailable(self._unreachable(str(exc) or type(exc).__name__)) from None
        except (_Unavailable, _EvaluationFailed):
            raise
        except Exception as exc:  # the client's own errors (PolicyNotFoundError, ...)
            detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            raise _Unavailable(self._error(f"failed: {detail}")) from None

    def _unreachable(self, reason: str) -> PolicyError:
        return self._error(f"unreachable: {reason}")

    def _auth_error(self, status: int, code: str, message: str) -> PolicyError:
        detail = f"{code}: {message}" if code else message
        return self._error(
            f"refused the request: authentication failed (HTTP {status} {detail}); "
            "check the configured token"
        )

    def _error(self, text: str) -> PolicyError:
        return PolicyError(self._scrub(f"OPA server at {self._display_url} {text}"))

    def _clean(self, text: str) -> str:
        """A server message as the user wrote the policy: without the run's prefix."""
        text = text.replace(f"{self.namespace}.", "")
        for upload in self._uploaded:
            text = text.replace(upload.policy_id, upload.module.path)
        return self._scrub(text)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _data_path(self) -> str:
        return self.namespace.replace(".", "/")


# --- helpers ----------------------------------------------------------------------------


def _parse_url(url: str) -> tuple[str, tuple[str, int, bool], str | None]:
    """(URL for messages, (host, port, https), problem). The client takes host and port and
    has no path prefix, so a URL with a path (OPA behind a sub-path proxy) cannot work."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        return url, ("", 0, False), f"{url!r} is invalid: {exc}"
    host = parts.hostname or ""
    shown_host = f"[{host}]" if ":" in host else host
    shown = f"{parts.scheme}://{shown_host}" + (f":{port}" if port else "")
    if parts.scheme not in ("http", "https") or not host:
        return url, ("", 0, False), f"{url!r} is not an http(s)://host[:port] URL"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return shown, ("", 0, False), f"{shown}: a path, query or fragment is not supported"
    https = parts.scheme == "https"
    return shown, (host, port or (443 if https else 80), https), None


def _rego_json(value: Any) -> str:
    """A JSON document as a Rego term (JSON is Rego syntax); NaN and infinities have no
    JSON form and are refused rather than sent as an invalid query."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _values(refs: Sequence[str], row: Any) -> dict[str, Any]:
    if not isinstance(row, list) or len(row) != len(refs):
        raise _EvaluationFailed(PolicyError("the OPA server returned an unexpected answer"))
    values: dict[str, Any] = {}
    for ref, found in zip(refs, row, strict=True):
        if isinstance(found, list) and found:
            values[ref] = found[0]
    return values


def _error_parts(body: Any) -> tuple[str, str, list[Mapping[str, Any]]]:
    if not isinstance(body, Mapping):
        return "", str(body)[:200], []
    details = [e for e in body.get("errors") or [] if isinstance(e, Mapping)]
    return str(body.get("code", "")), str(body.get("message", "")), details


def _head_name(head: Mapping[str, Any]) -> tuple[str, str]:
    """(name, first segment) of a rule head from OPA's AST, named as the local engine names
    it: the ref up to its first variable part, dotted (``deny``, ``p.q``; ``obj[k]`` is
    ``obj``). A ref head such as ``p.q`` matches none of conftest's rule names, as in conftest."""
    parts: list[str] = []
    for term in head.get("ref") or []:
        if not isinstance(term, Mapping):
            break
        if parts and term.get("type") != "string":
            break
        parts.append(str(term.get("value")))
    if not parts:
        name = str(head.get("name", ""))
        return name, name
    return ".".join(parts), parts[0]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
