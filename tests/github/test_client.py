"""``GitHubClient`` against the GitHub emulator: App JWT and installation tokens, the retry
rules (5xx, network errors, timeouts, secondary and primary rate limits, one token refresh on
401), failing at once on the caller's mistakes, deadlines, pagination and metric labels.

Waits go through a fake ``sleep``/``clock`` pair, so the tests are fast and assert the exact
delays the client chose; the HTTP traffic is real."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from bot.github.auth import InstallationTokens
from bot.github.client import GitHubClient, GitHubError, RetryPolicy, endpoint_template
from tests.github_emulator.fixtures import EmulatorHandle, app_client, run_emulator
from tests.github_emulator.state import App, Installation, Repository

REPO = "octo-org/manifests"
FAST = RetryPolicy(base_delay=0.5, max_delay=30.0, request_timeout=5.0, deadline=120.0)
SEED = 7


class FakeTime:
    """A monotonic clock that only moves when the client sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class World:
    em: EmulatorHandle
    app: App
    inst: Installation
    repo: Repository
    base: str
    pull: int


@dataclass
class Bot:
    client: GitHubClient
    tokens: InstallationTokens
    time: FakeTime
    observed: list[tuple[str, str]] = field(default_factory=list)
    responses: list[tuple[int, Mapping[str, str]]] = field(default_factory=list)

    def outcomes(self, endpoint: str) -> list[str]:
        return [outcome for name, outcome in self.observed if name == endpoint]


@pytest.fixture
def world() -> Iterator[World]:
    with run_emulator() as em:
        app, inst, repo = em.setup_app(REPO, files={"apps/web.yaml": "a: 1\n"})
        base = repo.branches["main"]
        head = repo.commit_changes(base, {"apps/web.yaml": "a: 2\n"})
        pr = repo.open_pull_request(base_sha=base, head_sha=head)
        yield World(em, app, inst, repo, base, pr.number)


def run_with_bot(
    world: World,
    scenario: Callable[[Bot], Awaitable[Any]],
    *,
    policy: RetryPolicy = FAST,
    wall_clock: Callable[[], float] = time.time,
) -> Any:
    """Run ``scenario`` with a client wired as ``bot.github.app._client`` wires it."""

    async def main() -> Any:
        fake = FakeTime()
        trace = aiohttp.TraceConfig()
        bot: Bot

        async def on_end(_s: Any, _c: Any, params: aiohttp.TraceRequestEndParams) -> None:
            bot.responses.append((params.response.status, params.response.headers))

        trace.on_request_end.append(on_end)
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            observed: list[tuple[str, str]] = []
            client, tokens = app_client(
                session,
                world.app,
                world.em.base_url,
                policy=policy,
                observe=lambda endpoint, outcome: observed.append((endpoint, outcome)),
                sleep=fake.sleep,
                clock=fake.clock,
                rng=random.Random(SEED),
                wall_clock=wall_clock,
            )
            bot = Bot(client, tokens, fake, observed)
            return await scenario(bot)

    return asyncio.run(main())


def backoffs(*ceilings: float) -> list[float]:
    """The waits the client draws with the seeded generator (jitter in [c/2, c])."""
    rng = random.Random(SEED)
    return [rng.uniform(c / 2, c) for c in ceilings]


PULL = "GET /repos/{owner}/{repo}/pulls/{id}"
TOKEN = "POST /app/installations/{id}/access_tokens"


def pull_path(world: World) -> str:
    return f"/repos/{REPO}/pulls/{world.pull}"


# ---------------------------------------------------------------------------- authentication


def test_app_jwt_for_app_endpoints_and_installation_token_for_the_repo(world: World) -> None:
    async def scenario(bot: Bot) -> tuple[Any, Any]:
        app = await bot.client.json("GET", "/app", as_app=True)
        repo = await bot.client.json("GET", f"/repos/{REPO}", installation_id=world.inst.id)
        return app, repo

    app, repo = run_with_bot(world, scenario)
    assert app["id"] == world.app.id
    assert repo["full_name"] == REPO
    log = [(r.method, r.path, r.auth, r.status) for r in world.em.state.requests()]
    assert log == [
        ("GET", "/app", "jwt", 200),
        ("POST", f"/app/installations/{world.inst.id}/access_tokens", "jwt", 201),
        ("GET", f"/repos/{REPO}", "token", 200),
    ]


