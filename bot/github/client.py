"""A small GitHub REST client over aiohttp that survives GitHub's bad moments.

Retries what GitHub says to retry and nothing else (reference/github-platform.md §3): 5xx and
network errors with exponential backoff and jitter; secondary rate limits (403/429 with
``Retry-After``) after the time GitHub asks; primary rate limits (``x-ratelimit-remaining: 0``)
until ``x-ratelimit-reset``; a 401 once, with a fresh installation token. Every wait must fit in
the caller's deadline, or the call fails with the reason, so a job can conclude its check run
``failure`` instead of hanging. Other 4xx are the caller's mistake and fail at once.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import aiohttp

from bot import __version__
from bot.errors import BotError

USER_AGENT = f"gitops-gate/{__version__}"
API_VERSION = "2022-11-28"
JSON_ACCEPT = "application/vnd.github+json"

TokenSource = Callable[[int], Awaitable[str]]  # installation id -> installation token
CallObserver = Callable[[str, str], None]  # (endpoint template, status or error) for metrics


class GitHubError(BotError):
    """A GitHub call that failed for good (after retries where retrying made sense)."""

    def __init__(self, message: str, *, status: int | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint


class AmbiguousWrite(GitHubError):
    """A write whose outcome is unknown (5xx or no response): it may or may not have happened."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay: float = 0.5
    max_delay: float = 30.0
    request_timeout: float = 15.0
    # Longest a single call may spend retrying before it gives up with the reason.
    deadline: float = 120.0


