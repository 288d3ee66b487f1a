"""The emulator's aiohttp application: routes, auth, rate limits, faults and the request log."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import limits, render, schemas
from .auth import verify_jwt, verify_token
from .diff import anchor_error, diff_trees
from .errors import GitHubError, not_found, unprocessable
from .faults import (
    PRIMARY_RATE_LIMIT_DOCS,
    PRIMARY_RATE_LIMIT_MESSAGE,
    SECONDARY_RATE_LIMIT_DOCS,
    SECONDARY_RATE_LIMIT_MESSAGE,
    Fault,
    FaultKind,
)
from .pagination import paginate
from .state import (
    CheckRun,
    CheckRunEvent,
    Comment,
    EmulatorState,
    Repository,
    RequestRecord,
    Review,
    Token,
    iso,
    utcnow,
)
from .tarball import build_tarball, top_folder
from .tree import Symlink, directories, tree_sha

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API_VERSIONS = ("2022-11-28", "2026-03-10")
RAW_TYPES = ("application/vnd.github.raw", "application/vnd.github.v3.raw")
STOP_KEY: web.AppKey[asyncio.Event] = web.AppKey("stop", asyncio.Event)


@dataclass
class RequestContext:
    """What the handlers learn about a request, for the request log and the headers."""

    request_id: str = ""
    auth: str = "none"
    installation_id: int | None = None
    repo: str | None = None
    pulls: list[int] = field(default_factory=list)
    rate: tuple[int, int, int] | None = None
    ignored_fields: list[str] = field(default_factory=list)


CTX: web.RequestKey[RequestContext] = web.RequestKey("ctx", RequestContext)


def ctx(request: web.Request) -> RequestContext:
    return request[CTX]


LEVEL = {"none": 0, "read": 1, "write": 2, "admin": 3}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(data), content_type="application/json", headers=headers
    )


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise not_found() from exc


class Emulator:
    """Holds the state and builds the aiohttp application serving it."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.codeload_tokens: dict[str, tuple[str, str, float]] = {}  # token -> (repo, sha, exp)

    # ------------------------------------------------------------------ application
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024**2)
        app[STOP_KEY] = asyncio.Event()
        r = app.router
        r.add_get("/app", self.get_app)
        r.add_get("/app/installations", self.list_installations)
        r.add_get("/app/installations/{id}", self.get_installation)
        r.add_post("/app/installations/{id}/access_tokens", self.create_token)
        r.add_get("/rate_limit", self.rate_limit)
        repo = "/repos/{owner}/{repo}"
        r.add_get(repo, self.get_repo)
        r.add_get(repo + "/installation", self.get_repo_installation)
        r.add_get(repo + "/pulls/{number}", self.get_pull)
        r.add_get(repo + "/pulls/{number}/files", self.list_pull_files)
        r.add_get(repo + "/pulls/{number}/reviews", self.list_reviews)
        r.add_post(repo + "/pulls/{number}/reviews", self.create_review)
        r.add_get(repo + "/contents", self.get_contents)
        r.add_get(repo + "/contents/{path:.*}", self.get_contents)
        r.add_get(repo + "/tarball/{ref:.*}", self.get_tarball)
        r.add_get(repo + "/tarball", self.get_tarball)
        r.add_get("/_codeload/{owner}/{repo}/legacy.tar.gz/{sha}", self.codeload)
        r.add_get(repo + "/commits/{ref}", self.get_commit)
        r.add_get(repo + "/compare/{basehead}", self.compare)
        r.add_get(repo + "/commits/{ref}/check-runs", self.list_check_runs_for_ref)
        r.add_post(repo + "/check-runs", self.create_check_run)
        r.add_get(repo + "/check-runs/{id}", self.get_check_run)
        r.add_patch(repo + "/check-runs/{id}", self.update_check_run)
        r.add_get(repo + "/check-runs/{id}/annotations", self.list_annotations)
        r.add_get(repo + "/issues/{number}/comments", self.list_comments)
        r.add_post(repo + "/issues/{number}/comments", self.create_comment)
        r.add_get(repo + "/issues/comments/{id}", self.get_comment)
        r.add_patch(repo + "/issues/comments/{id}", self.update_comment)
        r.add_delete(repo + "/issues/comments/{id}", self.delete_comment)
        return app

    @property
    def base(self) -> str:
        return self.state.base_url

    # ------------------------------------------------------------------ middleware
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        request_id = secrets.token_hex(8).upper()
        request[CTX] = RequestContext(request_id=request_id)
        ctx(request).auth = "none"
        fault: Fault | None = None
        response: web.StreamResponse
        try:
            if not request.headers.get("User-Agent"):
                raise GitHubError(
                    403,
                    "Request forbidden by administrative rules. Please make sure your request "
                    "has a User-Agent header (https://docs.github.com/en/rest/overview/"
                    "resources-in-the-rest-api#user-agent-required). Check "
                    "https://developer.github.com for other possible causes.",
                )
            version = request.headers.get("X-GitHub-Api-Version")
            if version is not None and version not in API_VERSIONS:
                raise GitHubError(
                    400,
                    f"API version {version} is not supported.",
                )
            fault = self.state.faults.take(request.method, request.path)
            if fault is not None and not fault.after_processing:
                response = await self._fault_response(request, fault)
            else:
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    if exc.status in (404, 405):
                        raise not_found() from exc
                    raise
                if fault is not None:
                    response = await self._fault_response(request, fault)
        except GitHubError as exc:
            response = exc.response()
        response = self._conditional(request, response)
        response.headers["X-GitHub-Request-Id"] = request_id
        response.headers.setdefault("X-GitHub-Media-Type", "github.v3; format=json")
        rate = ctx(request).rate
        if rate is not None:
            limit, remaining, reset = rate
            response.headers.setdefault("x-ratelimit-limit", str(limit))
            response.headers.setdefault("x-ratelimit-remaining", str(remaining))
            response.headers.setdefault("x-ratelimit-used", str(limit - remaining))
            response.headers.setdefault("x-ratelimit-reset", str(reset))
            response.headers.setdefault("x-ratelimit-resource", "core")
        self._record(request, response.status, started, fault)
        return response

    def _conditional(
        self, request: web.Request, response: web.StreamResponse
    ) -> web.StreamResponse:
        """ETags on GET JSON; ``If-None-Match`` hits are 304 and free of rate limit, as on
        GitHub."""
        if request.method != "GET" or response.status != 200:
            return response
        if not isinstance(response, web.Response) or response.content_type != "application/json":
            return response
        body = response.body if isinstance(response.body, bytes) else b""
        etag = 'W/"' + hashlib.sha256(body).hexdigest()[:40] + '"'
        if request.headers.get("If-None-Match") == etag:
            inst = ctx(request).installation_id
            if inst is not None and ctx(request).rate is not None:
                ctx(request).rate = self.state.rate_limit_refund(inst)
            return web.Response(status=304, headers={"ETag": etag})
        response.headers["ETag"] = etag
        return response

    def _record(
        self, request: web.Request, status: int, started: float, fault: Fault | None
    ) -> None:
        info = ctx(request)
        match = request.match_info
        if info.repo is None and "owner" in match and "repo" in match:
            info.repo = f"{match['owner']}/{match['repo']}"
        if not info.pulls and "number" in match and match["number"].isdigit():
            info.pulls = [int(match["number"])]
        with self.state.lock:
            self.state.request_log.append(
                RequestRecord(
                    method=request.method,
                    path=request.path,
                    query=request.query_string,
                    status=status,
                    started=started,
                    duration=time.monotonic() - started,
                    auth=ctx(request).auth,
                    installation_id=ctx(request).installation_id,
                    repo=ctx(request).repo,
                    pull_numbers=tuple(ctx(request).pulls),
                    fault=None if fault is None else fault.kind.value,
                    ignored_fields=tuple(ctx(request).ignored_fields),
                )
            )

    async def _fault_response(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        rid = ctx(request).request_id
        kind = fault.kind
        if kind == FaultKind.BAD_GATEWAY:
            return _json({"message": "Server Error"}, 502)
        if kind == FaultKind.SERVER_ERROR:
            return _json({"message": "Server Error"}, 500)
        if kind == FaultKind.TIMEOUT:
            stop = request.app[STOP_KEY]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), fault.hang_seconds)
            return _json(
                {"message": "We couldn't respond to your request in time. Sorry about that."},
                504,
            )
        if kind == FaultKind.RESET:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        if kind == FaultKind.SECONDARY_RATE_LIMIT:
            return _json(
                {
                    "message": SECONDARY_RATE_LIMIT_MESSAGE.format(request_id=rid),
                    "documentation_url": SECONDARY_RATE_LIMIT_DOCS,
                    "status": str(fault.status or 403),
                },
                fault.status or 403,
                {"Retry-After": str(fault.retry_after)},
            )
        # primary rate limit
        reset = int(time.time()) + fault.reset_in
        inst = ctx(request).installation_id or 0
        now = utcnow().strftime("%Y-%m-%d %H:%M:%S UTC")
        ctx(request).rate = (self.state.rate_limit, 0, reset)
        return _json(
            {
                "message": PRIMARY_RATE_LIMIT_MESSAGE.format(
                    installation_id=inst, request_id=rid, timestamp=now
                ),
                "documentation_url": PRIMARY_RATE_LIMIT_DOCS,
                "status": str(fault.status or 403),
            },
            fault.status or 403,
            {
                "x-ratelimit-limit": str(self.state.rate_limit),
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used": str(self.state.rate_limit),
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-resource": "core",
            },
        )

    # ------------------------------------------------------------------ auth helpers
    def _token(
        self, request: web.Request, permission: tuple[str, ...] = (), level: str = "read"
    ) -> tuple[Token, Repository]:
        """Authenticate an installation token for the request's repository, count the call
        against the installation's primary limit and check the permission."""
        ctx(request).auth = "invalid"
        tok = verify_token(self.state, request.headers.get("Authorization"))
        ctx(request).auth = "token"
        ctx(request).installation_id = tok.installation_id
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        ctx(request).repo = full
        if self.state.rate_limit_exhausted(tok.installation_id):
            limit, _, reset = self.state.rate_limit_use(tok.installation_id, count=False)
            ctx(request).rate = (limit, 0, reset)
            raise GitHubError(
                403,
                PRIMARY_RATE_LIMIT_MESSAGE.format(
                    installation_id=tok.installation_id,
                    request_id=ctx(request).request_id,
                    timestamp=utcnow().strftime("%Y-%m-%d %H:%M:%S UTC"),
                ),
                documentation_url=PRIMARY_RATE_LIMIT_DOCS,
            )
        ctx(request).rate = self.state.rate_limit_use(tok.installation_id, count=True)
        with self.state.lock:
            repo = self.state.repos.get(full.lower())
            inst = self.state.installations[tok.installation_id]
            if repo is None:
                raise not_found()
            allowed = inst.account.lower() == repo.owner.lower() and (
                inst.all_repositories or repo.full_name in inst.repositories
            )
            if tok.repositories is not None and repo.full_name not in tok.repositories:
                allowed = False
            if not allowed:
                raise not_found()
            for name in permission:
                if LEVEL.get(tok.permissions.get(name, "none"), 0) >= LEVEL[level]:
                    break
            else:
                if permission:
                    raise GitHubError(403, "Resource not accessible by integration")
            ctx(request).repo = repo.full_name
            return tok, repo

    @staticmethod
    def _tag_sha(request: web.Request, repo: Repository, sha: str | None) -> None:
        if sha:
            ctx(request).pulls = [p.number for p in repo.pulls_with_head(sha)]

    async def _body(self, request: web.Request, schema: schemas.BodySchema) -> dict[str, Any]:
        raw = await request.read()
        data = schemas.validate(schema, raw)
        known: set[str] = set()
        for model in schema.models:
            known |= set(model.model_fields)
        ctx(request).ignored_fields = sorted(k for k in data if k not in known)
        return data

    # ------------------------------------------------------------------ apps
    async def get_app(self, request: web.Request) -> web.StreamResponse:
        ctx(request).auth = "invalid"
        a = verify_jwt(self.state, request.headers.get("Authorization"))
        ctx(request).auth = "jwt"
        return _json(render.app(a, self.base))

    async def list_installations(self, request: web.Request) -> web.StreamResponse:
        ctx(request).auth = "invalid"
        a = verify_jwt(self.state, request.headers.get("Authorization"))
        ctx(request).auth = "jwt"
        with self.state.lock:
            items = [i for i in self.state.installations.values() if i.app_id == a.id]
            page, headers = paginate(request, self.base, items)
            return _json([render.installation(i, self.base) for i in page], headers=headers)

    async def get_installation(self, request: web.Request) -> web.StreamResponse:
        ctx(request).auth = "invalid"
        a = verify_jwt(self.state, request.headers.get("Authorization"))
        ctx(request).auth = "jwt"
        with self.state.lock:
            inst = self.state.installations.get(_int(request.match_info["id"]))
            if inst is None or inst.app_id != a.id:
                raise not_found()
            return _json(render.installation(inst, self.base))

    async def create_token(self, request: web.Request) -> web.StreamResponse:
        ctx(request).auth = "invalid"
        a = verify_jwt(self.state, request.headers.get("Authorization"))
        ctx(request).auth = "jwt"
        inst_id = _int(request.match_info["id"])
        ctx(request).installation_id = inst_id
        with self.state.lock:
            inst = self.state.installations.get(inst_id)
            if inst is None or inst.app_id != a.id:
                raise not_found()
            if inst.suspended:
                raise GitHubError(403, "This installation has been suspended")
        body = await self._body(request, schemas.CREATE_INSTALLATION_TOKEN)
        docs = schemas.CREATE_INSTALLATION_TOKEN.documentation_url
        with self.state.lock:
            names: set[str] | None = None
            wanted = list(body.get("repositories", [])) + list(body.get("repository_ids", []))
            if len(wanted) > limits.MAX_TOKEN_REPOSITORIES:
                raise unprocessable("Too many repositories", documentation_url=docs)
            if wanted:
                names = set()
                for item in wanted:
                    repo = next(
                        (
                            r
                            for r in self.state.repos.values()
                            if (r.name == item or r.id == item)
                            and r.owner.lower() == inst.account.lower()
                            and (inst.all_repositories or r.full_name in inst.repositories)
                        ),
                        None,
                    )
                    if repo is None:
                        raise unprocessable(
                            "There is at least one repository that does not exist or is not "
                            "accessible to the parent installation.",
                            documentation_url=docs,
                        )
                    names.add(repo.full_name)
            perms = dict(inst.permissions)
            if "permissions" in body:
                asked = {k: v for k, v in body["permissions"].items() if v is not None}
                for k, v in asked.items():
                    if LEVEL.get(inst.permissions.get(k, "none"), 0) < LEVEL.get(v, 9):
                        raise unprocessable(
                            "The permissions requested are not granted to this installation.",
                            documentation_url=docs,
                        )
                perms = asked
            tok = self.state.issue_token(inst, repositories=names, permissions=perms)
            out: dict[str, Any] = {
                "token": tok.token,
                "expires_at": iso(dt.datetime.fromtimestamp(tok.expires_at, dt.UTC)),
                "permissions": perms,
                "repository_selection": "selected" if names or not inst.all_repositories else "all",
            }
            if names is not None:
                out["repositories"] = [
                    render.repo(self.state.repos[n.lower()], self.base) for n in sorted(names)
                ]
            return _json(out, 201)

    async def get_repo_installation(self, request: web.Request) -> web.StreamResponse:
        ctx(request).auth = "invalid"
        a = verify_jwt(self.state, request.headers.get("Authorization"))
        ctx(request).auth = "jwt"
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        ctx(request).repo = full
        with self.state.lock:
            repo = self.state.repos.get(full.lower())
            inst = None if repo is None else self.state.installation_for(repo)
            if inst is None or inst.app_id != a.id:
                raise not_found()
            return _json(render.installation(inst, self.base))

    async def rate_limit(self, request: web.Request) -> web.StreamResponse:
        tok = verify_token(self.state, request.headers.get("Authorization"))
        ctx(request).auth = "token"
        ctx(request).installation_id = tok.installation_id
        limit, remaining, reset = self.state.rate_limit_use(tok.installation_id, count=False)
        core = {"limit": limit, "remaining": remaining, "used": limit - remaining, "reset": reset}
        ctx(request).rate = (limit, remaining, reset)
        return _json({"resources": {"core": core}, "rate": core})

    # ------------------------------------------------------------------ repositories, PRs
    async def get_repo(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("metadata",))
        with self.state.lock:
            return _json(render.repo(repo, self.base))

    def _pull(self, request: web.Request, repo: Repository) -> Any:
        number = _int(request.match_info["number"])
        ctx(request).pulls = [number]
        pr = repo.pull_requests.get(number)
        if pr is None:
            raise not_found("https://docs.github.com/rest/pulls/pulls#get-a-pull-request")
        return pr

    async def get_pull(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("pull_requests",))
        with self.state.lock:
            return _json(render.pull(self._pull(request, repo), self.base))

    async def list_pull_files(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("pull_requests",))
        with self.state.lock:
            pr = self._pull(request, repo)
            files = pr.files()[: self.state.files_cap]
            page, headers = paginate(request, self.base, files)
            data = [render.file_change(c, repo, pr.head_sha, self.base) for c in page]
            return _json(data, headers=headers)

    # ------------------------------------------------------------------ contents, archives
    def _ref(self, repo: Repository, ref: str | None) -> str:
        sha = repo.resolve(ref or repo.default_branch)
        if sha is None:
            raise GitHubError(404, f"No commit found for the ref {ref}")
        return sha

    async def get_contents(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("contents",))
        path = request.match_info.get("path", "").strip("/")
        with self.state.lock:
            sha = self._ref(repo, request.query.get("ref"))
            self._tag_sha(request, repo, sha)
            tree = repo.commits[sha].tree
            dirs = directories(tree)
            accept = request.headers.get("Accept", "")
            if path in tree:
                entry = tree[path]
                if any(t in accept for t in RAW_TYPES) and not isinstance(entry, Symlink):
                    return web.Response(
                        body=entry,
                        headers={"Content-Type": "application/vnd.github.raw"},
                    )
                limit = self.state.contents_json_max_bytes
                return _json(render.content_file(repo, path, entry, sha, self.base, limit))
            if path == "" or path in dirs:
                prefix = f"{path}/" if path else ""
                children: dict[str, bool] = {}
                for p in tree:
                    if p.startswith(prefix):
                        rest = p[len(prefix) :]
                        head, _, tail = rest.partition("/")
                        children[prefix + head] = children.get(prefix + head, False) or bool(tail)
                items = [
                    render.content_dir_item(repo, p, is_dir, tree.get(p), sha, self.base)
                    for p, is_dir in sorted(children.items())
                ]
                return _json(items)
            raise not_found("https://docs.github.com/rest/repos/contents#get-repository-content")

    async def get_tarball(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("contents",))
        with self.state.lock:
            sha = self._ref(repo, request.match_info.get("ref") or None)
            self._tag_sha(request, repo, sha)
            if self.state.tarball_redirect:
                token = secrets.token_urlsafe(16)
                self.codeload_tokens[token] = (repo.full_name, sha, time.time() + 300)
                location = (
                    f"{self.base}/_codeload/{repo.owner}/{repo.name}/legacy.tar.gz/{sha}"
                    f"?token={token}"
                )
                return web.Response(status=302, headers={"Location": location})
            return self._tar_response(repo, sha)

    def _tar_response(self, repo: Repository, sha: str) -> web.Response:
        data = repo.tarball_overrides.get(sha)
        if data is None:
            data = build_tarball(repo.owner, repo.name, sha, repo.commits[sha].tree)
        name = top_folder(repo.owner, repo.name, sha)
        return web.Response(
            body=data,
            headers={
                "Content-Type": "application/x-gzip",
                "Content-Disposition": f"attachment; filename={name}.tar.gz",
            },
        )

    async def codeload(self, request: web.Request) -> web.StreamResponse:
        """The redirect target: authorised by the one-time token in the URL, like codeload."""
        token = request.query.get("token", "")
        with self.state.lock:
            entry = self.codeload_tokens.pop(token, None)
            full = f"{request.match_info['owner']}/{request.match_info['repo']}"
            ctx(request).repo = full
            if entry is None or entry[2] < time.time() or entry[0].lower() != full.lower():
                raise not_found()
            repo = self.state.repo(full)
            if entry[1] != request.match_info["sha"]:
                raise not_found()
            self._tag_sha(request, repo, entry[1])
            return self._tar_response(repo, entry[1])

    async def get_commit(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("contents",))
        with self.state.lock:
            sha = repo.resolve(request.match_info["ref"])
            if sha is None:
                raise unprocessable(f"No commit found for SHA: {request.match_info['ref']}")
            self._tag_sha(request, repo, sha)
            commit = repo.commits[sha]
            parent_tree = repo.commits[commit.parents[0]].tree if commit.parents else {}
            files = diff_trees(parent_tree, commit.tree)
            person = {
                "name": "octocat",
                "email": "octocat@github.com",
                "date": iso(commit.committed_at),
            }
            return _json(
                {
                    "sha": sha,
                    "node_id": f"C_{sha}",
                    "url": f"{self.base}/repos/{repo.full_name}/commits/{sha}",
                    "html_url": f"{render.HTML}/{repo.full_name}/commit/{sha}",
                    "commit": {
                        "message": commit.message,
                        "author": person,
                        "committer": person,
                        "tree": {"sha": tree_sha(commit.tree)},
                    },
                    "parents": [{"sha": p} for p in commit.parents],
                    "files": [render.file_change(f, repo, sha, self.base) for f in files],
                }
            )

    async def compare(self, request: web.Request) -> web.StreamResponse:
        """``GET /repos/{o}/{r}/compare/{base}...{head}``: the files the head changes (GitHub
        lists at most 300 files here; merge groups are small)."""
        _, repo = self._token(request, ("contents",))
        base_ref, sep, head_ref = request.match_info["basehead"].partition("...")
        if not sep:
            raise not_found()
        with self.state.lock:
            base, head = repo.resolve(base_ref), repo.resolve(head_ref)
            if base is None or head is None:
                raise not_found()
            self._tag_sha(request, repo, head)
            files = repo.diff(base, head)[:300]
            return _json(
                {
                    "url": f"{self.base}/repos/{repo.full_name}/compare/{base}...{head}",
                    "status": "ahead",
                    "ahead_by": 1,
                    "behind_by": 0,
                    "total_commits": 1,
                    "base_commit": {"sha": base},
                    "merge_base_commit": {"sha": base},
                    "commits": [],
                    "files": [render.file_change(f, repo, head, self.base) for f in files],
                }
            )

    # ------------------------------------------------------------------ check runs
    def _apply_check_run(self, run: CheckRun, body: dict[str, Any], kind: str, at: float) -> None:
        now = utcnow()
        for key in ("name", "details_url", "external_id"):
            if key in body:
                setattr(run, key, body[key])
        if "started_at" in body:
            run.started_at = dt.datetime.fromisoformat(body["started_at"].replace("Z", "+00:00"))
        if "conclusion" in body:
            run.status = "completed"
            run.conclusion = body["conclusion"]
            completed = body.get("completed_at")
            run.completed_at = (
                dt.datetime.fromisoformat(completed.replace("Z", "+00:00")) if completed else now
            )
        elif "status" in body:
            run.status = body["status"]
            run.conclusion = None
            run.completed_at = None
        if "output" in body:
            out = body["output"]
            for key in ("title", "summary"):
                if key in out:
                    run.output[key] = out[key]
            if "text" in out:
                run.output["text"] = out["text"]
            elif kind == "update" and self.state.limits.patch_without_text_clears_text:
                run.output.pop("text", None)
            if "images" in out:
                run.output["images"] = out["images"]
            run.annotations.extend(out.get("annotations", []))
        if "actions" in body:
            run.actions = list(body["actions"])
        run.events.append(CheckRunEvent(kind, body, at, run.status, run.conclusion))

    async def create_check_run(self, request: web.Request) -> web.StreamResponse:
        tok, repo = self._token(request, ("checks",), "write")
        body = await self._body(request, schemas.CREATE_CHECK_RUN)
        limits.check_run_body(body, self.state.limits, creating=True)
        with self.state.lock:
            sha = body["head_sha"]
            if sha not in repo.commits:
                raise unprocessable(
                    f"No commit found for SHA: {sha}",
                    documentation_url=schemas.CREATE_CHECK_RUN.documentation_url,
                )
            self._tag_sha(request, repo, sha)
            app_id = self.state.installations[tok.installation_id].app_id
            run = CheckRun(
                id=next(self.state._ids),
                repo=repo.full_name,
                head_sha=sha,
                name=body["name"],
                app_id=app_id,
                check_suite_id=self.state.suite_id(repo.full_name, sha, app_id),
                started_at=utcnow(),
            )
            self._apply_check_run(run, body, "create", time.monotonic())
            self.state.check_runs_by_id[run.id] = run
            return _json(render.check_run(run, self.state, self.base), 201)

    def _run(self, request: web.Request, repo: Repository) -> CheckRun:
        run = self.state.check_runs_by_id.get(_int(request.match_info["id"]))
        if run is None or run.repo.lower() != repo.full_name.lower():
            raise not_found("https://docs.github.com/rest/checks/runs#get-a-check-run")
        self._tag_sha(request, repo, run.head_sha)
        return run

    async def get_check_run(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("checks",))
        with self.state.lock:
            return _json(render.check_run(self._run(request, repo), self.state, self.base))

    async def update_check_run(self, request: web.Request) -> web.StreamResponse:
        tok, repo = self._token(request, ("checks",), "write")
        with self.state.lock:
            run = self._run(request, repo)
            if run.app_id != self.state.installations[tok.installation_id].app_id:
                raise GitHubError(
                    403,
                    f"Invalid app_id `{run.app_id}` - check run can only be modified by "
                    "the GitHub App that created it.",
                )
        body = await self._body(request, schemas.UPDATE_CHECK_RUN)
        limits.check_run_body(body, self.state.limits, creating=False)
        with self.state.lock:
            self._apply_check_run(run, body, "update", time.monotonic())
            return _json(render.check_run(run, self.state, self.base))

    async def list_annotations(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("checks",))
        with self.state.lock:
            run = self._run(request, repo)
            page, headers = paginate(request, self.base, run.annotations)
            return _json([render.annotation(a, run) for a in page], headers=headers)

    async def list_check_runs_for_ref(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("checks",))
        q = request.query
        with self.state.lock:
            sha = self._ref(repo, request.match_info["ref"])
            self._tag_sha(request, repo, sha)
            runs = [
                r
                for r in self.state.check_runs_by_id.values()
                if r.repo.lower() == repo.full_name.lower()
                and r.head_sha == sha
                and ("check_name" not in q or r.name == q["check_name"])
                and ("status" not in q or r.status == q["status"])
                and ("app_id" not in q or str(r.app_id) == q["app_id"])
            ]
            runs.sort(key=lambda r: r.id, reverse=True)
            if q.get("filter", "latest") == "latest":
                seen: set[str] = set()
                latest = []
                for r in runs:
                    if r.name not in seen:
                        seen.add(r.name)
                        latest.append(r)
                runs = latest
            page, headers = paginate(request, self.base, runs)
            return _json(
                {
                    "total_count": len(runs),
                    "check_runs": [render.check_run(r, self.state, self.base) for r in page],
                },
                headers=headers,
            )

    # ------------------------------------------------------------------ comments
    def _issue(self, request: web.Request, repo: Repository) -> int:
        number = _int(request.match_info["number"])
        ctx(request).pulls = [number]
        if number not in repo.pull_requests:
            raise not_found("https://docs.github.com/rest/issues/comments")
        return number

    async def list_comments(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("issues", "pull_requests"))
        with self.state.lock:
            number = self._issue(request, repo)
            items = [
                c
                for c in self.state.comments_by_id.values()
                if c.repo.lower() == repo.full_name.lower() and c.issue_number == number
            ]
            page, headers = paginate(request, self.base, items)
            return _json([render.comment(c, self.base) for c in page], headers=headers)

    def _bot(self, tok: Token) -> str:
        return self.state.apps[self.state.installations[tok.installation_id].app_id].bot_login

    async def create_comment(self, request: web.Request) -> web.StreamResponse:
        tok, repo = self._token(request, ("issues", "pull_requests"), "write")
        with self.state.lock:
            number = self._issue(request, repo)
        body = await self._body(request, schemas.CREATE_ISSUE_COMMENT)
        limits.comment_body(
            body["body"], "IssueComment", schemas.CREATE_ISSUE_COMMENT.documentation_url
        )
        with self.state.lock:
            now = utcnow()
            c = Comment(
                next(self.state._ids),
                repo.full_name,
                number,
                body["body"],
                self._bot(tok),
                now,
                now,
            )
            self.state.comments_by_id[c.id] = c
            return _json(render.comment(c, self.base), 201)

    def _comment(self, request: web.Request, repo: Repository) -> Comment:
        c = self.state.comments_by_id.get(_int(request.match_info["id"]))
        if c is None or c.repo.lower() != repo.full_name.lower():
            raise not_found("https://docs.github.com/rest/issues/comments")
        ctx(request).pulls = [c.issue_number]
        return c

    async def get_comment(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("issues", "pull_requests"))
        with self.state.lock:
            return _json(render.comment(self._comment(request, repo), self.base))

    async def update_comment(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("issues", "pull_requests"), "write")
        with self.state.lock:
            c = self._comment(request, repo)
        body = await self._body(request, schemas.UPDATE_ISSUE_COMMENT)
        limits.comment_body(
            body["body"], "IssueComment", schemas.UPDATE_ISSUE_COMMENT.documentation_url
        )
        with self.state.lock:
            c.history.append(c.body)
            c.body = body["body"]
            c.updated_at = utcnow()
            return _json(render.comment(c, self.base))

    async def delete_comment(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("issues", "pull_requests"), "write")
        with self.state.lock:
            c = self._comment(request, repo)
            del self.state.comments_by_id[c.id]
            return web.Response(status=204)

    # ------------------------------------------------------------------ reviews
    async def list_reviews(self, request: web.Request) -> web.StreamResponse:
        _, repo = self._token(request, ("pull_requests",))
        with self.state.lock:
            pr = self._pull(request, repo)
            items = [
                r
                for r in self.state.reviews_by_id.values()
                if r.repo.lower() == repo.full_name.lower() and r.pull_number == pr.number
            ]
            page, headers = paginate(request, self.base, items)
            return _json([render.review(r, self.base) for r in page], headers=headers)

    async def create_review(self, request: web.Request) -> web.StreamResponse:
        tok, repo = self._token(request, ("pull_requests",), "write")
        with self.state.lock:
            pr = self._pull(request, repo)
        body = await self._body(request, schemas.CREATE_REVIEW)
        docs = schemas.CREATE_REVIEW.documentation_url
        event = body.get("event")
        text = body.get("body", "")
        if event in ("REQUEST_CHANGES", "COMMENT") and not text.strip():
            raise unprocessable(
                "Unprocessable Entity",
                [f"Body is required when using {event}"] if event else [],
                docs,
            )
        if text and len(text) > limits.MAX_COMMENT_BODY_CHARS:
            limits.comment_body(text, "PullRequestReview", docs)
        with self.state.lock:
            commit_id = body.get("commit_id", pr.head_sha)
            if commit_id != pr.head_sha and commit_id not in pr.head_history:
                raise unprocessable(
                    "Unprocessable Entity", ["Commit not part of the pull request"], docs
                )
            files = {
                c.filename: c for c in repo.diff(pr.base_sha, commit_id, patchless=pr.patchless)
            }
            problems: list[str] = []
            for item in body.get("comments", []):
                limits.comment_body(item["body"], "PullRequestReviewComment", docs)
                change = files.get(item["path"])
                if change is None:
                    problems.append("Path could not be resolved")
                    continue
                patch = change.patch
                side = item.get("side", "RIGHT")
                err = anchor_error(
                    patch,
                    line=item.get("line"),
                    side=side,
                    start_line=item.get("start_line"),
                    start_side=item.get("start_side", side),
                    position=item.get("position"),
                )
                if err:
                    problems.append(err)
            if problems:
                # One bad anchor rejects the whole review, as on GitHub.
                raise unprocessable("Unprocessable Entity", problems, docs)
            state_name = {
                "APPROVE": "APPROVED",
                "REQUEST_CHANGES": "CHANGES_REQUESTED",
                "COMMENT": "COMMENTED",
            }.get(event or "", "PENDING")
            rv = Review(
                id=next(self.state._ids),
                repo=repo.full_name,
                pull_number=pr.number,
                commit_id=commit_id,
                body=text,
                state=state_name,
                comments=list(body.get("comments", [])),
                user=self._bot(tok),
                submitted_at=utcnow(),
            )
            self.state.reviews_by_id[rv.id] = rv
            return _json(render.review(rv, self.base))
