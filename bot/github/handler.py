"""One job, end to end: check run in progress, read the change, analyse it, publish.

The analysis is the same pipeline the CLI runs (``bot.core.pipeline``), in a worker thread so
the event loop keeps answering webhooks. The configuration comes from the base SHA (see
``bot.github.change``).
"""

from __future__ import annotations

import asyncio
import logging

from bot.config import DEFAULT_CONFIG_PATH, parse_config
from bot.core.changeset import ChangeSet
from bot.core.pipeline import Engines, Options, Report, run
from bot.engines.schema_store import shipped_versions
from bot.github.change import ChangeRef, read_change
from bot.github.client import GitHubClient
from bot.github.jobs import JobContext
from bot.github.publish import CheckRuns
from bot.github.store import AsyncStore, Job
from bot.reporters import check_run

log = logging.getLogger(__name__)

SUPERSEDED = "superseded"


class AnalysisHandler:
    def __init__(
        self,
        client: GitHubClient,
        checks: CheckRuns,
        store: AsyncStore,
        engines: Engines,
        *,
        max_annotations: int = check_run.DEFAULT_MAX_ANNOTATIONS,
    ) -> None:
        self.client = client
        self.checks = checks
        self.store = store
        self.engines = engines
        self.max_annotations = max_annotations

    async def __call__(self, job: Job, ctx: JobContext) -> str:
        check_run_id = ctx.check_run_id
        if check_run_id is None:
            check_run_id = await self.checks.start(
                job.repo, job.installation_id, job.head_sha, external_id=str(job.id)
            )
            await ctx.set_check_run(check_run_id)
        base_sha = job.base_sha or await self._base_sha(job)
        ref = ChangeRef(job.installation_id, job.repo, job.head_sha, base_sha, job.pr_number)
        hint = job.payload.get("changed_files")
        fetched = await read_change(
            self.client, ref, changed_files=hint if isinstance(hint, int) else None
        )
        if await ctx.superseded():
            return SUPERSEDED
        report, cap = await asyncio.to_thread(self.analyze, fetched.changeset)
        if await ctx.superseded():
            return SUPERSEDED
        incomplete = " ".join(fetched.incomplete) or None
        output = check_run.render(report, max_annotations=cap, incomplete=incomplete)
        await self.checks.finish(job.repo, job.installation_id, check_run_id, output)
        return output.conclusion

    def analyze(self, changeset: ChangeSet) -> tuple[Report, int]:
        """The report, and the annotation cap (the base config's, else the App's)."""
        config, config_findings = parse_config(
            changeset.config_text,
            changeset.config_path or DEFAULT_CONFIG_PATH,
            supported_versions=shipped_versions(),
            read_file=changeset.trusted.read,
        )
        report = run(changeset, config, Options(), self.engines, config_findings)
        cap = config.report.max_annotations if config.source_path else self.max_annotations
        return report, cap

    async def on_failure(self, job: Job, reason: str) -> None:
        """The job raised or ran out of time: its check run concludes ``failure``."""
        current = await self.store.get(job.id) or job
        check_run_id = await self.checks.fail(
            current.repo,
            current.installation_id,
            current.head_sha,
            reason,
            check_run_id=current.check_run_id,
            external_id=str(job.id),
        )
        if current.check_run_id is None:
            await self.store.set_check_run(job.id, check_run_id)

    async def on_superseded(self, job: Job) -> None:
        current = await self.store.get(job.id) or job
        if current.check_run_id is not None:
            await self.checks.supersede(
                current.repo, current.installation_id, current.check_run_id, None
            )

    async def _base_sha(self, job: Job) -> str:
        """Jobs from check-suite events may lack the base SHA: ask the pull request."""
        pr = await self.client.json(
            "GET", f"/repos/{job.repo}/pulls/{job.pr_number}", installation_id=job.installation_id
        )
        return str(pr["base"]["sha"])
