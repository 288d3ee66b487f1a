"""The GitHub App end to end: webhooks in, one check run per head SHA out."""

from __future__ import annotations

import time

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


def _files(count: int, bad_every: int = 0) -> dict[str, str | bytes | None]:
    out: dict[str, str | bytes | None] = {}
    for i in range(count):
        text = GOOD.replace("name: web", f"name: web{i}")
        if bad_every and i % bad_every == 0:
            text = text.replace("  selector:", '  replicas: "2"\n  selector:')
        out[f"apps/app{i}/deployment.yaml"] = text
    return out


def test_a_forged_signature_is_refused_and_queues_nothing(bot: Bot) -> None:
    base = bot.repo.branches["main"]
    head = bot.repo.commit_changes(base, {"apps/api/deployment.yaml": BAD})
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=head)
    delivery = bot.pr_delivery("opened", pr)
    assert bot.deliver(delivery.forged())[0] == 401
    assert bot.deliver(delivery.resigned("not the secret"))[0] == 401
    assert bot.deliver(delivery.without("X-Hub-Signature-256"))[0] == 401
    malformed = delivery.resigned(bot.app.webhook_secret)
    malformed.headers["Content-Type"] = "text/plain"
    assert bot.deliver(malformed)[0] == 400
    _, metrics = bot.get("/metrics")
    assert (
        'gitops_gate_webhook_deliveries_total{event="pull_request",outcome="unauthorized"} 3.0'
        in metrics
    )
    job_lines = [line for line in metrics.splitlines() if line.startswith("gitops_gate_jobs{")]
    assert job_lines and all(line.endswith(" 0.0") for line in job_lines)  # no job, ever
    assert bot.emulator.state.check_runs(bot.repo.full_name, head_sha=head) == []


def test_ping_and_health_endpoints(bot: Bot) -> None:
    from tests.github_emulator.webhooks import build_delivery

    ping = build_delivery("ping", app=bot.app, installation=bot.installation)
    status, body = bot.deliver(ping)
    assert status == 200 and "zen" in body
    assert bot.get("/healthz")[0] == 200
    status, body = bot.get("/readyz")
    assert status == 200 and '"database": true' in body and '"workers": true' in body


def test_the_same_delivery_twice_makes_one_job(bot: Bot) -> None:
    base = bot.repo.branches["main"]
    head = bot.repo.commit_changes(base, {"apps/api/deployment.yaml": BAD})
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=head)
    delivery = bot.pr_delivery("opened", pr)
    assert bot.deliver(delivery)[0] == 202
    status, body = bot.deliver(delivery)  # GitHub redelivers with the same X-GitHub-Delivery
    assert status == 200 and "duplicate" in body
    wait_for(lambda: _completed(bot, head), what="the check run to complete")
    # A different delivery for the same head (check_suite.requested) is not a second job.
    from tests.github_emulator.webhooks import build_delivery

    suite = build_delivery(
        "check_suite",
        "requested",
        app=bot.app,
        installation=bot.installation,
        repo=bot.repo,
        pull=pr,
        api_url=bot.emulator.base_url,
    )
    assert bot.deliver(suite)[0] == 202
    time.sleep(1.0)  # time for a second job to appear, if the bot wrongly made one
    runs = bot.emulator.state.check_runs(bot.repo.full_name, head_sha=head)
    assert len(runs) == 1 and runs[0].completions == 1


def test_two_quick_pushes_only_the_newest_head_counts(bot: Bot) -> None:
    base = bot.repo.branches["main"]
    first = bot.repo.commit_changes(base, _files(30, bad_every=3))
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=first)
    # Slow the first job's tarball so the second push lands while it runs.
    bot.emulator.state.inject_fault("timeout", "/repos/{owner}/{repo}/tarball/*", hang_seconds=2)
    bot.deliver(bot.pr_delivery("opened", pr))
    wait_for(
        lambda: bot.emulator.state.check_runs(bot.repo.full_name, head_sha=first),
        what="the first check run to start",
    )
    second = bot.repo.commit_changes(first, {"apps/app0/deployment.yaml": GOOD})
    pr.push(second)
    bot.deliver(bot.pr_delivery("synchronize", pr))
    (newest,) = wait_for(lambda: _completed(bot, second), what="the newest check run")
    assert newest.conclusion == "failure"  # apps 3, 6, ... are still invalid
    assert newest.completions == 1
    # The superseded head's run is closed as cancelled, never left pending, never a pass.
    (old,) = wait_for(lambda: _completed(bot, first), what="the old run to be closed")
    assert old.conclusion == "cancelled"
    assert old.completions == 1


