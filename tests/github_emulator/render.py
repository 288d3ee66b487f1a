"""JSON representations of the emulator's objects, shaped like GitHub's REST responses."""

from __future__ import annotations

import base64
from typing import Any

from .diff import FileChange
from .state import (
    App,
    CheckRun,
    Comment,
    EmulatorState,
    Installation,
    PullRequest,
    Repository,
    Review,
    iso,
)
from .tree import Entry, Symlink, blob_sha, entry_bytes

HTML = "https://github.com"


def user(login: str, user_type: str = "User", user_id: int = 1) -> dict[str, Any]:
    return {
        "login": login,
        "id": user_id,
        "node_id": f"U_{login}",
        "type": user_type,
        "site_admin": False,
        "html_url": f"{HTML}/{login}",
    }


def app(a: App, base: str) -> dict[str, Any]:
    return {
        "id": a.id,
        "slug": a.slug,
        "node_id": f"A_{a.id}",
        "client_id": a.client_id,
        "name": a.name,
        "owner": user(a.owner, "Organization"),
        "description": "",
        "external_url": f"{HTML}/apps/{a.slug}",
        "html_url": f"{HTML}/apps/{a.slug}",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "permissions": dict(a.permissions),
        "events": list(a.events),
        "installations_count": 1,
    }


def installation(inst: Installation, base: str) -> dict[str, Any]:
    return {
        "id": inst.id,
        "account": user(inst.account, "Organization"),
        "app_id": inst.app_id,
        "target_type": "Organization",
        "repository_selection": "all" if inst.all_repositories else "selected",
        "access_tokens_url": f"{base}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{base}/installation/repositories",
        "html_url": f"{HTML}/organizations/{inst.account}/settings/installations/{inst.id}",
        "permissions": dict(inst.permissions),
        "events": [],
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "suspended_at": None,
    }


def repo(r: Repository, base: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "node_id": f"R_{r.id}",
        "name": r.name,
        "full_name": r.full_name,
        "private": r.private,
        "owner": user(r.owner, "Organization"),
        "html_url": f"{HTML}/{r.full_name}",
        "url": f"{base}/repos/{r.full_name}",
        "default_branch": r.default_branch,
        "fork": False,
    }


