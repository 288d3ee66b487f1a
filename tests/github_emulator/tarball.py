"""Repository archives as GitHub's codeload serves them."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Mapping

from .tree import Entry, Symlink, directories

EPOCH = 1_700_000_000


def top_folder(owner: str, repo: str, sha: str) -> str:
    """GitHub's top-level folder: ``{owner}-{repo}-{7-char sha}``."""
    return f"{owner}-{repo}-{sha[:7]}"


def build_tarball(owner: str, repo: str, sha: str, tree: Mapping[str, Entry]) -> bytes:
    """A .tar.gz of ``tree`` under ``{owner}-{repo}-{shortsha}/``, with GitHub's pax global
    header carrying the commit SHA as ``comment`` (what ``git archive`` writes)."""
    root = top_folder(owner, repo, sha)
    raw = io.BytesIO()
    with tarfile.open(
        fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": sha}
    ) as tar:

        def add_dir(name: str) -> None:
            info = tarfile.TarInfo(name + "/")
            info.type = tarfile.DIRTYPE
            info.mode = 0o775
            info.mtime = EPOCH
            tar.addfile(info)

        add_dir(root)
        for d in sorted(directories(tree)):
            add_dir(f"{root}/{d}")
        for path in sorted(tree):
            entry = tree[path]
            info = tarfile.TarInfo(f"{root}/{path}")
            info.mtime = EPOCH
            if isinstance(entry, Symlink):
                info.type = tarfile.SYMTYPE
                info.linkname = entry.target
                info.mode = 0o777
                tar.addfile(info)
            else:
                info.size = len(entry)
                info.mode = 0o664
                tar.addfile(info, io.BytesIO(entry))
    return gzip.compress(raw.getvalue(), mtime=0)
