"""The ``gitops-gate`` check run: created ``in_progress`` when a job starts, completed once.

GitHub accepts at most 50 annotations per request and appends them across updates, so the
output goes out as: create (in_progress), then one update per batch of 50, the last of which
completes the run with its conclusion. A job that cannot finish still completes its check run
``failure`` with the reason: a required check must never stay pending or pass by default.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bot.github.client import AmbiguousWrite, GitHubClient
from bot.reporters.check_run import CheckRunOutput, truncate_utf8

CHECK_NAME = "gitops-gate"
_REASON_LIMIT = 60_000


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CheckRuns:
    def __init__(self, client: GitHubClient, details_url: str | None = None) -> None:
        self.client = client
        self.details_url = details_url

    async def start(
        self, repo: str, installation_id: int, head_sha: str, *, external_id: str
    ) -> int:
        body: dict[str, Any] = {
            "name": CHECK_NAME,
            "head_sha": head_sha,
            "status": "in_progress",
            "started_at": _now(),
            "external_id": external_id,
            "output": {
                "title": "Checking the change",
                "summary": "gitops-gate is checking the manifests this change touches.",
            },
        }
        if self.details_url:
            body["details_url"] = self.details_url
        return await self._create_once(repo, installation_id, head_sha, external_id, body)

    async def _create_once(
        self,
        repo: str,
        installation_id: int,
        head_sha: str,
        external_id: str,
        body: dict[str, Any],
        attempts: int = 5,
    ) -> int:
        """Create the check run exactly once: after a create whose outcome is unknown (a 5xx,
        a lost response), look for it by ``external_id`` before creating it again, so a head
        SHA never gets two gitops-gate check runs."""
        for attempt in range(1, attempts + 1):
            try:
                created = await self.client.json(
                    "POST", f"/repos/{repo}/check-runs", installation_id=installation_id, json=body
                )
                return int(created["id"])
            except AmbiguousWrite:
                existing = await self._find(repo, installation_id, head_sha, external_id)
                if existing is not None:
                    return existing
                if attempt == attempts:
                    raise
                await asyncio.sleep(min(2.0**attempt * 0.1, 5.0))
        raise AssertionError("unreachable")

    async def _find(
        self, repo: str, installation_id: int, head_sha: str, external_id: str
    ) -> int | None:
        runs = await self.client.paginate(
            f"/repos/{repo}/commits/{head_sha}/check-runs?check_name={CHECK_NAME}&filter=all",
            installation_id=installation_id,
            key="check_runs",
        )
        for run in runs:
            if run.get("external_id") == external_id:
                return int(run["id"])
        return None

    async def finish(
        self, repo: str, installation_id: int, check_run_id: int, output: CheckRunOutput
    ) -> int:
        """Send the output in batches; the last request completes the run. Returns the number
        of requests made."""
        payloads = output.payloads(50)
        for index, payload in enumerate(payloads):
            body: dict[str, Any] = {"output": payload}
            if index == len(payloads) - 1:
                body.update(status="completed", conclusion=output.conclusion, completed_at=_now())
            await self.client.request(
                "PATCH",
                f"/repos/{repo}/check-runs/{check_run_id}",
                installation_id=installation_id,
                json=body,
            )
        return len(payloads)

    async def fail(
        self,
        repo: str,
        installation_id: int,
        head_sha: str,
        reason: str,
        *,
        check_run_id: int | None,
        external_id: str,
        title: str = "Analysis could not finish",
    ) -> int:
        """Complete the check run ``failure`` with the reason (creating it if the job died
        before it could)."""
        body: dict[str, Any] = {
            "status": "completed",
            "conclusion": "failure",
            "completed_at": _now(),
            "output": {
                "title": title,
                "summary": truncate_utf8(
                    f"gitops-gate could not check this change, so it cannot pass.\n\n"
                    f"**Reason:** {reason}\n\nRe-run the check once the cause is fixed.",
                    _REASON_LIMIT,
                ),
            },
        }
        if check_run_id is None:
            body.update(name=CHECK_NAME, head_sha=head_sha, external_id=external_id)
            return await self._create_once(repo, installation_id, head_sha, external_id, body)
        await self.client.request(
            "PATCH",
            f"/repos/{repo}/check-runs/{check_run_id}",
            installation_id=installation_id,
            json=body,
        )
        return check_run_id

    async def supersede(
        self, repo: str, installation_id: int, check_run_id: int, newer_sha: str | None
    ) -> None:
        """Close the check run of a head that a newer push replaced. Only the newest head's
        check run counts for the merge, so this one is ``cancelled``, with the reason."""
        newer = f" by {newer_sha[:12]}" if newer_sha else ""
        await self.client.request(
            "PATCH",
            f"/repos/{repo}/check-runs/{check_run_id}",
            installation_id=installation_id,
            json={
                "status": "completed",
                "conclusion": "cancelled",
                "completed_at": _now(),
                "output": {
                    "title": "Superseded by a newer push",
                    "summary": f"This commit was replaced{newer}; its check run is the one "
                    "that counts.",
                },
            },
        )
