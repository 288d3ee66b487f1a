"""GitHub's own example webhook payloads, adapted to the emulator's state, signed and sent.

The payloads are the pinned copy of ``@octokit/webhooks-examples`` in ``tests/data/webhooks``
(see its README). A delivery carries the header set GitHub sends to an App's webhook URL.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from .state import App, CheckRun, Installation, MergeGroup, PullRequest, Repository

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "webhooks"
HOOKSHOT_AGENT = "GitHub-Hookshot/6c1b7f3"
DEFAULT_HOOK_ID = 427_600_001


def example_path(event: str, action: str | None = None) -> Path:
    return DATA_DIR / (f"{event}.{action}.json" if action else f"{event}.json")


def load_example(event: str, action: str | None = None) -> dict[str, Any]:
    """A fresh copy of GitHub's example payload for ``event``/``action``.

    ``pull_request``/``edited`` has no example in the package: it is the ``opened`` example with
    ``action`` set to ``edited`` and an empty ``changes`` object (``build_delivery`` fills it).
    """
    if event == "pull_request" and action == "edited":
        payload = load_example("pull_request", "opened")
        payload["action"] = "edited"
        payload["changes"] = {}
        return payload
    path = example_path(event, action)
    if not path.exists():
        raise FileNotFoundError(f"no pinned example for {event}/{action}: {path}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def sign_body(body: bytes, secret: str, algorithm: str = "sha256") -> str:
    """``X-Hub-Signature-256`` (``sha256=<hex>``) or, with "sha1", ``X-Hub-Signature``."""
    digest = hmac.new(secret.encode("utf-8"), body, getattr(hashlib, algorithm)).hexdigest()
    return f"{algorithm}={digest}"


def _rewrite_strings(value: Any, replacements: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_rewrite_strings(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite_strings(v, replacements) for k, v in value.items()}
    return value


def _repo_fields(repo: Repository, api: str) -> dict[str, Any]:
    return {
        "id": repo.id,
        "node_id": f"R_{repo.id}",
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "default_branch": repo.default_branch,
        "url": f"{api}/repos/{repo.full_name}",
        "html_url": f"https://github.com/{repo.full_name}",
    }


def _pr_ref(pr: PullRequest, api: str) -> dict[str, Any]:
    """The short PR object in ``check_suite``/``check_run`` payloads."""
    repo_min = {"id": pr.repo.id, "url": f"{api}/repos/{pr.repo.full_name}", "name": pr.repo.name}
    return {
        "url": f"{api}/repos/{pr.repo.full_name}/pulls/{pr.number}",
        "id": pr.id,
        "number": pr.number,
        "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": repo_min},
        "base": {"ref": pr.base_ref, "sha": pr.base_sha, "repo": repo_min},
    }


def adapt(
    payload: dict[str, Any],
    event: str,
    *,
    app: App,
    installation: Installation | None = None,
    repo: Repository | None = None,
    pull: PullRequest | None = None,
    head_sha: str | None = None,
    merge_group: MergeGroup | None = None,
    check_run: CheckRun | None = None,
    changes: Mapping[str, Any] | None = None,
    api_url: str = "https://api.github.com",
    hook_id: int = DEFAULT_HOOK_ID,
) -> dict[str, Any]:
    """Rewrite an example payload so every id, name and SHA matches the emulator's state."""
    payload = copy.deepcopy(payload)
    old_repo = payload.get("repository") or {}
    replacements: list[tuple[str, str]] = []
    if repo is not None and old_repo.get("full_name"):
        replacements.append((old_repo["full_name"], repo.full_name))
    if api_url != "https://api.github.com":
        replacements.append(("https://api.github.com", api_url))
    payload = _rewrite_strings(payload, replacements)
    if repo is not None:
        payload.setdefault("repository", {}).update(_repo_fields(repo, api_url))
        payload["repository"].setdefault("owner", {})["login"] = repo.owner
    if installation is not None and event != "installation":
        payload["installation"] = {
            "id": installation.id,
            "node_id": f"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{installation.id}",
        }
    if event == "pull_request" and pull is not None:
        pr = payload["pull_request"]
        payload["number"] = pull.number
        pr.update(
            {
                "number": pull.number,
                "id": pull.id,
                "draft": pull.draft,
                "state": pull.state,
                "title": pull.title,
                "body": pull.body,
                "url": f"{api_url}/repos/{pull.repo.full_name}/pulls/{pull.number}",
                # GitHub sends the real size of the PR; the example's count is someone else's.
                "changed_files": len(pull.repo.diff(pull.base_sha, pull.head_sha)),
            }
        )
        for side, ref, side_sha in (
            ("head", pull.head_ref, pull.head_sha),
            ("base", pull.base_ref, pull.base_sha),
        ):
            pr[side].update({"ref": ref, "sha": side_sha, "label": f"{pull.repo.owner}:{ref}"})
            if pr[side].get("repo") is not None and repo is not None:
                pr[side]["repo"].update(_repo_fields(repo, api_url))
        if payload.get("action") == "synchronize":
            payload["before"] = pull.head_history[-1] if pull.head_history else pull.base_sha
            payload["after"] = pull.head_sha
        if payload.get("action") == "edited":
            payload["changes"] = dict(changes or {"title": {"from": "Old title"}})
    sha = head_sha or (pull.head_sha if pull is not None else None)
    if event == "check_suite" and sha is not None:
        suite = payload["check_suite"]
        suite.update({"head_sha": sha, "after": sha})
        if pull is not None:
            suite["head_branch"] = pull.head_ref
        suite["pull_requests"] = [_pr_ref(pull, api_url)] if pull is not None else []
        suite["app"].update({"id": app.id, "slug": app.slug, "name": app.name})
        if isinstance(suite.get("head_commit"), dict):
            suite["head_commit"]["id"] = sha
    if event == "check_run":
        run = payload["check_run"]
        if check_run is not None:
            sha = sha or check_run.head_sha
            run.update(
                {
                    "id": check_run.id,
                    "name": check_run.name,
                    "status": check_run.status,
                    "conclusion": check_run.conclusion,
                }
            )
            run["check_suite"]["id"] = check_run.check_suite_id
        if sha is not None:
            run["head_sha"] = sha
            run["check_suite"]["head_sha"] = sha
            run["check_suite"]["after"] = sha
        if pull is not None:
            run["check_suite"]["head_branch"] = pull.head_ref
        run["pull_requests"] = [_pr_ref(pull, api_url)] if pull is not None else []
        for holder in (run, run["check_suite"]):
            if isinstance(holder.get("app"), dict):
                holder["app"].update({"id": app.id, "slug": app.slug, "name": app.name})
    if event == "merge_group" and merge_group is not None:
        mg = payload["merge_group"]
        mg.update(
            {
                "head_sha": merge_group.head_sha,
                "head_ref": merge_group.head_ref,
                "base_sha": merge_group.base_sha,
                "base_ref": merge_group.base_ref,
            }
        )
        mg["head_commit"]["id"] = merge_group.head_sha
    if event == "installation" and installation is not None:
        inst = payload["installation"]
        inst.update(
            {
                "id": installation.id,
                "app_id": app.id,
                "access_tokens_url": f"{api_url}/app/installations/{installation.id}/access_tokens",
                "repository_selection": "all" if installation.all_repositories else "selected",
                "permissions": dict(installation.permissions),
            }
        )
        inst["account"]["login"] = installation.account
        if repo is not None:
            payload["repositories"] = [
                {
                    k: v
                    for k, v in _repo_fields(repo, api_url).items()
                    if k in ("id", "node_id", "name", "full_name", "private")
                }
            ]
    if event == "ping":
        payload["hook_id"] = hook_id
        payload["hook"].update({"id": hook_id, "type": "App", "app_id": app.id})
        payload["hook"]["events"] = list(app.events)
        if repo is None:
            payload.pop("repository", None)
    return payload


