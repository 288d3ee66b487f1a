"""The Regorus worker process and the parent's handle on it.

Regorus has no time or memory limit, aborts the whole process when an allocation fails, and an
``Engine`` may only be used from the thread that created it. So policies are evaluated in a
child process that owns one engine: started with ``exec`` (never ``fork``: the App has threads
and an event loop), with an empty environment (``opa.runtime()`` and panics must not see the
App's private key or tokens), an address-space limit, and a CPU limit re-armed before every
evaluation. The parent enforces a wall-clock limit per request and kills the child on overrun.

This file is also the child's program: it runs as a plain script (``python -I rego_worker.py``)
and imports nothing but the standard library and ``regorus``.

Wire format, both directions: ``!II`` (header length, payload length), a JSON header, a raw
payload. Payloads carry JSON text that is never decoded on the way (inputs, query results).
Replies are JSON, never pickle: a child compromised by a hostile policy must not be able to
run code in the parent.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import IO, Any

_FRAME = struct.Struct("!II")
_READ_CHUNK = 1 << 16
# The only variables the child gets: no secrets can leak through opa.runtime() or a panic.
CHILD_ENVIRONMENT = {"RUST_BACKTRACE": "0", "RUST_LIB_BACKTRACE": "0", "LC_ALL": "C.UTF-8"}
_UNKNOWN_FUNCTION = "could not find function"
_RUST_NOTE = "note: run with `RUST_BACKTRACE"


# --- the child ------------------------------------------------------------------------------


def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _receive(stream: IO[bytes]) -> tuple[dict[str, Any], bytes] | None:
    sizes = _read_exact(stream, _FRAME.size)
    if sizes is None:
        return None
    header_size, payload_size = _FRAME.unpack(sizes)
    body = _read_exact(stream, header_size + payload_size)
    if body is None:
        return None
    header: dict[str, Any] = json.loads(body[:header_size])
    return header, body[header_size:]


def _frame(header: dict[str, Any], payload: bytes = b"") -> bytes:
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return _FRAME.pack(len(encoded), len(payload)) + encoded + payload


def _arm_cpu_limit(seconds: float) -> None:
    """Allow ``seconds`` more CPU time from now (SIGXCPU kills the process past it); only the
    soft limit moves, because an unprivileged process can never raise its hard limit again."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


class _Server:
    def __init__(self, cpu_limit: float) -> None:
        self.cpu_limit = cpu_limit
        self.engine: Any = None

    def handle(self, header: dict[str, Any], payload: bytes) -> bytes:
        op = header["op"]
        if op == "load":
            return self.load(header, payload)
        if op == "eval":
            return self.evaluate(header["query"], payload)
        if op == "probe":
            return self.probe(header["names"])
        return _frame({"ok": False, "error": f"unknown operation {op!r}"})

    def load(self, header: dict[str, Any], payload: bytes) -> bytes:
        import regorus

        engine = regorus.Engine()
        if header["v0"]:
            engine.set_rego_v0(True)
        limits = header["length_limits"]
        engine.set_policy_length_config(
            max_col=limits["max_col"],
            max_file_bytes=limits["max_file_bytes"],
            max_lines=limits["max_lines"],
        )
        engine.set_gather_prints(True)
        errors: list[dict[str, str]] = []
        for module in header["modules"]:
            try:
                engine.add_policy(module["path"], module["text"])
            except RuntimeError as exc:
                errors.append({"path": module["path"], "text": str(exc)})
        try:
            engine.add_data_json(payload.decode())
        except RuntimeError as exc:
            errors.append({"path": "", "text": f"data: {exc}"})
        self.engine = engine
        return _frame({"ok": True, "errors": errors}, engine.get_ast_as_json().encode())

    def evaluate(self, query: str, input_json: bytes) -> bytes:
        _arm_cpu_limit(self.cpu_limit)
        try:
            self.engine.set_input_json(input_json.decode())
            result: str = self.engine.eval_query_as_json(query)
        except RuntimeError as exc:
            return _frame({"ok": False, "error": str(exc), "prints": self.engine.take_prints()})
        return _frame({"ok": True, "prints": self.engine.take_prints()}, result.encode())

    def probe(self, names: list[str]) -> bytes:
        """The names among ``names`` this Regorus build has no function for."""
        unknown = []
        for name in names:
            try:
                self.engine.eval_query(f"{name}()")
            except RuntimeError as exc:
                if _UNKNOWN_FUNCTION in str(exc):
                    unknown.append(name)
        self.engine.take_prints()  # print() itself was probed: its line is no input's
        return _frame({"ok": True, "unknown": unknown})


