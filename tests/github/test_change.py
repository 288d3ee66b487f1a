"""``read_change`` against the GitHub emulator: which files a pull request (or a merge group)
changes, their contents at the head SHA from one tarball, the configuration from the BASE SHA,
GitHub's file caps, hostile or corrupt archives, and a constant number of API calls."""

from __future__ import annotations

import asyncio
import gzip
import io
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import aiohttp
import pytest

from bot.core.changeset import ChangedFile, FileStatus
from bot.github.change import ChangeRef, FetchedChange, read_change
from tests.github_emulator.fixtures import EmulatorHandle, app_client, run_emulator
from tests.github_emulator.state import App, Installation, Repository
from tests.github_emulator.tarball import build_tarball, top_folder
from tests.github_emulator.tree import Symlink

REPO = "octo-org/manifests"
CONFIG = ".github/gitops-gate.yml"
BASE_CONFIG = "kubernetes_version: '1.30'\n"
HEAD_CONFIG = "kubernetes_version: '1.31'\nfail_on: warning\n"

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
"""
WEB_BASE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
data:
  a: "1"
  b: "2"
  c: "3"
  d: "4"
  e: "5"
  f: "6"
  g: "7"
"""
WEB_HEAD = WEB_BASE.replace('  b: "2"\n', '  b: "22"\n').replace(
    '  g: "7"\n', '  g: "7"\n  h: "8"\n'
)
NEW = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"
BIG = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n"
MOVED = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: robot\n"


@dataclass
class World:
    em: EmulatorHandle
    app: App
    inst: Installation
    repo: Repository


@pytest.fixture
def world() -> Iterator[World]:
    with run_emulator() as em:
        app = em.state.create_app()
        inst = em.state.install(app, "octo-org")
        repo = em.state.create_repo(REPO, installation=inst)
        yield World(em, app, inst, repo)


def read(world: World, ref: ChangeRef, changed_files: int | None = None) -> FetchedChange:
    """``read_change`` with a client wired as ``bot.github.app._client`` wires it."""

    async def main() -> FetchedChange:
        async with aiohttp.ClientSession() as session:
            client, _ = app_client(session, world.app, world.em.base_url)
            return await read_change(client, ref, changed_files=changed_files)

    return asyncio.run(main())


def pr_ref(world: World, number: int) -> ChangeRef:
    pr = world.repo.pull_requests[number]
    return ChangeRef(world.inst.id, REPO, pr.head_sha, pr.base_sha, number)


def by_path(fetched: FetchedChange) -> dict[str, ChangedFile]:
    return {f.path: f for f in fetched.changeset.files}


def calls(world: World) -> list[tuple[str, str]]:
    """(method, path) of every request the emulator saw, with the SHAs and ids in them."""
    return [(r.method, r.path) for r in world.em.state.requests()]


def contents_calls(world: World) -> list[str]:
    return [r.query for r in world.em.state.requests(path_prefix=f"/repos/{REPO}/contents")]