def test_token_is_cached_and_refreshed_once_after_a_401(world: World) -> None:
    state = world.em.state

    async def scenario(bot: Bot) -> Bot:
        for _ in range(3):
            await bot.client.json("GET", pull_path(world), installation_id=world.inst.id)
        assert bot.tokens.fetches == 1
        assert state.expire_token() == 1
        pr = await bot.client.json("GET", pull_path(world), installation_id=world.inst.id)
        assert pr["number"] == world.pull
        await bot.client.json("GET", pull_path(world), installation_id=world.inst.id)
        return bot

    bot = run_with_bot(world, scenario)
    assert bot.tokens.fetches == 2
    assert bot.time.sleeps == []  # a refreshed token is used at once
    assert [(r.method, r.status) for r in state.requests()] == [
        ("POST", 201),
        ("GET", 200),
        ("GET", 200),
        ("GET", 200),
        ("GET", 401),
        ("POST", 201),
        ("GET", 200),
        ("GET", 200),
    ]
    assert bot.outcomes(PULL) == ["200", "200", "200", "401", "200", "200"]


def test_a_second_401_in_one_call_is_not_retried_again(world: World) -> None:
    state = world.em.state

    async def scenario(bot: Bot) -> GitHubError:
        await bot.client.json("GET", pull_path(world), installation_id=world.inst.id)
        state.token_ttl = -60.0  # every new token is born expired
        state.expire_token()
        with pytest.raises(GitHubError) as caught:
            await bot.client.json("GET", pull_path(world), installation_id=world.inst.id)
        return caught.value

    error = run_with_bot(world, scenario)
    assert error.status == 401
    assert "Bad credentials" in str(error)
    assert [r.status for r in state.requests(path_prefix="/repos")] == [200, 401, 401]
    assert len(state.requests(method="POST")) == 2


# ---------------------------------------------------------------------------- retries


def test_a_502_storm_is_retried_with_exponential_backoff(world: World) -> None:
    state = world.em.state
    state.inject_fault("502", "/repos/{owner}/{repo}/pulls/{number}", method="GET", count=4)

    async def scenario(bot: Bot) -> tuple[Any, Bot]:
        return await bot.client.json("GET", pull_path(world), installation_id=world.inst.id), bot

    pr, bot = run_with_bot(world, scenario)
    assert pr["number"] == world.pull
    assert bot.time.sleeps == backoffs(0.5, 1.0, 2.0, 4.0)
    assert bot.outcomes(PULL) == ["502", "502", "502", "502", "200"]
    assert bot.outcomes(TOKEN) == ["201"]  # the token survives the retries
    calls = state.requests(path_prefix=f"/repos/{REPO}/pulls")
    assert [(r.status, r.fault) for r in calls] == [(502, "502")] * 4 + [(200, None)]


def test_backoff_is_capped_by_max_delay(world: World) -> None:
    state = world.em.state
    state.inject_fault("500", "/repos/{owner}/{repo}/pulls/{number}", count=6)
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, request_timeout=5.0, deadline=600.0)

    async def scenario(bot: Bot) -> Bot:
        await bot.client.json("GET", pull_path(world), installation_id=world.inst.id)
        return bot

    bot = run_with_bot(world, scenario, policy=policy)
    assert bot.time.sleeps == backoffs(1.0, 2.0, 4.0, 4.0, 4.0, 4.0)


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [("timeout", "TimeoutError"), ("reset", "ServerDisconnectedError")],
)
def test_a_hang_or_a_dropped_connection_is_retried(world: World, kind: str, outcome: str) -> None:
    state = world.em.state
    count = 1 if kind == "timeout" else 2
    state.inject_fault(kind, "/repos/{owner}/{repo}/pulls/{number}", count=count, hang_seconds=10)
    policy = RetryPolicy(base_delay=0.5, request_timeout=0.3, deadline=60.0)

    async def scenario(bot: Bot) -> tuple[Any, Bot]:
        return await bot.client.json("GET", pull_path(world), installation_id=world.inst.id), bot

    started = time.monotonic()
    pr, bot = run_with_bot(world, scenario, policy=policy)
    assert time.monotonic() - started < 3.0  # the hang was cut at the request timeout
    assert pr["number"] == world.pull
    # aiohttp itself retries an idempotent request once when a kept-alive connection drops,
    # so a reset may cost one or two attempts of the client's: each is observed and waited.
    seen = bot.outcomes(PULL)
    assert seen[-1] == "200" and 2 <= len(seen) <= 3
    assert set(seen[:-1]) == {outcome}
    assert bot.time.sleeps == backoffs(0.5, 1.0)[: len(seen) - 1]