def serve(memory_limit: int, cpu_limit: float) -> None:
    """The child's main loop: one request at a time on fd 0, replies on the original fd 1."""
    import resource

    if memory_limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    # Keep stray writes to stdout (a print from native code) out of the reply channel.
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    requests = os.fdopen(0, "rb", buffering=0)
    server = _Server(cpu_limit)
    while (message := _receive(requests)) is not None:
        try:
            reply = server.handle(*message)
        except MemoryError:
            replies.write(_frame({"ok": False, "fatal": "memory"}))
            os._exit(3)
        replies.write(reply)


# --- the parent -----------------------------------------------------------------------------


class WorkerFailure(Exception):
    """The worker did not answer: it overran the wall-clock limit, or it died."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind, detail)
        self.kind = kind  # "time", "memory", "result" (too large), "crash"
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Reply:
    header: dict[str, Any]
    payload: bytes


class WorkerProcess:
    """One running child. Not thread-safe: the engine serialises its use."""

    def __init__(self, memory_limit: int, cpu_limit: float, max_reply_bytes: int) -> None:
        self.max_reply_bytes = max_reply_bytes
        # Kept open for the child's lifetime: its last lines explain a crash.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        arguments = [sys.executable, "-I", __file__, str(memory_limit), repr(cpu_limit)]
        self._process = subprocess.Popen(
            arguments,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=CHILD_ENVIRONMENT,
            close_fds=True,
            cwd="/",
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._requests = self._process.stdin
        self._replies = self._process.stdout.fileno()
        self._buffer = bytearray()

    @property
    def pid(self) -> int:
        return self._process.pid

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        """Raises BrokenPipeError (or OSError) once the child is gone."""
        self._requests.write(_frame(header, payload))
        self._requests.flush()

    def receive(self, timeout: float) -> Reply:
        deadline = time.monotonic() + timeout
        sizes = self._take(_FRAME.size, deadline)
        header_size, payload_size = _FRAME.unpack(sizes)
        if header_size + payload_size > self.max_reply_bytes:
            # A policy can build a result near the worker's memory limit; the parent (the
            # App) must not have to hold it.
            self.kill()
            raise WorkerFailure("result", f"{header_size + payload_size} bytes")
        body = self._take(header_size + payload_size, deadline)
        try:
            header: dict[str, Any] = json.loads(body[:header_size])
        except ValueError:
            self.kill()
            raise WorkerFailure("crash", "malformed reply") from None
        if header.get("fatal") == "memory":
            self.kill()
            raise WorkerFailure("memory", "the worker ran out of memory")
        return Reply(header, body[header_size:])

    def request(self, header: dict[str, Any], payload: bytes, timeout: float) -> Reply:
        try:
            self.send(header, payload)
        except OSError:
            raise self._death() from None
        return self.receive(timeout)

    def _take(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerFailure("time")
            ready, _, _ = select.select([self._replies], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._replies, _READ_CHUNK)
            if not chunk:
                raise self._death()
            self._buffer += chunk
        taken = bytes(self._buffer[:size])
        del self._buffer[:size]
        return taken

    def _death(self) -> WorkerFailure:
        """Why the child exited: the CPU limit (SIGXCPU), an allocation failure (Rust aborts
        with "memory allocation of N bytes failed"), or a crash."""
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self._process.returncode
        detail = self.stderr_tail()
        if code == -signal.SIGXCPU:
            return WorkerFailure("time", detail)
        if "memory allocation" in detail or "MemoryError" in detail or code == 3:
            return WorkerFailure("memory", detail)
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return WorkerFailure("crash", f"{how}: {detail}" if detail else how)

    def stderr_tail(self, limit: int = 2000) -> str:
        """The child's last words (Rust's abort message, a Python traceback's last line)."""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            text = self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""
        lines = [line.strip() for line in text.splitlines()]
        meaningful = [line for line in lines if line and not line.startswith(_RUST_NOTE)]
        return meaningful[-1][:300] if meaningful else ""

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()

    def close(self) -> None:
        """Ask the child to finish (end of input), then make sure it has."""
        with contextlib.suppress(OSError):
            self._requests.close()
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]))