def test_a_502_storm_and_a_secondary_rate_limit_still_complete(bot: Bot) -> None:
    base = bot.repo.branches["main"]
    head = bot.repo.commit_changes(base, {"apps/api/deployment.yaml": BAD})
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=head)
    state = bot.emulator.state
    state.inject_fault("502", "/repos/{owner}/{repo}/pulls/{number}/files", count=4)
    state.inject_fault(
        "secondary_rate_limit",
        "/repos/{owner}/{repo}/check-runs/{id}",
        method="PATCH",
        retry_after=1,
    )
    state.inject_fault("502", "/repos/{owner}/{repo}/check-runs", method="POST", count=2)
    bot.deliver(bot.pr_delivery("opened", pr))
    (run,) = wait_for(lambda: _completed(bot, head), timeout=30, what="the check run")
    assert run.conclusion == "failure"
    assert {a["title"] for a in run.annotations} == {"schema/wrong-type", "schema/unknown-field"}
    faults = [r for r in state.requests() if r.fault]
    assert len(faults) == 7  # every injected fault was really hit, and retried past


def test_kill_9_mid_job_then_restart_completes_the_same_check_run(bot: Bot) -> None:
    base = bot.repo.branches["main"]
    head = bot.repo.commit_changes(base, {"apps/api/deployment.yaml": BAD})
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=head)
    bot.emulator.state.inject_fault("timeout", "/repos/{owner}/{repo}/tarball/*", hang_seconds=30)
    bot.deliver(bot.pr_delivery("opened", pr))
    (started,) = wait_for(
        lambda: bot.emulator.state.check_runs(bot.repo.full_name, head_sha=head),
        what="the check run to start",
    )
    wait_for(
        lambda: any(r.path.endswith("/files") for r in bot.emulator.state.requests()),
        what="the job to list the files",
    )
    time.sleep(0.5)  # the next call, the tarball, hangs: the job is mid-way
    bot.kill9()
    bot.emulator.state.faults.clear()
    bot.start()  # same database: the interrupted job is run again
    (run,) = wait_for(lambda: _completed(bot, head), timeout=30, what="the check run")
    assert run.id == started.id  # the same check run, completed exactly once
    assert run.conclusion == "failure"
    assert run.completions == 1


def test_merge_group_is_checked_on_its_head(bot: Bot) -> None:
    base = bot.repo.branches["main"]
    head = bot.repo.commit_changes(base, {"apps/api/deployment.yaml": BAD})
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=head)
    group_head = bot.repo.commit_changes(base, {"apps/api/deployment.yaml": BAD}, message="merge")
    group = bot.repo.add_merge_group(base_sha=base, head_sha=group_head, pull_numbers=[pr.number])
    from tests.github_emulator.webhooks import build_delivery

    delivery = build_delivery(
        "merge_group",
        "checks_requested",
        app=bot.app,
        installation=bot.installation,
        repo=bot.repo,
        merge_group=group,
        api_url=bot.emulator.base_url,
    )
    assert bot.deliver(delivery)[0] == 202
    (run,) = wait_for(lambda: _completed(bot, group_head), what="the merge group's check run")
    assert run.conclusion == "failure"
    assert {a["path"] for a in run.annotations} == {"apps/api/deployment.yaml"}


def test_a_pr_cannot_switch_off_its_own_gate(bot: Bot) -> None:
    base = bot.repo.branches["main"]
    head = bot.repo.commit_changes(
        base,
        {
            # The PR tries to exclude everything and relax every rule...
            ".github/gitops-gate.yml": 'exclude: ["**"]\nseverity:\n  "*": "off"\nbogus: 1\n',
            "apps/api/deployment.yaml": BAD,
        },
    )
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=head)
    bot.deliver(bot.pr_delivery("opened", pr))
    (run,) = wait_for(lambda: _completed(bot, head), what="the check run")
    # ...but the base branch's (default) config applies, and the new file is validated.
    assert run.conclusion == "failure"
    titles = {(a["path"], a["title"]) for a in run.annotations}
    assert ("apps/api/deployment.yaml", "schema/wrong-type") in titles
    assert (".github/gitops-gate.yml", "config/unknown-key") in titles


def test_700_findings_take_14_annotation_requests_all_accepted(bot: Bot) -> None:
    base = bot.repo.branches["main"]
    bad = GOOD.replace("  selector:", '  replicas: "2"\n  paused: "no"\n  selector:')
    files: dict[str, str | bytes | None] = {
        f"apps/app{i}/deployment.yaml": bad.replace("name: web", f"name: web{i}")
        for i in range(350)
    }
    head = bot.repo.commit_changes(base, files)
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=head)
    bot.deliver(bot.pr_delivery("opened", pr))
    (run,) = wait_for(lambda: _completed(bot, head), timeout=60, what="the check run")
    assert len(run.annotations) == 700
    with_annotations = [e for e in run.events if (e.body.get("output") or {}).get("annotations")]
    assert len(with_annotations) == 14
    assert all(len(e.body["output"]["annotations"]) == 50 for e in with_annotations)
    rejected = [r for r in bot.emulator.state.requests() if r.status == 422]
    assert rejected == []


