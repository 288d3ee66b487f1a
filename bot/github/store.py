"""Durable state of the GitHub App: webhook deliveries, the job queue and installations.

SQLite through the standard ``sqlite3`` module. Design choices, and why:

- WAL journal: readers (metrics, readiness, ``is_superseded``) never block the writer, and a
  process killed mid-transaction leaves the file consistent.
- One connection per thread: a ``sqlite3.Connection`` must not be used by two threads at once,
  and the asyncio side calls in through ``asyncio.to_thread`` from a pool of threads.
- Autocommit plus explicit ``BEGIN IMMEDIATE`` for every write: the write lock is taken before
  the first read of a read-then-write, so two threads or two processes sharing the file
  serialise on SQLite's lock instead of racing (e.g. both claiming the same job).
- ``busy_timeout``: a writer waits for the lock instead of failing with "database is locked".
- Every public method is synchronous and one short transaction. Async code uses
  :class:`AsyncStore`, a thin ``asyncio.to_thread`` wrapper, so the event loop never blocks.
- Timestamps are epoch seconds (REAL) from an injectable clock, so tests control leases.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.errors import BotError

Clock = Callable[[], float]
"""Returns the current time as epoch seconds."""


class StoreError(BotError):
    """The database cannot be used (e.g. its schema is newer than this program)."""


class JobKind(StrEnum):
    PULL_REQUEST = "pull_request"
    MERGE_GROUP = "merge_group"
    CHECK_SUITE = "check_suite"
    CHECK_RUN = "check_run"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    SUPERSEDED = "superseded"
    FAILED = "failed"


class DeliveryOutcome(StrEnum):
    ACCEPTED = "accepted"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"
    INVALID = "invalid"


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery, keyed by ``X-GitHub-Delivery`` (identical on redelivery)."""

    delivery_id: str
    event: str
    action: str | None
    installation_id: int | None
    outcome: DeliveryOutcome


@dataclass(frozen=True)
class DeliveryRecord:
    delivery: Delivery
    received_at: float
    duplicates: int


@dataclass(frozen=True)
class NewJob:
    """What the webhook side asks to be done. ``pr_number`` is None for merge groups (and for
    check suites of fork PRs, whose payload has no pull request)."""

    kind: JobKind
    installation_id: int
    repo: str
    head_sha: str
    pr_number: int | None = None
    base_sha: str | None = None
    head_ref: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    id: int
    kind: JobKind
    installation_id: int
    repo: str
    pr_number: int | None
    head_sha: str
    base_sha: str | None
    head_ref: str | None
    payload: Mapping[str, Any]
    state: JobState
    attempts: int
    check_run_id: int | None
    conclusion: str | None
    error: str | None
    worker_id: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    lease_until: float | None


@dataclass(frozen=True)
class EnqueueResult:
    """``created``: a new row; ``requeued``: an existing finished job was put back (rerun);
    ``superseded``: ids of queued or running jobs of the same PR at another head SHA."""

    job_id: int
    created: bool
    requeued: bool = False
    superseded: tuple[int, ...] = ()

    @property
    def queued(self) -> bool:
        """True when this call put work on the queue (wake the runner)."""
        return self.created or self.requeued


