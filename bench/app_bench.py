"""gitops-gate App benchmark: ``gitops-gate serve`` against the GitHub emulator on this machine.

    .venv/bin/python -m bench.app_bench [--smoke] [--json FILE] [--skip 3,4]

Figures (see bench/README.md, "The App benchmark"):

1. latency: webhook POST of a 50-file pull request -> its check run completed, as the emulator
   records it; median and max over 10 PRs (a warm-up PR first). Target <= 1.5 s.
2. GitHub API calls per PR (the emulator's request log for the PR's work) for 5, 50 and 500
   files and a PR with 700 findings. Target <= 6 + ceil(annotations / 50), not growing with files.
3. webhook acknowledgement under load: 100 signed deliveries a second for 30 s, open loop, from
   a separate client process; p50, p99, max, errors. Target p99 <= 50 ms.
4. memory: RSS/PSS of the serve process after every 100 of 1,000 consecutive PRs. Target: growth
   from PR 200 to PR 1,000 under 10 %.

This is a script that prints figures, not a test: a missed target prints "target missed"; the
exit status is non-zero only when something is broken (a check run never completes, completes
twice or with the wrong conclusion, a delivery gets an unexpected status, a phase crashes).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``bench``, ``bot`` and ``tests`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from bench import corpus

# The server is started exactly as the end-to-end tests start it (same env, 127.0.0.1 only).
from tests.e2e.conftest import Bot
from tests.github_emulator.fixtures import EmulatorHandle, run_emulator
from tests.github_emulator.state import (
    App,
    CheckRun,
    Installation,
    PullRequest,
    Repository,
    RequestRecord,
)
from tests.github_emulator.webhooks import Delivery, build_delivery

LATENCY_TARGET_S = 1.5
ACK_P99_TARGET_MS = 50.0
MEMORY_GROWTH_TARGET = 0.10  # fraction, PR 200 -> PR 1000
BASE_CALLS = 6  # + ceil(annotations / 50)
COMPLETION_TIMEOUT_S = 60.0
CONFIG_TEXT = """\
# gitops-gate configuration (read from the base SHA)
schema:
  strict: true
  missing: warn
"""
README_TEXT = "# manifests\n"


# -- figures ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    key: str
    name: str
    value: float | None
    unit: str  # "s", "ms", "calls", "%", "MB", ""
    target: float | None = None  # met when value <= target
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.value <= self.target

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["met"] = self.met
        return out


@dataclass(slots=True)
class Run:
    smoke: bool
    workdir: Path
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # broken results: exit 1
    extra: dict[str, Any] = field(default_factory=dict)

    def wrong(self, message: str) -> None:
        self.problems.append(message)
        print(f"  WRONG: {message}", flush=True)


# -- repositories, pull requests ----------------------------------------------------------------


@dataclass(slots=True)
class Site:
    """One installation of the App with one repository (its own token cache in the bot)."""

    em: EmulatorHandle
    app: App
    installation: Installation
    repo: Repository

    @property
    def base(self) -> str:
        return self.repo.branches["main"]

    def delivery(self, action: str, pull: PullRequest, **kwargs: Any) -> Delivery:
        return build_delivery(
            "pull_request",
            action,
            app=self.app,
            installation=self.installation,
            repo=self.repo,
            pull=pull,
            api_url=self.em.base_url,
            **kwargs,
        )


def base_files() -> dict[str, bytes | str]:
    """The base branch: a README, the config (so every PR costs its config call) and the two
    CRDs the corpus' custom resources need."""
    crds = [m for m in corpus.generate(10, seed=0) if m.kind == "CustomResourceDefinition"]
    files: dict[str, bytes | str] = {
        "README.md": README_TEXT,
        ".github/gitops-gate.yml": CONFIG_TEXT,
    }
    for m in crds:
        files[f"crds/{m.file_name}"] = m.text
    return files


def new_site(em: EmulatorHandle, app: App, account: str) -> Site:
    inst = em.state.install(app, account)
    repo = em.state.create_repo(f"{account}/manifests", installation=inst, files=base_files())
    return Site(em, app, inst, repo)