def test_the_base_config_caps_annotations_and_says_how_many_were_left_out(
    emulator: object, tmp_path: object
) -> None:
    from pathlib import Path

    from tests.e2e.conftest import Bot
    from tests.github_emulator.fixtures import EmulatorHandle

    assert isinstance(emulator, EmulatorHandle) and isinstance(tmp_path, Path)
    app, installation, repo = emulator.setup_app(
        "octo-org/capped", files={".github/gitops-gate.yml": "report:\n  max_annotations: 60\n"}
    )
    bot = Bot(emulator, app, installation, repo, tmp_path)
    bot.start()
    try:
        base = repo.branches["main"]
        bad = GOOD.replace("  selector:", '  replicas: "2"\n  selector:')
        head = repo.commit_changes(
            base,
            {
                f"apps/a{i}/deployment.yaml": bad.replace("name: web", f"name: w{i}")
                for i in range(100)
            },
        )
        pr = repo.open_pull_request(base_sha=base, head_sha=head)
        bot.deliver(bot.pr_delivery("opened", pr))
        (run,) = wait_for(lambda: _completed(bot, head), what="the check run")
    finally:
        bot.stop()
    assert len(run.annotations) == 60
    batches = [e for e in run.events if (e.body.get("output") or {}).get("annotations")]
    assert [len(e.body["output"]["annotations"]) for e in batches] == [50, 10]
    assert "40 findings not annotated: at most 60 annotations" in run.output["summary"]
    assert run.conclusion == "failure"


def test_a_create_whose_response_is_lost_still_gives_one_check_run(bot: Bot) -> None:
    base = bot.repo.branches["main"]
    head = bot.repo.commit_changes(base, {"apps/api/deployment.yaml": BAD})
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=head)
    # GitHub creates the check run, then the response is lost (a 502 after processing).
    bot.emulator.state.inject_fault(
        "502", "/repos/{owner}/{repo}/check-runs", method="POST", after_processing=True
    )
    bot.deliver(bot.pr_delivery("opened", pr))
    (run,) = wait_for(lambda: _completed(bot, head), what="the check run")
    assert run.conclusion == "failure" and run.completions == 1
    time.sleep(0.5)
    assert len(bot.emulator.state.check_runs(bot.repo.full_name, head_sha=head)) == 1


def test_an_outage_past_the_deadline_fails_the_check_run_with_the_reason(
    emulator: object, tmp_path: object
) -> None:
    from pathlib import Path

    from tests.github_emulator.fixtures import EmulatorHandle

    assert isinstance(emulator, EmulatorHandle) and isinstance(tmp_path, Path)
    app, installation, repo = emulator.setup_app("octo-org/outage", files={"README.md": "hi\n"})
    bot = Bot(emulator, app, installation, repo, tmp_path, {"GITOPS_GATE_JOB_DEADLINE": "3"})
    bot.start()
    try:
        base = repo.branches["main"]
        head = repo.commit_changes(base, {"apps/api/deployment.yaml": GOOD})
        pr = repo.open_pull_request(base_sha=base, head_sha=head)
        # The archive endpoint is down for good; everything else works.
        emulator.state.inject_fault("502", "/repos/{owner}/{repo}/tarball/*", count=10_000)
        bot.deliver(bot.pr_delivery("opened", pr))
        (run,) = wait_for(lambda: _completed(bot, head), timeout=30, what="the check run")
    finally:
        bot.stop()
    assert run.conclusion == "failure"  # a clean change, but it could not be checked
    assert run.completions == 1
    assert "could not" in run.output["title"].lower()
    assert "**Reason:** the check did not finish within 3 s" in run.output["summary"]


def test_a_secret_in_a_pr_fails_the_check_and_is_never_sent_to_github(bot: Bot) -> None:
    import json as jsonlib

    key = "sk_live_" + "Qm7vT2xK9pLr4ZsW8yN3cB6dF1gH5jA0"
    base = bot.repo.branches["main"]
    head = bot.repo.commit_changes(
        base, {"apps/api/.env": f"LOG_LEVEL=info\nSTRIPE_API_KEY={key}\n"}
    )
    pr = bot.repo.open_pull_request(base_sha=base, head_sha=head)
    bot.deliver(bot.pr_delivery("opened", pr))
    (run,) = wait_for(lambda: _completed(bot, head), what="the check run")
    assert run.conclusion == "failure"
    assert [(a["path"], a["start_line"], a["title"]) for a in run.annotations] == [
        ("apps/api/.env", 2, "secret/stripe-secret-key")
    ]
    sent = jsonlib.dumps([event.body for event in run.events], ensure_ascii=False)
    assert key not in sent and "sk_l…" in sent
