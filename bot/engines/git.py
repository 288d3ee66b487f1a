"""Git, read-only, for ``check --base REF``: which files changed since the merge base."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bot.errors import UsageError

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Change:
    path: str  # relative to the repository root
    status: str  # "A", "M", "D", "R"...
    added_lines: frozenset[int] | None  # None: every line is new


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"git failed: {exc}") from exc
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout


def repo_root(path: Path) -> Path:
    return Path(_git(path, "rev-parse", "--show-toplevel").strip())


def merge_base(root: Path, base: str) -> str:
    return _git(root, "merge-base", base, "HEAD").strip()


def show(root: Path, commit: str, path: str) -> str | None:
    """The text of ``path`` at ``commit``, or None when it does not exist there."""
    try:
        return _git(root, "show", f"{commit}:{path}")
    except UsageError:
        return None


def changes_since(root: Path, base: str) -> list[Change]:
    """Files changed between the merge base of ``base`` and the working tree."""
    start = merge_base(root, base)
    out: list[Change] = []
    names = _git(root, "diff", "--name-status", "-z", "--no-renames", start).split("\0")
    pairs = [(names[i], names[i + 1]) for i in range(0, len(names) - 1, 2)]
    for status, path in pairs:
        added: frozenset[int] | None = frozenset()
        if status != "D":
            added = _added_lines(_git(root, "diff", "--unified=0", start, "--", path))
        out.append(Change(path=path, status=status, added_lines=added))
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z").split("\0")
    for path in filter(None, untracked):
        out.append(Change(path=path, status="A", added_lines=None))
    return out


def _added_lines(diff: str) -> frozenset[int]:
    lines: set[int] = set()
    for match in _HUNK.finditer(diff):
        start = int(match.group(1))
        count = int(match.group(2)) if match.group(2) is not None else 1
        lines.update(range(start, start + count))
    return frozenset(lines)


def show_bytes(root: Path, commit: str, path: str) -> bytes | None:
    """The bytes of ``path`` at ``commit`` (policies and keys may be binary-safe text)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "show", f"{commit}:{path}"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"git failed: {exc}") from exc
    return done.stdout if done.returncode == 0 else None


def files_at(root: Path, commit: str, prefix: str) -> list[str]:
    """Every file path under ``prefix`` (repository-relative) at ``commit``."""
    pathspec = ["--", prefix] if prefix else []
    listing = _git(root, "ls-tree", "-r", "-z", "--name-only", "--full-tree", commit, *pathspec)
    return sorted(filter(None, listing.split("\0")))
