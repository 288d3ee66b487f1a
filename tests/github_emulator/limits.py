"""GitHub's documented limits that the OpenAPI schemas do not express (all answered with 422)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import unprocessable, validation_failed

MAX_ANNOTATIONS_PER_REQUEST = 50
MAX_OUTPUT_CHARS = 65_535  # output.summary and output.text
MAX_ANNOTATION_MESSAGE_BYTES = 64 * 1024
MAX_ANNOTATION_RAW_DETAILS_BYTES = 64 * 1024
MAX_ANNOTATION_TITLE_CHARS = 255
MAX_ACTIONS = 3
MAX_COMMENT_BODY_CHARS = 65_536  # issue comments, review bodies and review comments
MAX_TOKEN_REPOSITORIES = 500
ANNOTATION_LEVELS = ("notice", "warning", "failure")


@dataclass
class Limits:
    """Knobs for the limits whose exact unit GitHub leaves unclear.

    ``output_unit``: the docs say 65,535 *characters*; a third-party report says GitHub counts
    UTF-8 *bytes*. The default is the stricter ``"bytes"``, so a bot that passes here passes on
    GitHub either way.
    ``patch_without_text_clears_text``: reported GitHub behaviour (a PATCH whose ``output`` has no
    ``text`` clears it); on by default so the bot learns to resend ``text``.
    """

    output_unit: Literal["bytes", "characters"] = "bytes"
    patch_without_text_clears_text: bool = True


CHECK_RUN_DOCS = "https://docs.github.com/rest/checks/runs"


def _size(text: str, unit: Literal["bytes", "characters"]) -> int:
    return len(text.encode("utf-8")) if unit == "bytes" else len(text)


def check_run_body(body: Mapping[str, Any], limits: Limits, *, creating: bool) -> None:
    """Limits on a check-run create/update body that passed the schema."""
    if body.get("conclusion") == "stale":
        raise validation_failed(
            "CheckRun", "conclusion", "invalid", "Conclusion can't be set to stale", CHECK_RUN_DOCS
        )
    if "completed_at" in body and "conclusion" not in body:
        raise unprocessable(
            'Invalid request.\n\n"conclusion" wasn\'t supplied.',
            [{"resource": "CheckRun", "field": "conclusion", "code": "missing_field"}],
            CHECK_RUN_DOCS,
        )
    if body.get("status") == "completed" and "conclusion" not in body:
        raise unprocessable(
            'Invalid request.\n\n"conclusion" wasn\'t supplied.',
            [{"resource": "CheckRun", "field": "conclusion", "code": "missing_field"}],
            CHECK_RUN_DOCS,
        )
    actions = body.get("actions")
    if isinstance(actions, list) and len(actions) > MAX_ACTIONS:
        raise validation_failed(
            "CheckRun", "actions", "invalid", "At most 3 actions are allowed", CHECK_RUN_DOCS
        )
    output = body.get("output")
    if not isinstance(output, Mapping):
        return
    if not creating and "title" not in output:
        raise unprocessable(
            'Invalid request.\n\n"title" wasn\'t supplied.',
            [{"resource": "CheckRun", "field": "output.title", "code": "missing_field"}],
            CHECK_RUN_DOCS,
        )
    for key in ("summary", "text"):
        value = output.get(key)
        if isinstance(value, str):
            n = _size(value, limits.output_unit)
            if n > MAX_OUTPUT_CHARS:
                raise unprocessable(
                    f"Invalid request.\n\nOnly {MAX_OUTPUT_CHARS} characters are allowed; "
                    f"{n} were supplied.",
                    [{"resource": "CheckRun", "field": f"output.{key}", "code": "too_long"}],
                    CHECK_RUN_DOCS,
                )
    annotations = output.get("annotations") or []
    if len(annotations) > MAX_ANNOTATIONS_PER_REQUEST:
        raise validation_failed(
            "CheckRun",
            "output.annotations",
            "too_long",
            f"Only {MAX_ANNOTATIONS_PER_REQUEST} annotations are allowed per request; "
            f"{len(annotations)} were supplied.",
            CHECK_RUN_DOCS,
        )
    for i, ann in enumerate(annotations):
        annotation(ann, i)


def annotation(ann: Mapping[str, Any], index: int) -> None:
    def fail(field: str, message: str) -> None:
        raise validation_failed(
            "CheckRun", f"output.annotations[{index}].{field}", "invalid", message, CHECK_RUN_DOCS
        )

    start, end = ann["start_line"], ann["end_line"]
    if start < 1:
        fail("start_line", "start_line must be 1 or more (line numbers start at 1)")
    if end < start:
        fail("end_line", "end_line must not be before start_line")
    has_columns = "start_column" in ann or "end_column" in ann
    if has_columns and start != end:
        fail(
            "start_column",
            "start_column and end_column may only be given when start_line equals end_line",
        )
    for key in ("start_column", "end_column"):
        if key in ann and ann[key] < 1:
            fail(key, f"{key} must be 1 or more (column numbers start at 1)")
    if "start_column" in ann and "end_column" in ann and ann["end_column"] < ann["start_column"]:
        fail("end_column", "end_column must not be before start_column")
    if ann["annotation_level"] not in ANNOTATION_LEVELS:  # the schema says so too
        fail("annotation_level", "annotation_level must be notice, warning or failure")
    if len(ann["message"].encode("utf-8")) > MAX_ANNOTATION_MESSAGE_BYTES:
        fail("message", "message is too long (maximum is 64 KB)")
    if not ann["message"]:
        fail("message", "message can't be blank")
    if "raw_details" in ann and len(ann["raw_details"].encode("utf-8")) > (
        MAX_ANNOTATION_RAW_DETAILS_BYTES
    ):
        fail("raw_details", "raw_details is too long (maximum is 64 KB)")
    if "title" in ann and len(ann["title"]) > MAX_ANNOTATION_TITLE_CHARS:
        fail("title", "title is too long (maximum is 255 characters)")
    if not ann["path"]:
        fail("path", "path can't be blank")


def comment_body(body: str, resource: str, docs: str) -> None:
    if not body.strip():
        raise validation_failed(resource, "body", "missing_field", "Body cannot be blank", docs)
    if len(body) > MAX_COMMENT_BODY_CHARS:
        raise validation_failed(
            resource,
            "body",
            "custom",
            f"Body is too long (maximum is {MAX_COMMENT_BODY_CHARS} characters)",
            docs,
        )
