"""A repository tarball (GitHub's ``/tarball/{sha}``) read safely into memory.

The archive comes from the pull request's head, so it is hostile input: only regular files are
taken (no symlinks, hard links, devices), paths are normalised and anything that would land
outside the tree is refused, and the entry count, each file's size and the total are bounded,
so a crafted archive cannot exhaust memory. A corrupt or truncated archive is an error, never a
smaller tree. Nothing is written to disk and nothing is executed.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import zlib
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
_CHUNK = 1024 * 1024


@dataclass(slots=True)
class Tree:
    """Every path of the tree, and the bytes of the files the caller wanted."""

    paths: set[str] = field(default_factory=set)
    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # entries refused, and why
    # Symbolic and hard links inside the tree (refused, listed in ``problems`` too): legitimate
    # in a repository, so they matter only where the caller wanted the file itself.
    links: set[str] = field(default_factory=set)
    # Entries no archive GitHub builds contains (outside the top-level folder, twice the same
    # path): a sign the archive is not what it claims to be.
    suspicious: list[str] = field(default_factory=list)


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
    top: str | None = None
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for count, member in enumerate(archive, start=1):
                if count > limits.max_entries:
                    raise TarballError(f"archive has more than {limits.max_entries:,} entries")
                if top is None:
                    top = _top(member.name)
                path = _inside(member.name, top)
                if path is None:
                    if member.name.strip("/") != top:
                        _refuse(tree, f"{member.name}: path outside the tree, skipped")
                    continue
                if member.isdir():
                    continue
                if path in tree.paths or path in tree.links:
                    _refuse(tree, f"{path}: more than one entry for this path, skipped")
                    tree.files.pop(path, None)
                    continue
                if not member.isreg():
                    if member.issym() or member.islnk():
                        tree.links.add(path)
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
            _check_end(archive)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise TarballError(f"cannot read the repository archive: {exc}") from exc
    return tree


def _top(name: str) -> str | None:
    """GitHub's top-level folder (``owner-repo-sha``), from the archive's first entry."""
    first = name.split("/", 1)[0]
    return None if first in ("", ".", "..") or "\\" in first else first


def _inside(name: str, top: str | None) -> str | None:
    """The path below GitHub's top-level folder, or None if it is not a safe path in it."""
    if top is None or name.startswith("/") or "\\" in name:
        return None
    parts = name.split("/", 1)
    if parts[0] != top or len(parts) < 2 or not parts[1].strip("/"):
        return None  # the top-level folder itself, or something beside it
    path = posixpath.normpath(parts[1])
    if path.startswith("../") or path == ".." or path.startswith("/") or path == ".":
        return None
    return path


def _refuse(tree: Tree, problem: str) -> None:
    tree.problems.append(problem)
    tree.suspicious.append(problem)


def _check_end(archive: tarfile.TarFile) -> None:
    """``tarfile`` ends its listing quietly at the first block that is not a valid header, so a
    corrupt or truncated archive would look like a smaller tree. GitHub's archives end with
    zero blocks: everything after the last member must be zeros (reading to the end also makes
    gzip verify its checksum)."""
    fileobj = archive.fileobj
    fileobj.seek(archive.offset)
    end = 0
    while chunk := fileobj.read(_CHUNK):
        if chunk.strip(b"\0"):
            raise TarballError(
                "cannot read the repository archive: a damaged entry at byte "
                f"{archive.offset + end:,} (the archive is corrupt)"
            )
        end += len(chunk)
    if end < tarfile.BLOCKSIZE:
        raise TarballError("cannot read the repository archive: it is truncated")
