"""Pull-request file lists (GitHub's ``diff-entry``) and the hunks of their ``patch``."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .tree import Entry, Symlink, blob_sha, entry_bytes

# GitHub omits ``patch`` for binary files and for very large diffs.
DEFAULT_MAX_PATCH_BYTES = 400_000


@dataclass
class FileChange:
    filename: str
    status: str  # added | removed | modified | renamed
    sha: str
    additions: int = 0
    deletions: int = 0
    patch: str | None = None
    previous_filename: str | None = None

    @property
    def changes(self) -> int:
        return self.additions + self.deletions


def _text(entry: Entry) -> list[str] | None:
    data = entry_bytes(entry)
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None


def _patch(old: list[str], new: list[str]) -> str:
    lines = list(difflib.unified_diff(old, new, n=3, lineterm=""))
    return "\n".join(lines[2:])  # GitHub's patch starts at the first "@@", without ---/+++


def _change(
    path: str, status: str, old: Entry | None, new: Entry | None, max_patch_bytes: int
) -> FileChange:
    sha = blob_sha(new if new is not None else old)  # type: ignore[arg-type]
    change = FileChange(path, status, sha)
    old_lines = [] if old is None else _text(old)
    new_lines = [] if new is None else _text(new)
    if old_lines is None or new_lines is None:
        return change  # binary: no patch, no line counts
    patch = _patch(old_lines, new_lines)
    for line in patch.splitlines():
        if line.startswith("+"):
            change.additions += 1
        elif line.startswith("-"):
            change.deletions += 1
    if patch and len(patch.encode("utf-8")) <= max_patch_bytes:
        change.patch = patch
    return change


def diff_trees(
    base: Mapping[str, Entry],
    head: Mapping[str, Entry],
    *,
    max_patch_bytes: int = DEFAULT_MAX_PATCH_BYTES,
) -> list[FileChange]:
    """The files of a pull request, sorted by name as GitHub lists them."""
    removed = {p for p in base if p not in head}
    added = {p for p in head if p not in base}
    renamed: dict[str, str] = {}  # new -> old, exact-content renames only
    by_content: dict[tuple[str, bool], list[str]] = {}
    for p in sorted(removed):
        by_content.setdefault((blob_sha(base[p]), isinstance(base[p], Symlink)), []).append(p)
    for p in sorted(added):
        key = (blob_sha(head[p]), isinstance(head[p], Symlink))
        if by_content.get(key):
            renamed[p] = by_content[key].pop(0)
    out: list[FileChange] = []
    for p in sorted(set(base) | set(head)):
        if p in renamed:
            c = FileChange(p, "renamed", blob_sha(head[p]), previous_filename=renamed[p])
            out.append(c)
        elif p in renamed.values():
            continue
        elif p in added:
            out.append(_change(p, "added", None, head[p], max_patch_bytes))
        elif p in removed:
            out.append(_change(p, "removed", base[p], None, max_patch_bytes))
        elif base[p] != head[p]:
            out.append(_change(p, "modified", base[p], head[p], max_patch_bytes))
    return out


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Hunk:
    left: set[int] = field(default_factory=set)  # old-file lines (deleted + context)
    right: set[int] = field(default_factory=set)  # new-file lines (added + context)


def parse_hunks(patch: str) -> tuple[list[Hunk], int]:
    """The hunks of a patch and its number of diff positions (lines after the first @@)."""
    hunks: list[Hunk] = []
    old = new = 0
    positions = -1
    for line in patch.splitlines():
        positions += 1
        m = _HUNK.match(line)
        if m:
            hunks.append(Hunk())
            old, new = int(m.group(1)), int(m.group(3))
            continue
        if not hunks:
            continue
        if line.startswith("+"):
            hunks[-1].right.add(new)
            new += 1
        elif line.startswith("-"):
            hunks[-1].left.add(old)
            old += 1
        elif line.startswith("\\"):
            continue
        else:
            hunks[-1].left.add(old)
            hunks[-1].right.add(new)
            old += 1
            new += 1
    return hunks, max(positions, 0)


def anchor_error(
    patch: str | None,
    *,
    line: int | None,
    side: str,
    start_line: int | None,
    start_side: str,
    position: int | None,
) -> str | None:
    """Why GitHub would reject a review-comment anchor, or None when it is commentable."""
    if patch is None:
        return "Pull request review thread diff hunk can't be blank"
    hunks, n_positions = parse_hunks(patch)
    if line is None:
        if position is None:
            return "Pull request review thread line must be part of the diff"
        return None if 1 <= position <= n_positions else "Line could not be resolved"
    if side not in ("LEFT", "RIGHT") or start_side not in ("LEFT", "RIGHT"):
        return "Side must be LEFT or RIGHT"

    def hunk_of(n: int, s: str) -> int | None:
        for i, h in enumerate(hunks):
            if n in (h.left if s == "LEFT" else h.right):
                return i
        return None

    end_hunk = hunk_of(line, side)
    if end_hunk is None:
        return "Pull request review thread line must be part of the diff"
    if start_line is not None:
        if start_line > line and start_side == side:
            return "Pull request review thread start line must precede the end line"
        start_hunk = hunk_of(start_line, start_side)
        if start_hunk is None:
            return "Pull request review thread start line must be part of the diff"
        if start_hunk != end_hunk:
            return (
                "Pull request review thread start line must be part of the same hunk as the line."
            )
    return None
