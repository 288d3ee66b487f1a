"""GitHub's error responses: ``{"message", "errors"?, "documentation_url", "status"}``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

DOCS = "https://docs.github.com/rest"


class GitHubError(Exception):
    """Raised inside a handler; the server turns it into GitHub's JSON error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: Sequence[Any] | None = None,
        documentation_url: str = DOCS,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = list(errors) if errors is not None else None
        self.documentation_url = documentation_url
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.documentation_url
        out["status"] = str(self.status)
        return out

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.body()),
            content_type="application/json",
            headers=self.headers,
        )


def not_found(documentation_url: str = DOCS) -> GitHubError:
    return GitHubError(404, "Not Found", documentation_url=documentation_url)


def bad_credentials() -> GitHubError:
    return GitHubError(401, "Bad credentials", documentation_url=DOCS)


def unprocessable(
    message: str,
    errors: Sequence[Any] | None = None,
    documentation_url: str = DOCS,
) -> GitHubError:
    return GitHubError(422, message, errors=errors, documentation_url=documentation_url)


def validation_failed(
    resource: str, field: str, code: str, message: str, documentation_url: str = DOCS
) -> GitHubError:
    """GitHub's "Validation Failed" shape with one structured error."""
    return GitHubError(
        422,
        "Validation Failed",
        errors=[{"resource": resource, "field": field, "code": code, "message": message}],
        documentation_url=documentation_url,
    )
