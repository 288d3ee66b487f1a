"""Which deliveries become which jobs, on GitHub's own example payloads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bot.github.events import decide
from bot.github.store import JobKind

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "webhooks"


def example(name: str) -> dict[str, Any]:
    """GitHub's example payload as an App receives it: App deliveries carry the installation
    (some examples were captured from repository webhooks, which do not)."""
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    data.setdefault(
        "installation", {"id": 4242, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg=="}
    )
    return data


@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened", "ready_for_review"])
def test_pull_request_actions_queue_one_job_for_the_head(action: str) -> None:
    payload = example(f"pull_request.{action}")
    payload["pull_request"]["state"] = "open"
    payload["pull_request"]["draft"] = False
    decision = decide("pull_request", payload)
    (job,) = decision.jobs
    pr = payload["pull_request"]
    assert job.kind is JobKind.PULL_REQUEST
    assert (job.repo, job.pr_number) == (payload["repository"]["full_name"], pr["number"])
    assert (job.head_sha, job.base_sha) == (pr["head"]["sha"], pr["base"]["sha"])
    assert job.installation_id == payload["installation"]["id"]
    assert decision.rerun is False


def test_edited_only_matters_when_the_base_changes() -> None:
    payload = example("pull_request.opened")
    payload["action"] = "edited"
    payload["pull_request"]["draft"] = False
    payload["changes"] = {"title": {"from": "old"}}
    assert decide("pull_request", payload).jobs == ()
    payload["changes"] = {"base": {"ref": {"from": "develop"}, "sha": {"from": "0" * 40}}}
    decision = decide("pull_request", payload)
    assert len(decision.jobs) == 1 and decision.rerun is True


def test_draft_pull_requests_are_configurable() -> None:
    payload = example("pull_request.opened")
    payload["pull_request"]["draft"] = True
    assert len(decide("pull_request", payload, check_drafts=True).jobs) == 1
    skipped = decide("pull_request", payload, check_drafts=False)
    assert skipped.jobs == () and "draft" in skipped.reason


def test_check_suite_and_check_run_requests_map_to_the_pr_job() -> None:
    suite = example("check_suite.requested")
    if not suite["check_suite"]["pull_requests"]:
        suite["check_suite"]["pull_requests"] = [
            {
                "number": 7,
                "head": {"ref": "f", "sha": suite["check_suite"]["head_sha"]},
                "base": {"ref": "main", "sha": "b" * 40},
            }
        ]
    decision = decide("check_suite", suite)
    assert [j.kind for j in decision.jobs] == [JobKind.PULL_REQUEST]
    assert decision.jobs[0].head_sha == suite["check_suite"]["head_sha"]
    assert decision.rerun is False
    rerequested = copy.deepcopy(suite)
    rerequested["action"] = "rerequested"
    assert decide("check_suite", rerequested).rerun is True
    run = example("check_run.rerequested")
    run["check_run"]["check_suite"]["pull_requests"] = suite["check_suite"]["pull_requests"]
    run_decision = decide("check_run", run)
    assert run_decision.rerun is True and len(run_decision.jobs) == 1


def test_a_check_suite_without_a_pull_request_is_ignored() -> None:
    suite = example("check_suite.requested")
    suite["check_suite"]["pull_requests"] = []
    decision = decide("check_suite", suite)
    assert decision.jobs == () and "no pull request" in decision.reason


def test_merge_group_checks_the_group_head() -> None:
    payload = example("merge_group.checks_requested")
    (job,) = decide("merge_group", payload).jobs
    assert job.kind is JobKind.MERGE_GROUP
    assert job.head_sha == payload["merge_group"]["head_sha"]
    assert job.base_sha == payload["merge_group"]["base_sha"]
    assert job.pr_number is None


def test_installation_events_are_recorded_not_queued() -> None:
    payload = example("installation.created")
    decision = decide("installation", payload)
    assert decision.jobs == ()
    assert decision.installation == (
        payload["installation"]["id"],
        payload["installation"]["account"]["login"],
        "created",
    )


def test_other_events_are_ignored_with_a_reason() -> None:
    payload = example("pull_request.opened")
    payload["action"] = "labeled"
    decision = decide("pull_request", payload)
    assert decision.jobs == () and "labeled" in decision.reason
