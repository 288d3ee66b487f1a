"""Prometheus metrics of the App (``GET /metrics``), in a registry of its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.github.jobs import JobOutcome
from bot.github.store import Job

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "gitops_gate_webhook_deliveries_total",
            "Webhook deliveries by event and outcome.",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.jobs = Gauge(
            "gitops_gate_jobs", "Jobs in the store by state.", ["state"], registry=self.registry
        )
        self.queue_depth = Gauge(
            "gitops_gate_queue_depth", "Jobs waiting for a worker.", registry=self.registry
        )
        self.job_duration = Histogram(
            "gitops_gate_job_duration_seconds",
            "Time from a job's start to its end, by outcome.",
            ["outcome"],
            buckets=(0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10, 30, 60, 120, 300, 600),
            registry=self.registry,
        )
        self.api_calls = Counter(
            "gitops_gate_github_api_calls_total",
            "GitHub API calls by endpoint and status (or error).",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.jobs_running = Gauge(
            "gitops_gate_jobs_running", "Jobs being worked on now.", registry=self.registry
        )

    # The job runner's RunnerMetrics protocol.
    def job_started(self, job: Job) -> None:
        self.jobs_running.inc()

    def job_finished(self, job: Job, outcome: JobOutcome, duration: float) -> None:
        self.jobs_running.dec()
        self.job_duration.labels(outcome=str(outcome)).observe(duration)

    def api_call(self, endpoint: str, status: str) -> None:
        self.api_calls.labels(endpoint=endpoint, status=status).inc()

    def render(self, counts: Callable[[], Mapping[str, int]], depth: Callable[[], int]) -> bytes:
        """The exposition text, with the store-derived gauges read at scrape time."""
        for state, count in counts().items():
            self.jobs.labels(state=str(state)).set(count)
        self.queue_depth.set(depth())
        return generate_latest(self.registry)