@dataclass
class Delivery:
    """One webhook delivery: the exact bytes and headers GitHub would POST."""

    event: str
    delivery_id: str
    payload: dict[str, Any]
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def forged(self) -> Delivery:
        """The same headers (and signature) with a tampered body."""
        payload = copy.deepcopy(self.payload)
        payload["forged"] = True
        body = json.dumps(payload).encode()
        return dataclasses.replace(self, payload=payload, body=body)

    def resigned(self, secret: str) -> Delivery:
        """Signed with another secret (what a forger without the secret produces)."""
        headers = dict(self.headers)
        headers["X-Hub-Signature-256"] = sign_body(self.body, secret)
        headers["X-Hub-Signature"] = sign_body(self.body, secret, "sha1")
        return dataclasses.replace(self, headers=headers)

    def without(self, *names: str) -> Delivery:
        """Drop headers (e.g. ``X-Hub-Signature-256`` for a SHA-1-only delivery)."""
        drop = {n.lower() for n in names}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in drop}
        return dataclasses.replace(self, headers=headers)


def build_delivery(
    event: str,
    action: str | None = None,
    *,
    app: App,
    installation: Installation | None = None,
    repo: Repository | None = None,
    pull: PullRequest | None = None,
    head_sha: str | None = None,
    merge_group: MergeGroup | None = None,
    check_run: CheckRun | None = None,
    changes: Mapping[str, Any] | None = None,
    api_url: str = "https://api.github.com",
    payload: dict[str, Any] | None = None,
    secret: str | None = None,
    delivery_id: str | None = None,
    hook_id: int = DEFAULT_HOOK_ID,
) -> Delivery:
    """Load the example (or take ``payload``), adapt it, serialise and sign it with
    ``secret`` (default: the App's webhook secret) and build GitHub's header set."""
    if payload is None:
        payload = adapt(
            load_example(event, action),
            event,
            app=app,
            installation=installation,
            repo=repo,
            pull=pull,
            head_sha=head_sha,
            merge_group=merge_group,
            check_run=check_run,
            changes=changes,
            api_url=api_url,
            hook_id=hook_id,
        )
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    key = app.webhook_secret if secret is None else secret
    delivery_id = delivery_id or str(uuid.uuid4())
    headers = {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": HOOKSHOT_AGENT,
        "X-GitHub-Delivery": delivery_id,
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(hook_id),
        "X-GitHub-Hook-Installation-Target-ID": str(app.id),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-Hub-Signature": sign_body(body, key, "sha1"),
        "X-Hub-Signature-256": sign_body(body, key),
    }
    return Delivery(event, delivery_id, payload, body, headers)


async def post_delivery(
    url: str,
    delivery: Delivery,
    *,
    session: aiohttp.ClientSession | None = None,
    timeout: float = 10.0,
) -> tuple[int, str]:
    """POST a delivery to ``url`` like GitHub (10 s timeout); returns (status, body text)."""
    own = session is None
    client = session or aiohttp.ClientSession()
    try:
        async with client.post(
            url,
            data=delivery.body,
            headers=delivery.headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            return resp.status, await resp.text()
    finally:
        if own:
            await client.close()
