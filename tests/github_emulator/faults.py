"""Fault injection: the next N responses of a route misbehave the way GitHub does."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from enum import StrEnum


class FaultKind(StrEnum):
    BAD_GATEWAY = "502"  # 502 with GitHub's HTML-less JSON body
    SERVER_ERROR = "500"
    TIMEOUT = "timeout"  # hang (longer than the client's timeout), then 504 if still connected
    SECONDARY_RATE_LIMIT = "secondary_rate_limit"  # 403 (or 429) + Retry-After + message
    PRIMARY_RATE_LIMIT = "primary_rate_limit"  # 403 (or 429) + x-ratelimit-remaining: 0
    RESET = "reset"  # drop the connection without a response


SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)
SECONDARY_RATE_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
PRIMARY_RATE_LIMIT_MESSAGE = (
    "API rate limit exceeded for installation ID {installation_id}. If you reach out to GitHub "
    "Support for help, please include the request ID {request_id} and timestamp {timestamp}."
)
PRIMARY_RATE_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    "#about-the-primary-rate-limit"
)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``/repos/{owner}/{repo}/check-runs/{id}`` style templates; ``*`` matches anything.

    ``{name}`` matches one path segment. The pattern must match the whole path (no query).
    """
    out = ""
    for token in re.split(r"(\{[^}/]+\}|\*)", pattern):
        if token == "*":
            out += ".*"
        elif token.startswith("{") and token.endswith("}"):
            out += "[^/]+"
        else:
            out += re.escape(token)
    return re.compile(out + r"\Z")


@dataclass
class Fault:
    """Applies to the next ``count`` requests whose method and path match."""

    kind: FaultKind
    pattern: str
    method: str | None = None  # None: any method
    count: int = 1
    status: int | None = None  # rate limits: 403 (default) or 429
    retry_after: int = 1  # seconds, for the secondary rate limit
    reset_in: int = 1  # seconds until x-ratelimit-reset, for the primary rate limit
    hang_seconds: float = 30.0  # for TIMEOUT
    after_processing: bool = False  # 502/500 only: apply the change, then lose the response
    hits: int = 0
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._regex = compile_pattern(self.pattern)
        if self.method is not None:
            self.method = self.method.upper()

    @property
    def remaining(self) -> int:
        return self.count - self.hits

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method == method)
            and self._regex.match(path) is not None
        )


class FaultSet:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault for this request, consuming one of its hits."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)
