"""The emulator's state and the Python API tests use to seed and inspect it.

Everything here is thread-safe: the server runs on its own event-loop thread while the test
thread seeds repositories and reads back check runs. Every public method takes ``lock``.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import itertools
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .diff import DEFAULT_MAX_PATCH_BYTES, FileChange, diff_trees
from .faults import Fault, FaultKind, FaultSet
from .limits import Limits
from .tree import Symlink, Tree, normalize, tree_sha

DEFAULT_PERMISSIONS: dict[str, str] = {
    "checks": "write",
    "pull_requests": "write",
    "contents": "read",
    "metadata": "read",
    "statuses": "write",
    "issues": "write",
    "members": "read",
    "merge_queues": "read",
}
DEFAULT_EVENTS = [
    "check_run",
    "check_suite",
    "issue_comment",
    "merge_group",
    "pull_request",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class App:
    id: int
    slug: str
    name: str
    client_id: str
    owner: str
    private_key_pem: str  # PKCS#1 PEM, as GitHub hands it out
    public_key_pem: str
    webhook_secret: str
    permissions: dict[str, str]
    events: list[str]

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    id: int
    app_id: int
    account: str
    repositories: set[str]  # full names; empty with ``all_repositories``
    all_repositories: bool
    permissions: dict[str, str]
    suspended: bool = False


@dataclass
class Token:
    token: str
    installation_id: int
    expires_at: float  # epoch seconds
    repositories: set[str] | None  # narrowed to these full names, or all of the installation's
    permissions: dict[str, str]
    revoked: bool = False

    def valid(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


@dataclass
class Commit:
    sha: str
    tree: Tree
    parents: list[str]
    message: str
    committed_at: dt.datetime


@dataclass
class PullRequest:
    number: int
    repo: Repository
    base_ref: str
    base_sha: str
    head_ref: str
    head_sha: str
    title: str
    body: str
    user: str
    draft: bool = False
    state: str = "open"
    head_history: list[str] = field(default_factory=list)
    patchless: set[str] = field(default_factory=set)  # files whose ``patch`` GitHub omits
    id: int = 0

    def files(self) -> list[FileChange]:
        """All changed files (uncapped; the API serves at most ``files_cap``)."""
        return self.repo.diff(self.base_sha, self.head_sha, patchless=self.patchless)

    def push(self, head_sha: str) -> None:
        """A new head commit (what a ``synchronize`` event announces)."""
        with self.repo.state.lock:
            if head_sha not in self.repo.commits:
                raise KeyError(f"unknown commit {head_sha}")
            self.head_history.append(self.head_sha)
            self.head_sha = head_sha
            self.repo.branches[self.head_ref] = head_sha


@dataclass
class MergeGroup:
    head_sha: str
    head_ref: str  # refs/heads/gh-readonly-queue/<base>/pr-<n>-<base_sha>
    base_sha: str
    base_ref: str  # refs/heads/<base>
    pull_numbers: list[int]


@dataclass
class CheckRunEvent:
    """One accepted create or update, in order, with the body exactly as sent."""

    kind: str  # "create" | "update"
    body: dict[str, Any]
    at: float  # time.monotonic()
    status: str  # status after this request
    conclusion: str | None


@dataclass
class CheckRun:
    id: int
    repo: str  # full name
    head_sha: str
    name: str
    app_id: int
    check_suite_id: int
    status: str = "queued"
    conclusion: str | None = None
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    details_url: str | None = None
    external_id: str | None = None
    output: dict[str, Any] = field(default_factory=dict)  # title/summary/text/images
    annotations: list[dict[str, Any]] = field(default_factory=list)  # accumulated
    actions: list[dict[str, Any]] = field(default_factory=list)
    events: list[CheckRunEvent] = field(default_factory=list)

    @property
    def completions(self) -> int:
        """How many accepted requests left the run completed (1 is the healthy number)."""
        return sum(1 for e in self.events if e.status == "completed")

    @property
    def statuses(self) -> list[str]:
        return [e.status for e in self.events]


@dataclass
class Comment:
    id: int
    repo: str
    issue_number: int
    body: str
    user: str
    created_at: dt.datetime
    updated_at: dt.datetime
    history: list[str] = field(default_factory=list)  # previous bodies
    user_type: str = "Bot"


@dataclass
class Review:
    id: int
    repo: str
    pull_number: int
    commit_id: str
    body: str
    state: str  # COMMENTED | CHANGES_REQUESTED | APPROVED | PENDING
    comments: list[dict[str, Any]]
    user: str
    submitted_at: dt.datetime


@dataclass
class RequestRecord:
    method: str
    path: str
    query: str
    status: int
    started: float  # time.monotonic() at arrival
    duration: float  # seconds
    auth: str  # "jwt" | "token" | "none" | "invalid"
    installation_id: int | None
    repo: str | None
    pull_numbers: tuple[int, ...]  # PRs this call concerns (by number or by head SHA)
    fault: str | None  # the injected fault's kind, if any
    ignored_fields: tuple[str, ...] = ()  # top-level body keys GitHub's schema does not know


class Repository:
    """A repository with commits (trees), branches and pull requests."""

    def __init__(
        self, state: EmulatorState, repo_id: int, owner: str, name: str, default_branch: str
    ) -> None:
        self.state = state
        self.id = repo_id
        self.owner = owner
        self.name = name
        self.default_branch = default_branch
        self.private = True
        self.commits: dict[str, Commit] = {}
        self.branches: dict[str, str] = {}
        self.pull_requests: dict[int, PullRequest] = {}
        self.merge_groups: list[MergeGroup] = []
        self.tarball_overrides: dict[str, bytes] = {}  # sha -> raw .tar.gz bytes to serve
        self._next_number = itertools.count(1)
        self._diff_cache: dict[tuple[str, str, int], list[FileChange]] = {}

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def commit(
        self,
        files: Mapping[str, bytes | str | Symlink],
        *,
        parent: str | None = None,
        message: str = "commit",
        sha: str | None = None,
        branch: str | None = None,
    ) -> str:
        """Add a commit whose tree is exactly ``files``; returns its SHA."""
        with self.state.lock:
            tree = normalize(files)
            parents = [parent] if parent else []
            if parent and parent not in self.commits:
                raise KeyError(f"unknown parent {parent}")
            if sha is None:
                seed = f"{tree_sha(tree)}{parents}{message}{next(self.state._ids)}"
                sha = hashlib.sha1(seed.encode()).hexdigest()
            self.commits[sha] = Commit(sha, tree, parents, message, utcnow())
            if branch:
                self.branches[branch] = sha
            return sha

    def commit_changes(
        self,
        parent: str,
        changes: Mapping[str, bytes | str | Symlink | None],
        *,
        message: str = "commit",
        sha: str | None = None,
        branch: str | None = None,
    ) -> str:
        """A child of ``parent`` with files added/replaced, or deleted where the value is None."""
        with self.state.lock:
            files: dict[str, bytes | str | Symlink] = dict(self.commits[parent].tree)
            for path, content in changes.items():
                if content is None:
                    files.pop(path, None)
                else:
                    files[path] = content
            return self.commit(files, parent=parent, message=message, sha=sha, branch=branch)

    def resolve(self, ref: str) -> str | None:
        """A SHA, a branch name or ``refs/heads/<branch>`` to a commit SHA."""
        with self.state.lock:
            if ref in self.commits:
                return ref
            name = ref.removeprefix("refs/heads/")
            if name in self.branches:
                return self.branches[name]
            if len(ref) >= 7:
                found = [s for s in self.commits if s.startswith(ref)]
                if len(found) == 1:
                    return found[0]
            return None

    def tree(self, ref: str) -> Tree:
        sha = self.resolve(ref)
        if sha is None:
            raise KeyError(ref)
        return self.commits[sha].tree

    def open_pull_request(
        self,
        *,
        base_sha: str,
        head_sha: str,
        base_ref: str | None = None,
        head_ref: str = "feature",
        number: int | None = None,
        draft: bool = False,
        title: str = "Change manifests",
        body: str = "",
        user: str = "octocat",
    ) -> PullRequest:
        with self.state.lock:
            for sha in (base_sha, head_sha):
                if sha not in self.commits:
                    raise KeyError(f"unknown commit {sha}")
            number = number if number is not None else next(self._next_number)
            base_ref = base_ref or self.default_branch
            self.branches.setdefault(base_ref, base_sha)
            self.branches[head_ref] = head_sha
            pr = PullRequest(
                number, self, base_ref, base_sha, head_ref, head_sha, title, body, user, draft
            )
            pr.id = next(self.state._ids)
            self.pull_requests[number] = pr
            return pr

    def add_merge_group(
        self, *, base_sha: str, head_sha: str, pull_numbers: Iterable[int], base_ref: str = ""
    ) -> MergeGroup:
        """A merge-queue group whose head commit (already added) is ``head_sha``."""
        with self.state.lock:
            base = base_ref or self.default_branch
            numbers = list(pull_numbers)
            last = numbers[-1] if numbers else 0
            group = MergeGroup(
                head_sha=head_sha,
                head_ref=f"refs/heads/gh-readonly-queue/{base}/pr-{last}-{base_sha}",
                base_sha=base_sha,
                base_ref=f"refs/heads/{base}",
                pull_numbers=numbers,
            )
            self.branches[group.head_ref.removeprefix("refs/heads/")] = head_sha
            self.merge_groups.append(group)
            return group

    def diff(
        self, base_sha: str, head_sha: str, *, patchless: set[str] | frozenset[str] = frozenset()
    ) -> list[FileChange]:
        """The files changed from ``base_sha`` to ``head_sha`` (cached; copies returned)."""
        with self.state.lock:
            key = (base_sha, head_sha, self.state.max_patch_bytes)
            changes = self._diff_cache.get(key)
            if changes is None:
                changes = diff_trees(
                    self.commits[base_sha].tree,
                    self.commits[head_sha].tree,
                    max_patch_bytes=self.state.max_patch_bytes,
                )
                self._diff_cache[key] = changes
            return [
                dataclasses.replace(c, patch=None if c.filename in patchless else c.patch)
                for c in changes
            ]

    def pulls_with_head(self, sha: str) -> list[PullRequest]:
        return [p for p in self.pull_requests.values() if p.head_sha == sha and p.state == "open"]


class EmulatorState:
    """The whole emulated GitHub. Tests seed and inspect it; the server serves it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._ids = itertools.count(1_000_001)
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.repos: dict[str, Repository] = {}
        self.check_runs_by_id: dict[int, CheckRun] = {}
        self.check_suites: dict[tuple[str, str, int], int] = {}  # (repo, sha, app) -> suite id
        self.comments_by_id: dict[int, Comment] = {}
        self.reviews_by_id: dict[int, Review] = {}
        self.request_log: list[RequestRecord] = []
        self.faults = FaultSet()
        self.limits = Limits()
        self.base_url = ""  # set by the server once it listens
        # Settings a test may change.
        self.token_ttl = 3600.0
        self.jwt_leeway = 0  # seconds of clock skew tolerated on iat (GitHub: none to speak of)
        self.files_cap = 3000  # GitHub serves at most 3,000 files of a PR
        self.max_patch_bytes = DEFAULT_MAX_PATCH_BYTES
        self.tarball_redirect = True  # answer /tarball with a 302 to a codeload URL like GitHub
        self.rate_limit = 5000  # primary limit per installation per hour
        self.contents_json_max_bytes = 1024 * 1024  # larger files: "encoding": "none" in JSON
        self._rate: dict[int, list[float]] = {}  # installation -> [reset_epoch, used]

    # ------------------------------------------------------------------ apps & installations
    def create_app(
        self,
        *,
        slug: str = "gitops-gate",
        app_id: int | None = None,
        owner: str = "octo-org",
        webhook_secret: str = "It's a Secret to Everybody",
        permissions: Mapping[str, str] | None = None,
        events: Iterable[str] | None = None,
        key_size: int = 2048,
    ) -> App:
        """Register an App with a fresh RSA key (PKCS#1 PEM, like GitHub's downloads)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        pub = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        with self.lock:
            app_id = app_id if app_id is not None else next(self._ids)
            app = App(
                id=app_id,
                slug=slug,
                name=slug,
                client_id=f"Iv1.{secrets.token_hex(8)}",
                owner=owner,
                private_key_pem=pem,
                public_key_pem=pub,
                webhook_secret=webhook_secret,
                permissions=dict(permissions or DEFAULT_PERMISSIONS),
                events=list(events or DEFAULT_EVENTS),
            )
            self.apps[app.id] = app
            return app

    def install(
        self,
        app: App,
        account: str,
        *,
        repositories: Iterable[str] | None = None,
        installation_id: int | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> Installation:
        """Install ``app`` on ``account``: all its repositories, or only the full names given."""
        with self.lock:
            inst_id = installation_id if installation_id is not None else next(self._ids)
            inst = Installation(
                id=inst_id,
                app_id=app.id,
                account=account,
                repositories=set(repositories or ()),
                all_repositories=repositories is None,
                permissions=dict(permissions or app.permissions),
            )
            self.installations[inst.id] = inst
            return inst

    def create_repo(
        self,
        full_name: str,
        *,
        installation: Installation | None = None,
        default_branch: str = "main",
        files: Mapping[str, bytes | str | Symlink] | None = None,
    ) -> Repository:
        """A repository; with ``files``, an initial commit on the default branch."""
        owner, name = full_name.split("/")
        with self.lock:
            repo = Repository(self, next(self._ids), owner, name, default_branch)
            self.repos[full_name.lower()] = repo
            if installation is not None and not installation.all_repositories:
                installation.repositories.add(full_name)
            if files is not None:
                repo.commit(files, message="initial commit", branch=default_branch)
            return repo

    def repo(self, full_name: str) -> Repository:
        with self.lock:
            return self.repos[full_name.lower()]

    def installation_for(self, repo: Repository) -> Installation | None:
        with self.lock:
            for inst in self.installations.values():
                if inst.account.lower() == repo.owner.lower() and (
                    inst.all_repositories or repo.full_name in inst.repositories
                ):
                    return inst
            return None

    # ------------------------------------------------------------------ tokens
    def issue_token(
        self,
        installation: Installation,
        *,
        repositories: set[str] | None = None,
        permissions: Mapping[str, str] | None = None,
        ttl: float | None = None,
    ) -> Token:
        with self.lock:
            tok = Token(
                token="ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36],
                installation_id=installation.id,
                expires_at=time.time() + (self.token_ttl if ttl is None else ttl),
                repositories=repositories,
                # Metadata read is implied for every token, as on GitHub.
                permissions={"metadata": "read", **(permissions or installation.permissions)},
            )
            self.tokens[tok.token] = tok
            return tok

    def expire_token(self, token: str | None = None, *, installation_id: int | None = None) -> int:
        """Expire one token, or every token of an installation (default: all); the next call
        with it gets 401. Returns how many tokens were expired."""
        with self.lock:
            n = 0
            for tok in self.tokens.values():
                if (token is None or tok.token == token) and (
                    installation_id is None or tok.installation_id == installation_id
                ):
                    tok.expires_at = min(tok.expires_at, time.time() - 1)
                    n += 1
            return n

    # ------------------------------------------------------------------ rate limit
    def rate_limit_use(self, installation_id: int, *, count: bool) -> tuple[int, int, int]:
        """(limit, remaining, reset_epoch) after this request; ``count`` False for 304s."""
        with self.lock:
            now = time.time()
            window = self._rate.get(installation_id)
            if window is None or now >= window[0]:
                window = [float(int(now) + 3600), 0.0]
                self._rate[installation_id] = window
            if count:
                window[1] += 1
            remaining = max(self.rate_limit - int(window[1]), 0)
            return self.rate_limit, remaining, int(window[0])

    def rate_limit_refund(self, installation_id: int) -> tuple[int, int, int]:
        """Give back one request (a 304 does not count against the primary limit)."""
        with self.lock:
            window = self._rate.get(installation_id)
            if window is not None and window[1] > 0:
                window[1] -= 1
            return self.rate_limit_use(installation_id, count=False)

    def rate_limit_exhausted(self, installation_id: int) -> bool:
        with self.lock:
            window = self._rate.get(installation_id)
            return (
                window is not None and time.time() < window[0] and int(window[1]) >= self.rate_limit
            )

    # ------------------------------------------------------------------ checks, comments
    def suite_id(self, repo: str, sha: str, app_id: int) -> int:
        with self.lock:
            key = (repo.lower(), sha, app_id)
            if key not in self.check_suites:
                self.check_suites[key] = next(self._ids)
            return self.check_suites[key]

    def check_runs(
        self, repo: str | None = None, *, head_sha: str | None = None, name: str | None = None
    ) -> list[CheckRun]:
        """Check runs in creation order (deep copies: safe to inspect from the test thread)."""
        with self.lock:
            runs = [
                r
                for r in self.check_runs_by_id.values()
                if (repo is None or r.repo.lower() == repo.lower())
                and (head_sha is None or r.head_sha == head_sha)
                and (name is None or r.name == name)
            ]
            return copy.deepcopy(runs)

    def comments(self, repo: str | None = None, number: int | None = None) -> list[Comment]:
        with self.lock:
            return copy.deepcopy(
                [
                    c
                    for c in self.comments_by_id.values()
                    if (repo is None or c.repo.lower() == repo.lower())
                    and (number is None or c.issue_number == number)
                ]
            )

    def add_comment(self, repo: str, number: int, body: str, *, user: str = "octocat") -> Comment:
        """Seed a comment written by someone else (a human: ``user_type`` "User")."""
        with self.lock:
            now = utcnow()
            c = Comment(next(self._ids), repo, number, body, user, now, now, user_type="User")
            self.comments_by_id[c.id] = c
            return c

    def reviews(self, repo: str | None = None, number: int | None = None) -> list[Review]:
        with self.lock:
            return copy.deepcopy(
                [
                    r
                    for r in self.reviews_by_id.values()
                    if (repo is None or r.repo.lower() == repo.lower())
                    and (number is None or r.pull_number == number)
                ]
            )

    # ------------------------------------------------------------------ requests & faults
    def requests(
        self,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
        repo: str | None = None,
        pull_number: int | None = None,
        include_faults: bool = True,
    ) -> list[RequestRecord]:
        with self.lock:
            return [
                r
                for r in self.request_log
                if (method is None or r.method == method.upper())
                and (path_prefix is None or r.path.startswith(path_prefix))
                and (repo is None or (r.repo or "").lower() == repo.lower())
                and (pull_number is None or pull_number in r.pull_numbers)
                and (include_faults or r.fault is None)
            ]

    def clear_requests(self) -> None:
        with self.lock:
            self.request_log.clear()

    def inject_fault(
        self,
        kind: FaultKind | str,
        pattern: str = "*",
        *,
        method: str | None = None,
        count: int = 1,
        **options: Any,
    ) -> Fault:
        """The next ``count`` requests matching ``method`` and ``pattern`` (a path template
        such as ``/repos/{owner}/{repo}/check-runs/{id}``, ``*`` wildcards) get ``kind``."""
        return self.faults.add(
            Fault(FaultKind(kind), pattern, method=method, count=count, **options)
        )
