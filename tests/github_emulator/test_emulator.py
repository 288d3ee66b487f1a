"""The emulator must behave like GitHub, including rejecting what GitHub rejects."""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import json
import re
import tarfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import aiohttp
import gidgethub
import gidgethub.sansio
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from multidict import CIMultiDictProxy

from .fixtures import EmulatorHandle
from .state import App, Installation, PullRequest, Repository
from .tree import Symlink
from .webhooks import build_delivery, load_example, post_delivery, sign_body

T = TypeVar("T")
UA = {"User-Agent": "gitops-gate-tests"}
REPO = "octo-org/manifests"

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.25
"""


def lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def parse_link(value: str) -> dict[str, str]:
    """``Link: <url>; rel="next", ...`` -> {"next": url}."""
    found: list[tuple[str, str]] = re.findall(r'<([^>]+)>;\s*rel="(\w+)"', value)
    return {rel: url for url, rel in found}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def make_jwt(
    app: App,
    *,
    iat_offset: int = -60,
    lifetime: int = 600,
    iss: Any = None,
    key: str | None = None,
    algorithm: str = "RS256",
) -> str:
    now = int(time.time())
    iat = now + iat_offset
    claims = {"iat": iat, "exp": iat + lifetime, "iss": str(app.id) if iss is None else iss}
    # PyJWT refuses a non-string ``iss``; GitHub documents the App ID as an integer: sign raw.
    return jwt.api_jws.encode(
        json.dumps(claims).encode(), key or app.private_key_pem, algorithm=algorithm
    )


class Client:
    """A thin aiohttp client for one emulator, with the headers a real bot sends."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str = "") -> None:
        self.session = session
        self.base = base
        self.token = token

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        auth: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
        allow_redirects: bool = True,
    ) -> tuple[int, Any, CIMultiDictProxy[str], bytes]:
        h = dict(UA)
        h["Accept"] = "application/vnd.github+json"
        credential = self.token if auth is None else auth
        if credential:
            h["Authorization"] = credential
        h.update(headers or {})
        kwargs: dict[str, Any] = {
            "headers": h,
            "timeout": aiohttp.ClientTimeout(total=timeout),
            "allow_redirects": allow_redirects,
        }
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        async with self.session.request(method, self.base + path, **kwargs) as resp:
            raw = await resp.read()
            body: Any = raw
            if resp.content_type == "application/json":
                body = json.loads(raw)
            return resp.status, body, resp.headers, raw


async def token_for(client: Client, app: App, inst: Installation) -> str:
    status, body, _, _ = await client.call(
        "POST",
        f"/app/installations/{inst.id}/access_tokens",
        auth=f"Bearer {make_jwt(app)}",
    )
    assert status == 201, body
    return str(body["token"])


def with_client(
    em: EmulatorHandle, app: App, inst: Installation
) -> Callable[[Callable[[Client], Awaitable[T]]], T]:
    """Run ``fn(client)`` with a client holding a fresh installation token."""

    def runner(fn: Callable[[Client], Awaitable[T]]) -> T:
        async def main() -> T:
            async with aiohttp.ClientSession() as session:
                client = Client(session, em.base_url)
                client.token = f"token {await token_for(client, app, inst)}"
                return await fn(client)

        return run(main())

    return runner


@pytest.fixture
def world(github_emulator: EmulatorHandle) -> tuple[EmulatorHandle, App, Installation, Repository]:
    app, inst, repo = github_emulator.setup_app(REPO, files={"README.md": "hello\n"})
    return github_emulator, app, inst, repo


def open_pr(repo: Repository, changes: dict[str, bytes | str | Symlink | None]) -> PullRequest:
    base = repo.branches["main"]
    head = repo.commit_changes(base, changes, message="change")
    return repo.open_pull_request(base_sha=base, head_sha=head)


def annotation(i: int, **extra: Any) -> dict[str, Any]:
    ann = {
        "path": "apps/web.yaml",
        "start_line": i + 1,
        "end_line": i + 1,
        "annotation_level": "failure",
        "message": f"finding {i}",
    }
    ann.update(extra)
    return ann


# ---------------------------------------------------------------------------- auth


def test_app_jwt_and_installation_token(world: Any) -> None:
    em, app, inst, _ = world

    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            c = Client(s, em.base_url)
            bearer = f"Bearer {make_jwt(app)}"
            status, body, _, _ = await c.call("GET", "/app", auth=bearer)
            assert status == 200 and body["id"] == app.id and body["slug"] == app.slug
            status, body, _, _ = await c.call("GET", f"/repos/{REPO}/installation", auth=bearer)
            assert status == 200 and body["id"] == inst.id
            status, body, _, _ = await c.call(
                "POST", f"/app/installations/{inst.id}/access_tokens", auth=bearer
            )
            assert status == 201
            assert body["token"].startswith("ghs_")
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["expires_at"])
            status, body, headers, _ = await c.call(
                "GET", f"/repos/{REPO}", auth=f"token {body['token']}"
            )
            assert status == 200 and body["full_name"] == REPO
            assert headers["x-ratelimit-limit"] == "5000"
            assert int(headers["x-ratelimit-remaining"]) == 4999

    run(main())


def test_gidgethub_jwt_and_integer_issuer_are_accepted(world: Any) -> None:
    em, app, _inst, _repo = world
    import gidgethub.apps

    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            c = Client(s, em.base_url)
            for token in (
                gidgethub.apps.get_jwt(app_id=str(app.id), private_key=app.private_key_pem),
                make_jwt(app, iss=app.id),
                make_jwt(app, iss=app.client_id),
            ):
                status, body, _, _ = await c.call("GET", "/app", auth=f"Bearer {token}")
                assert status == 200, body

    run(main())


