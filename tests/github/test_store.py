"""The App's SQLite store on real database files: dedupe, idempotent enqueue, supersession,
leases, crash recovery bookkeeping, migrations and durability."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.github.store import (
    SCHEMA_VERSION,
    AsyncStore,
    Delivery,
    DeliveryOutcome,
    JobKind,
    JobState,
    NewJob,
    Store,
    StoreError,
)


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    db = Store(tmp_path / "gate.db", clock=clock)
    yield db
    db.close()


def pr_job(sha: str, pr: int = 7, repo: str = "acme/gitops", **extra: object) -> NewJob:
    kind = extra.pop("kind", JobKind.PULL_REQUEST)
    assert isinstance(kind, JobKind)
    base = extra.pop("base_sha", "base0")
    assert isinstance(base, str)
    return NewJob(
        kind=kind,
        installation_id=99,
        repo=repo,
        head_sha=sha,
        pr_number=pr,
        base_sha=base,
        head_ref="feature",
        payload={"action": "synchronize", "after": sha},
    )


def delivery(delivery_id: str = "d-1") -> Delivery:
    return Delivery(delivery_id, "pull_request", "opened", 99, DeliveryOutcome.ACCEPTED)


# -- deliveries ------------------------------------------------------------------------------


def test_same_delivery_id_is_recorded_once(store: Store) -> None:
    assert store.record_delivery(delivery("d-1")) is True
    assert store.record_delivery(delivery("d-1")) is False
    assert store.record_delivery(delivery("d-2")) is True
    record = store.get_delivery("d-1")
    assert record is not None
    assert record.delivery.outcome is DeliveryOutcome.ACCEPTED
    assert record.delivery.installation_id == 99
    assert record.duplicates == 1


def test_accept_delivery_enqueues_once_per_delivery(store: Store) -> None:
    first = store.accept_delivery(delivery("d-1"), [pr_job("a1")])
    assert first is not None and first[0].created
    assert store.accept_delivery(delivery("d-1"), [pr_job("a1")]) is None
    assert len(store.jobs_for("acme/gitops")) == 1


def test_failed_enqueue_rolls_back_the_delivery(store: Store) -> None:
    broken = NewJob(JobKind.PULL_REQUEST, 1, "acme/gitops", "a1", payload={"x": object()})
    with pytest.raises(TypeError):
        store.accept_delivery(delivery("d-1"), [broken])
    # Not marked seen, so GitHub's redelivery of the same id is accepted.
    assert store.get_delivery("d-1") is None
    assert store.record_delivery(delivery("d-1")) is True


# -- enqueue and supersession ----------------------------------------------------------------


def test_enqueue_is_idempotent_per_key(store: Store) -> None:
    first = store.enqueue(pr_job("a1"))
    again = store.enqueue(pr_job("a1"))
    assert first.created and first.queued
    assert again.job_id == first.job_id and not again.created and not again.queued
    other_kind = store.enqueue(pr_job("a1", kind=JobKind.CHECK_SUITE))
    assert other_kind.created and other_kind.job_id != first.job_id
    assert store.queue_depth() == 2


def test_merge_group_jobs_are_keyed_by_head_without_pr(store: Store) -> None:
    def group(sha: str) -> NewJob:
        return NewJob(JobKind.MERGE_GROUP, 99, "acme/gitops", sha, base_sha="b", head_ref="q")

    first = store.enqueue(group("g1"))
    assert store.enqueue(group("g1")).job_id == first.job_id
    second = store.enqueue(group("g2"))
    # Groups are independent: the queue may test several at once, none supersedes another.
    assert second.created and second.superseded == ()
    assert store.queue_depth() == 2


def test_new_head_supersedes_queued_and_running_jobs_of_the_pr(store: Store) -> None:
    running = store.enqueue(pr_job("a1")).job_id
    claimed = store.claim("w1", 30)
    assert claimed is not None and claimed.id == running
    queued_suite = store.enqueue(pr_job("a1", kind=JobKind.CHECK_SUITE)).job_id

    newest = store.enqueue(pr_job("a2"))

    assert newest.created
    assert newest.superseded == (running, queued_suite)
    assert store.is_superseded(running) and store.is_superseded(queued_suite)
    # The worker still running the old head cannot record its result.
    assert store.complete(running, "success", worker_id="w1") is False
    assert store.heartbeat(running, "w1", 30) is False
    job = store.get(running)
    assert job is not None and job.state is JobState.SUPERSEDED and job.conclusion is None
    assert store.queue_depth() == 1


def test_supersession_is_scoped_to_one_pull_request(store: Store) -> None:
    other_pr = store.enqueue(pr_job("x1", pr=8)).job_id
    other_repo = store.enqueue(pr_job("a1", repo="acme/other")).job_id
    finished = store.enqueue(pr_job("a1")).job_id
    store.claim("w1", 30)
    store.claim("w1", 30)
    store.claim("w1", 30)
    store.complete(finished, "success")

    result = store.enqueue(pr_job("a2"))

    assert result.superseded == ()  # finished jobs keep their result; other PRs untouched
    assert not store.is_superseded(other_pr) and not store.is_superseded(other_repo)
    job = store.get(finished)
    assert job is not None and job.state is JobState.COMPLETED


def test_rerun_requeues_a_finished_job_with_a_fresh_check_run(store: Store) -> None:
    job_id = store.enqueue(pr_job("a1")).job_id
    store.claim("w1", 30)
    store.set_check_run(job_id, 555)
    store.complete(job_id, "failure")

    assert store.enqueue(pr_job("a1")).queued is False  # plain redelivery: nothing to do
    result = store.enqueue(pr_job("a1", base_sha="base1"), rerun=True)

    assert result.job_id == job_id and result.requeued and result.queued
    job = store.get(job_id)
    assert job is not None
    assert job.state is JobState.QUEUED and job.attempts == 0
    assert job.check_run_id is None and job.conclusion is None
    assert job.base_sha == "base1"  # the base branch moved: judged against the new base
    # A rerun of a job already waiting changes nothing.
    assert store.enqueue(pr_job("a1"), rerun=True).queued is False


def test_force_push_back_to_an_earlier_head_revives_it(store: Store) -> None:
    old = store.enqueue(pr_job("a1")).job_id
    newer = store.enqueue(pr_job("a2")).job_id
    assert store.is_superseded(old)

    result = store.enqueue(pr_job("a1"), rerun=True)

    assert result.requeued and result.superseded == (newer,)
    job = store.get(old)
    assert job is not None and job.state is JobState.QUEUED


# -- claiming, leases, completion ------------------------------------------------------------


def test_claim_takes_the_oldest_job_with_a_lease(store: Store, clock: FakeClock) -> None:
    first = store.enqueue(pr_job("a1", pr=1)).job_id
    store.enqueue(pr_job("b1", pr=2))

    job = store.claim("w1", 30)

    assert job is not None and job.id == first
    assert job.state is JobState.RUNNING and job.attempts == 1 and job.worker_id == "w1"
    assert job.started_at == clock.now and job.lease_until == clock.now + 30
    assert job.payload == {"action": "synchronize", "after": "a1"}
    clock.now += 20
    assert store.heartbeat(first, "w1", 30) is True
    assert store.heartbeat(first, "intruder", 30) is False
    renewed = store.get(first)
    assert renewed is not None and renewed.lease_until == clock.now + 30


def test_claim_returns_none_when_the_queue_is_empty(store: Store) -> None:
    assert store.claim("w1", 30) is None


def test_complete_and_fail_record_the_outcome(store: Store, clock: FakeClock) -> None:
    done = store.enqueue(pr_job("a1", pr=1)).job_id
    broken = store.enqueue(pr_job("b1", pr=2)).job_id
    # Only a running job can complete.
    assert store.complete(done, "success") is False
    store.claim("w1", 30)
    clock.now += 3
    assert store.complete(done, "success", worker_id="other") is False
    assert store.complete(done, "success", worker_id="w1") is True
    assert store.fail(broken, "too big") is True  # a queued job may fail (never claimed)

    finished = store.get(done)
    failed = store.get(broken)
    assert finished is not None and failed is not None
    assert finished.state is JobState.COMPLETED and finished.conclusion == "success"
    assert finished.finished_at == clock.now and finished.lease_until is None
    assert failed.state is JobState.FAILED and failed.error == "too big"
    assert store.fail(done, "late") is False  # finished jobs stay finished


def test_requeue_interrupted_keeps_the_check_run(store: Store) -> None:
    job_id = store.enqueue(pr_job("a1")).job_id
    store.claim("dead-worker", 30)
    store.set_check_run(job_id, 4242)

    assert store.requeue_interrupted() == [job_id]

    again = store.claim("new-worker", 30)
    assert again is not None and again.id == job_id
    assert again.check_run_id == 4242 and again.attempts == 2
    assert store.requeue_interrupted() == [job_id]  # running again: requeued again
    assert store.requeue_interrupted() == []


def test_requeue_expired_only_leaves_live_leases(store: Store, clock: FakeClock) -> None:
    stale = store.enqueue(pr_job("a1", pr=1)).job_id
    live = store.enqueue(pr_job("b1", pr=2)).job_id
    store.claim("w1", 10)
    store.claim("w2", 10)
    clock.now += 8
    store.heartbeat(live, "w2", 10)
    clock.now += 5

    assert store.requeue_interrupted(expired_only=True) == [stale]
    job = store.get(live)
    assert job is not None and job.state is JobState.RUNNING


def test_release_gives_the_job_back_without_counting_the_attempt(store: Store) -> None:
    job_id = store.enqueue(pr_job("a1")).job_id
    store.claim("w1", 30)
    store.set_check_run(job_id, 9)
    assert store.release(job_id, "w2") is False
    assert store.release(job_id, "w1") is True
    job = store.get(job_id)
    assert job is not None
    assert job.state is JobState.QUEUED and job.attempts == 0 and job.check_run_id == 9


def test_claim_is_atomic_across_threads_and_connections(tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    seed = Store(path)
    expected = {seed.enqueue(pr_job(f"s{n}", pr=n)).job_id for n in range(60)}
    stores = [Store(path), Store(path)]
    claimed: list[list[int]] = [[], [], [], []]
    start = threading.Barrier(4)

    def drain(index: int) -> None:
        # Two threads share one Store (a connection each), two use separate Store objects:
        # the same as two processes on one file.
        db = stores[index % 2]
        start.wait()
        while (job := db.claim(f"w{index}", 30)) is not None:
            claimed[index].append(job.id)

    threads = [threading.Thread(target=drain, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    every = [job_id for ids in claimed for job_id in ids]
    assert sorted(every) == sorted(expected)  # each job exactly once
    assert seed.counts_by_state()[JobState.RUNNING] == 60
    for db in [seed, *stores]:
        db.close()


# -- metrics, installations, housekeeping ----------------------------------------------------


def test_counts_by_state_lists_every_state(store: Store) -> None:
    assert store.counts_by_state() == dict.fromkeys(JobState, 0)
    store.enqueue(pr_job("a1", pr=1))
    store.enqueue(pr_job("b1", pr=2))
    store.enqueue(pr_job("b2", pr=2))
    store.claim("w1", 30)
    counts = store.counts_by_state()
    assert counts[JobState.SUPERSEDED] == 1
    assert counts[JobState.RUNNING] == 1
    assert counts[JobState.QUEUED] == 1 == store.queue_depth()


def test_installations_keep_the_latest_event(store: Store, clock: FakeClock) -> None:
    store.record_installation(5, "acme", "created")
    clock.now += 60
    store.record_installation(5, "acme", "suspend")
    assert store.installation(5) == ("acme", "suspend", clock.now)
    assert store.installation(6) is None


def test_prune_removes_old_finished_rows_only(store: Store, clock: FakeClock) -> None:
    store.record_delivery(delivery("old"))
    old = store.enqueue(pr_job("a1", pr=1)).job_id
    store.claim("w1", 30)
    store.complete(old, "success")
    waiting = store.enqueue(pr_job("b1", pr=2)).job_id
    clock.now += 10 * 86400
    store.record_delivery(delivery("new"))

    assert store.prune(8 * 86400) == 2
    assert store.get_delivery("old") is None and store.get_delivery("new") is not None
    assert store.get(old) is None and store.get(waiting) is not None


def test_ping_reports_readiness(tmp_path: Path) -> None:
    db = Store(tmp_path / "gate.db")
    assert db.ping() is True
    db.close()
    assert db.ping() is False


# -- durability and schema -------------------------------------------------------------------


def test_state_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    first = Store(path)
    first.record_delivery(delivery("d-1"))
    job_id = first.enqueue(pr_job("a1")).job_id
    first.claim("w1", 30)
    first.set_check_run(job_id, 77)
    first.close()

    reopened = Store(path)
    assert reopened.schema_version() == SCHEMA_VERSION
    assert reopened.record_delivery(delivery("d-1")) is False
    job = reopened.get(job_id)
    assert job is not None and job.state is JobState.RUNNING and job.check_run_id == 77
    assert reopened.enqueue(pr_job("a1")).job_id == job_id
    reopened.close()

    with sqlite3.connect(path) as raw:
        versions = raw.execute("SELECT version FROM schema_version").fetchall()
        mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == [(1,)]  # migrations ran once
    assert mode == "wal"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    Store(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this gitops-gate supports"):
        Store(path)


def test_async_store_runs_calls_off_the_event_loop(store: Store) -> None:
    async def scenario() -> None:
        db = AsyncStore(store)
        assert await db.ping()
        assert await db.record_delivery(delivery("d-1"))
        result = await db.enqueue(pr_job("a1"))
        job = await db.claim("w1", 30)
        assert job is not None and job.id == result.job_id
        await db.set_check_run(job.id, 3)
        assert await db.heartbeat(job.id, "w1", 30)
        assert await db.complete(job.id, "success", worker_id="w1")
        assert (await db.counts_by_state())[JobState.COMPLETED] == 1
        assert await db.queue_depth() == 0

    asyncio.run(scenario())
