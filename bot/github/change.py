"""Reading a pull request (or a merge group) from GitHub into a ChangeSet.

The contents at the head SHA come from ONE tarball call, which also gives the rest of the tree
as context (CRDs for custom resources). Which files changed comes, for a pull request of up to
100 files, from one page of the PR files API; for a bigger one (and for merge groups), from the
tarball of the merge base, diffed here: one or two calls whatever the size, and no 3,000-file
listing limit. The configuration comes from the BASE SHA: a pull request cannot relax its own
gate; if it edits the config, the new file is validated and reported, but not used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from bot.config import DEFAULT_CONFIG_PATH
from bot.core.changeset import ChangedFile, ChangeSet, FileStatus
from bot.core.document import load_text
from bot.core.filekind import CONFIG_PATHS, FileKind, is_candidate
from bot.core.trusted import EMPTY_TREE, MemoryTree, TrustedFiles
from bot.github.client import JSON_ACCEPT, GitHubClient, GitHubError, Response
from bot.github.tarball import DEFAULT_TAR_LIMITS, TarballError, TarLimits, Tree, read_tree
from bot.github.treediff import diff_files

GITHUB_FILE_LIMIT = 3000
PER_PAGE = 100
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_STATUS = {
    "added": FileStatus.ADDED,
    "removed": FileStatus.REMOVED,
    "modified": FileStatus.MODIFIED,
    "renamed": FileStatus.MODIFIED,
    "copied": FileStatus.ADDED,
    "changed": FileStatus.MODIFIED,
    "unchanged": FileStatus.UNCHANGED,
}


@dataclass(frozen=True, slots=True)
class ChangeRef:
    """Which change to read: a pull request, or a merge group (``pr_number`` None)."""

    installation_id: int
    repo: str  # "owner/name"
    head_sha: str
    base_sha: str
    pr_number: int | None = None


@dataclass(slots=True)
class FetchedChange:
    changeset: ChangeSet
    # Why the check could not cover everything (the check run must then fail, not pass).
    incomplete: list[str] = field(default_factory=list)
    api_calls: int = 0


@dataclass(frozen=True, slots=True)
class _Entry:
    status: FileStatus
    added_lines: frozenset[int] | None  # None: every line counts


async def read_change(
    client: GitHubClient,
    ref: ChangeRef,
    limits: TarLimits = DEFAULT_TAR_LIMITS,
    *,
    changed_files: int | None = None,
) -> FetchedChange:
    """``changed_files`` is the PR's file count from the webhook, when known: above one page
    of the files API, the change is diffed from the merge base's tarball instead."""
    incomplete: list[str] = []
    calls = _Calls(client, ref.installation_id)
    by_trees = ref.pr_number is None or (changed_files is not None and changed_files > PER_PAGE)
    changed: dict[str, _Entry] = {}
    if not by_trees:
        changed = _entries(await _changed_files(calls, ref, incomplete))
    # Besides the YAML and JSON of the whole tree (context), the head's version of every other
    # changed text file is read too: .env, .tf, .properties... are scanned for secrets.
    wanted = _wanted(changed)
    tree, tree_read = await _head_tree(calls, ref, ref.head_sha, limits, incomplete, wanted)
    if by_trees and tree_read:
        changed = await _diff_from_merge_base(calls, ref, tree, limits, incomplete)
    files = []
    for path, entry in sorted(changed.items()):
        if not wanted(path):
            continue
        status = entry.status
        content = None if status is FileStatus.REMOVED else tree.files.get(path)
        if status is not FileStatus.REMOVED and content is None:
            if path in tree.links:
                incomplete.append(f"{path}: a symbolic link; what it points to was not checked.")
            elif tree_read:
                incomplete.append(f"{path}: not found in the head commit's archive.")
            continue
        files.append(ChangedFile(path, content, status, entry.added_lines))
    # Without the head tree, every config path may exist at the base: ask for each.
    known_paths = tree.paths | tree.links if tree_read else set(CONFIG_PATHS)
    config_text, config_path = await _base_config(calls, ref, known_paths, changed)
    proposed = _proposed_config(config_path, changed, tree.files)
    trusted = await _trusted_tree(calls, ref, config_text, limits, incomplete)
    changeset = ChangeSet(
        files=tuple(files),
        tree_paths=frozenset(tree.paths),
        read_context=tree.files.get,
        config_text=config_text,
        config_path=config_path,
        proposed_config_text=proposed,
        trusted=trusted,
        repository=ref.repo,
    )
    return FetchedChange(changeset, incomplete + tree.suspicious, calls.count)


class _Calls:
    """The client, counting the calls this change costs (retries and tokens not counted)."""

    def __init__(self, client: GitHubClient, installation_id: int) -> None:
        self.client = client
        self.installation_id = installation_id
        self.count = 0

    async def get(self, path: str, accept: str = JSON_ACCEPT) -> Response:
        self.count += 1
        return await self.client.request(
            "GET", path, installation_id=self.installation_id, accept=accept
        )


async def _changed_files(
    calls: _Calls, ref: ChangeRef, incomplete: list[str]
) -> list[dict[str, Any]]:
    """The PR files API, page by page (used when the PR is not known to be big)."""
    entries: list[dict[str, Any]] = []
    url: str | None = f"/repos/{ref.repo}/pulls/{ref.pr_number}/files?per_page={PER_PAGE}"
    while url is not None and len(entries) < GITHUB_FILE_LIMIT:
        response = await calls.get(url)
        page = response.json()
        if isinstance(page, list):
            entries.extend(f for f in page if isinstance(f, dict))
        url = response.next_link()
    if len(entries) >= GITHUB_FILE_LIMIT:
        incomplete.append(
            f"GitHub lists at most {GITHUB_FILE_LIMIT:,} files of a pull request; files "
            "past that could not be checked."
        )
    return entries[:GITHUB_FILE_LIMIT]