OTHER_KEY = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("signed by another key", {"key": OTHER_KEY}),
        ("lifetime over 10 minutes", {"lifetime": 601, "iat_offset": -1}),
        ("expired", {"iat_offset": -700, "lifetime": 600}),
        ("issued in the future", {"iat_offset": 120, "lifetime": 300}),
        ("unknown issuer", {"iss": "999"}),
        ("HS256", {"key": "secret-secret-secret-secret-32by", "algorithm": "HS256"}),
    ],
)
def test_bad_jwt_is_401(world: Any, case: str, kwargs: dict[str, Any]) -> None:
    em, app, inst, _ = world

    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            c = Client(s, em.base_url)
            bearer = f"Bearer {make_jwt(app, **kwargs)}"
            for method, path in (
                ("POST", f"/app/installations/{inst.id}/access_tokens"),
                ("GET", "/app"),
            ):
                status, body, _, _ = await c.call(method, path, auth=bearer)
                assert status == 401, (case, body)
                assert set(body) >= {"message", "documentation_url"}

    run(main())


def test_missing_or_garbage_jwt_is_401(world: Any) -> None:
    em, app, _inst, _ = world

    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            c = Client(s, em.base_url)
            for auth in ("", "Bearer not.a.jwt", f"token {make_jwt(app)}"):
                status, _, _, _ = await c.call("GET", "/app", auth=auth)
                assert status == 401

    run(main())


def test_bad_and_expired_installation_tokens_are_401(world: Any) -> None:
    em, app, inst, _ = world

    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            c = Client(s, em.base_url)
            token = await token_for(c, app, inst)
            path = f"/repos/{REPO}"
            assert (await c.call("GET", path, auth=f"token {token}"))[0] == 200
            assert (await c.call("GET", path, auth=f"Bearer {token}"))[0] == 200
            assert (await c.call("GET", path, auth=""))[0] == 401
            assert (await c.call("GET", path, auth="token ghs_nope"))[0] == 401
            # An App JWT is not an installation token.
            assert (await c.call("GET", path, auth=f"Bearer {make_jwt(app)}"))[0] == 401
            assert em.state.expire_token(token) == 1
            status, body, _, _ = await c.call("GET", path, auth=f"token {token}")
            assert status == 401 and body["message"] == "Bad credentials"
            fresh = await token_for(c, app, inst)
            assert (await c.call("GET", path, auth=f"token {fresh}"))[0] == 200

    run(main())


def test_token_narrowing_and_permissions(world: Any) -> None:
    em, app, inst, repo = world
    em.state.create_repo("octo-org/other", installation=inst, files={"a": "b"})
    em.state.create_repo("someone/else", files={"a": "b"})

    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            c = Client(s, em.base_url)
            bearer = f"Bearer {make_jwt(app)}"
            status, body, _, _ = await c.call(
                "POST",
                f"/app/installations/{inst.id}/access_tokens",
                auth=bearer,
                json_body={"repositories": ["manifests"], "permissions": {"checks": "read"}},
            )
            assert status == 201, body
            tok = f"token {body['token']}"
            assert (await c.call("GET", f"/repos/{REPO}", auth=tok))[0] == 200
            assert (await c.call("GET", "/repos/octo-org/other", auth=tok))[0] == 404
            assert (await c.call("GET", "/repos/someone/else", auth=tok))[0] == 404
            status, body, _, _ = await c.call(
                "POST",
                f"/repos/{REPO}/check-runs",
                auth=tok,
                json_body={"name": "gitops-gate", "head_sha": repo.branches["main"]},
            )
            assert status == 403 and body["message"] == "Resource not accessible by integration"
            status, _, _, _ = await c.call(
                "POST",
                f"/app/installations/{inst.id}/access_tokens",
                auth=bearer,
                json_body={"permissions": {"administration": "write"}},
            )
            assert status == 422
            status, _, _, _ = await c.call(
                "POST",
                f"/app/installations/{inst.id}/access_tokens",
                auth=bearer,
                json_body={"repositories": "manifests"},
            )
            assert status == 422

    run(main())


def test_user_agent_and_api_version_are_checked(world: Any) -> None:
    em, _app, _inst, _ = world

    async def main() -> None:
        async with aiohttp.ClientSession(skip_auto_headers=["User-Agent"]) as s:
            async with s.get(em.base_url + "/rate_limit") as resp:
                assert resp.status == 403
            async with s.get(
                em.base_url + "/rate_limit",
                headers={**UA, "X-GitHub-Api-Version": "2001-01-01"},
            ) as resp:
                assert resp.status == 400

    run(main())


# ---------------------------------------------------------------------------- check runs


