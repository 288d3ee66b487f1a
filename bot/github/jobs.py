"""Runs the durable queue's jobs on asyncio with bounded concurrency.

The runner knows nothing about GitHub: the caller injects

- ``handler(job, ctx) -> conclusion``: fetch the change, analyse it, publish the check run;
- ``on_failure(job, reason)``: conclude the job's check run ``failure`` with the reason, so a
  check run never stays pending when the handler raised or ran out of time;
- ``on_superseded(job)`` (optional): tidy up a check run whose head was replaced mid-run;
- ``metrics`` (optional): a :class:`RunnerMetrics` (no prometheus import here).

Each of the ``concurrency`` worker tasks claims one job at a time, so never more than that
many handlers run at once. Workers wake on :meth:`JobRunner.notify` and on a poll timer (the
safety net for a missed notify or another process enqueueing into the same file).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.errors import BotError
from bot.github.store import AsyncStore, Job, JobState, Store

log = logging.getLogger(__name__)

_REASON_LIMIT = 1000  # characters of an error kept in the database and passed to on_failure


class JobDeadlineExceeded(BotError):
    """The handler did not finish within the per-job deadline."""


class JobOutcome(StrEnum):
    """How the runner finished with a job (the metrics label)."""

    COMPLETED = "completed"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    RELEASED = "released"  # given back to the queue at shutdown
    LOST = "lost"  # the lease was taken over by another worker: its result is theirs


class RunnerMetrics(Protocol):
    def job_started(self, job: Job) -> None: ...

    def job_finished(self, job: Job, outcome: JobOutcome, duration: float) -> None: ...


class _NoMetrics:
    def job_started(self, job: Job) -> None:
        pass

    def job_finished(self, job: Job, outcome: JobOutcome, duration: float) -> None:
        pass


class JobContext:
    """What a handler may ask of the runner while it works on ``job``."""

    def __init__(self, job: Job, store: AsyncStore, deadline: float) -> None:
        self.job = job
        self.check_run_id = job.check_run_id
        self._store = store
        self._deadline = deadline
        self._superseded = False
        self._cancel_reason: JobOutcome | None = None

    async def superseded(self) -> bool:
        """True when a newer head replaced this job: stop and publish nothing. Cheap enough to
        call between steps (one indexed read)."""
        if not self._superseded:
            self._superseded = await self._store.is_superseded(self.job.id)
        return self._superseded

    async def set_check_run(self, check_run_id: int) -> None:
        """Persist the check run at once, so a worker restarted after a crash completes the
        same run instead of leaving this one pending."""
        await self._store.set_check_run(self.job.id, check_run_id)
        self.check_run_id = check_run_id

    def remaining(self) -> float:
        """Seconds left before the job's deadline (size retries and backoff with it)."""
        return max(0.0, self._deadline - time.monotonic())

    def _cancel(self, reason: JobOutcome) -> None:
        self._cancel_reason = reason
        if reason is JobOutcome.SUPERSEDED:
            self._superseded = True


Handler = Callable[[Job, JobContext], Awaitable[str]]
FailureHook = Callable[[Job, str], Awaitable[None]]
SupersededHook = Callable[[Job], Awaitable[None]]


@dataclass(frozen=True)
class RunnerConfig:
    concurrency: int = 4
    job_timeout: float = 600.0  # seconds per job, retries included
    lease_seconds: float = 60.0  # renewed every third of it while the handler runs
    poll_interval: float = 5.0
    max_attempts: int = 3  # runs interrupted by crashes before giving up with `failure`
    hook_timeout: float = 60.0  # for on_failure / on_superseded
    # Also requeue running jobs whose lease expired, on every poll. Only useful when several
    # processes share one database; a single process recovers with requeue_interrupted().
    reclaim_expired: bool = False


@dataclass
class _Active:
    task: asyncio.Task[str]
    ctx: JobContext