def pull(pr: PullRequest, base: str) -> dict[str, Any]:
    r = pr.repo
    files = pr.files()
    url = f"{base}/repos/{r.full_name}/pulls/{pr.number}"

    def side(ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{r.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": user(r.owner, "Organization"),
            "repo": repo(r, base),
        }

    return {
        "url": url,
        "id": pr.id,
        "node_id": f"PR_{pr.id}",
        "html_url": f"{HTML}/{r.full_name}/pull/{pr.number}",
        "diff_url": f"{HTML}/{r.full_name}/pull/{pr.number}.diff",
        "issue_url": f"{base}/repos/{r.full_name}/issues/{pr.number}",
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": user(pr.user),
        "body": pr.body,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "closed_at": None,
        "merged_at": None,
        "draft": pr.draft,
        "merged": False,
        "mergeable": None,
        "head": side(pr.head_ref, pr.head_sha),
        "base": side(pr.base_ref, pr.base_sha),
        "author_association": "MEMBER",
        "commits": len(pr.head_history) + 1,
        "additions": sum(f.additions for f in files),
        "deletions": sum(f.deletions for f in files),
        "changed_files": len(files),
    }


def file_change(c: FileChange, r: Repository, head_sha: str, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sha": c.sha,
        "filename": c.filename,
        "status": c.status,
        "additions": c.additions,
        "deletions": c.deletions,
        "changes": c.changes,
        "blob_url": f"{HTML}/{r.full_name}/blob/{head_sha}/{c.filename}",
        "raw_url": f"{HTML}/{r.full_name}/raw/{head_sha}/{c.filename}",
        "contents_url": f"{base}/repos/{r.full_name}/contents/{c.filename}?ref={head_sha}",
    }
    if c.patch is not None:
        out["patch"] = c.patch
    if c.previous_filename is not None:
        out["previous_filename"] = c.previous_filename
    return out


def content_file(
    r: Repository, path: str, entry: Entry, sha: str, base: str, max_json_bytes: int
) -> dict[str, Any]:
    data = entry_bytes(entry)
    url = f"{base}/repos/{r.full_name}/contents/{path}?ref={sha}"
    out: dict[str, Any] = {
        "type": "symlink" if isinstance(entry, Symlink) else "file",
        "size": len(data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": blob_sha(entry),
        "url": url,
        "git_url": f"{base}/repos/{r.full_name}/git/blobs/{blob_sha(entry)}",
        "html_url": f"{HTML}/{r.full_name}/blob/{sha}/{path}",
        "download_url": f"{base}/_raw/{r.full_name}/{sha}/{path}",
        "_links": {"self": url, "git": f"{base}/repos/{r.full_name}/git/blobs/{blob_sha(entry)}"},
    }
    if isinstance(entry, Symlink):
        out["target"] = entry.target
        return out
    if len(data) > max_json_bytes:
        out["encoding"] = "none"
        out["content"] = ""
        return out
    b64 = base64.b64encode(data).decode()
    # GitHub wraps the base64 text at 60 characters.
    out["content"] = "".join(b64[i : i + 60] + "\n" for i in range(0, len(b64), 60))
    out["encoding"] = "base64"
    return out


def content_dir_item(
    r: Repository, path: str, is_dir: bool, entry: Entry | None, sha: str, base: str
) -> dict[str, Any]:
    url = f"{base}/repos/{r.full_name}/contents/{path}?ref={sha}"
    kind = "dir" if is_dir else ("symlink" if isinstance(entry, Symlink) else "file")
    return {
        "type": kind,
        "size": 0 if entry is None else len(entry_bytes(entry)),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": blob_sha(entry) if entry is not None else "0" * 40,
        "url": url,
    }


def check_run(run: CheckRun, state: EmulatorState, base: str) -> dict[str, Any]:
    r = state.repo(run.repo)
    a = state.apps[run.app_id]
    url = f"{base}/repos/{run.repo}/check-runs/{run.id}"
    prs = []
    for pr in r.pulls_with_head(run.head_sha):
        prs.append(
            {
                "url": f"{base}/repos/{run.repo}/pulls/{pr.number}",
                "id": pr.id,
                "number": pr.number,
                "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": {"id": r.id}},
                "base": {"ref": pr.base_ref, "sha": pr.base_sha, "repo": {"id": r.id}},
            }
        )
    return {
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": f"CR_{run.id}",
        "external_id": run.external_id or "",
        "url": url,
        "html_url": f"{HTML}/{run.repo}/runs/{run.id}",
        "details_url": run.details_url or f"{HTML}/apps/{a.slug}",
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "output": {
            "title": run.output.get("title"),
            "summary": run.output.get("summary"),
            "text": run.output.get("text"),
            "annotations_count": len(run.annotations),
            "annotations_url": f"{url}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.check_suite_id},
        "app": app(a, base),
        "pull_requests": prs,
    }


def annotation(ann: dict[str, Any], run: CheckRun) -> dict[str, Any]:
    return {
        "path": ann["path"],
        "start_line": ann["start_line"],
        "end_line": ann["end_line"],
        "start_column": ann.get("start_column"),
        "end_column": ann.get("end_column"),
        "annotation_level": ann["annotation_level"],
        "title": ann.get("title", ""),
        "message": ann["message"],
        "raw_details": ann.get("raw_details", ""),
        "blob_href": f"{HTML}/{run.repo}/blob/{run.head_sha}/{ann['path']}",
    }


def comment(c: Comment, base: str) -> dict[str, Any]:
    return {
        "id": c.id,
        "node_id": f"IC_{c.id}",
        "url": f"{base}/repos/{c.repo}/issues/comments/{c.id}",
        "html_url": f"{HTML}/{c.repo}/pull/{c.issue_number}#issuecomment-{c.id}",
        "issue_url": f"{base}/repos/{c.repo}/issues/{c.issue_number}",
        "body": c.body,
        "user": user(c.user, c.user_type),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "author_association": "NONE" if c.user_type == "Bot" else "MEMBER",
    }


def review(rv: Review, base: str) -> dict[str, Any]:
    return {
        "id": rv.id,
        "node_id": f"PRR_{rv.id}",
        "user": user(rv.user, "Bot"),
        "body": rv.body,
        "state": rv.state,
        "html_url": f"{HTML}/{rv.repo}/pull/{rv.pull_number}#pullrequestreview-{rv.id}",
        "pull_request_url": f"{base}/repos/{rv.repo}/pulls/{rv.pull_number}",
        "commit_id": rv.commit_id,
        "submitted_at": None if rv.state == "PENDING" else iso(rv.submitted_at),
        "author_association": "NONE",
    }
