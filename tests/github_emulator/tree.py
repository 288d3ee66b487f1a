"""Git-like trees: one commit's files as ``path -> bytes`` (or a :class:`Symlink`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Symlink:
    """A symbolic link in a tree (mode 120000); ``target`` is the link text."""

    target: str


Entry = bytes | Symlink
Tree = dict[str, Entry]


def normalize(files: Mapping[str, bytes | str | Symlink]) -> Tree:
    """Accept ``str`` for convenience (UTF-8); reject absolute or ``..`` paths as git does."""
    tree: Tree = {}
    for path, content in files.items():
        parts = path.split("/")
        if not path or path.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
            raise ValueError(f"invalid path in tree: {path!r}")
        tree[path] = content.encode("utf-8") if isinstance(content, str) else content
    return tree


def entry_bytes(entry: Entry) -> bytes:
    return entry.target.encode("utf-8") if isinstance(entry, Symlink) else entry


def blob_sha(entry: Entry) -> str:
    """The git blob SHA-1 of a file's content (what GitHub reports as ``sha``)."""
    data = entry_bytes(entry)
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def tree_sha(tree: Mapping[str, Entry]) -> str:
    h = hashlib.sha1(b"tree\0")
    for path in sorted(tree):
        h.update(path.encode() + b"\0" + blob_sha(tree[path]).encode())
    return h.hexdigest()


def directories(tree: Mapping[str, Entry]) -> set[str]:
    out: set[str] = set()
    for path in tree:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            out.add("/".join(parts[:i]))
    return out