class JobRunner:
    """Bounded pool of asyncio workers draining the store's queue."""

    def __init__(
        self,
        store: AsyncStore | Store,
        handler: Handler,
        *,
        on_failure: FailureHook,
        on_superseded: SupersededHook | None = None,
        config: RunnerConfig | None = None,
        metrics: RunnerMetrics | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.store = store if isinstance(store, AsyncStore) else AsyncStore(store)
        self.config = config or RunnerConfig()
        if self.config.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        # Unique per runner, so two runners (threads, processes, hosts) never share a lease.
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._handler = handler
        self._on_failure = on_failure
        self._on_superseded = on_superseded
        self._metrics: RunnerMetrics = metrics or _NoMetrics()
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._poller: asyncio.Task[None] | None = None
        self._active: dict[int, _Active] = {}
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, *, requeue_interrupted: bool = False) -> None:
        """Start the workers. ``requeue_interrupted=True`` first puts back jobs a dead
        process left running (single-process deployments do this at start-up)."""
        if self._workers:
            raise RuntimeError("the runner is already started")
        if requeue_interrupted:
            requeued = await self.store.requeue_interrupted()
            if requeued:
                log.info("requeued %d interrupted job(s): %s", len(requeued), requeued)
        self._stopping = False
        self._workers = [
            asyncio.create_task(self._worker(), name=f"job-worker-{n}")
            for n in range(self.config.concurrency)
        ]
        self._poller = asyncio.create_task(self._poll(), name="job-poller")

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop claiming; let running jobs finish for ``grace`` seconds, then cancel them and
        give them back to the queue (check run id kept) for the next start."""
        self._stopping = True
        self._wake.set()
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if not self._workers:
            return
        _, pending = await asyncio.wait(self._workers, timeout=grace)
        if pending:
            for job_id in list(self._active):
                self._cancel(job_id, JobOutcome.RELEASED)
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    def notify(self, superseded: Iterable[int] = ()) -> None:
        """Wake the workers (a job was queued). Pass the ids an enqueue superseded so the jobs
        running here are cancelled now instead of at their next heartbeat."""
        for job_id in superseded:
            self._cancel(job_id, JobOutcome.SUPERSEDED)
        self._wake.set()

    @property
    def active_jobs(self) -> list[int]:
        return sorted(self._active)

    def healthy(self) -> bool:
        """Readiness: every worker task is alive."""
        return bool(self._workers) and not any(task.done() for task in self._workers)

    async def wait_idle(self, poll: float = 0.02) -> None:
        """Return when the database has no queued or running job (tests, benchmarks). Reads
        the database, not this runner's state, so a job between claim and start counts; a job
        left running by a dead process keeps it waiting: wrap it in a timeout."""
        while True:
            counts = await self.store.counts_by_state()
            if not self._active and counts[JobState.QUEUED] + counts[JobState.RUNNING] == 0:
                return
            await asyncio.sleep(poll)

    # -- workers ---------------------------------------------------------------------------

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval)
            if self.config.reclaim_expired:
                try:
                    await self.store.requeue_interrupted(expired_only=True)
                except Exception:
                    log.exception("requeueing expired leases failed")
            self._wake.set()

    async def _worker(self) -> None:
        while not self._stopping:
            # Clear before claiming: a notify() that lands during the claim keeps the event
            # set, so the wait below returns at once and the new job is not missed.
            self._wake.clear()
            job = await self._claim()
            if job is None:
                await self._wake.wait()
                continue
            if self._stopping:  # stop() was called while the claim was in flight
                await self.store.release(job.id, self.worker_id)
                break
            try:
                await self._run(job)
            except Exception:
                # A database error while settling must not kill the worker; the job stays
                # running until its lease expires or the process restarts and requeues it.
                log.exception("job %d: runner error", job.id)

    async def _claim(self) -> Job | None:
        if self._stopping:
            return None
        try:
            return await self.store.claim(self.worker_id, self.config.lease_seconds)
        except Exception:
            log.exception("claiming a job failed; retrying at the next poll")
            return None

    async def _run(self, job: Job) -> None:
        started = time.monotonic()
        self._metrics.job_started(job)
        if job.attempts > self.config.max_attempts:
            # The process died this many times while running the job: stop retrying a job
            # that may be what kills it, and conclude its check run.
            reason = f"gave up after {job.attempts - 1} interrupted attempts"
            outcome = await self._fail(job, reason)
        else:
            outcome = await self._execute(job)
        self._metrics.job_finished(job, outcome, time.monotonic() - started)

    async def _execute(self, job: Job) -> JobOutcome:
        ctx = JobContext(job, self.store, time.monotonic() + self.config.job_timeout)
        # The handler runs in its own task so that cancelling it (supersession, shutdown)
        # never cancels the worker, which still has to record the outcome.
        task = asyncio.create_task(self._call(job, ctx), name=f"job-{job.id}")
        self._active[job.id] = _Active(task, ctx)
        beat = asyncio.create_task(self._heartbeat(job, task))
        try:
            await asyncio.wait({task})
        finally:
            beat.cancel()
            del self._active[job.id]
            if not task.done():  # only when the worker itself was cancelled
                task.cancel()
        return await self._settle(job, ctx, task)

    async def _call(self, job: Job, ctx: JobContext) -> str:
        timeout = self.config.job_timeout
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                return await self._handler(job, ctx)
        except TimeoutError as exc:
            # Only our deadline is reported as such; a TimeoutError raised inside the handler
            # (an HTTP call) is an ordinary error with its own message.
            if scope.expired():
                raise JobDeadlineExceeded(f"the check did not finish within {timeout:g} s") from exc
            raise

    async def _heartbeat(self, job: Job, task: asyncio.Task[str]) -> None:
        # Renewing the lease is also how a worker learns that its job was superseded (by an
        # enqueue in another process, or one whose notify() did not reach this runner).
        interval = min(self.config.lease_seconds / 3, self.config.poll_interval)
        while not task.done():
            await asyncio.sleep(interval)
            try:
                ours = await self.store.heartbeat(job.id, self.worker_id, self.config.lease_seconds)
                if ours:
                    continue
                superseded = await self.store.is_superseded(job.id)
            except Exception:
                log.exception("job %d: heartbeat failed", job.id)
                continue
            self._cancel(job.id, JobOutcome.SUPERSEDED if superseded else JobOutcome.LOST)
            return

    def _cancel(self, job_id: int, reason: JobOutcome) -> None:
        active = self._active.get(job_id)
        # The first reason wins: a stop() arriving after a supersession must not release a
        # superseded job back to the queue.
        if active is None or active.task.done() or active.ctx._cancel_reason is not None:
            return
        active.ctx._cancel(reason)
        active.task.cancel()

    # -- outcomes --------------------------------------------------------------------------

    async def _settle(self, job: Job, ctx: JobContext, task: asyncio.Task[str]) -> JobOutcome:
        if task.cancelled():
            return await self._settle_cancelled(job, ctx)
        error = task.exception()
        if error is not None:
            return await self._fail(job, _describe(error))
        if await self.store.complete(job.id, task.result(), worker_id=self.worker_id):
            return JobOutcome.COMPLETED
        # Superseded (or taken over) after the handler's last check: discard the result.
        return await self._discarded(job)

    async def _settle_cancelled(self, job: Job, ctx: JobContext) -> JobOutcome:
        reason = ctx._cancel_reason
        if reason is JobOutcome.SUPERSEDED:
            return await self._discarded(job)
        if reason is JobOutcome.RELEASED:
            await self.store.release(job.id, self.worker_id)
            return JobOutcome.RELEASED
        if reason is JobOutcome.LOST:
            log.warning("job %d: lease lost to another worker; result discarded", job.id)
            return JobOutcome.LOST
        return await self._fail(job, "the check was cancelled")

    async def _discarded(self, job: Job) -> JobOutcome:
        current = await self.store.get(job.id)
        if current is None or not await self.store.is_superseded(job.id):
            return JobOutcome.LOST
        log.info("job %d superseded by a newer head; result discarded", job.id)
        if self._on_superseded is not None:
            await self._hook(self._on_superseded(current), job, "on_superseded")
        return JobOutcome.SUPERSEDED

    async def _fail(self, job: Job, reason: str) -> JobOutcome:
        # Re-read the job: the handler may have created the check run during this attempt.
        current = await self.store.get(job.id) or job
        if current.state is JobState.SUPERSEDED:
            return await self._discarded(job)
        log.warning("job %d failed: %s", job.id, reason)
        # on_failure before recording: if the process dies in between, the job is still
        # running, gets requeued and concluded on restart. The other order could leave the
        # check run pending forever behind a job marked failed.
        await self._hook(self._on_failure(current, reason), job, "on_failure")
        if await self.store.fail(job.id, reason, worker_id=self.worker_id):
            return JobOutcome.FAILED
        return await self._discarded(job)

    async def _hook(self, call: Awaitable[None], job: Job, name: str) -> None:
        try:
            async with asyncio.timeout(self.config.hook_timeout):
                await call
        except Exception:
            log.exception("job %d: %s raised", job.id, name)


def _describe(error: BaseException) -> str:
    # Our own errors carry a sentence for users; others are prefixed with their type, since
    # str() of many exceptions (KeyError, TimeoutError) says little or nothing alone.
    message = str(error)
    if not isinstance(error, BotError):
        message = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return message[:_REASON_LIMIT]