def tar_gz(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                archive.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


# ---------------------------------------------------------------------------- pull requests


def test_a_pull_request_reads_exactly_its_changed_manifests_at_the_head(world: World) -> None:
    repo = world.repo
    base = repo.commit(
        {
            CONFIG: BASE_CONFIG,
            "README.md": "# manifests\n",
            "apps/web.yaml": WEB_BASE,
            "apps/old.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: old\n",
            "apps/robot.yaml": MOVED,
            "crds/widget.yaml": CRD,
            "docs/latest": Symlink("v2"),  # an unchanged, legitimate link
        },
        branch="main",
    )
    head = repo.commit_changes(
        base,
        {
            "README.md": "# manifests\n\nmore\n",
            "apps/web.yaml": WEB_HEAD,
            "apps/new.yaml": NEW,
            "apps/big.yaml": BIG,
            "apps/old.yaml": None,
            "apps/robot.yaml": None,
            "apps/accounts/robot.yaml": MOVED,
        },
    )
    pr = repo.open_pull_request(base_sha=base, head_sha=head)
    pr.patchless.add("apps/big.yaml")  # GitHub sends no patch (binary or too large a diff)

    fetched = read(world, pr_ref(world, pr.number))
    files = by_path(fetched)
    assert list(files) == [
        "README.md",  # not a manifest, but changed text is scanned for secrets
        "apps/accounts/robot.yaml",
        "apps/big.yaml",
        "apps/new.yaml",
        "apps/old.yaml",
        "apps/web.yaml",
    ]
    assert files["README.md"].content == b"# manifests\n\nmore\n"
    assert files["apps/web.yaml"] == ChangedFile(
        "apps/web.yaml", WEB_HEAD.encode(), FileStatus.MODIFIED, frozenset({7, 13})
    )
    assert files["apps/new.yaml"] == ChangedFile(
        "apps/new.yaml", NEW.encode(), FileStatus.ADDED, frozenset({1, 2, 3, 4})
    )
    assert files["apps/big.yaml"] == ChangedFile(
        "apps/big.yaml", BIG.encode(), FileStatus.ADDED, None
    )  # no patch: every line counts
    assert files["apps/old.yaml"] == ChangedFile(
        "apps/old.yaml", None, FileStatus.REMOVED, frozenset()
    )
    # A rename is checked at its new path with its head content.
    assert files["apps/accounts/robot.yaml"] == ChangedFile(
        "apps/accounts/robot.yaml", MOVED.encode(), FileStatus.MODIFIED, None
    )
    changeset = fetched.changeset
    assert changeset.tree_paths == frozenset(repo.commits[head].tree) - {"docs/latest"}
    assert changeset.read_context("crds/widget.yaml") == CRD.encode()  # unchanged context
    assert changeset.read_context("apps/old.yaml") is None
    assert changeset.config_text == BASE_CONFIG
    assert changeset.config_path == CONFIG
    assert changeset.proposed_config_text is None
    assert fetched.incomplete == []  # an unchanged symlink elsewhere is no problem
    assert contents_calls(world) == [f"ref={base}"]  # the config, from the BASE


def test_a_pull_request_editing_the_config_is_judged_by_the_base_config(world: World) -> None:
    repo = world.repo
    base = repo.commit({CONFIG: BASE_CONFIG, "apps/web.yaml": WEB_BASE}, branch="main")
    head = repo.commit_changes(base, {CONFIG: HEAD_CONFIG, "apps/web.yaml": WEB_HEAD})
    pr = repo.open_pull_request(base_sha=base, head_sha=head)

    fetched = read(world, pr_ref(world, pr.number))
    changeset = fetched.changeset
    assert changeset.config_text == BASE_CONFIG
    assert changeset.config_path == CONFIG
    assert changeset.proposed_config_text == HEAD_CONFIG
    assert by_path(fetched)[CONFIG].content == HEAD_CONFIG.encode()
    assert contents_calls(world) == [f"ref={base}"]


def test_a_pull_request_adding_the_first_config_uses_none_and_validates_it(
    world: World,
) -> None:
    repo = world.repo
    base = repo.commit({"apps/web.yaml": WEB_BASE}, branch="main")
    head = repo.commit_changes(base, {CONFIG: HEAD_CONFIG})
    pr = repo.open_pull_request(base_sha=base, head_sha=head)

    changeset = read(world, pr_ref(world, pr.number)).changeset
    assert changeset.config_text is None
    assert changeset.config_path == CONFIG
    assert changeset.proposed_config_text == HEAD_CONFIG
    assert contents_calls(world) == [f"ref={base}"]  # asked once, at the base: 404


def test_no_config_anywhere_costs_no_contents_call(world: World) -> None:
    repo = world.repo
    base = repo.commit({"apps/web.yaml": WEB_BASE}, branch="main")
    head = repo.commit_changes(base, {"apps/web.yaml": WEB_HEAD})
    pr = repo.open_pull_request(base_sha=base, head_sha=head)

    fetched = read(world, pr_ref(world, pr.number))
    assert fetched.changeset.config_text is None
    assert fetched.changeset.config_path == CONFIG
    assert fetched.changeset.proposed_config_text is None
    assert contents_calls(world) == []
    assert world.em.state.requests(path_prefix=f"/repos/{REPO}/contents") == []


def test_a_merge_group_is_diffed_from_its_base_tree(world: World) -> None:
    repo = world.repo
    base = repo.commit({CONFIG: BASE_CONFIG, "apps/web.yaml": WEB_BASE}, branch="main")
    group_head = repo.commit_changes(base, {"apps/web.yaml": WEB_HEAD, "apps/new.yaml": NEW})
    group = repo.add_merge_group(base_sha=base, head_sha=group_head, pull_numbers=[4, 5])

    ref = ChangeRef(world.inst.id, REPO, group.head_sha, group.base_sha, None)
    fetched = read(world, ref)
    files = by_path(fetched)
    assert list(files) == ["apps/new.yaml", "apps/web.yaml"]
    assert files["apps/web.yaml"].added_lines == frozenset({7, 13})
    assert files["apps/web.yaml"].content == WEB_HEAD.encode()
    assert fetched.changeset.config_text == BASE_CONFIG
    assert fetched.incomplete == []
    paths = [path for _method, path in calls(world)]
    assert f"/repos/{REPO}/tarball/{group_head}" in paths
    assert f"/repos/{REPO}/tarball/{base}" in paths
    assert not any("/pulls/" in path or "/compare/" in path for path in paths)


def test_a_pull_request_at_githubs_3000_file_cap_is_reported_incomplete(world: World) -> None:
    repo = world.repo
    base = repo.commit({"README.md": "hi\n"}, branch="main")
    many = {f"apps/a{i:04d}.yaml": f"n: {i}\n" for i in range(3001)}
    head = repo.commit_changes(base, many)
    pr = repo.open_pull_request(base_sha=base, head_sha=head)

    fetched = read(world, pr_ref(world, pr.number))
    assert len(fetched.changeset.files) == 3000
    assert "apps/a3000.yaml" not in by_path(fetched)
    assert len(fetched.incomplete) == 1
    assert "at most 3,000 files" in fetched.incomplete[0]
    assert "could not be checked" in fetched.incomplete[0]
    pages = world.em.state.requests(path_prefix=f"/repos/{REPO}/pulls/{pr.number}/files")
    assert len(pages) == 30  # 100 per page, up to the cap, then stop


def test_a_big_merge_group_is_checked_whole(world: World) -> None:
    repo = world.repo
    base = repo.commit({"README.md": "hi\n"}, branch="main")
    head = repo.commit_changes(base, {f"apps/a{i:03d}.yaml": "n: 1\n" for i in range(301)})
    ref = ChangeRef(world.inst.id, REPO, head, base, None)

    fetched = read(world, ref)
    assert len(fetched.changeset.files) == 301  # no listing limit when diffing trees
    assert fetched.incomplete == []


def test_a_big_pull_request_is_diffed_from_the_merge_base(world: World) -> None:
    repo = world.repo
    base = repo.commit({CONFIG: BASE_CONFIG, "apps/web.yaml": WEB_BASE}, branch="main")
    many = {f"apps/a{i:04d}.yaml": f"n: {i}\n" for i in range(3001)}
    head = repo.commit_changes(base, {"apps/web.yaml": WEB_HEAD, **many})
    pr = repo.open_pull_request(base_sha=base, head_sha=head)

    # The webhook says how many files the PR has: more than one page of the files API.
    fetched = read(world, pr_ref(world, pr.number), changed_files=3002)
    files = by_path(fetched)
    assert len(files) == 3002 and fetched.incomplete == []  # past GitHub's 3,000-file listing
    assert files["apps/web.yaml"].added_lines == frozenset({7, 13})  # as the patch says
    assert files["apps/a0000.yaml"].added_lines == frozenset({1})
    assert fetched.changeset.config_text == BASE_CONFIG
    assert fetched.api_calls == 4  # compare, head tarball, merge-base tarball, config
    assert not any("/pulls/" in path for _method, path in calls(world))


# ---------------------------------------------------------------------------- hostile archives


def _pr_with_archive(world: World, archive: bytes | None = None) -> tuple[int, str, str]:
    repo = world.repo
    base = repo.commit({CONFIG: BASE_CONFIG, "apps/web.yaml": WEB_BASE}, branch="main")
    head = repo.commit_changes(
        base, {"apps/web.yaml": WEB_HEAD, "apps/evil.yaml": Symlink("/etc/passwd")}
    )
    if archive is not None:
        repo.tarball_overrides[head] = archive
    pr = repo.open_pull_request(base_sha=base, head_sha=head)
    return pr.number, base, head


def test_links_and_paths_outside_the_tree_never_reach_the_changeset(world: World) -> None:
    top = top_folder("octo-org", "manifests", "0" * 7) + "/"
    evil = tarfile.TarInfo(top + "apps/evil.yaml")
    evil.type = tarfile.SYMTYPE
    evil.linkname = "/etc/passwd"
    folder = tarfile.TarInfo(top.rstrip("/"))
    folder.type = tarfile.DIRTYPE
    archive = tar_gz(
        [
            folder,
            (top + CONFIG, BASE_CONFIG.encode()),
            (top + "apps/web.yaml", WEB_HEAD.encode()),
            evil,
            (top + "../escape.yaml", b"kind: Escaped\n"),
            ("../outside.yaml", b"kind: Outside\n"),
            ("other-top/apps/web.yaml", b"kind: Forged\n"),
        ]
    )
    number, _base, _head = _pr_with_archive(world, archive)

    fetched = read(world, pr_ref(world, number))
    changeset = fetched.changeset
    assert [f.path for f in changeset.files] == ["apps/web.yaml"]
    assert changeset.files[0].content == WEB_HEAD.encode()  # not the forged copy
    assert changeset.tree_paths == {CONFIG, "apps/web.yaml"}
    for name in ("apps/evil.yaml", "escape.yaml", "outside.yaml", "../escape.yaml"):
        assert changeset.read_context(name) is None
    text = "\n".join(fetched.incomplete)
    assert "apps/evil.yaml: a symbolic link" in text
    assert "../escape.yaml: path outside the tree" in text
    assert "../outside.yaml: path outside the tree" in text
    assert "other-top/apps/web.yaml: path outside the tree" in text


def test_a_symlinked_manifest_in_githubs_own_archive_is_not_followed(world: World) -> None:
    number, _base, _head = _pr_with_archive(world)  # the emulator builds the archive

    fetched = read(world, pr_ref(world, number))
    assert [f.path for f in fetched.changeset.files] == ["apps/web.yaml"]
    assert "apps/evil.yaml" not in fetched.changeset.tree_paths
    assert fetched.incomplete == [
        "apps/evil.yaml: a symbolic link; what it points to was not checked."
    ]


def _damaged(data: bytes) -> bytes:
    """Flip bytes in the middle of the compressed stream (gzip's checksum catches it)."""
    out = bytearray(data)
    for i in range(len(out) // 2, len(out) // 2 + 40):
        out[i] ^= 0xFF
    return bytes(out)


def _good_archive(head_files: Mapping[str, str]) -> bytes:
    tree = {path: text.encode() for path, text in head_files.items()}
    return build_tarball("octo-org", "manifests", "0" * 40, tree)


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda good: b"<html>upstream error</html>", id="not-an-archive"),
        pytest.param(lambda good: good[: len(good) // 2], id="truncated"),
        pytest.param(_damaged, id="damaged-mid-stream"),
    ],
)
def test_a_corrupt_archive_makes_the_change_incomplete(world: World, corrupt: object) -> None:
    filler = {f"apps/f{i:03d}.yaml": f"n: {i}\n" * 50 for i in range(60)}
    good = _good_archive({CONFIG: BASE_CONFIG, "apps/web.yaml": WEB_HEAD, **filler})
    assert callable(corrupt)
    number, base, _head = _pr_with_archive(world, corrupt(good))

    fetched = read(world, pr_ref(world, number))
    assert fetched.changeset.files == ()
    assert len(fetched.incomplete) == 1
    assert fetched.incomplete[0].startswith("cannot read the repository archive")
    assert "the changed files could not be checked" in fetched.incomplete[0]
    # Without the head tree the config is still read from the base.
    assert fetched.changeset.config_text == BASE_CONFIG
    assert contents_calls(world) == [f"ref={base}"]


# ---------------------------------------------------------------------------- API calls


def _pr_with_files(world: World, count: int) -> int:
    repo = world.repo
    base = repo.commit(
        {CONFIG: BASE_CONFIG, "crds/widget.yaml": CRD},
        branch=f"main-{count}",
    )
    head = repo.commit_changes(base, {f"apps/a{i:02d}.yaml": NEW for i in range(count)})
    return repo.open_pull_request(base_sha=base, head_sha=head, head_ref=f"f-{count}").number


def _shape(world: World) -> list[tuple[str, str]]:
    """The requests, with numbers, SHAs and tokens replaced (what grows with the PR)."""
    out = []
    for method, path in calls(world):
        parts = path.split("/")
        if path.startswith("/_codeload/"):
            path = "/_codeload/{owner}/{repo}/legacy.tar.gz/{sha}"
        elif len(parts) > 5 and parts[4] == "pulls":
            path = "/".join([*parts[:5], "{number}", *parts[6:]])
        elif len(parts) > 5 and parts[4] in ("tarball", "contents"):
            path = "/".join(parts[:5])
        elif path.startswith("/app/installations/"):
            path = "/app/installations/{id}/access_tokens"
        out.append((method, path))
    return out


@pytest.mark.parametrize("count", [5, 50])
def test_the_api_calls_do_not_grow_with_the_number_of_files(world: World, count: int) -> None:
    number = _pr_with_files(world, count)
    fetched = read(world, pr_ref(world, number))

    assert len(fetched.changeset.files) == count
    assert fetched.api_calls == 3  # files, tarball, config
    assert _shape(world) == [
        ("POST", "/app/installations/{id}/access_tokens"),
        ("GET", f"/repos/{REPO}/pulls/{{number}}/files"),
        ("GET", f"/repos/{REPO}/tarball"),
        ("GET", "/_codeload/{owner}/{repo}/legacy.tar.gz/{sha}"),  # GitHub's 302 target
        ("GET", f"/repos/{REPO}/contents"),
    ]
    # Tagged to the PR by number or head SHA: files, tarball, archive (the config is at the base)
    assert len(world.em.state.requests(pull_number=number)) == 3