@dataclass(slots=True)
class FileSet:
    files: dict[str, str]
    invalid: int  # manifests that must get an error

    @property
    def expected(self) -> str:
        return "failure" if self.invalid else "success"


def corpus_files(count: int, seed: int, prefix: str = "deploy") -> FileSet:
    """``count`` manifests (10 % invalid, some with trailing spaces), one per file. The CRDs the
    corpus starts with are dropped: they are on the base branch already."""
    manifests = [
        m for m in corpus.generate(count + 2, seed) if m.kind != "CustomResourceDefinition"
    ][:count]
    files = {f"{prefix}/{m.namespace or 'cluster'}/{m.file_name}": m.text for m in manifests}
    return FileSet(files, sum(1 for m in manifests if m.invalid))


def findings_files(total: int = 700, per_file: int = 7) -> FileSet:
    """ConfigMaps whose ``data`` values are numbers: one schema error each (700 by default)."""
    files: dict[str, str] = {}
    for i in range(total // per_file):
        lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: many-{i}", "data:"]
        lines += [f"  key{k}: {k}" for k in range(per_file)]
        files[f"config/many-{i:03d}.yaml"] = "\n".join(lines) + "\n"
    return FileSet(files, len(files))


def open_pr(site: Site, fileset: FileSet, label: str) -> PullRequest:
    head = site.repo.commit_changes(site.base, fileset.files, message=label)
    return site.repo.open_pull_request(
        base_sha=site.base, head_sha=head, head_ref=f"bench/{label}", title=label
    )


def completed_run(site: Site, head_sha: str) -> CheckRun | None:
    runs = site.em.state.check_runs(site.repo.full_name, head_sha=head_sha)
    return runs[0] if runs and all(r.status == "completed" for r in runs) else None


async def wait_completed(
    site: Site, head_sha: str, timeout: float = COMPLETION_TIMEOUT_S
) -> CheckRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = completed_run(site, head_sha)
        if run is not None:
            return run
        await asyncio.sleep(0.01)
    raise TimeoutError(f"the check run for {head_sha[:12]} did not complete within {timeout:g} s")


def completed_at(run: CheckRun) -> float:
    return next(e.at for e in run.events if e.status == "completed")


async def post(session: aiohttp.ClientSession, url: str, delivery: Delivery) -> int:
    async with session.post(url, data=delivery.body, headers=delivery.headers) as resp:
        await resp.read()
        return resp.status


def verify(run: Run, what: str, check: CheckRun, fileset: FileSet) -> None:
    if check.conclusion != fileset.expected:
        run.wrong(f"{what}: conclusion {check.conclusion}, expected {fileset.expected}")
    if check.completions != 1:
        run.wrong(f"{what}: the check run was completed {check.completions} times")
    if fileset.invalid and not check.annotations:
        run.wrong(f"{what}: {fileset.invalid} invalid manifests but no annotations")


@dataclass(slots=True)
class PrTiming:
    """One PR's timeline, from the webhook POST (t = 0) to the check run's completion."""

    files: int
    ack_s: float
    total_s: float
    created_s: float  # the check run is created (the job was claimed)
    fetched_s: float  # the last GET (files, tarball, config) ends
    first_patch_s: float  # the first PATCH (results) starts
    calls: dict[str, int]  # by kind of request
    annotations: int
    conclusion: str | None
    slowest: list[tuple[str, float]]  # (request, seconds)


def classify(record: RequestRecord) -> str:
    path = record.path
    if path.endswith("/access_tokens"):
        return "token"
    if path.startswith("/_codeload/"):
        return "tarball-download"
    if "/tarball" in path:
        return "tarball"
    if path.endswith("/files"):
        return "files"
    if "/compare/" in path:
        return "compare (merge base)"
    if "/contents/" in path:
        return "config"
    if path.endswith("/check-runs") and record.method == "POST":
        return "check-run-create"
    if "/check-runs/" in path and record.method == "PATCH":
        return "check-run-update"
    return f"{record.method} {path}"


def window(site: Site, start: float, end: float) -> list[RequestRecord]:
    with site.em.state.lock:
        return [r for r in site.em.state.request_log if start <= r.started <= end]


async def one_pr(
    session: aiohttp.ClientSession, bot: Bot, site: Site, fileset: FileSet, label: str
) -> tuple[PrTiming, CheckRun]:
    """Open a PR, POST its ``opened`` webhook, wait for the check run; nothing else may run."""
    pr = open_pr(site, fileset, label)
    delivery = site.delivery("opened", pr)
    t0 = time.monotonic()
    status = await post(session, bot.url + "/webhook", delivery)
    ack = time.monotonic() - t0
    if status != 202:
        raise RuntimeError(f"{label}: webhook answered {status}, expected 202")
    check = await wait_completed(site, pr.head_sha)
    done = completed_at(check)
    records = window(site, t0, done)
    creates = [r.started for r in records if classify(r) == "check-run-create"]
    gets = [r.started + r.duration for r in records if r.method == "GET"]
    patches = [r.started for r in records if classify(r) == "check-run-update"]
    slowest = sorted(records, key=lambda r: r.duration, reverse=True)[:3]
    timing = PrTiming(
        files=len(fileset.files),
        ack_s=ack,
        total_s=done - t0,
        created_s=(min(creates) - t0) if creates else math.nan,
        fetched_s=(max(gets) - t0) if gets else math.nan,
        first_patch_s=(min(patches) - t0) if patches else math.nan,
        calls=dict(Counter(classify(r) for r in records)),
        annotations=len(check.annotations),
        conclusion=check.conclusion,
        slowest=[(f"{classify(r)} {r.status}", r.duration) for r in slowest],
    )
    return timing, check


# -- 1. latency ---------------------------------------------------------------------------------


async def phase_latency(run: Run, bot: Bot, site: Site, prs: int) -> None:
    url_files = 50
    timings: list[PrTiming] = []
    async with aiohttp.ClientSession() as session:
        warm = corpus_files(url_files, seed=1000)
        cold, check = await one_pr(session, bot, site, warm, "latency-warmup")
        verify(run, "latency warm-up PR", check, warm)
        for i in range(prs):
            fileset = corpus_files(url_files, seed=1001 + i)
            timing, check = await one_pr(session, bot, site, fileset, f"latency-{i}")
            verify(run, f"latency PR {i}", check, fileset)
            timings.append(timing)
    totals = [t.total_s for t in timings]
    phases = {
        "ack": statistics.median(t.ack_s for t in timings),
        "to check-run create": statistics.median(t.created_s for t in timings),
        "create -> last fetch": statistics.median(t.fetched_s - t.created_s for t in timings),
        "fetch -> first PATCH (analysis)": statistics.median(
            t.first_patch_s - t.fetched_s for t in timings
        ),
        "PATCHes": statistics.median(t.total_s - t.first_patch_s for t in timings),
    }
    breakdown = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in phases.items())
    run.extra["latency"] = {
        "cold_first_pr_s": cold.total_s,
        "prs": [dataclasses.asdict(t) for t in timings],
        "median_phases_s": phases,
    }
    annotations = statistics.median(t.annotations for t in timings)
    run.rows.append(
        Row(
            "1",
            f"50-file PR: webhook -> completed, median of {prs}",
            statistics.median(totals),
            "s",
            LATENCY_TARGET_S,
            f"median phases: {breakdown}",
        )
    )
    run.rows.append(
        Row(
            "1",
            f"50-file PR: webhook -> completed, max of {prs}",
            max(totals),
            "s",
            LATENCY_TARGET_S,
            f"cold first PR (not counted) {cold.total_s:.3f} s; median {annotations:.0f} "
            f"annotations; slowest calls of the slowest PR: "
            + ", ".join(
                f"{n} {d * 1000:.0f} ms" for n, d in max(timings, key=lambda t: t.total_s).slowest
            ),
        )
    )