@pytest.mark.parametrize(("status", "retry_after"), [(403, 1), (429, 3)])
def test_a_secondary_rate_limit_waits_what_retry_after_says(
    world: World, status: int, retry_after: int
) -> None:
    state = world.em.state
    state.inject_fault(
        "secondary_rate_limit",
        "/repos/{owner}/{repo}/pulls/{number}",
        status=status,
        retry_after=retry_after,
    )

    async def scenario(bot: Bot) -> Bot:
        await bot.client.json("GET", pull_path(world), installation_id=world.inst.id)
        return bot

    bot = run_with_bot(world, scenario)
    assert bot.time.sleeps == [float(retry_after)]
    assert bot.outcomes(PULL) == [str(status), "200"]


def test_a_primary_rate_limit_waits_until_the_reset(world: World) -> None:
    state = world.em.state
    state.inject_fault("primary_rate_limit", "/repos/{owner}/{repo}/pulls/{number}", reset_in=30)
    now = time.time()

    async def scenario(bot: Bot) -> Bot:
        await bot.client.json("GET", pull_path(world), installation_id=world.inst.id)
        return bot

    bot = run_with_bot(world, scenario, wall_clock=lambda: now)
    limited = [headers for status, headers in bot.responses if status == 403]
    assert len(limited) == 1 and limited[0]["x-ratelimit-remaining"] == "0"
    reset = float(limited[0]["x-ratelimit-reset"])
    assert 29 <= reset - now <= 31
    # Until the reset, plus one second for the reset's rounding to whole seconds.
    assert bot.time.sleeps == [reset - now + 1.0]
    assert bot.outcomes(PULL) == ["403", "200"]


def test_an_exhausted_quota_past_the_deadline_fails_at_once_with_the_reason(
    world: World,
) -> None:
    state = world.em.state
    state.rate_limit = 2  # the token fetch is free; two repository calls use the hour up

    async def scenario(bot: Bot) -> GitHubError:
        for _ in range(2):
            await bot.client.json("GET", pull_path(world), installation_id=world.inst.id)
        with pytest.raises(GitHubError) as caught:
            await bot.client.json("GET", pull_path(world), installation_id=world.inst.id)
        assert bot.time.sleeps == []  # an hour's wait does not fit in 120 s: no waiting
        return caught.value

    error = run_with_bot(world, scenario)
    assert error.status == 403
    assert "gave up after 1 attempts within the deadline" in str(error)
    assert "last: rate limit exhausted (HTTP 403)" in str(error)


# ---------------------------------------------------------------------------- failing


def test_a_404_fails_at_once_with_githubs_message(world: World) -> None:
    async def scenario(bot: Bot) -> tuple[GitHubError, Bot]:
        with pytest.raises(GitHubError) as caught:
            await bot.client.json("GET", f"/repos/{REPO}/pulls/999", installation_id=world.inst.id)
        return caught.value, bot

    error, bot = run_with_bot(world, scenario)
    assert error.status == 404
    assert error.endpoint == PULL
    assert str(error) == f"GET /repos/{REPO}/pulls/999: HTTP 404: Not Found"
    assert bot.time.sleeps == []
    assert len(world.em.state.requests(path_prefix=f"/repos/{REPO}/pulls/999")) == 1


def test_a_422_fails_at_once_with_githubs_message(world: World) -> None:
    body = {"name": "gitops-gate", "head_sha": "0" * 40}

    async def scenario(bot: Bot) -> tuple[GitHubError, Bot]:
        with pytest.raises(GitHubError) as caught:
            await bot.client.json(
                "POST", f"/repos/{REPO}/check-runs", installation_id=world.inst.id, json=body
            )
        return caught.value, bot

    error, bot = run_with_bot(world, scenario)
    assert error.status == 422
    assert f"No commit found for SHA: {'0' * 40}" in str(error)
    assert error.endpoint == "POST /repos/{owner}/{repo}/check-runs"
    assert bot.time.sleeps == []
    assert len(world.em.state.requests(method="POST", path_prefix="/repos")) == 1