def _entries(api_files: list[dict[str, Any]]) -> dict[str, _Entry]:
    return {
        f["filename"]: _Entry(
            _STATUS.get(str(f.get("status")), FileStatus.MODIFIED), _added_lines(f)
        )
        for f in api_files
        if isinstance(f.get("filename"), str)
    }


async def _diff_from_merge_base(
    calls: _Calls, ref: ChangeRef, head: Tree, limits: TarLimits, incomplete: list[str]
) -> dict[str, _Entry]:
    """The change as a diff of the merge base's tree and the head's (what the PR files API
    shows: changes on the base branch since the fork point are not the PR's)."""
    merge_base = ref.base_sha
    if ref.pr_number is not None:
        compare = await calls.get(f"/repos/{ref.repo}/compare/{ref.base_sha}...{ref.head_sha}")
        data = compare.json()
        sha = data.get("merge_base_commit", {}).get("sha") if isinstance(data, dict) else None
        merge_base = sha if isinstance(sha, str) else ref.base_sha
    base, base_read = await _head_tree(calls, ref, merge_base, limits, incomplete)
    if not base_read:
        return {}
    return {d.path: _Entry(d.status, d.added_lines) for d in diff_files(base.files, head.files)}


def _wanted(changed: dict[str, _Entry]) -> Callable[[str], bool]:
    return lambda path: is_candidate(path) or path in changed


async def _head_tree(
    calls: _Calls,
    ref: ChangeRef,
    sha: str,
    limits: TarLimits,
    incomplete: list[str],
    wanted: Callable[[str], bool] = is_candidate,
) -> tuple[Tree, bool]:
    """A commit's tree from its archive, and whether it could be read."""
    response = await calls.get(f"/repos/{ref.repo}/tarball/{sha}")
    try:
        return read_tree(response.body, wanted, limits), True
    except TarballError as exc:
        incomplete.append(f"{exc}; the changed files could not be checked.")
        return Tree(), False


async def _base_config(
    calls: _Calls,
    ref: ChangeRef,
    head_paths: set[str],
    changed: dict[str, _Entry],
) -> tuple[str | None, str]:
    """The config at the base SHA. A path absent from the head tree and not touched by the
    change cannot exist at the base either, so it costs no API call."""
    candidates = [p for p in CONFIG_PATHS if p in head_paths or p in changed]
    for path in candidates:
        try:
            response = await calls.get(
                f"/repos/{ref.repo}/contents/{quote(path)}?ref={ref.base_sha}",
                accept="application/vnd.github.raw",
            )
        except GitHubError as exc:
            if exc.status == 404:
                continue
            raise
        return response.body.decode("utf-8", "replace"), path
    return None, candidates[0] if candidates else CONFIG_PATHS[0]


async def _trusted_tree(
    calls: _Calls,
    ref: ChangeRef,
    config_text: str | None,
    limits: TarLimits,
    incomplete: list[str],
) -> TrustedFiles:
    """The BASE commit's files, read only when the base config names files of the repository
    (policy folders, signing keys): one archive call. Never the head: a pull request must not
    bring its own policy or its own key."""
    if not needs_trusted_files(config_text):
        return EMPTY_TREE
    base, read = await _head_tree(calls, ref, ref.base_sha, limits, incomplete, lambda _p: True)
    if not read:
        incomplete.append("the base commit's policies and keys could not be read.")
    return MemoryTree(base.files, description=f"the base commit {ref.base_sha[:12]}")


def needs_trusted_files(config_text: str | None) -> bool:
    """Whether the config refers to files of the repository: ``policies`` (Rego paths, data)
    or signature ``key_files``. A config that cannot be parsed refers to nothing here (its
    problems are reported by the config reader)."""
    if not config_text:
        return False
    loaded = load_text(DEFAULT_CONFIG_PATH, config_text, FileKind.GATE_CONFIG)  # bounded parse
    data = loaded.documents[0].data if loaded.documents else None
    if not isinstance(data, dict):
        return False
    if isinstance(data.get("policies"), dict):
        return True
    images = data.get("images")
    rules = images.get("signatures") if isinstance(images, dict) else None
    return isinstance(rules, list) and any(
        isinstance(rule, dict) and rule.get("key_files") for rule in rules
    )


def _proposed_config(
    config_path: str, changed: dict[str, _Entry], head_files: dict[str, bytes]
) -> str | None:
    entry = changed.get(config_path)
    if entry is None or entry.status is FileStatus.REMOVED:
        return None
    content = head_files.get(config_path)
    return content.decode("utf-8", "replace") if content is not None else None


def _added_lines(entry: dict[str, Any]) -> frozenset[int] | None:
    """Lines the change adds, from the file's patch; None (every line) when GitHub sent no
    patch (binary or too large a diff)."""
    patch = entry.get("patch")
    if not isinstance(patch, str):
        return None
    lines: set[int] = set()
    current = 0
    for text in patch.split("\n"):
        match = _HUNK.match(text)
        if match:
            current = int(match.group(1))
            continue
        if text.startswith("+"):
            lines.add(current)
            current += 1
        elif text.startswith(" ") or text == "":
            current += 1
        # "-" lines do not exist in the new file; "\ No newline" is not a line
    return frozenset(lines)
