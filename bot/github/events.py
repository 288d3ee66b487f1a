"""Which webhook deliveries become which jobs (pure: a payload in, job requests out).

Every trigger for the same pull request head becomes the same job (kind ``pull_request``), so
``pull_request.synchronize`` and the ``check_suite.requested`` GitHub sends for the same push do
not analyse twice; a user's "Re-run" (``rerequested``) runs it again. Merge groups are their own
jobs, on the merge group's head SHA, or merge queues would wait forever for our check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.github.store import JobKind, NewJob

PR_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})


@dataclass(frozen=True, slots=True)
class Decision:
    jobs: tuple[NewJob, ...] = ()
    rerun: bool = False  # run again even if this head was already checked
    installation: tuple[int, str, str] | None = None  # (id, account, action) to record
    reason: str = ""  # why nothing is done, for the delivery log


def decide(event: str, payload: Mapping[str, Any], *, check_drafts: bool = True) -> Decision:
    action = str(payload.get("action", ""))
    installation_id = _installation_id(payload)
    if event in ("installation", "installation_repositories"):
        account = payload.get("installation", {}).get("account", {}).get("login", "")
        if installation_id is None:
            return Decision(reason="installation event without an installation id")
        return Decision(installation=(installation_id, str(account), action))
    if installation_id is None:
        return Decision(reason=f"{event}: no installation id (not sent to an App?)")
    repo = payload.get("repository", {}).get("full_name")
    if not isinstance(repo, str):
        return Decision(reason=f"{event}: no repository")
    if event == "pull_request":
        return _pull_request(action, payload, installation_id, repo, check_drafts)
    if event in ("check_suite", "check_run"):
        return _check_request(event, action, payload, installation_id, repo)
    if event == "merge_group" and action == "checks_requested":
        group = payload.get("merge_group", {})
        head, base = group.get("head_sha"), group.get("base_sha")
        if not isinstance(head, str) or not isinstance(base, str):
            return Decision(reason="merge_group without head_sha/base_sha")
        job = NewJob(
            JobKind.MERGE_GROUP,
            installation_id,
            repo,
            head,
            base_sha=base,
            head_ref=group.get("head_ref"),
        )
        return Decision(jobs=(job,))
    return Decision(reason=f"{event}.{action}: not an event gitops-gate acts on")


def _pull_request(
    action: str,
    payload: Mapping[str, Any],
    installation_id: int,
    repo: str,
    check_drafts: bool,
) -> Decision:
    pr = payload.get("pull_request", {})
    base_changed = action == "edited" and "base" in payload.get("changes", {})
    if action not in PR_ACTIONS and not base_changed:
        return Decision(reason=f"pull_request.{action}: nothing to check")
    if pr.get("state") == "closed":
        return Decision(reason="pull request is closed")
    if pr.get("draft") and not check_drafts:
        return Decision(reason="draft pull request (GITOPS_GATE_CHECK_DRAFTS=false)")
    job = _pr_job(installation_id, repo, pr)
    if job is None:
        return Decision(reason="pull_request without number or SHAs")
    # A new base means a new comparison for the same head: run it again.
    return Decision(jobs=(job,), rerun=base_changed)


def _check_request(
    event: str, action: str, payload: Mapping[str, Any], installation_id: int, repo: str
) -> Decision:
    if event == "check_suite" and action not in ("requested", "rerequested"):
        return Decision(reason=f"check_suite.{action}: nothing to check")
    if event == "check_run" and action != "rerequested":
        return Decision(reason=f"check_run.{action}: nothing to check")
    suite = payload.get(event, {})
    if event == "check_run":
        suite = suite.get("check_suite", {})
    head = suite.get("head_sha")
    jobs = []
    for pr in suite.get("pull_requests", []) or []:
        number = pr.get("number")
        base = pr.get("base", {}).get("sha")
        if isinstance(number, int) and isinstance(head, str):
            jobs.append(
                NewJob(
                    JobKind.PULL_REQUEST,
                    installation_id,
                    repo,
                    head,
                    pr_number=number,
                    base_sha=base if isinstance(base, str) else None,
                    head_ref=pr.get("head", {}).get("ref"),
                )
            )
    if not jobs:
        return Decision(reason=f"{event}.{action}: no pull request for head {head}")
    return Decision(jobs=tuple(jobs), rerun=action == "rerequested")


def _pr_job(installation_id: int, repo: str, pr: Mapping[str, Any]) -> NewJob | None:
    number = pr.get("number")
    head = pr.get("head", {}).get("sha")
    base = pr.get("base", {}).get("sha")
    if not isinstance(number, int) or not isinstance(head, str) or not isinstance(base, str):
        return None
    changed = pr.get("changed_files")
    return NewJob(
        JobKind.PULL_REQUEST,
        installation_id,
        repo,
        head,
        pr_number=number,
        base_sha=base,
        head_ref=pr.get("head", {}).get("ref"),
        # How the change is read depends on its size (bot.github.change).
        payload={"changed_files": changed} if isinstance(changed, int) else {},
    )


def _installation_id(payload: Mapping[str, Any]) -> int | None:
    value = payload.get("installation", {}).get("id")
    return value if isinstance(value, int) else None
