"""The trusted tree (policies and keys come from the base commit): in memory, the working tree,
and git's merge base; a path never climbs out of the tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot import workspace
from bot.core.trusted import MemoryTree, normalise


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root), *args],
        check=True,
        capture_output=True,
    )


def test_normalise_keeps_paths_inside_the_tree() -> None:
    assert normalise("./policy//deny.rego") == "policy/deny.rego"
    assert normalise("") == ""
    assert normalise("../etc/passwd") == "\0"
    assert normalise("policy/../../x") == "\0"
    assert normalise("/etc/passwd") == "\0"


def test_memory_tree_reads_and_lists() -> None:
    tree = MemoryTree({"policy/a.rego": b"a", "policy/sub/b.rego": b"b", "policyx/c": b"c"})
    assert tree.read("./policy/a.rego") == b"a"
    assert tree.read("../policy/a.rego") is None
    assert tree.files_under("policy") == ["policy/a.rego", "policy/sub/b.rego"]
    assert tree.files_under("policy/a.rego") == ["policy/a.rego"]
    assert tree.files_under("missing") == []


def test_directory_tree_is_the_working_tree(tmp_path: Path) -> None:
    (tmp_path / "policy" / "sub").mkdir(parents=True)
    (tmp_path / "policy" / "a.rego").write_text("a")
    (tmp_path / "policy" / "sub" / "b.rego").write_text("b")
    (tmp_path / "secret").write_text("s")
    tree = workspace.DirectoryTree(tmp_path / "policy")
    assert tree.files_under("") == ["a.rego", "sub/b.rego"]
    assert tree.read("sub/b.rego") == b"b"
    assert tree.read("../secret") is None


def test_git_tree_reads_the_merge_base_not_the_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "deploy" / "policy").mkdir(parents=True)
    (repo / "deploy" / "policy" / "deny.rego").write_text("base version")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "checkout", "-qb", "feature")
    (repo / "deploy" / "policy" / "deny.rego").write_text("head version")
    (repo / "deploy" / "policy" / "new.rego").write_text("added by the change")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "change")
    changeset = workspace.from_base(repo / "deploy", "main", None)
    assert changeset.trusted.read("policy/deny.rego") == b"base version"
    assert changeset.trusted.read("policy/new.rego") is None
    assert changeset.trusted.files_under("policy") == ["policy/deny.rego"]
    assert changeset.trusted.read("../deploy/policy/deny.rego") is None
