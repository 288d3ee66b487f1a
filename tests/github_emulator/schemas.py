"""Request-body validation against GitHub's published schemas.

The models are githubkit's code generation of GitHub's REST OpenAPI description
(``githubkit_schemas.v2026_03_10``, generated from github/rest-api-description). Bodies are
validated in pydantic's *strict* JSON mode, so ``"1"`` is not an integer and ``null`` is not a
string, as GitHub's own JSON-schema validation behaves. ``oneOf`` bodies must match exactly one
branch, ``anyOf`` bodies at least one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from githubkit_schemas.v2026_03_10.models import (
    AppInstallationsInstallationIdAccessTokensPostBody,
    ReposOwnerRepoCheckRunsCheckRunIdPatchBodyAnyof0,
    ReposOwnerRepoCheckRunsCheckRunIdPatchBodyAnyof1,
    ReposOwnerRepoCheckRunsPostBodyOneof0,
    ReposOwnerRepoCheckRunsPostBodyOneof1,
    ReposOwnerRepoIssuesCommentsCommentIdPatchBody,
    ReposOwnerRepoIssuesIssueNumberCommentsPostBody,
    ReposOwnerRepoPullsPullNumberReviewsPostBody,
)
from pydantic import BaseModel, ValidationError

from .errors import GitHubError, unprocessable

SCHEMA_VERSION = "2026-03-10"

Combinator = Literal["single", "oneOf", "anyOf"]


@dataclass(frozen=True)
class BodySchema:
    """The published request-body schema of one operation."""

    operation: str  # GitHub's operationId
    resource: str  # the ``resource`` GitHub names in its error objects
    combinator: Combinator
    models: tuple[type[BaseModel], ...]
    documentation_url: str


CREATE_CHECK_RUN = BodySchema(
    "checks/create",
    "CheckRun",
    "oneOf",
    (ReposOwnerRepoCheckRunsPostBodyOneof0, ReposOwnerRepoCheckRunsPostBodyOneof1),
    "https://docs.github.com/rest/checks/runs#create-a-check-run",
)
UPDATE_CHECK_RUN = BodySchema(
    "checks/update",
    "CheckRun",
    "anyOf",
    (
        ReposOwnerRepoCheckRunsCheckRunIdPatchBodyAnyof0,
        ReposOwnerRepoCheckRunsCheckRunIdPatchBodyAnyof1,
    ),
    "https://docs.github.com/rest/checks/runs#update-a-check-run",
)
CREATE_ISSUE_COMMENT = BodySchema(
    "issues/create-comment",
    "IssueComment",
    "single",
    (ReposOwnerRepoIssuesIssueNumberCommentsPostBody,),
    "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
)
UPDATE_ISSUE_COMMENT = BodySchema(
    "issues/update-comment",
    "IssueComment",
    "single",
    (ReposOwnerRepoIssuesCommentsCommentIdPatchBody,),
    "https://docs.github.com/rest/issues/comments#update-an-issue-comment",
)
CREATE_REVIEW = BodySchema(
    "pulls/create-review",
    "PullRequestReview",
    "single",
    (ReposOwnerRepoPullsPullNumberReviewsPostBody,),
    "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request",
)
CREATE_INSTALLATION_TOKEN = BodySchema(
    "apps/create-installation-access-token",
    "InstallationAccessToken",
    "single",
    (AppInstallationsInstallationIdAccessTokensPostBody,),
    "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app",
)

ALL_SCHEMAS: tuple[BodySchema, ...] = (
    CREATE_CHECK_RUN,
    UPDATE_CHECK_RUN,
    CREATE_ISSUE_COMMENT,
    UPDATE_ISSUE_COMMENT,
    CREATE_REVIEW,
    CREATE_INSTALLATION_TOKEN,
)

_CODES = {
    "missing": "missing_field",
    "string_too_long": "invalid",
    "too_long": "invalid",
    "literal_error": "invalid",
    "extra_forbidden": "invalid",
}


def _field(loc: tuple[int | str, ...]) -> str:
    """Drop pydantic's union-branch labels (``literal[<UNSET>]``, model and type names)."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "[" in item or item[:1].isupper():
            continue
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def _errors(exc: ValidationError, resource: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # A Missing[T] field is Union[Literal[UNSET], T]: the UNSET branch always "fails".
        if loc and isinstance(loc[-1], str) and loc[-1] == "literal[<UNSET>]":
            continue
        field = _field(loc)
        out.append(
            {
                "resource": resource,
                "field": field,
                "code": _CODES.get(err["type"], "invalid"),
                "message": f"{field or 'body'}: {err['msg']}",
            }
        )
    return out


def _null_fields(value: Any, prefix: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            name = f"{prefix}.{k}" if prefix else str(k)
            out += [name] if v is None else _null_fields(v, name)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            name = f"{prefix}[{i}]"
            out += [name] if v is None else _null_fields(v, name)
    return out


def parse_json(raw: bytes) -> Any:
    """GitHub answers 400 "Problems parsing JSON" to a body that is not JSON."""
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise GitHubError(400, "Problems parsing JSON") from exc


def validate(schema: BodySchema, raw: bytes) -> dict[str, Any]:
    """Validate ``raw`` (the request body bytes) and return the decoded JSON object.

    Raises :class:`GitHubError` 400 for non-JSON and 422 for a schema violation.
    """
    data = parse_json(raw)
    if data is None and schema.operation == CREATE_INSTALLATION_TOKEN.operation:
        return {}
    if not isinstance(data, dict):
        raise unprocessable(
            "Invalid request.\n\nBody must be a JSON object.",
            [{"resource": schema.resource, "field": "", "code": "invalid"}],
            schema.documentation_url,
        )
    text = json.dumps(data)
    matched = 0
    branch_errors: list[list[dict[str, Any]]] = []
    for model in schema.models:
        try:
            model.model_validate_json(text, strict=True)
        except ValidationError as exc:
            branch_errors.append(_errors(exc, schema.resource))
        else:
            matched += 1
    ok = matched == 1 if schema.combinator == "oneOf" else matched >= 1
    if ok:
        nulls = _null_fields(data)
        if nulls:
            # githubkit's ``Missing[T]`` admits None, but no property of these request bodies is
            # nullable in GitHub's OpenAPI description, and GitHub answers "nil is not a string".
            errors = [
                {
                    "resource": schema.resource,
                    "field": f,
                    "code": "invalid",
                    "message": f"For 'properties/{f}', nil is not allowed.",
                }
                for f in nulls
            ]
            detail = "\n".join(e["message"] for e in errors[:10])
            raise unprocessable(f"Invalid request.\n\n{detail}", errors, schema.documentation_url)
        return data
    if matched > 1:
        errors = [
            {
                "resource": schema.resource,
                "field": "",
                "code": "invalid",
                "message": "body matches more than one schema of a oneOf",
            }
        ]
    else:
        fewest = min(len(e) for e in branch_errors)
        errors = []
        for errs in branch_errors:
            if len(errs) == fewest:
                errors.extend(e for e in errs if e not in errors)
    detail = "\n".join(e["message"] for e in errors[:10])
    raise unprocessable(f"Invalid request.\n\n{detail}", errors, schema.documentation_url)