# -- 2. API calls -------------------------------------------------------------------------------


async def phase_api_calls(run: Run, bot: Bot, em: EmulatorHandle, app: App) -> None:
    scenarios: list[tuple[str, FileSet]] = [
        ("5 files", corpus_files(5, seed=2005)),
        ("50 files", corpus_files(50, seed=2050)),
        ("500 files", corpus_files(500, seed=2500)),
        ("700 findings (100 files)", findings_files()),
    ]
    results: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        for index, (label, fileset) in enumerate(scenarios):
            # A new installation per scenario, so the token request is part of the count.
            site = new_site(em, app, f"bench-api-{index}")
            timing, check = await one_pr(session, bot, site, fileset, f"api-{index}")
            verify(run, f"API calls, {label}", check, fileset)
            # The codeload hop is the tarball's redirect target, not a REST API call.
            calls = sum(n for k, n in timing.calls.items() if k != "tarball-download")
            target = BASE_CALLS + math.ceil(timing.annotations / 50)
            updates = timing.calls.get("check-run-update", 0)
            results[label] = {
                "calls": calls,
                "by_kind": dict(timing.calls),
                "annotations": timing.annotations,
                "target": target,
                "seconds": timing.total_s,
            }
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(timing.calls.items()))
            run.rows.append(
                Row(
                    "2",
                    f"API calls, PR of {label}",
                    calls,
                    "calls",
                    target,
                    f"{timing.annotations} annotations -> target 6 + {target - BASE_CALLS}; "
                    f"{calls - updates} not counting result PATCHes; {kinds}; "
                    f"{timing.total_s:.2f} s",
                )
            )
    fixed = {k: v["calls"] - v["by_kind"].get("check-run-update", 0) for k, v in results.items()}
    run.extra["api_calls"] = results
    if len(set(fixed.values())) > 1:
        run.extra["api_calls_grow_with_files"] = fixed
        print(f"  calls other than result PATCHes differ by PR size: {fixed}", flush=True)