def test_valid_check_run_lifecycle_is_recorded(world: Any) -> None:
    em, app, inst, repo = world
    pr = open_pr(repo, {"apps/web.yaml": DEPLOYMENT})

    async def flow(c: Client) -> dict[str, Any]:
        path = f"/repos/{REPO}/check-runs"
        status, run_, _, _ = await c.call(
            "POST",
            path,
            json_body={
                "name": "gitops-gate",
                "head_sha": pr.head_sha,
                "status": "in_progress",
                "started_at": "2024-01-01T00:00:00Z",
                "external_id": "job-1",
            },
        )
        assert status == 201, run_
        assert run_["status"] == "in_progress" and run_["conclusion"] is None
        assert run_["pull_requests"][0]["number"] == pr.number
        for batch in range(2):
            status, body, _, _ = await c.call(
                "PATCH",
                f"{path}/{run_['id']}",
                json_body={
                    "output": {
                        "title": "checking",
                        "summary": "x" * 65_535,  # exactly at the limit: accepted
                        "text": "details",
                        "annotations": [annotation(batch * 50 + i) for i in range(50)],
                    }
                },
            )
            assert status == 200, body
        status, body, _, _ = await c.call(
            "PATCH",
            f"{path}/{run_['id']}",
            json_body={
                "conclusion": "failure",
                "output": {
                    "title": "3 errors",
                    "summary": "## Findings",
                    "annotations": [
                        annotation(0, start_column=3, end_column=9, title="t" * 255),
                        annotation(1, end_line=4, annotation_level="notice"),
                    ],
                },
            },
        )
        assert status == 200, body
        assert body["status"] == "completed" and body["conclusion"] == "failure"
        assert body["output"]["annotations_count"] == 102
        status, got, _, _ = await c.call("GET", f"{path}/{run_['id']}")
        assert status == 200 and got["conclusion"] == "failure"
        status, listed, _, _ = await c.call(
            "GET", f"/repos/{REPO}/commits/{pr.head_sha}/check-runs?check_name=gitops-gate"
        )
        assert status == 200 and listed["total_count"] == 1
        status, anns, headers, _ = await c.call(
            "GET", f"{path}/{run_['id']}/annotations?per_page=100"
        )
        assert status == 200 and len(anns) == 100 and 'rel="next"' in headers["Link"]
        return dict(got)

    with_client(em, app, inst)(flow)
    (run_,) = em.state.check_runs(REPO, head_sha=pr.head_sha)
    assert run_.statuses == ["in_progress", "in_progress", "in_progress", "completed"]
    assert [e.kind for e in run_.events] == ["create", "update", "update", "update"]
    assert run_.completions == 1
    assert len(run_.annotations) == 102  # appended across updates
    assert run_.annotations[100]["start_column"] == 3
    assert "text" not in run_.output  # the final PATCH sent no text: GitHub clears it
    assert run_.output["title"] == "3 errors"
    calls = em.state.requests(pull_number=pr.number, include_faults=False)
    assert [r.method for r in calls].count("PATCH") == 3


def _base_create(sha: str) -> dict[str, Any]:
    return {"name": "gitops-gate", "head_sha": sha, "status": "in_progress"}


INVALID_CREATES: list[tuple[str, Callable[[str], dict[str, Any]]]] = [
    ("unknown status", lambda sha: {**_base_create(sha), "status": "running"}),
    ("missing name", lambda sha: {"head_sha": sha}),
    (
        "string line number",
        lambda sha: {
            **_base_create(sha),
            "output": {
                "title": "t",
                "summary": "s",
                "annotations": [annotation(0, start_line="1")],
            },
        },
    ),
    ("null details_url", lambda sha: {**_base_create(sha), "details_url": None}),
    (
        "51 annotations",
        lambda sha: {
            **_base_create(sha),
            "output": {
                "title": "t",
                "summary": "s",
                "annotations": [annotation(i) for i in range(51)],
            },
        },
    ),
    (
        "65,536-char summary",
        lambda sha: {
            **_base_create(sha),
            "output": {"title": "t", "summary": "s" * 65_536},
        },
    ),
    (
        "65,536-char text",
        lambda sha: {
            **_base_create(sha),
            "output": {"title": "t", "summary": "s", "text": "s" * 65_536},
        },
    ),
    (
        "summary over 65,535 UTF-8 bytes",
        lambda sha: {
            **_base_create(sha),
            "output": {"title": "t", "summary": "é" * 40_000},
        },
    ),
    (
        "columns on a multi-line annotation",
        lambda sha: {
            **_base_create(sha),
            "output": {
                "title": "t",
                "summary": "s",
                "annotations": [annotation(0, end_line=3, start_column=1, end_column=4)],
            },
        },
    ),
    ("completed without conclusion", lambda sha: {**_base_create(sha), "status": "completed"}),
    (
        "completed_at without conclusion",
        lambda sha: {
            "name": "gitops-gate",
            "head_sha": sha,
            "completed_at": "2024-01-01T00:00:00Z",
        },
    ),
    (
        "annotation level error",
        lambda sha: {
            **_base_create(sha),
            "output": {
                "title": "t",
                "summary": "s",
                "annotations": [annotation(0, annotation_level="error")],
            },
        },
    ),
    (
        "annotation title 256 chars",
        lambda sha: {
            **_base_create(sha),
            "output": {
                "title": "t",
                "summary": "s",
                "annotations": [annotation(0, title="t" * 256)],
            },
        },
    ),
    (
        "annotation message over 64 KB",
        lambda sha: {
            **_base_create(sha),
            "output": {
                "title": "t",
                "summary": "s",
                "annotations": [annotation(0, message="m" * 65_537)],
            },
        },
    ),
    (
        "annotation raw_details over 64 KB",
        lambda sha: {
            **_base_create(sha),
            "output": {
                "title": "t",
                "summary": "s",
                "annotations": [annotation(0, raw_details="m" * 65_537)],
            },
        },
    ),
    (
        "line 0",
        lambda sha: {
            **_base_create(sha),
            "output": {"title": "t", "summary": "s", "annotations": [annotation(-1)]},
        },
    ),
    ("missing output.summary", lambda sha: {**_base_create(sha), "output": {"title": "t"}}),
    (
        "four actions",
        lambda sha: {
            **_base_create(sha),
            "actions": [{"label": "l", "description": "d", "identifier": str(i)} for i in range(4)],
        },
    ),
    ("stale conclusion", lambda sha: {**_base_create(sha), "conclusion": "stale"}),
    ("unknown head_sha", lambda sha: _base_create("f" * 40)),
]