@dataclass(slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def json(self) -> Any:
        return jsonlib.loads(self.body) if self.body else None

    def next_link(self) -> str | None:
        """The ``rel="next"`` URL of GitHub's ``Link`` header, for pagination."""
        for part in self.headers.get("Link", "").split(","):
            match = re.search(r'<([^>]+)>\s*;\s*rel="next"', part)
            if match:
                return match.group(1)
        return None


@dataclass(slots=True)
class _Attempt:
    number: int = 0
    refreshed_token: bool = False
    status: int | None = None  # of the last response (None after a network error)
    reasons: list[str] = field(default_factory=list)


class GitHubClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str,
        *,
        tokens: TokenSource,
        invalidate_token: Callable[[int], None],
        app_jwt: Callable[[], str],
        policy: RetryPolicy = RetryPolicy(),
        observe: CallObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/") + "/"
        self.tokens = tokens
        self.invalidate_token = invalidate_token
        self.app_jwt = app_jwt
        self.policy = policy
        self.observe = observe
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        # Epoch seconds, for ``x-ratelimit-reset`` (``clock`` is monotonic, for deadlines).
        self.wall_clock = wall_clock

    def url(self, path: str) -> str:
        return (
            path
            if path.startswith(("http://", "https://"))
            else urljoin(self.api_url, path.lstrip("/"))
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        installation_id: int | None = None,
        as_app: bool = False,
        json: Any = None,
        accept: str = JSON_ACCEPT,
        deadline: float | None = None,
        idempotent: bool | None = None,
    ) -> Response:
        """One API call with GitHub's retry rules; raises GitHubError when it cannot succeed.

        A request that is not idempotent (POST, unless the caller says otherwise) is not sent
        again after a 5xx or a lost response, since GitHub may have done it already: it raises
        ``AmbiguousWrite`` so the caller can look before it writes again. Rate limits and 401s
        are still retried: GitHub did nothing with those requests.
        """
        if idempotent is None:
            idempotent = method.upper() != "POST"
        url = self.url(path)
        endpoint = endpoint_template(method, url)
        what = f"{method} {_path(url)}"
        give_up_at = self.clock() + (deadline if deadline is not None else self.policy.deadline)
        attempt = _Attempt()
        while True:
            attempt.number += 1
            headers = await self._headers(installation_id, as_app, accept)
            # No single attempt may outlive the call's deadline either.
            timeout = min(self.policy.request_timeout, max(give_up_at - self.clock(), 0.1))
            try:
                response = await self._send(method, url, headers, json, timeout)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self._observe(endpoint, type(exc).__name__)
                reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
                if isinstance(exc, TimeoutError) and not str(exc):
                    reason = f"no response within {timeout:g} s"
                attempt.status = None
                if not idempotent:
                    raise AmbiguousWrite(f"{what}: {reason}", endpoint=endpoint) from exc
                await self._wait(
                    self._backoff(attempt.number), reason, attempt, give_up_at, what, endpoint
                )
                continue
            self._observe(endpoint, str(response.status))
            if response.status < 400:
                return response
            attempt.status = response.status
            delay, reason = self._retry_after(response, attempt, installation_id)
            if delay is not None and not idempotent and response.status >= 500:
                raise AmbiguousWrite(
                    f"{what}: HTTP {response.status}", status=response.status, endpoint=endpoint
                )
            if delay is None:
                raise GitHubError(
                    f"{what}: HTTP {response.status}: {_message(response)}",
                    status=response.status,
                    endpoint=endpoint,
                )
            await self._wait(delay, reason, attempt, give_up_at, what, endpoint)

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs)).json()

    async def paginate(
        self, path: str, *, installation_id: int, limit: int | None = None, key: str | None = None
    ) -> list[Any]:
        """Every item of a paginated list (``key`` for wrapped lists like check runs)."""
        items: list[Any] = []
        url: str | None = path + ("&" if "?" in path else "?") + "per_page=100"
        while url is not None:
            response = await self.request("GET", url, installation_id=installation_id)
            page = response.json()
            items.extend(page[key] if key else page)
            if limit is not None and len(items) >= limit:
                return items[:limit]
            url = response.next_link()
        return items

    async def _headers(
        self, installation_id: int | None, as_app: bool, accept: str
    ) -> dict[str, str]:
        headers = {
            "Accept": accept,
            "User-Agent": USER_AGENT,
            "X-GitHub-Api-Version": API_VERSION,
        }
        if as_app:
            headers["Authorization"] = f"Bearer {self.app_jwt()}"
        elif installation_id is not None:
            headers["Authorization"] = f"token {await self.tokens(installation_id)}"
        return headers

    async def _send(
        self, method: str, url: str, headers: dict[str, str], json: Any, timeout: float
    ) -> Response:
        async with self.session.request(
            method, url, headers=headers, json=json, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as raw:
            body = await raw.read()
            # aiohttp's headers are case-insensitive, as HTTP's are (GitHub sends ``link``).
            return Response(raw.status, raw.headers, body, str(raw.url))

    def _retry_after(
        self, response: Response, attempt: _Attempt, installation_id: int | None
    ) -> tuple[float | None, str]:
        """How long to wait before retrying this response, or None when retrying is wrong."""
        status = response.status
        headers = {k.lower(): v for k, v in response.headers.items()}
        if status == 401 and installation_id is not None and not attempt.refreshed_token:
            # An installation token can expire or be revoked early: fetch a new one, once.
            self.invalidate_token(installation_id)
            attempt.refreshed_token = True
            return 0.0, "HTTP 401 (token refreshed)"
        if status in (403, 429):
            if "retry-after" in headers:
                return _seconds(headers["retry-after"]), f"secondary rate limit (HTTP {status})"
            if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
                reset = _seconds(headers["x-ratelimit-reset"])
                wait = max(0.0, reset - self.wall_clock()) + 1.0
                return wait, f"rate limit exhausted (HTTP {status})"
            if status == 429:
                return self._backoff(attempt.number), "HTTP 429"
            if "secondary rate limit" in _message(response).lower():
                return max(60.0, self._backoff(attempt.number)), "secondary rate limit"
            return None, ""
        if status >= 500:
            return self._backoff(attempt.number), f"HTTP {status}"
        return None, ""

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff, drawn in [ceiling/2, ceiling] so a fleet of retries does not
        synchronise."""
        ceiling = min(self.policy.max_delay, self.policy.base_delay * 2 ** (attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)

    async def _wait(
        self,
        delay: float,
        reason: str,
        attempt: _Attempt,
        give_up_at: float,
        what: str,
        endpoint: str,
    ) -> None:
        attempt.reasons.append(reason)
        if self.clock() + delay > give_up_at:
            raise GitHubError(
                f"{what}: gave up after {attempt.number} attempts within the deadline "
                f"(last: {reason})",
                status=attempt.status,
                endpoint=endpoint,
            )
        if delay > 0:
            await self.sleep(delay)

    def _observe(self, endpoint: str, outcome: str) -> None:
        if self.observe is not None:
            self.observe(endpoint, outcome)


_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# Segments after which the rest of the path is one value (a file path, a ref with slashes).
_REST = {"contents": "{path}", "tarball": "{ref}", "zipball": "{ref}"}
# Segments followed by exactly one variable segment.
_ONE = {
    "commits": "{ref}",
    "compare": "{basehead}",
    "branches": "{branch}",
    "users": "{user}",
    "orgs": "{org}",
    "teams": "{team}",
    "memberships": "{user}",
    "collaborators": "{user}",
}


def endpoint_template(method: str, url: str) -> str:
    """``GET /repos/{owner}/{repo}/pulls/{number}/files``: a low-cardinality metrics label."""
    path = re.sub(r"^https?://[^/]+", "", url).split("?")[0].split("#")[0]
    path = re.sub(r"^/api/v3(?=/|$)", "", path)  # GitHub Enterprise Server's prefix
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "repos":
        parts[1], parts[2] = "{owner}", "{repo}"
    out: list[str] = []
    for index, part in enumerate(parts):
        previous = parts[index - 1] if index > 0 else ""
        if previous in _REST and index > 2:
            out.append(_REST[previous])
            break
        if previous in _ONE and index > 0 and part:
            out.append(_ONE[previous])
        elif re.fullmatch(r"\d+", part):
            out.append("{id}")
        elif _SHA.fullmatch(part):
            out.append("{sha}")
        else:
            out.append(part)
    return f"{method} /" + "/".join(out)


def _path(url: str) -> str:
    """The URL's path, for messages (no host, no query)."""
    return re.sub(r"^https?://[^/]+", "", url).split("?")[0] or "/"


def _seconds(value: str) -> float:
    try:
        return max(0.0, float(value))
    except ValueError:
        return 60.0


def _message(response: Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.body[:200].decode("utf-8", "replace")
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        errors = data.get("errors")
        message: str = data["message"]
        return message + (f" {jsonlib.dumps(errors)[:500]}" if errors else "")
    return str(data)[:200]