# -- 3. webhook acknowledgement under load ------------------------------------------------------


@dataclass(slots=True)
class Planned:
    kind: str
    headers: dict[str, str]
    body: bytes
    expect: tuple[int, ...]


def plan_load(
    em: EmulatorHandle, app: App, seconds: float, rate: float
) -> tuple[list[Planned], Site, list[tuple[PullRequest, FileSet]]]:
    """The deliveries, in send order. Per 50: 1 new PR (``opened``, a real 5-file check), 1
    ``reopened`` of a PR already sent (same head: no new job), 15 ``edited`` (title only:
    ignored), 10 ``check_suite.requested`` for a head with no PR (ignored), 10 re-sent
    deliveries (duplicate ids), 8 pings, 5 ``installation.created`` (recorded)."""
    site = new_site(em, app, "bench-load")
    total = int(seconds * rate)
    pattern = (
        ["pr"]
        + ["edited"] * 8
        + ["suite"] * 5
        + ["dup"] * 5
        + ["ping"] * 4
        + ["install"] * 2
        + ["reopened"]
        + ["edited"] * 7
        + ["suite"] * 5
        + ["dup"] * 5
        + ["ping"] * 4
        + ["install"] * 3
    )
    assert len(pattern) == 50
    planned: list[Planned] = []
    prs: list[tuple[PullRequest, FileSet]] = []
    sent_ids: list[int] = []  # indexes of non-duplicate, non-PR deliveries, for re-sending

    def add(kind: str, d: Delivery, expect: tuple[int, ...]) -> None:
        planned.append(Planned(kind, d.headers, d.body, expect))

    for i in range(total):
        kind = pattern[i % len(pattern)]
        if kind == "pr" or (kind == "reopened" and not prs):
            fileset = corpus_files(5, seed=3000 + len(prs), prefix=f"load{len(prs)}")
            pr = open_pr(site, fileset, f"load-{len(prs)}")
            prs.append((pr, fileset))
            add("pr opened", site.delivery("opened", pr), (202,))
        elif kind == "reopened":
            pr, _ = prs[-1]
            add("pr reopened (same head)", site.delivery("reopened", pr), (202,))
        elif kind == "edited":
            d = build_delivery(
                "pull_request",
                "edited",
                app=app,
                installation=site.installation,
                repo=site.repo,
                pull=prs[-1][0] if prs else None,
                api_url=em.base_url,
                changes={"title": {"from": f"old title {i}"}},
            )
            sent_ids.append(len(planned))
            add("pr edited (ignored)", d, (202,))
        elif kind == "suite":
            d = build_delivery(
                "check_suite",
                "requested",
                app=app,
                installation=site.installation,
                repo=site.repo,
                head_sha=uuid.uuid4().hex + "00000000",
                api_url=em.base_url,
            )
            sent_ids.append(len(planned))
            add("check_suite, no PR (ignored)", d, (202,))
        elif kind == "dup" and len(sent_ids) > 20:
            original = planned[sent_ids[-20]]
            planned.append(Planned("duplicate delivery", original.headers, original.body, (200,)))
        elif kind == "ping" or kind == "dup":
            d = build_delivery("ping", app=app, api_url=em.base_url)
            add("ping", d, (200,))
        else:
            d = build_delivery(
                "installation",
                "created",
                app=app,
                installation=site.installation,
                repo=site.repo,
                api_url=em.base_url,
            )
            sent_ids.append(len(planned))
            add("installation (recorded)", d, (202,))
    return planned, site, prs


