"""What a run looks at: the files to check, and the rest of the tree as context.

Built by the CLI from the working tree (and git for ``--base``) or by the App from the pull
request; the core only sees bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.trusted import EMPTY_TREE, TrustedFiles


class FileStatus(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    UNCHANGED = "unchanged"  # a full check of a tree, not a diff


@dataclass(frozen=True, slots=True)
class ChangedFile:
    path: str  # POSIX, relative to the checked root
    content: bytes | None  # None when removed
    status: FileStatus = FileStatus.UNCHANGED
    # Lines added by the change (1-based); None means every line counts.
    added_lines: frozenset[int] | None = None


@dataclass(frozen=True, slots=True)
class ChangeSet:
    files: tuple[ChangedFile, ...]
    # Every path of the tree at head (for chart detection and context), checked or not.
    tree_paths: frozenset[str] = frozenset()
    # Reads a path of the tree that is not being checked (CRDs for custom resources).
    read_context: Callable[[str], bytes | None] = field(default=lambda _path: None)
    # The config in force: on a pull request (and with --base) the BASE branch's, so a change
    # cannot relax its own gate.
    config_text: str | None = None
    config_path: str | None = None
    # The config as the change proposes it, when the change edits it: validated, not used.
    proposed_config_text: str | None = None
    # Where policies and signing keys named by the config are read: the BASE commit.
    trusted: TrustedFiles = EMPTY_TREE
    # "owner/name" on GitHub, the checked folder locally: keeps policy namespaces apart on a
    # shared remote OPA.
    repository: str = ""