# Migrations by version: MIGRATIONS[n - 1] takes the schema from version n-1 to n. Append new
# tuples; never edit a released one (databases in the field have already applied it). The
# value lists are literals, not built from the enums, for the same reason: adding a state or a
# kind is a new migration (SQLite rebuilds a table to change a CHECK constraint).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE deliveries (
            delivery_id TEXT PRIMARY KEY,
            event TEXT NOT NULL,
            action TEXT,
            installation_id INTEGER,
            received_at REAL NOT NULL,
            outcome TEXT NOT NULL
                CHECK (outcome IN ('accepted', 'ignored', 'duplicate', 'invalid')),
            duplicates INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX deliveries_received_at ON deliveries (received_at)",
        # AUTOINCREMENT: ids are never reused after pruning, so a worker holding the id of a
        # pruned job can never touch an unrelated newer job.
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL
                CHECK (kind IN ('pull_request', 'merge_group', 'check_suite', 'check_run')),
            installation_id INTEGER NOT NULL,
            repo TEXT NOT NULL,
            pr_number INTEGER,
            head_sha TEXT NOT NULL,
            base_sha TEXT,
            head_ref TEXT,
            payload TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'completed', 'superseded', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            check_run_id INTEGER,
            conclusion TEXT,
            error TEXT,
            worker_id TEXT,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            lease_until REAL
        )""",
        # Two partial indexes because SQLite treats NULLs as distinct in UNIQUE: one job per
        # (repo, PR, head, kind), and one per (repo, head, kind) when there is no PR.
        """CREATE UNIQUE INDEX jobs_pr_key ON jobs (repo, pr_number, head_sha, kind)
            WHERE pr_number IS NOT NULL""",
        """CREATE UNIQUE INDEX jobs_sha_key ON jobs (repo, head_sha, kind)
            WHERE pr_number IS NULL""",
        "CREATE INDEX jobs_state ON jobs (state, id)",
        """CREATE TABLE installations (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            action TEXT NOT NULL,
            at REAL NOT NULL
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class Store:
    """The App's SQLite database. Thread-safe; every method is one short transaction."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock = time.time,
        busy_timeout_ms: int = 5000,
        synchronous: str = "NORMAL",
    ) -> None:
        # synchronous=NORMAL in WAL mode survives a process crash; only a power loss can drop
        # the last commits. Pass "FULL" to fsync every commit.
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise StoreError(f"unknown sqlite synchronous mode: {synchronous!r}")
        self.path = Path(path)
        self._clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous.upper()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._migrate()

    # -- connections and transactions ------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise StoreError("the store is closed")
            # check_same_thread=False only so close() may close it from another thread; each
            # connection is otherwise used by the thread that created it.
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                timeout=self._busy_timeout_ms / 1000,
                check_same_thread=False,
            )
            self._all.append(conn)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version"
                " (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            version = int(current.fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: database schema version {version} is newer than this "
                    f"gitops-gate supports ({SCHEMA_VERSION}); upgrade gitops-gate"
                )
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number - 1]:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (number, self._clock()),
                )

    def schema_version(self) -> int:
        row = self._conn().execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def ping(self) -> bool:
        """Readiness: True when the database answers a query."""
        try:
            self._conn().execute("SELECT 1 FROM schema_version LIMIT 1").fetchall()
        except (sqlite3.Error, StoreError):
            return False
        return True

    # -- deliveries ------------------------------------------------------------------------

    def record_delivery(self, delivery: Delivery) -> bool:
        """Store a delivery; False when its id was seen before (a redelivery: do nothing)."""
        with self._tx() as conn:
            return self._insert_delivery(conn, delivery)

    def accept_delivery(
        self, delivery: Delivery, jobs: Sequence[NewJob], *, rerun: bool = False
    ) -> list[EnqueueResult] | None:
        """Record the delivery and enqueue its jobs in ONE transaction, so a crash can never
        leave a delivery marked seen whose job was lost. None when the delivery is a duplicate."""
        with self._tx() as conn:
            if not self._insert_delivery(conn, delivery):
                return None
            return [self._enqueue(conn, job, rerun) for job in jobs]

    def _insert_delivery(self, conn: sqlite3.Connection, delivery: Delivery) -> bool:
        cursor = conn.execute(
            "INSERT INTO deliveries (delivery_id, event, action, installation_id, received_at,"
            " outcome) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id) DO NOTHING",
            (
                delivery.delivery_id,
                delivery.event,
                delivery.action,
                delivery.installation_id,
                self._clock(),
                delivery.outcome.value,
            ),
        )
        if cursor.rowcount == 1:
            return True
        # Counted rather than stored as a row: the delivery id is the primary key.
        conn.execute(
            "UPDATE deliveries SET duplicates = duplicates + 1 WHERE delivery_id = ?",
            (delivery.delivery_id,),
        )
        return False

    def get_delivery(self, delivery_id: str) -> DeliveryRecord | None:
        row = (
            self._conn()
            .execute("SELECT * FROM deliveries WHERE delivery_id = ?", (delivery_id,))
            .fetchone()
        )
        if row is None:
            return None
        delivery = Delivery(
            delivery_id=row["delivery_id"],
            event=row["event"],
            action=row["action"],
            installation_id=row["installation_id"],
            outcome=DeliveryOutcome(row["outcome"]),
        )
        return DeliveryRecord(delivery, row["received_at"], row["duplicates"])

    # -- enqueueing and supersession -------------------------------------------------------

    def enqueue(self, job: NewJob, *, rerun: bool = False) -> EnqueueResult:
        """Queue ``job`` once per unique key; a new head SHA supersedes the PR's other work.

        Idempotent: when the key exists, nothing changes and ``created`` is False. With
        ``rerun=True`` (re-run requested, base branch changed, force-push back to an earlier
        head) an existing job that is no longer queued or running is put back in the queue
        with a fresh check run, superseding the PR's other active heads; the caller asserts
        that this head is the PR's current one.
        """
        with self._tx() as conn:
            return self._enqueue(conn, job, rerun)

    def _enqueue(self, conn: sqlite3.Connection, job: NewJob, rerun: bool) -> EnqueueResult:
        existing = self._find_key(conn, job)
        if existing is not None and not (rerun and self._is_finished(conn, existing)):
            return EnqueueResult(existing, created=False)
        superseded = self._supersede_others(conn, job)
        if existing is not None:
            self._requeue_for_rerun(conn, existing, job)
            return EnqueueResult(existing, created=False, requeued=True, superseded=superseded)
        cursor = conn.execute(
            "INSERT INTO jobs (kind, installation_id, repo, pr_number, head_sha, base_sha,"
            " head_ref, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.kind.value,
                job.installation_id,
                job.repo,
                job.pr_number,
                job.head_sha,
                job.base_sha,
                job.head_ref,
                _dump(job.payload),
                self._clock(),
            ),
        )
        job_id = cursor.lastrowid
        assert job_id is not None  # an INSERT into a rowid table always sets it
        return EnqueueResult(job_id, created=True, superseded=superseded)

    def _find_key(self, conn: sqlite3.Connection, job: NewJob) -> int | None:
        if job.pr_number is None:
            row = conn.execute(
                "SELECT id FROM jobs WHERE repo = ? AND head_sha = ? AND kind = ?"
                " AND pr_number IS NULL",
                (job.repo, job.head_sha, job.kind.value),
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT id FROM jobs WHERE repo = ? AND pr_number = ? AND head_sha = ?"
                " AND kind = ?",
                (job.repo, job.pr_number, job.head_sha, job.kind.value),
            ).fetchone()
        return None if row is None else int(row[0])

    def _is_finished(self, conn: sqlite3.Connection, job_id: int) -> bool:
        row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row is not None and row[0] not in (JobState.QUEUED, JobState.RUNNING)

    def _supersede_others(self, conn: sqlite3.Connection, job: NewJob) -> tuple[int, ...]:
        # Merge groups (no PR) are independent: the queue may test several groups at once.
        if job.pr_number is None:
            return ()
        rows = conn.execute(
            "UPDATE jobs SET state = 'superseded', finished_at = ?, lease_until = NULL"
            " WHERE repo = ? AND pr_number = ? AND head_sha != ?"
            " AND state IN ('queued', 'running') RETURNING id",
            (self._clock(), job.repo, job.pr_number, job.head_sha),
        ).fetchall()
        return tuple(sorted(int(row[0]) for row in rows))

    def _requeue_for_rerun(self, conn: sqlite3.Connection, job_id: int, job: NewJob) -> None:
        # A re-run gets a new check run (check_run_id cleared) and the event's current base.
        conn.execute(
            "UPDATE jobs SET state = 'queued', attempts = 0, check_run_id = NULL,"
            " conclusion = NULL, error = NULL, worker_id = NULL, started_at = NULL,"
            " finished_at = NULL, lease_until = NULL, base_sha = ?, head_ref = ?,"
            " installation_id = ?, payload = ? WHERE id = ?",
            (job.base_sha, job.head_ref, job.installation_id, _dump(job.payload), job_id),
        )

    def is_superseded(self, job_id: int) -> bool:
        row = self._conn().execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row is not None and row[0] == JobState.SUPERSEDED

    # -- the worker side -------------------------------------------------------------------

    def claim(self, worker_id: str, lease_seconds: float) -> Job | None:
        """Atomically move the oldest queued job to running, leased to ``worker_id``."""
        now = self._clock()
        with self._tx() as conn:
            row = conn.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker_id = ?,"
                " started_at = ?, lease_until = ?, finished_at = NULL"
                " WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1)"
                " RETURNING *",
                (worker_id, now, now + lease_seconds),
            ).fetchone()
        return None if row is None else _job(row)

    def heartbeat(self, job_id: int, worker_id: str, lease_seconds: float) -> bool:
        """Extend the lease; False when the job is no longer running for this worker
        (superseded, failed, or requeued after its lease expired): stop working on it."""
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running'"
                " AND worker_id = ?",
                (self._clock() + lease_seconds, job_id, worker_id),
            )
            return cursor.rowcount == 1

    def set_check_run(self, job_id: int, check_run_id: int) -> None:
        """Remember the check run, so a restarted worker completes the same one."""
        with self._tx() as conn:
            conn.execute("UPDATE jobs SET check_run_id = ? WHERE id = ?", (check_run_id, job_id))

    def complete(self, job_id: int, conclusion: str, *, worker_id: str | None = None) -> bool:
        """Record success of a running job; False (nothing recorded) when it was superseded
        or is not running (for ``worker_id``, when given) any more."""
        return self._finish(job_id, JobState.COMPLETED, worker_id, conclusion=conclusion)

    def fail(self, job_id: int, error: str, *, worker_id: str | None = None) -> bool:
        """Record that a queued or running job failed; False when it was superseded meanwhile."""
        return self._finish(job_id, JobState.FAILED, worker_id, error=error)

    def _finish(
        self,
        job_id: int,
        state: JobState,
        worker_id: str | None,
        *,
        conclusion: str | None = None,
        error: str | None = None,
    ) -> bool:
        # Only a running job can complete; a queued one may also fail (e.g. too many attempts).
        # A superseded job matches neither, so its late result is discarded.
        states = "'running'" if state is JobState.COMPLETED else "'queued', 'running'"
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET state = ?, conclusion = ?, error = ?, finished_at = ?,"
                f" lease_until = NULL WHERE id = ? AND state IN ({states})"
                " AND (? IS NULL OR worker_id = ?)",
                (state.value, conclusion, error, self._clock(), job_id, worker_id, worker_id),
            )
            return cursor.rowcount == 1

    def release(self, job_id: int, worker_id: str) -> bool:
        """Give a running job back to the queue (graceful shutdown). The attempt does not
        count, and the check run id is kept so the next worker completes the same run."""
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0),"
                " worker_id = NULL, lease_until = NULL WHERE id = ? AND state = 'running'"
                " AND worker_id = ?",
                (job_id, worker_id),
            )
            return cursor.rowcount == 1

    def requeue_interrupted(self, *, expired_only: bool = False) -> list[int]:
        """Put jobs left ``running`` by a dead process back in the queue, keeping their
        check_run_id. At start-up of a single-process deployment every running job is
        orphaned; with several processes on one file pass ``expired_only=True`` so only jobs
        whose lease ran out (their worker stopped heartbeating) are taken."""
        now = self._clock()
        with self._tx() as conn:
            rows = conn.execute(
                "UPDATE jobs SET state = 'queued', worker_id = NULL, lease_until = NULL"
                " WHERE state = 'running' AND (? = 0 OR lease_until IS NULL OR lease_until < ?)"
                " RETURNING id",
                (int(expired_only), now),
            ).fetchall()
        return sorted(int(row[0]) for row in rows)

    def get(self, job_id: int) -> Job | None:
        row = self._conn().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def jobs_for(self, repo: str, pr_number: int | None = None) -> list[Job]:
        """Every job of a repository (or of one of its PRs), oldest first."""
        query = "SELECT * FROM jobs WHERE repo = ?"
        params: tuple[object, ...] = (repo,)
        if pr_number is not None:
            query += " AND pr_number = ?"
            params += (pr_number,)
        rows = self._conn().execute(query + " ORDER BY id", params).fetchall()
        return [_job(row) for row in rows]

    # -- metrics, installations, housekeeping ----------------------------------------------

    def counts_by_state(self) -> dict[JobState, int]:
        """Jobs per state, every state present (zero included) so gauges reset."""
        counts = dict.fromkeys(JobState, 0)
        rows = self._conn().execute("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        for state, count in rows.fetchall():
            counts[JobState(state)] = int(count)
        return counts

    def queue_depth(self) -> int:
        row = self._conn().execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()
        return int(row[0])

    def record_installation(self, installation_id: int, account: str, action: str) -> None:
        """Keep the latest installation event (created, deleted, suspend...) per installation."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO installations (id, account, action, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET account = excluded.account,"
                " action = excluded.action, at = excluded.at",
                (installation_id, account, action, self._clock()),
            )

    def installation(self, installation_id: int) -> tuple[str, str, float] | None:
        """(account, last action, when) of an installation, if seen."""
        row = (
            self._conn()
            .execute(
                "SELECT account, action, at FROM installations WHERE id = ?", (installation_id,)
            )
            .fetchone()
        )
        return None if row is None else (row[0], row[1], row[2])

    def prune(self, older_than_seconds: float) -> int:
        """Delete deliveries and finished jobs older than the cut-off; returns rows removed.
        Keep deliveries longer than GitHub's redelivery window (3 days; 7 on GHES)."""
        cutoff = self._clock() - older_than_seconds
        with self._tx() as conn:
            deliveries = conn.execute("DELETE FROM deliveries WHERE received_at < ?", (cutoff,))
            jobs = conn.execute(
                "DELETE FROM jobs WHERE state IN ('completed', 'superseded', 'failed')"
                " AND COALESCE(finished_at, created_at) < ?",
                (cutoff,),
            )
            return deliveries.rowcount + jobs.rowcount


