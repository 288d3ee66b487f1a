"""What a change did to the files we check, computed from two trees (merge base and head).

Used for big pull requests, where listing the files through the API would cost one call per
100 files: with both trees downloaded, the file list and the added lines come for free.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from bot.core.changeset import FileStatus


@dataclass(frozen=True, slots=True)
class FileDiff:
    path: str
    status: FileStatus
    added_lines: frozenset[int]


def diff_files(base: dict[str, bytes], head: dict[str, bytes]) -> list[FileDiff]:
    """Files added, modified or removed between ``base`` and ``head`` (path -> content),
    sorted by path, with the head's added lines (1-based) for the ones that exist there."""
    out: list[FileDiff] = []
    for path in sorted(base.keys() | head.keys()):
        old, new = base.get(path), head.get(path)
        if old == new:
            continue
        if new is None:
            out.append(FileDiff(path, FileStatus.REMOVED, frozenset()))
        elif old is None:
            out.append(FileDiff(path, FileStatus.ADDED, frozenset(range(1, _line_count(new) + 1))))
        else:
            out.append(FileDiff(path, FileStatus.MODIFIED, added_lines(old, new)))
    return out


def added_lines(old: bytes, new: bytes) -> frozenset[int]:
    """Lines of ``new`` that are not in ``old``, as a unified diff would mark them ``+``."""
    old_lines = old.decode("utf-8", "replace").splitlines()
    new_lines = new.decode("utf-8", "replace").splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    lines: set[int] = set()
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            lines.update(range(j1 + 1, j2 + 1))
    return frozenset(lines)


def _line_count(content: bytes) -> int:
    return content.count(b"\n") + (0 if content.endswith(b"\n") or not content else 1)
