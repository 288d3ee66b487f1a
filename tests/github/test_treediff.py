"""Changed files and added lines from two trees, as a unified diff would mark them."""

from __future__ import annotations

from bot.core.changeset import FileStatus
from bot.github.treediff import added_lines, diff_files


def test_added_modified_removed_and_unchanged() -> None:
    base = {"a.yaml": b"a: 1\n", "b.yaml": b"x: 1\ny: 2\nz: 3\n", "gone.yaml": b"g: 1\n"}
    head = {"a.yaml": b"a: 1\n", "b.yaml": b"x: 1\ny: 20\nz: 3\nw: 4\n", "new.yaml": b"n: 1\nm: 2"}
    got = {(d.path, d.status, d.added_lines) for d in diff_files(base, head)}
    assert got == {
        ("b.yaml", FileStatus.MODIFIED, frozenset({2, 4})),
        ("gone.yaml", FileStatus.REMOVED, frozenset()),
        ("new.yaml", FileStatus.ADDED, frozenset({1, 2})),
    }


def test_added_lines_match_git_for_moves_and_insertions() -> None:
    old = b"".join(f"line{i}\n".encode() for i in range(10))
    new = old.replace(b"line3\n", b"line3\ninserted\n").replace(b"line8\n", b"changed\n")
    assert added_lines(old, new) == frozenset({5, 10})
    assert added_lines(new, new) == frozenset()
    assert added_lines(b"", b"a\nb\n") == frozenset({1, 2})
