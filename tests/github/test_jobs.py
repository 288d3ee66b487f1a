"""The job runner on real SQLite files and real asyncio: supersession, bounded concurrency,
two runners on one file, deadlines, failures, graceful stop, and recovery after ``kill -9``."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.github.jobs import JobContext, JobOutcome, JobRunner, RunnerConfig
from bot.github.store import Job, JobKind, JobState, NewJob, Store

FAST = RunnerConfig(concurrency=2, job_timeout=5.0, lease_seconds=0.6, poll_interval=0.05)


_opened: list[Store] = []


def open_store(path: Path) -> Store:
    store = Store(path)
    _opened.append(store)
    return store


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def run(coro: Coroutine[Any, Any, None], timeout: float = 10.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout))


def pr_job(sha: str, pr: int = 7) -> NewJob:
    return NewJob(JobKind.PULL_REQUEST, 99, "acme/gitops", sha, pr_number=pr, base_sha="b0")


class Failures:
    """The injected on_failure: records what the real one would conclude as `failure`."""

    def __init__(self) -> None:
        self.calls: list[tuple[Job, str]] = []

    async def __call__(self, job: Job, reason: str) -> None:
        self.calls.append((job, reason))


class Metrics:
    def __init__(self) -> None:
        self.started: list[int] = []
        self.finished: list[tuple[int, JobOutcome, float]] = []

    def job_started(self, job: Job) -> None:
        self.started.append(job.id)

    def job_finished(self, job: Job, outcome: JobOutcome, duration: float) -> None:
        self.finished.append((job.id, outcome, duration))


def state(store: Store, job_id: int) -> Job:
    job = store.get(job_id)
    assert job is not None
    return job


def test_runs_queued_jobs_and_records_conclusions(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gate.db")
    ids = [store.enqueue(pr_job(f"s{n}", pr=n)).job_id for n in range(3)]
    metrics = Metrics()

    async def handle(job: Job, ctx: JobContext) -> str:
        await ctx.set_check_run(1000 + job.id)
        return "failure" if job.pr_number == 1 else "success"

    async def scenario() -> None:
        runner = JobRunner(store, handle, on_failure=Failures(), config=FAST, metrics=metrics)
        await runner.start()
        assert runner.healthy()
        await runner.wait_idle()
        await runner.stop()
        assert not runner.healthy()

    run(scenario())
    conclusions = [(state(store, i).state, state(store, i).conclusion) for i in ids]
    assert conclusions == [
        (JobState.COMPLETED, "success"),
        (JobState.COMPLETED, "failure"),
        (JobState.COMPLETED, "success"),
    ]
    assert [state(store, i).check_run_id for i in ids] == [1000 + i for i in ids]
    assert sorted(metrics.started) == ids
    assert sorted((i, o) for i, o, _ in metrics.finished) == [
        (i, JobOutcome.COMPLETED) for i in ids
    ]
    assert all(duration >= 0 for _, _, duration in metrics.finished)


def test_notify_wakes_idle_workers_before_the_poll(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gate.db")
    done = asyncio.Event()

    async def handle(job: Job, ctx: JobContext) -> str:
        done.set()
        return "success"

    async def scenario() -> None:
        slow_poll = RunnerConfig(concurrency=1, poll_interval=30.0)
        runner = JobRunner(store, handle, on_failure=Failures(), config=slow_poll)
        await runner.start()
        await asyncio.sleep(0.05)  # the worker found nothing and is waiting
        store.enqueue(pr_job("a1"))
        runner.notify()
        await asyncio.wait_for(done.wait(), 2.0)
        await runner.stop()

    run(scenario())


def test_two_quick_pushes_only_the_newest_head_runs(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gate.db")
    old = store.enqueue(pr_job("a1")).job_id
    newest = store.enqueue(pr_job("a2")).job_id
    handled: list[str] = []

    async def handle(job: Job, ctx: JobContext) -> str:
        handled.append(job.head_sha)
        return "success"

    async def scenario() -> None:
        runner = JobRunner(store, handle, on_failure=Failures(), config=FAST)
        await runner.start()
        await runner.wait_idle()
        await runner.stop()

    run(scenario())
    assert handled == ["a2"]
    assert state(store, old).state is JobState.SUPERSEDED
    assert state(store, newest).state is JobState.COMPLETED


def superseding_scenario(
    tmp_path: Path, supersede: Callable[[JobRunner, Store], Awaitable[None]]
) -> tuple[Store, list[str], list[Job], Failures]:
    """A handler for head a1 blocks; ``supersede`` pushes a2 while it runs."""
    store = open_store(tmp_path / "gate.db")
    store.enqueue(pr_job("a1"))
    events: list[str] = []
    superseded_hook: list[Job] = []
    failures = Failures()
    started = asyncio.Event()

    async def handle(job: Job, ctx: JobContext) -> str:
        if job.head_sha == "a2":
            events.append("a2 done")
            return "success"
        await ctx.set_check_run(31)
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("a1 cancelled")
            raise
        events.append("a1 done")
        return "success"

    async def on_superseded(job: Job) -> None:
        superseded_hook.append(job)

    async def scenario() -> None:
        runner = JobRunner(
            store, handle, on_failure=failures, on_superseded=on_superseded, config=FAST
        )
        await runner.start()
        await asyncio.wait_for(started.wait(), 5)
        await supersede(runner, store)
        await runner.wait_idle()
        await runner.stop()

    run(scenario())
    return store, events, superseded_hook, failures


def test_running_job_superseded_via_notify_is_cancelled_and_discarded(tmp_path: Path) -> None:
    async def push(runner: JobRunner, store: Store) -> None:
        result = store.enqueue(pr_job("a2"))
        runner.notify(superseded=result.superseded)

    store, events, hook, failures = superseding_scenario(tmp_path, push)
    assert sorted(events) == ["a1 cancelled", "a2 done"]
    old, new = store.jobs_for("acme/gitops", 7)
    assert old.state is JobState.SUPERSEDED and old.conclusion is None and old.error is None
    assert new.state is JobState.COMPLETED and new.conclusion == "success"
    assert [job.check_run_id for job in hook] == [31]  # its check run can be tidied up
    assert failures.calls == []


def test_running_job_superseded_elsewhere_is_noticed_by_heartbeat(tmp_path: Path) -> None:
    async def push_from_another_process(runner: JobRunner, store: Store) -> None:
        # A separate Store on the same file and no notify(): the runner must find out alone.
        other = Store(store.path)
        try:
            other.enqueue(pr_job("a2"))
        finally:
            other.close()

    store, events, hook, failures = superseding_scenario(tmp_path, push_from_another_process)
    assert sorted(events) == ["a1 cancelled", "a2 done"]
    old, new = store.jobs_for("acme/gitops", 7)
    assert old.state is JobState.SUPERSEDED and new.state is JobState.COMPLETED
    assert len(hook) == 1 and failures.calls == []


def test_result_of_a_job_superseded_after_its_last_step_is_discarded(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gate.db")
    first = store.enqueue(pr_job("a1")).job_id
    seen: list[bool] = []

    async def handle(job: Job, ctx: JobContext) -> str:
        if job.head_sha == "a1":
            seen.append(await ctx.superseded())
            await asyncio.to_thread(store.enqueue, pr_job("a2"))  # a push lands meanwhile
            seen.append(await ctx.superseded())
        return "success"

    async def scenario() -> None:
        runner = JobRunner(store, handle, on_failure=Failures(), config=FAST)
        await runner.start()
        await runner.wait_idle()
        await runner.stop()

    run(scenario())
    assert seen == [False, True]
    assert state(store, first).state is JobState.SUPERSEDED
    assert state(store, first).conclusion is None


def test_never_more_handlers_than_the_concurrency_limit(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gate.db")
    for n in range(12):
        store.enqueue(pr_job(f"s{n}", pr=n))
    current = 0
    peak = 0

    async def handle(job: Job, ctx: JobContext) -> str:
        nonlocal current, peak
        current += 1
        peak = max(peak, current)
        await asyncio.sleep(0.05)
        current -= 1
        return "success"

    async def scenario() -> None:
        config = RunnerConfig(concurrency=3, poll_interval=0.05, lease_seconds=1.0)
        runner = JobRunner(store, handle, on_failure=Failures(), config=config)
        await runner.start()
        await runner.wait_idle()
        await runner.stop()

    run(scenario())
    assert peak == 3
    assert store.counts_by_state()[JobState.COMPLETED] == 12


def test_two_runners_on_one_file_run_each_job_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    seed = open_store(path)
    expected = sorted(seed.enqueue(pr_job(f"s{n}", pr=n)).job_id for n in range(20))
    handled: list[tuple[str, int]] = []

    def handler_for(name: str) -> Callable[[Job, JobContext], Awaitable[str]]:
        async def handle(job: Job, ctx: JobContext) -> str:
            handled.append((name, job.id))
            await asyncio.sleep(0.02)
            return "success"

        return handle

    async def scenario() -> None:
        runners = [
            JobRunner(open_store(path), handler_for(name), on_failure=Failures(), config=FAST)
            for name in ("left", "right")
        ]
        for runner in runners:
            await runner.start()
        await runners[0].wait_idle()
        for runner in runners:
            await runner.stop()

    run(scenario())
    assert sorted(job_id for _, job_id in handled) == expected
    assert {name for name, _ in handled} == {"left", "right"}
    assert seed.counts_by_state()[JobState.COMPLETED] == 20


def test_deadline_concludes_failure_with_the_reason(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gate.db")
    job_id = store.enqueue(pr_job("a1")).job_id
    failures = Failures()
    metrics = Metrics()

    async def handle(job: Job, ctx: JobContext) -> str:
        await ctx.set_check_run(808)
        await asyncio.sleep(30)
        return "success"

    async def scenario() -> None:
        config = RunnerConfig(concurrency=1, job_timeout=0.2, poll_interval=0.05)
        runner = JobRunner(store, handle, on_failure=failures, config=config, metrics=metrics)
        await runner.start()
        await runner.wait_idle()
        await runner.stop()

    run(scenario())
    [(job, reason)] = failures.calls
    assert reason == "the check did not finish within 0.2 s"
    assert job.id == job_id and job.check_run_id == 808  # the run the hook must conclude
    failed = state(store, job_id)
    assert failed.state is JobState.FAILED and failed.error == reason
    assert [(i, o) for i, o, _ in metrics.finished] == [(job_id, JobOutcome.FAILED)]


def test_handler_errors_fail_the_job_and_the_worker_goes_on(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gate.db")
    boom = store.enqueue(pr_job("a1", pr=1)).job_id
    inner_timeout = store.enqueue(pr_job("b1", pr=2)).job_id
    fine = store.enqueue(pr_job("c1", pr=3)).job_id
    failures = Failures()

    async def handle(job: Job, ctx: JobContext) -> str:
        if job.pr_number == 1:
            raise RuntimeError("boom")
        if job.pr_number == 2:
            raise TimeoutError("connect to api.github.com")  # not the job's deadline
        return "success"

    async def broken_hook(job: Job, reason: str) -> None:
        await failures(job, reason)
        raise ConnectionError("GitHub is down too")

    async def scenario() -> None:
        config = RunnerConfig(concurrency=1, poll_interval=0.05)
        runner = JobRunner(store, handle, on_failure=broken_hook, config=config)
        await runner.start()
        await runner.wait_idle()
        await runner.stop()

    run(scenario())
    assert [(job.id, reason) for job, reason in failures.calls] == [
        (boom, "RuntimeError: boom"),
        (inner_timeout, "TimeoutError: connect to api.github.com"),
    ]
    assert state(store, boom).state is JobState.FAILED
    assert state(store, fine).state is JobState.COMPLETED


def test_stop_waits_for_a_job_that_finishes_within_the_grace(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gate.db")
    job_id = store.enqueue(pr_job("a1")).job_id
    started = asyncio.Event()

    async def handle(job: Job, ctx: JobContext) -> str:
        started.set()
        await asyncio.sleep(0.1)
        return "success"

    async def scenario() -> None:
        runner = JobRunner(store, handle, on_failure=Failures(), config=FAST)
        await runner.start()
        await started.wait()
        await runner.stop(grace=5)

    run(scenario())
    assert state(store, job_id).state is JobState.COMPLETED


def test_stop_releases_a_job_that_outlives_the_grace(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gate.db")
    job_id = store.enqueue(pr_job("a1")).job_id
    started = asyncio.Event()
    failures = Failures()

    async def stuck(job: Job, ctx: JobContext) -> str:
        await ctx.set_check_run(55)
        started.set()
        await asyncio.sleep(30)
        return "success"

    async def finish(job: Job, ctx: JobContext) -> str:
        assert ctx.check_run_id == 55
        return "success"

    async def scenario() -> None:
        runner = JobRunner(store, stuck, on_failure=failures, config=FAST)
        await runner.start()
        await started.wait()
        await runner.stop(grace=0.1)
        released = state(store, job_id)
        assert released.state is JobState.QUEUED and released.attempts == 0
        assert released.check_run_id == 55
        successor = JobRunner(store, finish, on_failure=failures, config=FAST)
        await successor.start()
        await successor.wait_idle()
        await successor.stop()

    run(scenario())
    assert state(store, job_id).state is JobState.COMPLETED
    assert failures.calls == []


def test_a_job_interrupted_too_often_is_concluded_failure(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gate.db")
    job_id = store.enqueue(pr_job("a1")).job_id
    for _ in range(2):  # two processes died while running it
        store.claim("dead", 30)
        store.requeue_interrupted()
    failures = Failures()
    handled: list[int] = []

    async def handle(job: Job, ctx: JobContext) -> str:
        handled.append(job.id)
        return "success"

    async def scenario() -> None:
        config = RunnerConfig(concurrency=1, poll_interval=0.05, max_attempts=2)
        runner = JobRunner(store, handle, on_failure=failures, config=config)
        await runner.start()
        await runner.wait_idle()
        await runner.stop()

    run(scenario())
    assert handled == []
    assert [reason for _, reason in failures.calls] == ["gave up after 2 interrupted attempts"]
    assert state(store, job_id).state is JobState.FAILED


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from bot.github.jobs import JobRunner, RunnerConfig
    from bot.github.store import Store

    async def handle(job, ctx):
        await ctx.set_check_run(4242)
        print("started", job.id, flush=True)
        await asyncio.sleep(3600)  # blocks until the parent kills the process
        return "success"

    async def on_failure(job, reason):
        print("failure", reason, flush=True)

    async def main():
        config = RunnerConfig(concurrency=1, poll_interval=0.05)
        runner = JobRunner(Store(sys.argv[1]), handle, on_failure=on_failure, config=config)
        await runner.start()
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def test_job_of_a_killed_process_completes_the_same_check_run(tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    store = open_store(path)
    job_id = store.enqueue(pr_job("a1")).job_id
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    ) as child:
        try:
            assert child.stdout is not None
            # Bounded wait, so a child that never starts fails the test instead of hanging.
            ready, _, _ = select.select([child.stdout], [], [], 10)
            assert ready, "the child runner did not start its job"
            assert child.stdout.readline().split() == ["started", str(job_id)]
            os.kill(child.pid, signal.SIGKILL)  # kill -9 mid-job: no cleanup code runs
            assert child.wait(5) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
    orphan = state(store, job_id)
    assert orphan.state is JobState.RUNNING and orphan.check_run_id == 4242

    seen: list[tuple[int | None, int | None, int]] = []

    async def handle(job: Job, ctx: JobContext) -> str:
        seen.append((job.check_run_id, ctx.check_run_id, job.attempts))
        return "success"

    async def restart() -> None:
        runner = JobRunner(open_store(path), handle, on_failure=Failures(), config=FAST)
        await runner.start(requeue_interrupted=True)
        await runner.wait_idle()
        await runner.stop()

    run(restart())
    assert seen == [(4242, 4242, 2)]  # the same check run, second attempt
    done = state(store, job_id)
    assert done.state is JobState.COMPLETED and done.conclusion == "success"
    assert done.check_run_id == 4242
