"""The head commit's archive is hostile input: only regular files inside the tree, bounded."""

from __future__ import annotations

import io
import tarfile

import pytest

from bot.core.filekind import is_candidate
from bot.github.tarball import TarballError, TarLimits, read_tree

TOP = "acme-gitops-0123456/"


def _tar(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        folder = tarfile.TarInfo(TOP.rstrip("/"))
        folder.type = tarfile.DIRTYPE
        archive.addfile(folder)
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                archive.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_files_are_read_below_the_top_level_folder() -> None:
    data = _tar([(TOP + "apps/a.yaml", b"a: 1\n"), (TOP + "README.md", b"# hi\n")])
    tree = read_tree(data, is_candidate)
    assert tree.paths == {"apps/a.yaml", "README.md"}
    assert tree.files == {"apps/a.yaml": b"a: 1\n"}  # only what was wanted is read
    assert tree.problems == []


def test_links_and_paths_outside_the_tree_are_refused() -> None:
    data = _tar(
        [
            _link(TOP + "evil.yaml", "/etc/passwd", tarfile.SYMTYPE),
            _link(TOP + "hard.yaml", "/etc/shadow", tarfile.LNKTYPE),
            (TOP + "../../escape.yaml", b"x: 1\n"),
            ("/abs.yaml", b"x: 1\n"),
            (TOP + "ok.yaml", b"ok: true\n"),
        ]
    )
    tree = read_tree(data, is_candidate)
    assert tree.files == {"ok.yaml": b"ok: true\n"}
    assert tree.paths == {"ok.yaml"}
    assert any("evil.yaml: link" in p for p in tree.problems)
    assert any("hard.yaml: link" in p for p in tree.problems)
    assert any("escape.yaml" in p and "outside" in p for p in tree.problems)


def test_a_big_file_is_read_only_one_byte_past_the_limit() -> None:
    data = _tar([(TOP + "big.yaml", b"x" * 5000)])
    tree = read_tree(data, is_candidate, TarLimits(max_file_bytes=100))
    assert len(tree.files["big.yaml"]) == 101


def test_entry_and_size_limits() -> None:
    many = _tar([(TOP + f"f{i}.yaml", b"a: 1\n") for i in range(20)])
    with pytest.raises(TarballError, match="more than 10 entries"):
        read_tree(many, is_candidate, TarLimits(max_entries=10))
    with pytest.raises(TarballError, match="exceed 50 bytes"):
        read_tree(many, is_candidate, TarLimits(max_total_bytes=50))


def test_a_corrupt_archive_is_an_error() -> None:
    with pytest.raises(TarballError, match="cannot read"):
        read_tree(b"not a tarball at all", is_candidate)