class AsyncStore:
    """The same API for asyncio code: each call runs in a worker thread (``to_thread``), so a
    busy database never stalls the event loop. ``sync`` is the wrapped :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.sync = store

    async def ping(self) -> bool:
        return await asyncio.to_thread(self.sync.ping)

    async def record_delivery(self, delivery: Delivery) -> bool:
        return await asyncio.to_thread(self.sync.record_delivery, delivery)

    async def accept_delivery(
        self, delivery: Delivery, jobs: Sequence[NewJob], *, rerun: bool = False
    ) -> list[EnqueueResult] | None:
        return await asyncio.to_thread(self.sync.accept_delivery, delivery, jobs, rerun=rerun)

    async def enqueue(self, job: NewJob, *, rerun: bool = False) -> EnqueueResult:
        return await asyncio.to_thread(self.sync.enqueue, job, rerun=rerun)

    async def is_superseded(self, job_id: int) -> bool:
        return await asyncio.to_thread(self.sync.is_superseded, job_id)

    async def claim(self, worker_id: str, lease_seconds: float) -> Job | None:
        return await asyncio.to_thread(self.sync.claim, worker_id, lease_seconds)

    async def heartbeat(self, job_id: int, worker_id: str, lease_seconds: float) -> bool:
        return await asyncio.to_thread(self.sync.heartbeat, job_id, worker_id, lease_seconds)

    async def set_check_run(self, job_id: int, check_run_id: int) -> None:
        await asyncio.to_thread(self.sync.set_check_run, job_id, check_run_id)

    async def complete(self, job_id: int, conclusion: str, *, worker_id: str | None = None) -> bool:
        return await asyncio.to_thread(self.sync.complete, job_id, conclusion, worker_id=worker_id)

    async def fail(self, job_id: int, error: str, *, worker_id: str | None = None) -> bool:
        return await asyncio.to_thread(self.sync.fail, job_id, error, worker_id=worker_id)

    async def release(self, job_id: int, worker_id: str) -> bool:
        return await asyncio.to_thread(self.sync.release, job_id, worker_id)

    async def requeue_interrupted(self, *, expired_only: bool = False) -> list[int]:
        return await asyncio.to_thread(self.sync.requeue_interrupted, expired_only=expired_only)

    async def get(self, job_id: int) -> Job | None:
        return await asyncio.to_thread(self.sync.get, job_id)

    async def counts_by_state(self) -> dict[JobState, int]:
        return await asyncio.to_thread(self.sync.counts_by_state)

    async def queue_depth(self) -> int:
        return await asyncio.to_thread(self.sync.queue_depth)

    async def record_installation(self, installation_id: int, account: str, action: str) -> None:
        await asyncio.to_thread(self.sync.record_installation, installation_id, account, action)

    async def prune(self, older_than_seconds: float) -> int:
        return await asyncio.to_thread(self.sync.prune, older_than_seconds)


def _dump(payload: Mapping[str, Any]) -> str:
    return json.dumps(dict(payload), sort_keys=True, separators=(",", ":"))


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        kind=JobKind(row["kind"]),
        installation_id=row["installation_id"],
        repo=row["repo"],
        pr_number=row["pr_number"],
        head_sha=row["head_sha"],
        base_sha=row["base_sha"],
        head_ref=row["head_ref"],
        payload=json.loads(row["payload"]),
        state=JobState(row["state"]),
        attempts=row["attempts"],
        check_run_id=row["check_run_id"],
        conclusion=row["conclusion"],
        error=row["error"],
        worker_id=row["worker_id"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        lease_until=row["lease_until"],
    )
