"""An OPA REST API test server on 127.0.0.1: the endpoints, status codes and bodies of OPA's
REST API reference (openpolicyagent.org/docs/rest-api), with Regorus (``import regorus``)
evaluating the Rego, one Engine per request built from the stored policies and data, so
answers are real Rego answers. No OPA binary is installable here; this is what the remote
engine is tested against.

Endpoints: ``GET /health``; ``GET /v1/policies``, ``GET|PUT|DELETE /v1/policies/<id>``;
``GET|POST|PUT|PATCH|DELETE /v1/data[/<path>]``; ``GET|POST /v1/query``. Errors are OPA's
``{"code", "message", "errors": [{"code", "message", "location": {"file", "row", "col"}}]}``;
with a token configured (OPA's ``--authentication=token``) a request without
``Authorization: Bearer <token>`` gets 401 ``{"code": "unauthorized", ...}``.

Faults: ``delay`` (seconds before every answer), ``fail_status`` (every request answers that
status with an ``internal_error`` body), ``stop()`` (the port refuses connections), a wrong
token (configure ``token`` and send another).

Where it differs from OPA, being a test server:
- ASTs in the Policy API carry the package, imports and rule heads as OPA serialises them
  (``name``, ``ref``, ``key``, ``value``, ``assign``, ``args``, ``default``; no locations, as
  OPA by default); rule bodies are empty lists.
- A PUT checks what Regorus checks when it loads and first evaluates modules (parse errors,
  unsafe variables, ...), plus calls of undefined functions through ``data.`` refs or import
  aliases (``rego_type_error: undefined function data.x.f``), so upload order matters as on
  OPA; OPA's other compile errors (rule conflicts, type errors) surface at query time as 500
  evaluation errors here.
- Ad-hoc query bindings lack variables used only as ref indexes (``data.servers[i]`` binds
  ``i`` on OPA, not here).
- Errors located in the query text answer 400 (parse or compile); every other Regorus error
  answers 500 ``error(s) occurred while evaluating query``. Regorus's builtin errors are
  strict where OPA's default makes the expression undefined. Regorus panics (it does on some
  errors in a query line longer than 64 K characters) answer 500 ``internal_error``.
- Data writes are not checked against rule paths; ``metrics``, ``explain``, ``pretty``,
  ``provenance`` and ``instrument`` parameters are ignored; no decision logs, bundles, the
  Compile, Config or Status APIs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import regorus
from aiohttp import web

EVALUATION_FAILED = "error(s) occurred while evaluating query"
COMPILE_FAILED = "error(s) occurred while compiling module(s)"
UNLIMITED = 1 << 30
_MISSING = object()


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    authorization: str | None


@dataclass
class OpaTestServer:
    token: str | None = None
    rego_version: str = "v1"  # "v0": as `opa run --v0-compatible` (or OPA 0.x)
    delay: float = 0.0
    fail_status: int | None = None
    policies: dict[str, str] = field(default_factory=dict)  # id -> raw, in upload order
    data: dict[str, Any] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None
    _released: asyncio.Event | None = None

    # -- lifecycle --

    def start(self) -> str:
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failures: list[BaseException] = []

        async def setup() -> None:
            self._released = asyncio.Event()
            runner = web.AppRunner(
                self.app(), access_log=None, handle_signals=False, shutdown_timeout=0.5
            )
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self._runner = runner
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(setup())
            except BaseException as exc:  # reported to the caller below
                failures.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="opa-test-server", daemon=True)
        self._thread.start()
        started.wait(10)
        if failures or self._runner is None:
            raise RuntimeError("the OPA test server did not start") from (
                failures[0] if failures else None
            )
        return self.url

    def stop(self) -> None:
        """Close the port (later connections are refused) and end the thread."""
        loop, runner, self._runner = self._loop, self._runner, None
        if loop is None or runner is None:
            return

        async def shutdown() -> None:
            if self._released is not None:
                self._released.set()  # ends injected delays
            await runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()

    # -- the application --

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=UNLIMITED)
        r = app.router
        r.add_get("/health", self.health)
        for path in ("/v1/policies", "/v1/policies/"):
            r.add_get(path, self.list_policies)
        r.add_get("/v1/policies/{id:.+}", self.get_policy)
        r.add_put("/v1/policies/{id:.+}", self.put_policy)
        r.add_delete("/v1/policies/{id:.+}", self.delete_policy)
        for path in ("/v1/data", "/v1/data/{path:.*}"):
            r.add_get(path, self.get_data)
            r.add_post(path, self.post_data)
            r.add_put(path, self.put_data)
            r.add_patch(path, self.patch_data)
            r.add_delete(path, self.delete_data)
        r.add_get("/v1/query", self.query)
        r.add_post("/v1/query", self.query)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(
            Recorded(request.method, request.path, request.headers.get("Authorization"))
        )
        if self.delay and self._released is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), self.delay)
        authorization = request.headers.get("Authorization")
        if self.token is not None and authorization != f"Bearer {self.token}":
            message = "request rejected by administrative policy"
            return _json({"code": "unauthorized", "message": message}, 401)
        if self.fail_status is not None:
            if request.path == "/health":
                return _json({"error": "unable to perform evaluation"}, self.fail_status)
            return _json(
                {"code": "internal_error", "message": "injected failure"}, self.fail_status
            )
        try:
            response: web.StreamResponse = await handler(request)
        except BaseException as exc:
            # pyo3's PanicException is a BaseException; answered here, on the server thread,
            # so the Regorus engine its traceback holds is also dropped here (Engines are
            # bound to the thread that made them).
            if type(exc).__name__ != "PanicException":
                raise
            message = f"Regorus panicked: {str(exc).splitlines()[0]}"
            return _json({"code": "internal_error", "message": message}, 500)
        return response

    # -- Health API --

    async def health(self, request: web.Request) -> web.Response:
        return _json({})

    # -- Policy API --

    async def list_policies(self, request: web.Request) -> web.Response:
        return _json({"result": [self._policy(pid) for pid in self.policies]})

    async def get_policy(self, request: web.Request) -> web.Response:
        pid = request.match_info["id"]
        if pid not in self.policies:
            return _not_found(f'storage_not_found_error: policy id "{pid}"')
        return _json({"result": self._policy(pid)})

    async def put_policy(self, request: web.Request) -> web.Response:
        pid = request.match_info["id"]
        raw = (await request.read()).decode("utf-8", errors="replace")
        candidate = {**self.policies, pid: raw}
        errors = self._compile(candidate)
        if errors:
            return _json(
                {"code": "invalid_parameter", "message": COMPILE_FAILED, "errors": errors}, 400
            )
        self.policies = candidate
        return _json({})

    async def delete_policy(self, request: web.Request) -> web.Response:
        pid = request.match_info["id"]
        if pid not in self.policies:
            return _not_found(f'storage_not_found_error: policy id "{pid}"')
        remaining = {k: v for k, v in self.policies.items() if k != pid}
        errors = self._compile(remaining)
        if errors:  # other modules still use this one's rules
            return _json(
                {"code": "invalid_parameter", "message": COMPILE_FAILED, "errors": errors}, 400
            )
        self.policies = remaining
        return _json({})

    def _policy(self, pid: str) -> dict[str, Any]:
        raw = self.policies[pid]
        engine = self._engine({pid: raw}, with_data=False)
        module = json.loads(engine.get_ast_as_json())[0]
        return {"id": pid, "raw": raw, "ast": opa_module_ast(module["ast"], raw)}

    def _compile(self, policies: Mapping[str, str]) -> list[dict[str, Any]]:
        engine = self._engine({}, with_data=False)
        errors: list[dict[str, Any]] = []
        for pid, raw in policies.items():
            try:
                engine.add_policy(pid, raw)
            except RuntimeError as exc:
                errors.append(regorus_error(exc, "rego_parse_error", pid))
        if errors:
            return errors
        errors = undefined_functions(json.loads(engine.get_ast_as_json()))
        if errors:
            return errors
        try:
            engine.eval_query("true")  # Regorus checks the modules on their first evaluation
        except RuntimeError as exc:
            text = str(exc)
            code = "rego_unsafe_var_error" if "unsafe" in text else "rego_compile_error"
            errors.append(regorus_error(exc, code, ""))
        return errors

    # -- Data API --

    async def get_data(self, request: web.Request) -> web.Response:
        document: Any = _MISSING
        if "input" in request.query:
            try:
                document = json.loads(request.query["input"])
            except ValueError as exc:
                return _bad_request(f"input parameter format is JSON: {exc}")
        return self._read(request, document)

    async def post_data(self, request: web.Request) -> web.Response:
        body = await request.read()
        document: Any = _MISSING
        if body.strip():
            try:
                parsed = json.loads(body)
            except ValueError as exc:
                return _bad_request(f"body contains malformed input document: {exc}")
            if isinstance(parsed, dict) and "input" in parsed:
                document = parsed["input"]
        return self._read(request, document)

    def _read(self, request: web.Request, document: Any) -> web.Response:
        ref = "data" + "".join(f"[{json.dumps(_segment(s))}]" for s in _path(request))
        engine = self._engine(self.policies)
        if document is not _MISSING:
            engine.set_input_json(json.dumps(document))
        try:
            answer = json.loads(engine.eval_query_as_json(f"x := {ref}"))
        except RuntimeError as exc:
            return _evaluation_error(exc)
        rows = answer.get("result") or []
        if not rows:
            return _json({})
        return _json({"result": rows[0]["bindings"]["x"]})

    async def put_data(self, request: web.Request) -> web.Response:
        try:
            value = json.loads(await request.read())
        except ValueError as exc:
            return _bad_request(f"body contains malformed JSON: {exc}")
        path = _path(request)
        if not path:
            if not isinstance(value, dict):
                return _bad_request("root document must be an object")
            self.data = value
            return web.Response(status=204)
        parent = self.data
        for key in path[:-1]:
            parent = parent.setdefault(key, {})
            if not isinstance(parent, dict):
                return _json(
                    {
                        "code": "resource_conflict",
                        "message": f"storage_write_conflict_error: /{'/'.join(path)}",
                    },
                    404,
                )
        if request.headers.get("If-None-Match") == "*" and path[-1] in parent:
            return web.Response(status=304)
        parent[path[-1]] = value
        return web.Response(status=204)

    async def patch_data(self, request: web.Request) -> web.Response:
        try:
            operations = json.loads(await request.read())
        except ValueError as exc:
            return _bad_request(f"body contains malformed JSON: {exc}")
        if not isinstance(operations, list):
            return _bad_request("body must be a JSON Patch array")
        base = _path(request)
        for operation in operations:
            if not isinstance(operation, dict) or operation.get("op") not in (
                "add",
                "remove",
                "replace",
            ):
                return _bad_request(f"invalid patch operation: {operation!r}")
            pointer = [p for p in str(operation.get("path", "")).split("/") if p]
            problem = _patch(self.data, base + pointer, operation)
            if problem is not None:
                return _not_found(f"storage_not_found_error: {problem}")
        return web.Response(status=204)

    async def delete_data(self, request: web.Request) -> web.Response:
        path = _path(request)
        problem = _patch(self.data, path, {"op": "remove"}) if path else "/"
        if problem is not None:
            return _not_found(f"storage_not_found_error: {problem}: document does not exist")
        return web.Response(status=204)

    # -- Query API --

    async def query(self, request: web.Request) -> web.Response:
        document: Any = _MISSING
        if request.method == "GET":
            text = request.query.get("q", "")
        else:
            try:
                body = json.loads(await request.read())
            except ValueError as exc:
                return _bad_request(f"body contains malformed JSON: {exc}")
            text = str(body.get("query", "")) if isinstance(body, dict) else ""
            if isinstance(body, dict) and "input" in body:
                document = body["input"]
        if not text.strip():
            return _bad_request("missing query")
        engine = self._engine(self.policies)
        if document is not _MISSING:
            engine.set_input_json(json.dumps(document))
        try:
            answer = json.loads(engine.eval_query_as_json(text))
        except RuntimeError as exc:
            return _evaluation_error(exc)
        rows = [
            row.get("bindings") or {}
            for row in answer.get("result") or []
            if all(e.get("value") is not False for e in row.get("expressions", []))
        ]
        return _json({"result": rows} if rows else {})

    # -- Regorus --

    def _engine(self, policies: Mapping[str, str], *, with_data: bool = True) -> Any:
        engine = regorus.Engine()
        # OPA has no line or size limits (Regorus's defaults: 1024 columns, 1 MiB).
        engine.set_policy_length_config(
            max_col=UNLIMITED, max_file_bytes=UNLIMITED, max_lines=UNLIMITED
        )
        if self.rego_version == "v0":
            engine.set_rego_v0(True)
        for pid, raw in policies.items():
            engine.add_policy(pid, raw)
        if with_data:
            engine.add_data_json(json.dumps(self.data))
        return engine


# --- responses --------------------------------------------------------------------------


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _bad_request(message: str) -> web.Response:
    return _json({"code": "invalid_parameter", "message": message}, 400)


def _not_found(message: str) -> web.Response:
    return _json({"code": "resource_not_found", "message": message}, 404)


def _evaluation_error(exc: RuntimeError) -> web.Response:
    text = str(exc)
    if "<query.rego>" in text:
        parse = re.search(r"expect|unexpected|invalid", text.split("Stack backtrace:")[0])
        code = "rego_parse_error" if parse else "rego_compile_error"
        message = (
            "error(s) occurred while parsing query"
            if parse
            else "error(s) occurred while compiling query"
        )
        error = regorus_error(exc, code, "")
        return _json({"code": "invalid_parameter", "message": message, "errors": [error]}, 400)
    code = "eval_conflict_error" if "conflict" in text else "eval_builtin_error"
    error = regorus_error(exc, code, "")
    return _json({"code": "internal_error", "message": EVALUATION_FAILED, "errors": [error]}, 500)


def regorus_error(exc: BaseException, code: str, default_file: str) -> dict[str, Any]:
    """A Regorus error (``--> file:row:col`` ... ``error: message``) as an OPA error object."""
    text = str(exc).split("Stack backtrace:")[0]
    where = re.search(r"-->\s*(.+):(\d+):(\d+)", text)
    what = re.search(r"^error: (.*)$", text, re.MULTILINE)
    message = what.group(1) if what else text.strip().splitlines()[-1]
    error: dict[str, Any] = {"code": code, "message": message}
    if where:
        file = "" if where.group(1) == "<query.rego>" else where.group(1)
        error["location"] = {"file": file, "row": int(where.group(2)), "col": int(where.group(3))}
    elif default_file:
        error["location"] = {"file": default_file, "row": 1, "col": 1}
    return error


def _path(request: web.Request) -> list[str]:
    return [unquote(p) for p in request.match_info.get("path", "").split("/") if p]


def _segment(text: str) -> int | str:
    """OPA converts path segments that look like integers to integers."""
    return int(text) if text.isdigit() else text


def _patch(root: dict[str, Any], path: list[str], operation: Mapping[str, Any]) -> str | None:
    """Apply one JSON Patch operation at ``path``; the missing path, or None when applied."""
    where = "/" + "/".join(path)
    if not path:
        return where
    parent: Any = root
    for key in path[:-1]:
        parent = _child(parent, key)
        if parent is _MISSING:
            return where
    key = path[-1]
    op = operation["op"]
    if isinstance(parent, dict):
        if op != "add" and key not in parent:
            return where
        if op == "remove":
            del parent[key]
        else:
            parent[key] = operation.get("value")
        return None
    if isinstance(parent, list):
        if op == "add" and key == "-":
            parent.append(operation.get("value"))
            return None
        if not key.isdigit() or int(key) > len(parent) or (op != "add" and int(key) >= len(parent)):
            return where
        if op == "remove":
            del parent[int(key)]
        elif op == "add":
            parent.insert(int(key), operation.get("value"))
        else:
            parent[int(key)] = operation.get("value")
        return None
    return where


def _child(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return node.get(key, _MISSING)
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return node[int(key)]
    return _MISSING


# --- Regorus's AST as OPA's -------------------------------------------------------------


def _segments(node: Mapping[str, Any]) -> list[str] | None:
    """A ref (``a.b["c"]``) as its static segments, or None when it has dynamic parts."""
    if "Var" in node:
        return [str(node["Var"]["value"])]
    if "RefDot" in node:
        base = _segments(node["RefDot"]["refr"])
        return None if base is None else [*base, str(node["RefDot"]["field"][1])]
    if "RefBrack" in node:
        base = _segments(node["RefBrack"]["refr"])
        index = node["RefBrack"]["index"]
        if base is None or "String" not in index:
            return None
        return [*base, str(index["String"]["value"])]
    return None


def _term(node: Mapping[str, Any]) -> dict[str, Any]:
    kind, body = next(iter(node.items()))
    simple = {"Var": "var", "String": "string", "Number": "number", "Bool": "boolean"}
    if kind in simple:
        return {"type": simple[kind], "value": body.get("value")}
    if kind == "Null":
        return {"type": "null"}
    if kind in ("RefDot", "RefBrack"):
        return {"type": "ref", "value": _ref_terms(node)}
    return {"type": kind.lower()}


def _ref_terms(node: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "RefDot" in node:
        field_name = node["RefDot"]["field"][1]
        return [*_ref_terms(node["RefDot"]["refr"]), {"type": "string", "value": field_name}]
    if "RefBrack" in node:
        return [*_ref_terms(node["RefBrack"]["refr"]), _term(node["RefBrack"]["index"])]
    return [_term(node)]


def _imports(ast: Mapping[str, Any], source: str) -> list[tuple[list[str], str]]:
    """(path, alias) of each import: ``import data.lib.util as u`` -> (["data", ...], "u")."""
    out: list[tuple[list[str], str]] = []
    for entry in ast.get("imports") or []:
        path = _segments(entry["refr"])
        if not path:
            continue
        alias_span = entry.get("as")
        alias = source[alias_span["start"] : alias_span["end"]] if alias_span else path[-1]
        out.append((path, alias))
    return out


def opa_module_ast(ast: Mapping[str, Any], source: str) -> dict[str, Any]:
    package = _segments(ast["package"]["refr"]) or []
    return {
        "package": {
            "path": [
                {"type": "var", "value": "data"},
                *({"type": "string", "value": s} for s in package),
            ]
        },
        "imports": [
            {
                "path": {
                    "type": "ref",
                    "value": [
                        {"type": "var", "value": path[0]},
                        *({"type": "string", "value": s} for s in path[1:]),
                    ],
                },
                **({"alias": alias} if alias != path[-1] else {}),
            }
            for path, alias in _imports(ast, source)
        ],
        "rules": [_opa_rule(rule) for rule in ast.get("rules") or []],
    }


def _opa_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    if "Default" in rule:
        default = rule["Default"]
        ref = _ref_terms(default["refr"])
        head: dict[str, Any] = {"ref": ref, "value": _term(default["value"]), "assign": True}
        if len(ref) == 1:
            head["name"] = ref[0]["value"]
        if default.get("args"):
            head["args"] = [_term(a) for a in default["args"]]
        return {"default": True, "head": head, "body": []}
    kind, spec = next(iter(rule["Spec"]["head"].items()))
    ref = _ref_terms(spec["refr"])
    head = {"ref": ref}
    if len(ref) == 1:
        head["name"] = ref[0]["value"]
    if kind == "Set":
        head["key"] = _term(spec["key"])
    else:
        if kind == "Func":
            head["args"] = [_term(a) for a in spec.get("args") or []]
        assign = spec.get("assign")
        if assign:
            head["value"] = _term(assign["value"])
            head["assign"] = assign.get("op") == "ColEq"
        else:
            head["value"] = {"type": "boolean", "value": True}
    return {"head": head, "body": []}


def undefined_functions(modules: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OPA's ``undefined function`` compile error for calls through ``data.`` or an import
    alias whose target no loaded module defines as a function."""
    defined: set[tuple[str, ...]] = set()
    for module in modules:
        ast = module["ast"]
        package = tuple(_segments(ast["package"]["refr"]) or ())
        for rule in ast.get("rules") or []:
            if "Default" in rule and rule["Default"].get("args"):
                name = _segments(rule["Default"]["refr"]) or []
                defined.add(package + tuple(name))
            elif "Spec" in rule and "Func" in rule["Spec"]["head"]:
                name = _segments(rule["Spec"]["head"]["Func"]["refr"]) or []
                defined.add(package + tuple(name))
    errors: list[dict[str, Any]] = []
    for module in modules:
        source = module["source"]
        aliases = {
            alias: path[1:]
            for path, alias in _imports(module["ast"], source["contents"])
            if path[0] == "data"
        }
        for call in _calls(module["ast"].get("rules") or []):
            segments = _segments(call["fcn"])
            if not segments:
                continue
            if segments[0] == "data":
                target = segments[1:]
            elif segments[0] in aliases:
                target = aliases[segments[0]] + segments[1:]
            else:
                continue  # a builtin or a function of the same package
            if tuple(target) not in defined:
                span = call["span"]
                errors.append(
                    {
                        "code": "rego_type_error",
                        "message": f"undefined function data.{'.'.join(target)}",
                        "location": {
                            "file": source["file"],
                            "row": span["line"],
                            "col": span["col"],
                        },
                    }
                )
    return errors


def _calls(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, dict):
        if "Call" in node and isinstance(node["Call"], dict) and "fcn" in node["Call"]:
            yield node["Call"]
        for value in node.values():
            yield from _calls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _calls(item)


@contextlib.contextmanager
def run_opa_server(**options: Any) -> Iterator[OpaTestServer]:
    """Serve an OpaTestServer(**options) on 127.0.0.1 until the block exits."""
    server = OpaTestServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