@pytest.mark.parametrize(("case", "make"), INVALID_CREATES, ids=[c for c, _ in INVALID_CREATES])
def test_invalid_check_run_create_is_422(
    world: Any, case: str, make: Callable[[str], dict[str, Any]]
) -> None:
    em, app, inst, repo = world
    sha = repo.branches["main"]

    async def flow(c: Client) -> None:
        status, body, _, _ = await c.call("POST", f"/repos/{REPO}/check-runs", json_body=make(sha))
        assert status == 422, (case, body)
        assert isinstance(body["message"], str) and body["message"]
        assert body["documentation_url"].startswith("https://docs.github.com/")
        if "errors" in body:
            assert isinstance(body["errors"], list)

    with_client(em, app, inst)(flow)
    assert em.state.check_runs() == []


def test_schema_errors_name_the_field(world: Any) -> None:
    em, app, inst, repo = world

    async def flow(c: Client) -> None:
        body = _base_create(repo.branches["main"])
        body["output"] = {
            "title": "t",
            "summary": "s",
            "annotations": [annotation(i) for i in range(51)],
        }
        status, err, _, _ = await c.call("POST", f"/repos/{REPO}/check-runs", json_body=body)
        assert status == 422
        assert any(e["field"] == "output.annotations" for e in err["errors"])
        status, err, _, _ = await c.call(
            "POST",
            f"/repos/{REPO}/check-runs",
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert status == 400 and err["message"] == "Problems parsing JSON"

    with_client(em, app, inst)(flow)


INVALID_UPDATES: list[tuple[str, dict[str, Any]]] = [
    ("completed without conclusion", {"status": "completed"}),
    ("output without title", {"output": {"summary": "s"}}),
    (
        "51 annotations",
        {
            "output": {
                "title": "t",
                "summary": "s",
                "annotations": [annotation(i) for i in range(51)],
            }
        },
    ),
    ("65,536-char summary", {"output": {"title": "t", "summary": "s" * 65_536}}),
    (
        "columns on a multi-line annotation",
        {
            "output": {
                "title": "t",
                "summary": "s",
                "annotations": [annotation(0, end_line=2, end_column=4)],
            }
        },
    ),
    ("bogus conclusion", {"conclusion": "passed"}),
]


@pytest.mark.parametrize(("case", "body"), INVALID_UPDATES, ids=[c for c, _ in INVALID_UPDATES])
def test_invalid_check_run_update_is_422(world: Any, case: str, body: dict[str, Any]) -> None:
    em, app, inst, repo = world

    async def flow(c: Client) -> None:
        status, created, _, _ = await c.call(
            "POST", f"/repos/{REPO}/check-runs", json_body=_base_create(repo.branches["main"])
        )
        assert status == 201
        status, err, _, _ = await c.call(
            "PATCH", f"/repos/{REPO}/check-runs/{created['id']}", json_body=body
        )
        assert status == 422, (case, err)

    with_client(em, app, inst)(flow)
    (run_,) = em.state.check_runs()
    assert len(run_.events) == 1 and run_.status == "in_progress"


# ---------------------------------------------------------------------------- PR files, pages


def test_pull_request_files_statuses_and_patches(world: Any) -> None:
    em, app, inst, repo = world
    base = repo.commit(
        {
            "old.yaml": "a: 1\n",
            "keep.yaml": "x: 1\ny: 2\n",
            "gone.yaml": "z\n",
            "moved.txt": "same\n",
        },
        branch="main",
    )
    head = repo.commit_changes(
        base,
        {
            "keep.yaml": "x: 1\ny: 3\n",
            "gone.yaml": None,
            "moved.txt": None,
            "renamed.txt": "same\n",
            "new.yaml": "n: 1\n",
            "logo.png": b"\x89PNG\0\0binary",
            "link": Symlink("../../etc/passwd"),
        },
    )
    pr = repo.open_pull_request(base_sha=base, head_sha=head, draft=True)

    async def flow(c: Client) -> None:
        status, body, _, _ = await c.call("GET", f"/repos/{REPO}/pulls/{pr.number}")
        assert status == 200
        assert body["draft"] is True and body["head"]["sha"] == head and body["base"]["sha"] == base
        assert body["changed_files"] == 6
        status, files, _, _ = await c.call("GET", f"/repos/{REPO}/pulls/{pr.number}/files")
        by_name = {f["filename"]: f for f in files}
        assert by_name["keep.yaml"]["status"] == "modified"
        assert by_name["keep.yaml"]["patch"].startswith("@@ -1,2 +1,2 @@")
        assert "+y: 3" in by_name["keep.yaml"]["patch"]
        assert by_name["gone.yaml"]["status"] == "removed"
        assert by_name["new.yaml"]["status"] == "added" and by_name["new.yaml"]["additions"] == 1
        assert by_name["renamed.txt"]["status"] == "renamed"
        assert by_name["renamed.txt"]["previous_filename"] == "moved.txt"
        assert "patch" not in by_name["logo.png"]  # binary: no patch, like GitHub
        assert by_name["link"]["status"] == "added"

    with_client(em, app, inst)(flow)


def test_pagination_link_headers_and_3000_file_cap(world: Any) -> None:
    em, app, inst, repo = world
    pr = open_pr(repo, {f"apps/f{i:04}.yaml": f"n: {i}\n" for i in range(3005)})

    async def flow(c: Client) -> None:
        path = f"/repos/{REPO}/pulls/{pr.number}/files"
        status, first, headers, _ = await c.call("GET", path)
        assert status == 200 and len(first) == 30  # default per_page
        links = parse_link(headers["Link"])
        assert "page=2" in links["next"] and "page=100" in links["last"]
        names: list[str] = []
        url: str | None = f"{path}?per_page=100"
        pages = 0
        while url:
            status, page, headers, _ = await c.call("GET", url)
            assert status == 200
            names += [f["filename"] for f in page]
            pages += 1
            nxt = parse_link(headers.get("Link", "")).get("next")
            url = nxt[len(em.base_url) :] if nxt else None
        assert pages == 30 and len(names) == 3000 and len(set(names)) == 3000
        status, _last, headers, _ = await c.call("GET", f"{path}?per_page=100&page=30")
        assert 'rel="next"' not in headers["Link"] and 'rel="prev"' in headers["Link"]
        status, beyond, _, _ = await c.call("GET", f"{path}?per_page=100&page=31")
        assert beyond == []
        status, pr_json, _, _ = await c.call("GET", f"/repos/{REPO}/pulls/{pr.number}")
        assert pr_json["changed_files"] == 3005

    with_client(em, app, inst)(flow)


# ---------------------------------------------------------------------------- contents, tarball


def test_contents_at_a_sha_base64_raw_and_404(world: Any) -> None:
    em, app, inst, repo = world
    pr = open_pr(repo, {"apps/web.yaml": DEPLOYMENT, ".github/gitops-gate.yml": "x" * 200})

    async def flow(c: Client) -> None:
        path = f"/repos/{REPO}/contents/apps/web.yaml"
        status, body, _, _ = await c.call("GET", f"{path}?ref={pr.head_sha}")
        assert status == 200 and body["encoding"] == "base64" and body["type"] == "file"
        assert base64.b64decode(body["content"]).decode() == DEPLOYMENT
        assert "\n" in body["content"]  # wrapped like GitHub's
        status, _raw, _headers, data = await c.call(
            "GET", f"{path}?ref={pr.head_sha}", headers={"Accept": "application/vnd.github.raw"}
        )
        assert status == 200 and data == DEPLOYMENT.encode()
        assert (await c.call("GET", f"{path}?ref={pr.base_sha}"))[0] == 404
        status, body, _, _ = await c.call("GET", f"{path}?ref={'0' * 40}")
        assert status == 404
        status, listing, _, _ = await c.call("GET", f"/repos/{REPO}/contents?ref={pr.head_sha}")
        assert {(i["name"], i["type"]) for i in listing} == {
            (".github", "dir"),
            ("apps", "dir"),
            ("README.md", "file"),
        }
        status, body, _, _ = await c.call(
            "GET", f"/repos/{REPO}/contents/apps/web.yaml?ref=feature"
        )
        assert status == 200  # branch names resolve too

    with_client(em, app, inst)(flow)


def _untar(data: bytes) -> tarfile.TarFile:
    return tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:")


def test_tarball_layout_contents_and_redirect(world: Any) -> None:
    em, app, inst, repo = world
    pr = open_pr(repo, {"apps/web.yaml": DEPLOYMENT, "apps/link": Symlink("web.yaml")})

    async def flow(c: Client) -> None:
        status, _, headers, _ = await c.call(
            "GET", f"/repos/{REPO}/tarball/{pr.head_sha}", allow_redirects=False
        )
        assert status == 302 and "/legacy.tar.gz/" in headers["Location"]
        status, _, headers, data = await c.call("GET", f"/repos/{REPO}/tarball/{pr.head_sha}")
        assert status == 200 and headers["Content-Type"] == "application/x-gzip"
        root = f"octo-org-manifests-{pr.head_sha[:7]}"
        with _untar(data) as tar:
            names = tar.getnames()
            assert all(n == root or n.startswith(root + "/") for n in names)
            assert tar.pax_headers["comment"] == pr.head_sha
            member = tar.extractfile(f"{root}/apps/web.yaml")
            assert member is not None and member.read() == DEPLOYMENT.encode()
            link = tar.getmember(f"{root}/apps/link")
            assert link.issym() and link.linkname == "web.yaml"
            assert tar.getmember(f"{root}/apps").isdir()
        em.state.tarball_redirect = False
        status, _, _, data = await c.call(
            "GET", f"/repos/{REPO}/tarball/{pr.base_sha}", allow_redirects=False
        )
        assert status == 200
        with _untar(data) as tar:
            assert f"octo-org-manifests-{pr.base_sha[:7]}/README.md" in tar.getnames()
            assert not any(n.endswith("web.yaml") for n in tar.getnames())
        assert (await c.call("GET", f"/repos/{REPO}/tarball/nope"))[0] == 404

    with_client(em, app, inst)(flow)


def test_commit_endpoint(world: Any) -> None:
    em, app, inst, repo = world
    pr = open_pr(repo, {"apps/web.yaml": DEPLOYMENT})

    async def flow(c: Client) -> None:
        status, body, _, _ = await c.call("GET", f"/repos/{REPO}/commits/{pr.head_sha}")
        assert status == 200 and body["sha"] == pr.head_sha
        assert body["parents"] == [{"sha": pr.base_sha}]
        assert [f["filename"] for f in body["files"]] == ["apps/web.yaml"]
        assert (await c.call("GET", f"/repos/{REPO}/commits/{'e' * 40}"))[0] == 422

    with_client(em, app, inst)(flow)


# ---------------------------------------------------------------------------- comments, reviews


def test_issue_comments(world: Any) -> None:
    em, app, inst, repo = world
    pr = open_pr(repo, {"apps/web.yaml": DEPLOYMENT})
    em.state.add_comment(REPO, pr.number, "/gate recheck", user="alice")

    async def flow(c: Client) -> None:
        path = f"/repos/{REPO}/issues/{pr.number}/comments"
        status, created, _, _ = await c.call(
            "POST", path, json_body={"body": "<!-- gitops-gate:summary -->\nok"}
        )
        assert status == 201 and created["user"]["login"] == "gitops-gate[bot]"
        status, listed, _, _ = await c.call("GET", path)
        assert [c_["user"]["type"] for c_ in listed] == ["User", "Bot"]
        status, edited, _, _ = await c.call(
            "PATCH", f"/repos/{REPO}/issues/comments/{created['id']}", json_body={"body": "v2"}
        )
        assert status == 200 and edited["body"] == "v2"
        for bad in ({"body": "x" * 65_537}, {"body": "  "}, {"body": 5}, {}):
            assert (await c.call("POST", path, json_body=bad))[0] == 422, bad
        assert (
            await c.call("POST", f"/repos/{REPO}/issues/999/comments", json_body={"body": "x"})
        )[0] == 404

    with_client(em, app, inst)(flow)
    (bot,) = [c for c in em.state.comments(REPO, pr.number) if c.user_type == "Bot"]
    assert bot.body == "v2" and bot.history == ["<!-- gitops-gate:summary -->\nok"]


def test_reviews_only_accept_lines_in_the_diff(world: Any) -> None:
    em, app, inst, repo = world
    base = repo.commit(
        {"apps/web.yaml": "".join(f"line{i}\n" for i in range(1, 41))}, branch="main"
    )
    lines = [f"line{i}\n" for i in range(1, 41)]
    lines[4] = "changed5\n"
    lines[29] = "changed30\n"
    head = repo.commit_changes(base, {"apps/web.yaml": "".join(lines)})
    pr = repo.open_pull_request(base_sha=base, head_sha=head)

    def comment(line: int, **extra: Any) -> dict[str, Any]:
        return {"path": "apps/web.yaml", "line": line, "side": "RIGHT", "body": "fix", **extra}

    async def flow(c: Client) -> None:
        path = f"/repos/{REPO}/pulls/{pr.number}/reviews"
        ok = {
            "commit_id": head,
            "event": "COMMENT",
            "body": "2 findings",
            "comments": [comment(5), comment(30, start_line=28)],
        }
        status, body, _, _ = await c.call("POST", path, json_body=ok)
        assert status == 200 and body["state"] == "COMMENTED", body
        # One anchor outside the diff rejects the whole batch.
        bad = {**ok, "comments": [comment(5), comment(20)]}
        status, body, _, _ = await c.call("POST", path, json_body=bad)
        assert status == 422
        assert "Pull request review thread line must be part of the diff" in body["errors"]
        cross = {**ok, "comments": [comment(30, start_line=5)]}
        assert (await c.call("POST", path, json_body=cross))[0] == 422
        assert (await c.call("POST", path, json_body={**ok, "body": ""}))[0] == 422
        assert (await c.call("POST", path, json_body={**ok, "event": "LGTM"}))[0] == 422
        other_file = {**ok, "comments": [{**comment(5), "path": "README.md"}]}
        assert (await c.call("POST", path, json_body=other_file))[0] == 422
        status, body, _, _ = await c.call("POST", path, json_body={"comments": [comment(5)]})
        assert status == 200 and body["state"] == "PENDING"

    with_client(em, app, inst)(flow)
    assert [r.state for r in em.state.reviews(REPO, pr.number)] == ["COMMENTED", "PENDING"]


# ---------------------------------------------------------------------------- faults


def test_fault_502_then_recovery(world: Any) -> None:
    em, app, inst, repo = world
    pr = open_pr(repo, {"apps/web.yaml": DEPLOYMENT})
    fault = em.state.inject_fault("502", "/repos/{owner}/{repo}/pulls/{number}", count=2)

    async def flow(c: Client) -> None:
        path = f"/repos/{REPO}/pulls/{pr.number}"
        assert [(await c.call("GET", path))[0] for _ in range(3)] == [502, 502, 200]

    with_client(em, app, inst)(flow)
    assert fault.hits == 2 and fault.remaining == 0
    faulted = [r for r in em.state.requests(pull_number=pr.number) if r.fault]
    assert [r.status for r in faulted] == [502, 502]


def test_fault_502_after_processing_still_applies_the_change(world: Any) -> None:
    em, app, inst, repo = world
    em.state.inject_fault("502", "/repos/*/check-runs", method="POST", after_processing=True)

    async def flow(c: Client) -> None:
        status, _, _, _ = await c.call(
            "POST", f"/repos/{REPO}/check-runs", json_body=_base_create(repo.branches["main"])
        )
        assert status == 502

    with_client(em, app, inst)(flow)
    assert len(em.state.check_runs()) == 1  # the write happened; the response was lost


def test_fault_timeout_hangs_past_the_client_timeout(world: Any) -> None:
    em, app, inst, _repo = world
    em.state.inject_fault("timeout", "/repos/{owner}/{repo}", hang_seconds=5)

    async def flow(c: Client) -> None:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await c.call("GET", f"/repos/{REPO}", timeout=0.5)
        assert time.monotonic() - started < 2
        assert (await c.call("GET", f"/repos/{REPO}"))[0] == 200

    with_client(em, app, inst)(flow)


def test_fault_connection_reset(world: Any) -> None:
    em, app, inst, _repo = world
    # aiohttp's client retries an idempotent request once on a reused connection: reset twice.
    fault = em.state.inject_fault("reset", "/repos/{owner}/{repo}", count=2)

    async def flow(c: Client) -> None:
        with pytest.raises(aiohttp.ClientError):
            await c.call("GET", f"/repos/{REPO}")
        assert fault.remaining == 0
        assert (await c.call("GET", f"/repos/{REPO}"))[0] == 200

    with_client(em, app, inst)(flow)


@pytest.mark.parametrize("status", [403, 429])
def test_fault_secondary_rate_limit(world: Any, status: int) -> None:
    em, app, inst, repo = world
    em.state.inject_fault(
        "secondary_rate_limit", "/repos/*/check-runs", method="POST", retry_after=7, status=status
    )

    async def flow(c: Client) -> None:
        body = _base_create(repo.branches["main"])
        code, err, headers, raw = await c.call("POST", f"/repos/{REPO}/check-runs", json_body=body)
        assert code == status and headers["Retry-After"] == "7"
        assert "secondary rate limit" in err["message"]
        with pytest.raises(gidgethub.GitHubBroken if status >= 500 else gidgethub.BadRequest):
            gidgethub.sansio.decipher_response(code, lower(headers), raw)
        assert (await c.call("POST", f"/repos/{REPO}/check-runs", json_body=body))[0] == 201

    with_client(em, app, inst)(flow)
    assert len(em.state.check_runs()) == 1


@pytest.mark.parametrize("status", [403, 429])
def test_fault_primary_rate_limit(world: Any, status: int) -> None:
    em, app, inst, _repo = world
    em.state.inject_fault("primary_rate_limit", "*", method="GET", reset_in=30, status=status)

    async def flow(c: Client) -> None:
        code, err, headers, raw = await c.call("GET", f"/repos/{REPO}")
        assert code == status
        assert headers["x-ratelimit-remaining"] == "0"
        assert int(headers["x-ratelimit-reset"]) >= int(time.time()) + 29
        assert "API rate limit exceeded" in err["message"]
        if status == 403:  # gidgethub recognises only the 403 form
            with pytest.raises(gidgethub.RateLimitExceeded):
                gidgethub.sansio.decipher_response(code, lower(headers), raw)
        assert (await c.call("GET", f"/repos/{REPO}"))[0] == 200

    with_client(em, app, inst)(flow)


def test_primary_rate_limit_is_also_counted_and_304s_are_free(world: Any) -> None:
    em, app, inst, _repo = world
    em.state.rate_limit = 3

    async def flow(c: Client) -> None:
        status, _, headers, _ = await c.call("GET", f"/repos/{REPO}")
        etag = headers["ETag"]
        for _ in range(3):
            status, _, headers, _ = await c.call(
                "GET", f"/repos/{REPO}", headers={"If-None-Match": etag}
            )
            assert status == 304
        assert (await c.call("GET", f"/repos/{REPO}"))[0] == 200
        status, _, headers, _ = await c.call("GET", f"/repos/{REPO}")
        assert status == 200 and headers["x-ratelimit-remaining"] == "0"
        status, _, headers, _ = await c.call("GET", f"/repos/{REPO}")
        assert status == 403 and headers["x-ratelimit-remaining"] == "0"

    with_client(em, app, inst)(flow)


# ---------------------------------------------------------------------------- request log


def test_request_log_counts_calls_per_pull_request(world: Any) -> None:
    em, app, inst, repo = world
    pr1 = open_pr(repo, {"a.yaml": "a: 1\n"})
    pr2 = repo.open_pull_request(
        base_sha=repo.branches["main"],
        head_sha=repo.commit_changes(repo.branches["main"], {"b.yaml": "b\n"}),
        head_ref="other",
    )
    em.state.clear_requests()

    async def flow(c: Client) -> None:
        await c.call("GET", f"/repos/{REPO}/pulls/{pr1.number}/files")
        await c.call("GET", f"/repos/{REPO}/contents/a.yaml?ref={pr1.head_sha}")
        await c.call("POST", f"/repos/{REPO}/check-runs", json_body=_base_create(pr1.head_sha))
        await c.call("GET", f"/repos/{REPO}/pulls/{pr2.number}")

    with_client(em, app, inst)(flow)
    assert len(em.state.requests(pull_number=pr1.number)) == 3
    assert len(em.state.requests(pull_number=pr2.number)) == 1
    token_calls = em.state.requests(path_prefix="/app/installations")
    assert len(token_calls) == 1 and token_calls[0].auth == "jwt"
    assert all(r.duration >= 0 and r.status < 400 for r in em.state.requests())


# ---------------------------------------------------------------------------- webhooks

EXAMPLES = [
    ("pull_request", "opened"),
    ("pull_request", "synchronize"),
    ("pull_request", "reopened"),
    ("pull_request", "ready_for_review"),
    ("pull_request", "edited"),
    ("check_suite", "requested"),
    ("check_suite", "rerequested"),
    ("check_run", "rerequested"),
    ("merge_group", "checks_requested"),
    ("installation", "created"),
    ("installation", "deleted"),
    ("ping", None),
]


def test_signature_matches_githubs_test_vector() -> None:
    assert sign_body(b"Hello, World!", "It's a Secret to Everybody") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


@pytest.mark.parametrize(("event", "action"), EXAMPLES)
def test_examples_adapt_and_verify_with_gidgethub(
    world: Any, event: str, action: str | None
) -> None:
    em, app, inst, repo = world
    pr = open_pr(repo, {"apps/web.yaml": DEPLOYMENT})
    pr.draft = True
    mg_head = repo.commit_changes(pr.head_sha, {"merged": "1"})
    group = repo.add_merge_group(base_sha=pr.base_sha, head_sha=mg_head, pull_numbers=[pr.number])
    delivery = build_delivery(
        event,
        action,
        app=app,
        installation=inst,
        repo=repo,
        pull=pr,
        merge_group=group,
        api_url=em.base_url,
        changes={"base": {"ref": {"from": "develop"}, "sha": {"from": "1" * 40}}},
    )
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    ev = gidgethub.sansio.Event.from_http(headers, delivery.body, secret=app.webhook_secret)
    assert ev.event == event and ev.delivery_id == delivery.delivery_id
    assert headers["user-agent"].startswith("GitHub-Hookshot/")
    assert headers["x-github-hook-installation-target-type"] == "integration"
    assert headers["x-github-hook-installation-target-id"] == str(app.id)
    data = ev.data
    assert data.get("action") == action
    if event != "ping":
        assert data["installation"]["id"] == inst.id
    if event != "installation":
        assert data.get("repository", {}).get("full_name", REPO) == REPO
    if event == "pull_request":
        assert data["number"] == pr.number and data["pull_request"]["head"]["sha"] == pr.head_sha
        assert data["pull_request"]["base"]["sha"] == pr.base_sha
        assert data["pull_request"]["draft"] is True
        assert data["pull_request"]["url"].startswith(em.base_url)
    if action == "edited":
        assert data["changes"]["base"]["ref"]["from"] == "develop"
    if event == "check_suite":
        assert data["check_suite"]["head_sha"] == pr.head_sha
        assert data["check_suite"]["pull_requests"][0]["number"] == pr.number
        assert data["check_suite"]["app"]["id"] == app.id
    if event == "check_run":
        assert data["check_run"]["head_sha"] == pr.head_sha
    if event == "merge_group":
        assert data["merge_group"]["head_sha"] == mg_head
        assert data["merge_group"]["base_sha"] == pr.base_sha
    if event == "installation":
        assert data["installation"]["id"] == inst.id and data["installation"]["app_id"] == app.id
    if event == "ping":
        assert data["hook"]["app_id"] == app.id
    if event == "pull_request" and action == "synchronize":
        assert data["after"] == pr.head_sha


def test_forged_and_unsigned_deliveries_fail_verification(world: Any) -> None:
    _em, app, inst, _repo = world
    d = build_delivery("ping", app=app, installation=inst)
    for bad in (d.forged(), d.resigned("wrong secret")):
        headers = {k.lower(): v for k, v in bad.headers.items()}
        with pytest.raises(gidgethub.ValidationFailure):
            gidgethub.sansio.Event.from_http(headers, bad.body, secret=app.webhook_secret)
    unsigned = d.without("X-Hub-Signature-256", "X-Hub-Signature")
    with pytest.raises(gidgethub.ValidationFailure):
        gidgethub.sansio.Event.from_http(
            {k.lower(): v for k, v in unsigned.headers.items()}, d.body, secret=app.webhook_secret
        )
    sha1_only = d.without("X-Hub-Signature-256")
    assert "X-Hub-Signature" in sha1_only.headers and "X-Hub-Signature-256" not in sha1_only.headers


def test_load_example_is_the_pinned_copy() -> None:
    data = load_example("pull_request", "opened")
    assert (
        data["action"] == "opened" and data["repository"]["full_name"] == "Codertocat/Hello-World"
    )
    assert load_example("pull_request", "edited")["action"] == "edited"
    with pytest.raises(FileNotFoundError):
        load_example("pull_request", "labeled")


def test_post_delivery_reaches_a_receiver(world: Any) -> None:
    _em, app, inst, repo = world
    pr = open_pr(repo, {"apps/web.yaml": DEPLOYMENT})
    delivery = build_delivery(
        "pull_request", "opened", app=app, installation=inst, repo=repo, pull=pr
    )
    received: list[gidgethub.sansio.Event] = []

    async def main() -> None:
        async def hook(request: web.Request) -> web.Response:
            body = await request.read()
            try:
                ev = gidgethub.sansio.Event.from_http(
                    request.headers, body, secret=app.webhook_secret
                )
            except gidgethub.ValidationFailure:
                return web.Response(status=401)
            received.append(ev)
            return web.Response(status=202)

        recv = web.Application()
        recv.router.add_post("/webhook", hook)
        runner = web.AppRunner(recv)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            url = f"http://127.0.0.1:{port}/webhook"
            assert (await post_delivery(url, delivery))[0] == 202
            assert (await post_delivery(url, delivery.forged()))[0] == 401
        finally:
            await runner.cleanup()

    run(main())
    assert len(received) == 1 and received[0].data["number"] == pr.number


def test_merge_group_check_run_on_group_head(world: Any) -> None:
    em, app, inst, repo = world
    pr = open_pr(repo, {"apps/web.yaml": DEPLOYMENT})
    mg_head = repo.commit_changes(pr.base_sha, {"apps/web.yaml": DEPLOYMENT}, message="merge")
    repo.add_merge_group(base_sha=pr.base_sha, head_sha=mg_head, pull_numbers=[pr.number])

    async def flow(c: Client) -> None:
        body = {
            "name": "gitops-gate",
            "head_sha": mg_head,
            "conclusion": "success",
            "output": {"title": "ok", "summary": "no findings"},
        }
        status, created, _, _ = await c.call("POST", f"/repos/{REPO}/check-runs", json_body=body)
        assert status == 201 and created["status"] == "completed"
        assert created["pull_requests"] == []  # no PR has the group's head as its head

    with_client(em, app, inst)(flow)
    assert em.state.check_runs(head_sha=mg_head)[0].completions == 1
