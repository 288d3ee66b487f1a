"""The GitHub App end to end: webhooks in, one check run per head SHA out."""

from __future__ import annotations

from tests.e2e.conftest import BAD, GOOD, Bot, wait_for


def _completed(bot: Bot, head_sha: str) -> object:
    runs = bot.emulator.state.check_runs(bot.repo.full_name, head_sha=head_sha)
    return runs if runs and all(r.conclusion for r in runs) else None


def test_a_pr_with_problems_fails_with_annotations_on_the_right_lines(bot: Bot) -> None:
    base = bot.repo.branches["main"]
    head = bot.repo.commit_changes(base, {"apps/api/deployment.yaml": BAD})
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=head)
    status, _ = bot.deliver(bot.pr_delivery("opened", pr))
    assert status == 202
    (run,) = wait_for(lambda: _completed(bot, head), what="the check run to complete")
    assert run.name == "gitops-gate"
    assert run.conclusion == "failure"
    assert run.statuses[0] == "in_progress" and run.statuses[-1] == "completed"
    assert run.completions == 1
    got = {(a["path"], a["start_line"], a["annotation_level"], a["title"]) for a in run.annotations}
    assert got == {
        ("apps/api/deployment.yaml", 6, "failure", "schema/wrong-type"),
        ("apps/api/deployment.yaml", 16, "failure", "schema/unknown-field"),
    }


def test_a_clean_pr_succeeds(bot: Bot) -> None:
    base = bot.repo.branches["main"]
    head = bot.repo.commit_changes(base, {"apps/web/deployment.yaml": GOOD.replace("1.27", "1.28")})
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=head)
    bot.deliver(bot.pr_delivery("opened", pr))
    (run,) = wait_for(lambda: _completed(bot, head), what="the check run to complete")
    assert run.conclusion == "success"
    assert run.annotations == []
    assert run.completions == 1
