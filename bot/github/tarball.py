"""A repository tarball (GitHub's ``/tarball/{sha}``) read safely into memory.

The archive comes from the pull request's head, so it is hostile input: only regular files are
taken (no symlinks, hard links, devices), paths are normalised and anything that would land
outside the tree is refused, and the entry count, each file's size and the total are bounded,
so a crafted archive cannot exhaust memory. Nothing is written to disk and nothing is executed.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TarLimits:
    max_entries: int = 100_000
    max_total_bytes: int = 512 * 1024 * 1024
    # Only this much of a file is read: one byte more than the loader accepts is enough for
    # it to report the file as too large.
    max_file_bytes: int = 10 * 1024 * 1024


DEFAULT_TAR_LIMITS = TarLimits()


@dataclass(slots=True)
class Tree:
    """Every path of the tree, and the bytes of the files the caller wanted."""

    paths: set[str] = field(default_factory=set)
    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # entries refused, and why


class TarballError(Exception):
    """The archive cannot be used at all (corrupt, or over a limit)."""


def read_tree(
    data: bytes,
    wanted: Callable[[str], bool],
    limits: TarLimits = DEFAULT_TAR_LIMITS,
) -> Tree:
    """Paths of the tree, and the content of the regular files ``wanted`` accepts.

    GitHub puts everything under one top-level folder (``owner-repo-sha/``); it is stripped.
    """
    tree = Tree()
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for count, member in enumerate(archive, start=1):
                if count > limits.max_entries:
                    raise TarballError(f"archive has more than {limits.max_entries:,} entries")
                path = _inside(member.name)
                if path is None:
                    if member.name.strip("/") and "/" in member.name.strip("/"):
                        tree.problems.append(f"{member.name}: path outside the tree, skipped")
                    continue
                if not member.isreg():
                    if member.issym() or member.islnk():
                        tree.problems.append(f"{path}: link, not followed")
                    continue
                tree.paths.add(path)
                if not wanted(path):
                    continue
                total += min(member.size, limits.max_file_bytes + 1)
                if total > limits.max_total_bytes:
                    raise TarballError(
                        f"files to check exceed {limits.max_total_bytes:,} bytes uncompressed"
                    )
                handle = archive.extractfile(member)
                if handle is not None:
                    tree.files[path] = handle.read(limits.max_file_bytes + 1)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise TarballError(f"cannot read the repository archive: {exc}") from exc
    return tree


def _inside(name: str) -> str | None:
    """The path below GitHub's top-level folder, or None if it is not a safe path in it."""
    if name.startswith("/") or "\\" in name:
        return None
    parts = name.split("/", 1)
    if len(parts) < 2 or not parts[1]:
        return None  # the top-level folder itself, or a file beside it
    path = posixpath.normpath(parts[1])
    if path.startswith("../") or path == ".." or path.startswith("/") or path == ".":
        return None
    return path
