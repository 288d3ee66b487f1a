"""A ChangeSet from the local file system: the paths given on the command line, or the files
changed since a base ref (``--base``)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import DEFAULT_CONFIG_PATH
from bot.core.changeset import ChangedFile, ChangeSet, FileStatus
from bot.core.filekind import CONFIG_PATHS
from bot.core.trusted import normalise
from bot.engines import git
from bot.errors import UsageError

_SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__"}
_STATUS = {"A": FileStatus.ADDED, "M": FileStatus.MODIFIED, "D": FileStatus.REMOVED}


def find_root(paths: Sequence[Path]) -> Path:
    """The checked root, which report paths are relative to and where the config is found.

    The nearest directory, from the first path given (or the current directory) upwards, that
    holds a gitops-gate config or is a git work tree: so ``check clusters/`` inside a repository
    reports ``clusters/prod/app.yaml``, the path GitHub annotations and SARIF need. Without
    either, the single directory given, else the current directory.
    """
    start = (paths[0] if paths else Path.cwd()).resolve()
    if start.is_file():
        start = start.parent
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists() or any((candidate / c).is_file() for c in CONFIG_PATHS):
            return candidate
    if len(paths) == 1 and paths[0].is_dir():
        return paths[0].resolve()
    return Path.cwd().resolve()


def walk(root: Path, paths: Sequence[Path]) -> Iterator[Path]:
    for given in paths or [root]:
        if not given.exists():
            raise UsageError(f"{given}: no such file or directory")
        if given.is_file():
            yield given.resolve()
            continue
        for dirpath, dirnames, filenames in os.walk(given, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for name in sorted(filenames):
                full = Path(dirpath) / name
                if not full.is_symlink():
                    yield full.resolve()


def relative(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def read_config(root: Path, config_file: Path | None) -> tuple[str | None, str | None]:
    """Text and report path of the config: ``--config`` or ``.github/gitops-gate.yml``."""
    if config_file is not None:
        try:
            return config_file.read_text(encoding="utf-8"), relative(root, config_file.resolve())
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read config {config_file}: {exc}") from exc
    for name in CONFIG_PATHS:
        candidate = root / name
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8", errors="replace"), name
    return None, DEFAULT_CONFIG_PATH


def _reader(root: Path):  # type: ignore[no-untyped-def]
    def read(path: str) -> bytes | None:
        try:
            return (root / path).read_bytes()
        except OSError:
            return None

    return read


@dataclass(frozen=True, slots=True)
class DirectoryTree:
    """The working tree, trusted when the user runs ``check`` without ``--base``."""

    root: Path

    def read(self, path: str) -> bytes | None:
        rel = normalise(path)
        if rel == "\0":
            return None
        try:
            return (self.root / rel).read_bytes()
        except OSError:
            return None

    def files_under(self, path: str) -> list[str]:
        rel = normalise(path)
        if rel == "\0":
            return []
        target = self.root / rel
        if target.is_file():
            return [rel]
        if not target.is_dir():
            return []
        return sorted(relative(self.root, p) for p in walk(self.root, [target]))


@dataclass(frozen=True, slots=True)
class GitTree:
    """The merge base's tree, trusted with ``--base`` as the App trusts the base branch."""

    repo: Path
    commit: str
    prefix: str  # the checked root inside the repository ("" or "deploy/")

    def read(self, path: str) -> bytes | None:
        rel = normalise(path)
        return None if rel == "\0" else git.show_bytes(self.repo, self.commit, self.prefix + rel)

    def files_under(self, path: str) -> list[str]:
        rel = normalise(path)
        if rel == "\0":
            return []
        full = (self.prefix + rel).rstrip("/")
        found = git.files_at(self.repo, self.commit, full)
        return sorted(p[len(self.prefix) :] for p in found if p.startswith(self.prefix))


def from_paths(root: Path, paths: Sequence[Path], config_file: Path | None) -> ChangeSet:
    files = []
    for path in walk(root, paths):
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc}") from exc
        files.append(ChangedFile(relative(root, path), content))
    config_text, config_path = read_config(root, config_file)
    return ChangeSet(
        files=tuple(files),
        tree_paths=frozenset(f.path for f in files),
        read_context=_reader(root),
        config_text=config_text,
        config_path=config_path,
        trusted=DirectoryTree(root),
        repository=root.name,
    )


def from_base(root: Path, base: str, config_file: Path | None) -> ChangeSet:
    """Only files changed since the merge base of ``base``; the rest of the tree is context."""
    repo = git.repo_root(root)
    prefix = relative(repo, root.resolve())
    prefix = "" if prefix in (".", "") else prefix + "/"
    files = []
    for change in git.changes_since(repo, base):
        if not change.path.startswith(prefix):
            continue
        rel = change.path[len(prefix) :]
        status = _STATUS.get(change.status, FileStatus.MODIFIED)
        content = None if status is FileStatus.REMOVED else _reader(root)(rel)
        files.append(ChangedFile(rel, content, status, change.added_lines))
    tree = frozenset(relative(root, p) for p in walk(root, [root]))
    if config_file is not None:
        config_text, config_path = read_config(root, config_file)
        proposed = None
    else:
        config_text, config_path, proposed = _base_config(repo, prefix, base, files)
    return ChangeSet(
        files=tuple(files),
        tree_paths=tree,
        read_context=_reader(root),
        config_text=config_text,
        config_path=config_path,
        proposed_config_text=proposed,
        trusted=GitTree(repo, git.merge_base(repo, base), prefix),
        repository=root.name,
    )


def _base_config(
    repo: Path, prefix: str, base: str, files: Sequence[ChangedFile]
) -> tuple[str | None, str, str | None]:
    """The config at the merge base (what the App would use) and, if the change edits it, the
    proposed version."""
    start = git.merge_base(repo, base)
    for name in CONFIG_PATHS:
        text = git.show(repo, start, prefix + name)
        changed = next((f for f in files if f.path == name), None)
        proposed = (
            changed.content.decode("utf-8", "replace")
            if changed is not None and changed.content is not None
            else None
        )
        if text is not None or proposed is not None:
            return text, name, proposed
    return None, DEFAULT_CONFIG_PATH, None