async def load_client(plan_file: Path, url: str, rate: float, out: Path) -> None:
    """Runs in a child process: send the planned deliveries at ``rate`` a second on a fixed
    schedule (open loop), time each from its scheduled send time to the full response."""
    planned = [
        Planned(d["kind"], d["headers"], d["body"].encode(), tuple(d["expect"]))
        for d in json.loads(plan_file.read_text(encoding="utf-8"))
    ]
    results: list[dict[str, Any]] = [{} for _ in planned]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=10)  # GitHub gives up after 10 s
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Warm the connection path (not measured).
        async with session.get(url.rsplit("/", 1)[0] + "/healthz") as resp:
            await resp.read()
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        tasks: list[asyncio.Task[None]] = []

        async def send(i: int, item: Planned, scheduled: float) -> None:
            lateness = loop.time() - scheduled
            try:
                async with session.post(url, data=item.body, headers=item.headers) as resp:
                    await resp.read()
                    status = resp.status
                error = "" if status in item.expect else f"status {status}"
            except Exception as exc:
                status, error = 0, f"{type(exc).__name__}: {exc}"
            results[i] = {
                "kind": item.kind,
                "status": status,
                "error": error,
                "latency": loop.time() - scheduled,
                "lateness": lateness,
            }

        for i, item in enumerate(planned):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(i, item, scheduled)))
        await asyncio.gather(*tasks)
    out.write_text(json.dumps(results), encoding="utf-8")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[rank]