def test_a_plain_403_is_not_mistaken_for_a_rate_limit(world: World) -> None:
    state = world.em.state
    state.installations[world.inst.id].permissions["checks"] = "read"
    body = {"name": "gitops-gate", "head_sha": world.base}

    async def scenario(bot: Bot) -> tuple[GitHubError, Bot]:
        with pytest.raises(GitHubError) as caught:
            await bot.client.json(
                "POST", f"/repos/{REPO}/check-runs", installation_id=world.inst.id, json=body
            )
        return caught.value, bot

    error, bot = run_with_bot(world, scenario)
    assert error.status == 403
    assert "Resource not accessible by integration" in str(error)
    assert bot.time.sleeps == []


@pytest.mark.parametrize(
    ("kind", "last"),
    [("502", "last: HTTP 502"), ("reset", "last: ServerDisconnectedError")],
)
def test_giving_up_within_the_deadline_names_the_last_reason(
    world: World, kind: str, last: str
) -> None:
    state = world.em.state
    state.inject_fault(kind, "/repos/{owner}/{repo}/pulls/{number}", count=100)
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0, request_timeout=5.0, deadline=5.0)

    async def scenario(bot: Bot) -> tuple[GitHubError, Bot]:
        with pytest.raises(GitHubError) as caught:
            await bot.client.json("GET", pull_path(world), installation_id=world.inst.id)
        return caught.value, bot

    error, bot = run_with_bot(world, scenario, policy=policy)
    waits = backoffs(0.5, 1.0, 2.0, 4.0, 8.0)
    fitting = next(n for n in range(len(waits)) if sum(waits[: n + 1]) > 5.0)
    assert bot.time.sleeps == waits[:fitting]  # every wait that fit, none that did not
    attempts = fitting + 1
    assert f"gave up after {attempts} attempts within the deadline ({last}" in str(error)
    assert str(error).startswith(f"GET /repos/{REPO}/pulls/{world.pull}: ")
    assert error.status == (502 if kind == "502" else None)
    sent = len(state.requests(path_prefix=f"/repos/{REPO}/pulls"))
    # (aiohttp resends an idempotent request once itself when the connection drops)
    assert sent == attempts if kind == "502" else attempts <= sent <= 2 * attempts


def test_a_request_never_outlives_the_calls_deadline(world: World) -> None:
    """A hang is cut at the remaining deadline, not at the (longer) request timeout."""
    world.em.state.inject_fault("timeout", "/repos/{owner}/{repo}/pulls/{number}", count=5)
    policy = RetryPolicy(base_delay=0.5, request_timeout=30.0, deadline=60.0)

    async def scenario(bot: Bot) -> tuple[GitHubError, Bot]:
        await bot.client.json("GET", f"/repos/{REPO}", installation_id=world.inst.id)
        with pytest.raises(GitHubError) as caught:
            await bot.client.json(
                "GET", pull_path(world), installation_id=world.inst.id, deadline=0.4
            )
        return caught.value, bot

    started = time.monotonic()
    error, bot = run_with_bot(world, scenario, policy=policy)
    assert time.monotonic() - started < 3.0
    # 0.4 s for the first attempt; a backoff of about 0.33 s; the rest (at least 0.1 s) for
    # the second; the next backoff does not fit.
    assert bot.time.sleeps == backoffs(0.5)
    assert "gave up after 2 attempts within the deadline (last: no response within 0.1 s)" in str(
        error
    )


# ---------------------------------------------------------------------------- pagination


def test_pagination_returns_all_250_files_in_order_following_link_headers() -> None:
    with run_emulator() as em:
        _app, inst, repo = em.setup_app(REPO, files={"README.md": "hi\n"})
        base = repo.branches["main"]
        names = [f"apps/app-{i:03d}.yaml" for i in range(250)]
        head = repo.commit_changes(base, {name: f"n: {i}\n" for i, name in enumerate(names)})
        pr = repo.open_pull_request(base_sha=base, head_sha=head)
        world = World(em, _app, inst, repo, base, pr.number)

        async def scenario(bot: Bot) -> tuple[list[Any], list[Any], Bot]:
            path = f"/repos/{REPO}/pulls/{pr.number}/files"
            every = await bot.client.paginate(path, installation_id=inst.id)
            some = await bot.client.paginate(path, installation_id=inst.id, limit=120)
            return every, some, bot

        every, some, bot = run_with_bot(world, scenario)
        assert [f["filename"] for f in every] == names
        assert [f["filename"] for f in some] == names[:120]
        pages = [r.query for r in em.state.requests(path_prefix=f"/repos/{REPO}/pulls")]
        assert pages == [
            "per_page=100",
            "per_page=100&page=2",
            "per_page=100&page=3",
            "per_page=100",
            "per_page=100&page=2",
        ]
        assert bot.outcomes("GET /repos/{owner}/{repo}/pulls/{id}/files") == ["200"] * 5


