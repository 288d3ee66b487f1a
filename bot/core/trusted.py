"""The trusted tree: where policies, signing keys and other rules of the gate are read from.

On a pull request (and with ``check --base``) that is the BASE commit, never the head: a change
must not be able to bring its own policy or its own signing key. Locally without ``--base`` the
working tree is trusted, since whoever runs the command owns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class TrustedFiles(Protocol):
    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        ...

    def files_under(self, path: str) -> list[str]:
        """Every file at or below ``path`` (a file or a folder), sorted; [] when none."""
        ...


@dataclass(frozen=True, slots=True)
class MemoryTree:
    """A tree held in memory (a commit's archive on GitHub; tests)."""

    files: Mapping[str, bytes] = field(default_factory=dict)
    description: str = "the base commit"

    def read(self, path: str) -> bytes | None:
        return self.files.get(normalise(path))

    def files_under(self, path: str) -> list[str]:
        return under(self.files, path)


def normalise(path: str) -> str:
    """A repository-relative POSIX path; "" for the root. A path that climbs out of the tree
    (``..``) or is absolute names nothing in it: "\0" matches no file."""
    if path.startswith(("/", "\\")):
        return "\0"
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        return "\0"
    return "/".join(parts)


def under(paths: Mapping[str, object] | set[str] | frozenset[str], path: str) -> list[str]:
    folder = normalise(path)
    if folder == "":
        return sorted(paths)
    prefix = folder + "/"
    return sorted(p for p in paths if p == folder or p.startswith(prefix))


EMPTY_TREE = MemoryTree(description="no trusted tree")