async def phase_load(
    run: Run, bot: Bot, em: EmulatorHandle, app: App, seconds: float, rate: float
) -> None:
    planned, site, prs = plan_load(em, app, seconds, rate)
    plan_file = run.workdir / "load-plan.json"
    out = run.workdir / "load-results.json"
    plan_file.write_text(
        json.dumps(
            [
                {"kind": p.kind, "headers": p.headers, "body": p.body.decode(), "expect": p.expect}
                for p in planned
            ]
        ),
        encoding="utf-8",
    )
    command = [
        sys.executable,
        "-m",
        "bench.app_bench",
        "--load-client",
        str(plan_file),
        "--url",
        bot.url + "/webhook",
        "--rate",
        str(rate),
        "--out",
        str(out),
    ]
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root))
    started = time.monotonic()
    child = await asyncio.create_subprocess_exec(*command, cwd=root, env=env)
    # The emulator serves the real PRs' API calls meanwhile (its own thread).
    code = await child.wait()
    wall = time.monotonic() - started
    if code != 0:
        raise RuntimeError(f"the load client exited with {code}")
    results: list[dict[str, Any]] = json.loads(out.read_text())
    latencies_ms = [r["latency"] * 1000 for r in results if r["status"]]
    errors = [r for r in results if r["error"]]
    unexpected = [r for r in errors if r["status"]]
    if unexpected:
        sample = Counter((r["kind"], r["status"]) for r in unexpected).most_common(5)
        run.wrong(f"load: {len(unexpected)} deliveries got an unexpected status: {sample}")
    lateness = max(r["lateness"] for r in results) * 1000
    drain_started = time.monotonic()
    for pr, fileset in prs:
        try:
            check = await wait_completed(site, pr.head_sha, timeout=COMPLETION_TIMEOUT_S * 2)
        except TimeoutError as exc:
            run.wrong(f"load: {exc}")
            continue
        verify(run, f"load PR {pr.number}", check, fileset)
    drain = time.monotonic() - drain_started
    by_kind: dict[str, list[float]] = {}
    for r in results:
        if r["status"]:
            by_kind.setdefault(r["kind"], []).append(r["latency"] * 1000)
    # Where in the repeating pattern of 50 (slot 0 is a new PR, whose analysis then holds the
    # GIL in the server's worker thread for a few tens of ms), 5 slots = 50 ms per bucket.
    by_slot: dict[str, list[float]] = {}
    for i, r in enumerate(results):
        if r["status"]:
            slot = i % 50 // 5 * 5
            by_slot.setdefault(f"{slot}-{slot + 4}", []).append(r["latency"] * 1000)
    run.extra["load"] = {
        "p99_ms_by_slot_after_pr_opened": {k: percentile(v, 99) for k, v in by_slot.items()},
        "deliveries": len(results),
        "rate": rate,
        "seconds": seconds,
        "client_wall_s": wall,
        "p50_ms": percentile(latencies_ms, 50),
        "p99_ms": percentile(latencies_ms, 99),
        "max_ms": max(latencies_ms, default=math.nan),
        "errors": len(errors),
        "error_sample": [r["error"] for r in errors[:5]],
        "max_send_lateness_ms": lateness,
        "by_kind_p99_ms": {k: percentile(v, 99) for k, v in by_kind.items()},
        "real_prs": len(prs),
        "queue_drain_after_load_s": drain,
    }
    mix = ", ".join(f"{k} {len(v)}" for k, v in sorted(by_kind.items()))
    label = f"{len(results):,} deliveries, {rate:g}/s for {seconds:g} s"
    run.rows.append(Row("3", f"ack p50 ({label})", percentile(latencies_ms, 50), "ms", None))
    run.rows.append(
        Row(
            "3",
            "ack p99",
            percentile(latencies_ms, 99),
            "ms",
            ACK_P99_TARGET_MS,
            "p99 by kind: "
            + ", ".join(f"{k} {percentile(v, 99):.0f}" for k, v in sorted(by_kind.items())),
        )
    )
    run.rows.append(
        Row(
            "3",
            "ack max",
            max(latencies_ms, default=math.nan),
            "ms",
            None,
            f"mix: {mix}; client send lateness max {lateness:.1f} ms",
        )
    )
    run.rows.append(
        Row(
            "3",
            "ack errors (timeouts, resets, unexpected statuses)",
            len(errors),
            "",
            None,
            f"{len(prs)} real PRs checked; their queue drained {drain:.1f} s after the load",
        )
    )


# -- 4. memory ----------------------------------------------------------------------------------


def memory_of(pid: int) -> tuple[float, float]:
    """(VmRSS, Pss) of a process in MB, from /proc."""
    rss = pss = math.nan
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    rollup = Path(f"/proc/{pid}/smaps_rollup")
    if rollup.exists():
        for line in rollup.read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    return rss, pss