def test_the_link_header_is_read_whatever_its_case() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    from bot.github.client import Response

    link = (
        '<https://api.github.com/x?page=2>; rel="next", '
        '<https://api.github.com/x?page=9>; rel="last"'
    )
    for name in ("Link", "link"):
        headers = CIMultiDictProxy(CIMultiDict({name: link}))
        assert Response(200, headers, b"[]", "").next_link() == "https://api.github.com/x?page=2"


# ---------------------------------------------------------------------------- metrics labels

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("method", "url", "label"),
    [
        ("GET", "https://api.github.com/repos/acme/gitops/pulls/1234/files?per_page=100&page=3",
         "GET /repos/{owner}/{repo}/pulls/{id}/files"),
        ("GET", "https://ghe.example.com/api/v3/repos/acme/gitops/pulls/7/files",
         "GET /repos/{owner}/{repo}/pulls/{id}/files"),
        ("POST", "https://ghe.example.com/api/v3/app/installations/99/access_tokens",
         "POST /app/installations/{id}/access_tokens"),
        ("PATCH", "/repos/acme/gitops/check-runs/555",
         "PATCH /repos/{owner}/{repo}/check-runs/{id}"),
        ("GET", f"/repos/acme/gitops/tarball/{SHA}", "GET /repos/{owner}/{repo}/tarball/{ref}"),
        ("GET", "/repos/acme/gitops/tarball/feature/x",
         "GET /repos/{owner}/{repo}/tarball/{ref}"),
        ("GET", f"/repos/acme/gitops/contents/.github/gitops-gate.yml?ref={SHA}",
         "GET /repos/{owner}/{repo}/contents/{path}"),
        ("GET", f"/repos/acme/gitops/compare/{SHA}...{SHA[::-1]}",
         "GET /repos/{owner}/{repo}/compare/{basehead}"),
        ("GET", f"/repos/acme/gitops/commits/{SHA}/check-runs",
         "GET /repos/{owner}/{repo}/commits/{ref}/check-runs"),
        ("GET", "/repos/acme/gitops/commits/main/check-runs",
         "GET /repos/{owner}/{repo}/commits/{ref}/check-runs"),
        ("GET", f"/repos/acme/gitops/git/trees/{SHA}?recursive=1",
         "GET /repos/{owner}/{repo}/git/trees/{sha}"),
        ("PATCH", "/repos/acme/gitops/issues/comments/42",
         "PATCH /repos/{owner}/{repo}/issues/comments/{id}"),
        ("GET", "/orgs/acme/teams/platform/memberships/octocat",
         "GET /orgs/{org}/teams/{team}/memberships/{user}"),
        ("GET", "/app", "GET /app"),
    ],
)  # fmt: skip
def test_endpoint_template_keeps_label_cardinality_low(method: str, url: str, label: str) -> None:
    assert endpoint_template(method, url) == label


def test_every_label_the_client_reported_is_a_template(world: World) -> None:
    world.em.state.inject_fault("502", "/repos/{owner}/{repo}/tarball/{ref}", count=1)

    async def scenario(bot: Bot) -> Bot:
        iid = world.inst.id
        head = world.repo.pull_requests[world.pull].head_sha
        await bot.client.request("GET", f"/repos/{REPO}/tarball/{head}", installation_id=iid)
        await bot.client.request(
            "GET",
            f"/repos/{REPO}/contents/apps/web.yaml?ref={world.base}",
            installation_id=iid,
            accept="application/vnd.github.raw",
        )
        await bot.client.json(
            "GET", f"/repos/{REPO}/compare/{world.base}...{head}", installation_id=iid
        )
        return bot

    bot = run_with_bot(world, scenario)
    assert bot.observed == [
        (TOKEN, "201"),
        ("GET /repos/{owner}/{repo}/tarball/{ref}", "502"),
        ("GET /repos/{owner}/{repo}/tarball/{ref}", "200"),
        ("GET /repos/{owner}/{repo}/contents/{path}", "200"),
        ("GET /repos/{owner}/{repo}/compare/{basehead}", "200"),
    ]