async def phase_memory(run: Run, bot: Bot, site: Site, total: int, in_flight: int = 4) -> None:
    """``total`` consecutive 10-file PRs (``in_flight`` at a time), the serve process' memory
    sampled after every tenth of them (every 100 of 1,000) with nothing in flight."""
    assert bot.process is not None
    pid = bot.process.pid
    step = max(1, total // 10)
    filesets = [corpus_files(10, seed=4000 + i, prefix=f"mem{i}") for i in range(10)]
    rss0, pss0 = memory_of(pid)
    series: list[dict[str, float]] = [{"prs": 0, "rss_mb": rss0, "pss_mb": pss0}]
    started = time.monotonic()
    deadline = started + COMPLETION_TIMEOUT_S + total * 2.0
    done = sent = 0
    pending: list[tuple[PullRequest, FileSet]] = []
    async with aiohttp.ClientSession() as session:
        while done < total:
            # Never run past the next sampling point, so each sample sees an idle server.
            while sent < total and len(pending) < in_flight and sent // step == done // step:
                fileset = filesets[sent % len(filesets)]
                pr = open_pr(site, fileset, f"mem-{sent}")
                status = await post(session, bot.url + "/webhook", site.delivery("opened", pr))
                if status != 202:
                    run.wrong(f"memory: PR {sent} webhook answered {status}")
                pending.append((pr, fileset))
                sent += 1
            await asyncio.sleep(0.01)
            still: list[tuple[PullRequest, FileSet]] = []
            for pr, fileset in pending:
                check = completed_run(site, pr.head_sha)
                if check is None:
                    still.append((pr, fileset))
                    continue
                if check.conclusion != fileset.expected or check.completions != 1:
                    verify(run, f"memory PR {pr.number}", check, fileset)
                done += 1
            pending = still
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"memory: {len(pending)} check runs never completed")
            if not pending and done % step == 0 and done and series[-1]["prs"] != done:
                rss, pss = memory_of(pid)
                series.append({"prs": done, "rss_mb": rss, "pss_mb": pss})
                print(f"  {done} PRs: RSS {rss:.1f} MB, PSS {pss:.1f} MB", flush=True)
    wall = time.monotonic() - started
    run.extra["memory"] = {"series": series, "wall_s": wall, "prs": total, "step": step}
    # From the 20 % mark (PR 200 of 1,000): the first samples include warm-up (schemas
    # compiled, caches filled, the allocator's arenas grown).
    first = series[min(2, len(series) - 1)]
    last = series[-1]
    growth = (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"]
    pss_growth = (last["pss_mb"] - first["pss_mb"]) / first["pss_mb"]
    run.rows.append(
        Row(
            "4",
            f"RSS growth, PR {int(first['prs'])} -> PR {int(last['prs'])} (serve process)",
            growth * 100,
            "%",
            MEMORY_GROWTH_TARGET * 100,
            f"PSS growth {pss_growth * 100:+.1f} %; RSS MB at PR "
            + ", ".join(f"{int(s['prs'])}: {s['rss_mb']:.1f}" for s in series)
            + f"; {total} PRs in {wall:.0f} s ({total / wall:.1f}/s, {in_flight} in flight)",
        )
    )


# -- output -------------------------------------------------------------------------------------


def render(rows: Sequence[Row]) -> str:
    header = f"{'':2} {'figure':62} {'value':>12}  target"
    lines = [header, "-" * (len(header) + 20)]
    for r in rows:
        if r.value is None or (isinstance(r.value, float) and math.isnan(r.value)):
            shown = "-"
        elif r.unit == "s":
            shown = f"{r.value:.3f} s"
        elif r.unit == "ms":
            shown = f"{r.value:.1f} ms"
        elif r.unit == "%":
            shown = f"{r.value:+.1f} %"
        elif r.unit == "calls":
            shown = f"{r.value:.0f} calls"
        else:
            shown = f"{r.value:g}"
        target = ""
        if r.target is not None:
            unit = {"calls": "", "%": " %"}.get(r.unit, f" {r.unit}")
            target = f"<= {r.target:g}{unit}: {'ok' if r.met else 'target missed'}"
        lines.append(f"{r.key:2} {r.name:62} {shown:>12}  {target}")
        if r.note:
            lines.append(f"{'':6}{r.note}")
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "aiohttp": aiohttp.__version__,
    }


def start_bot(em: EmulatorHandle, site: Site, workdir: Path) -> Bot:
    workdir.mkdir(parents=True, exist_ok=True)
    bot = Bot(em, site.app, site.installation, site.repo, workdir)
    bot.start()
    return bot


async def run_all(args: argparse.Namespace, run: Run, skip: set[str]) -> None:
    smoke = args.smoke
    with run_emulator() as em:
        app, inst, repo = em.setup_app("bench-org/manifests", files=base_files())
        site = Site(em, app, inst, repo)
        bot = start_bot(em, site, run.workdir / "serve")
        phases: list[tuple[str, str, Callable[[], Any]]] = [
            ("1", "latency", lambda: phase_latency(run, bot, site, 3 if smoke else args.prs)),
            ("2", "API calls", lambda: phase_api_calls(run, bot, em, app)),
            (
                "3",
                "webhook acknowledgement under load",
                lambda: phase_load(run, bot, em, app, 5 if smoke else args.seconds, args.rate),
            ),
        ]
        try:
            for key, name, phase in phases:
                if key in skip:
                    continue
                await run_phase(run, key, name, phase)
        finally:
            bot.stop()
            run.extra["serve_log_tail"] = bot.log()[-4000:]
        if "4" not in skip:
            # A fresh process, so the series is not coloured by the phases above.
            mem_site = new_site(em, app, "bench-memory")
            mem_bot = start_bot(em, mem_site, run.workdir / "serve-memory")
            total = 100 if smoke else args.memory_prs
            try:
                await run_phase(
                    run, "4", "memory", lambda: phase_memory(run, mem_bot, mem_site, total)
                )
            finally:
                mem_bot.stop()


async def run_phase(run: Run, key: str, name: str, phase: Callable[[], Any]) -> None:
    print(f"- ({key}) {name} ...", flush=True)
    started = time.perf_counter()
    try:
        await phase()
    except Exception as exc:
        traceback.print_exc()
        run.rows.append(Row(key, f"{name}: CRASHED", None, "", note=f"{type(exc).__name__}: {exc}"))
        run.problems.append(f"({key}) {name} crashed: {type(exc).__name__}: {exc}")
    print(f"  ({time.perf_counter() - started:.1f} s)", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="gitops-gate App benchmark (against the emulator)")
    parser.add_argument("--smoke", action="store_true", help="quick run (< 60 s), small counts")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument("--prs", type=int, default=10, help="50-file PRs timed in (1)")
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration in (3)")
    parser.add_argument("--rate", type=float, default=100.0, help="deliveries per second in (3)")
    parser.add_argument("--memory-prs", type=int, default=1000, help="consecutive PRs in (4)")
    parser.add_argument("--skip", default="", help="comma-separated figure keys to skip (e.g. 3,4)")
    # Internal: the load client child process of (3).
    parser.add_argument("--load-client", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_client is not None:
        asyncio.run(load_client(args.load_client, args.url, args.rate, args.out))
        return 0
    skip = {k.strip() for k in args.skip.split(",") if k.strip()}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gitops-gate-app-bench-") as tmp:
        run = Run(args.smoke, Path(tmp))
        print(
            f"gitops-gate App bench against the GitHub emulator{' [smoke]' if args.smoke else ''}",
            flush=True,
        )
        print(f"  {environment()}", flush=True)
        asyncio.run(run_all(args, run, skip))
    elapsed = time.perf_counter() - started
    print()
    print(render(run.rows))
    print(f"\ntotal {elapsed:.1f} s")
    if args.json:
        payload = {
            "smoke": args.smoke,
            "environment": environment(),
            "rows": [r.to_json() for r in run.rows],
            "extra": run.extra,
            "problems": run.problems,
            "elapsed_s": elapsed,
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    if run.problems:
        print("\nBROKEN:")
        for problem in run.problems:
            print(f"  - {problem}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
