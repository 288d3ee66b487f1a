"""On GitHub, signing keys (and policies) come from the pull request's BASE commit, never its
head: a pull request that swaps ``keys/cosign.pub`` for its own key and signs its own image
still fails. ``read_change`` against the GitHub emulator, then the App's own analysis
(``AnalysisHandler.analyze``) with the App's engines against a real registry on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.core.pipeline import Report
from bot.github.app import app_engines
from bot.github.change import ChangeRef, FetchedChange, needs_trusted_files, read_change
from bot.github.handler import AnalysisHandler
from bot.github.publish import CheckRuns
from bot.github.store import AsyncStore, Store
from tests.github_emulator.fixtures import EmulatorHandle, app_client, run_emulator
from tests.github_emulator.state import App, Installation, Repository
from tests.images.signing import ecdsa_signer, sign_legacy
from tests.registry.plugin import RegistryHandle

REPO = "octo-org/manifests"
CONFIG = ".github/gitops-gate.yml"
KEY_PATH = "keys/cosign.pub"
KEY_A = ecdsa_signer(seed=21)  # the base branch's key: the one the repository trusts
KEY_B = ecdsa_signer(seed=22)  # the key a pull request brings along
# Pinned, outside every signature rule below: needs no registry.
PAUSE = "registry.k8s.io/pause:3.10@sha256:" + "a" * 64


def pod(name: str, image: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
    - name: app
      image: {image}
"""


def key_file_config(host: str) -> str:
    return f"""\
images:
  signatures:
    - match: ["{host}/**"]
      key_files: [{KEY_PATH}]
      required: true
"""


@dataclass
class World:
    em: EmulatorHandle
    app: App
    inst: Installation
    repo: Repository


@pytest.fixture
def world() -> Iterator[World]:
    with run_emulator() as em:
        app, inst, repo = em.setup_app(REPO)
        yield World(em, app, inst, repo)


@dataclass
class Checked:
    fetched: FetchedChange
    report: Report | None


def check(world: World, number: int, workdir: Path | None = None) -> Checked:
    """``read_change`` with a client wired as ``bot.github.app._client`` wires it, then (given
    a ``workdir``) the App's analysis of the change with the App's engines, as the handler
    runs it for a job."""
    pr = world.repo.pull_requests[number]
    ref = ChangeRef(world.inst.id, REPO, pr.head_sha, pr.base_sha, number)

    async def main() -> Checked:
        async with aiohttp.ClientSession() as session:
            client, _ = app_client(session, world.app, world.em.base_url)
            fetched = await read_change(client, ref)
            if workdir is None:
                return Checked(fetched, None)
            store = Store(workdir / "gitops-gate.db")
            try:
                handler = AnalysisHandler(
                    client, CheckRuns(client), AsyncStore(store), app_engines(workdir)
                )
                report, _cap = await asyncio.to_thread(handler.analyze, fetched.changeset)
            finally:
                store.close()
            return Checked(fetched, report)

    return asyncio.run(main())


def tarball_calls(world: World) -> list[str]:
    return [r.path for r in world.em.state.requests(path_prefix=f"/repos/{REPO}/tarball/")]


def image_findings(report: Report | None) -> list[tuple[str, str, int | None]]:
    assert report is not None
    return sorted(
        (f.rule_id, f.path, f.line) for f in report.findings if f.rule_id.startswith("images/")
    )


# ---------------------------------------------------------------------------- keys


def test_a_pull_request_replacing_the_key_is_judged_with_the_base_key(
    world: World, registry: RegistryHandle, registry_repo: str, tmp_path: Path
) -> None:
    by_a = registry.push_image(registry_repo, "a", seed="trusted-base-a")
    by_b = registry.push_image(registry_repo, "b", seed="trusted-base-b")
    sign_legacy(registry, registry_repo, by_a.digest, KEY_A)
    sign_legacy(registry, registry_repo, by_b.digest, KEY_B)  # the pull request's own key
    repo = world.repo
    base = repo.commit(
        {
            CONFIG: key_file_config(registry.host),
            KEY_PATH: KEY_A.public_pem,
            "apps/pause.yaml": pod("pause", PAUSE),
        },
        branch="main",
    )
    head = repo.commit_changes(
        base,
        {
            KEY_PATH: KEY_B.public_pem,
            "apps/a.yaml": pod("a", registry.reference(registry_repo, by_a.digest)),
            "apps/b.yaml": pod("b", registry.reference(registry_repo, by_b.digest)),
        },
    )
    pr = repo.open_pull_request(base_sha=base, head_sha=head)

    checked = check(world, pr.number, tmp_path)
    changeset = checked.fetched.changeset
    assert changeset.trusted.read(KEY_PATH) == KEY_A.public_pem.encode()
    assert changeset.read_context(KEY_PATH) == KEY_B.public_pem.encode()  # the head has B
    assert checked.fetched.incomplete == []
    # files, head tarball, base config, base tarball (for the key file)
    assert checked.fetched.api_calls == 4
    assert tarball_calls(world) == [
        f"/repos/{REPO}/tarball/{head}",
        f"/repos/{REPO}/tarball/{base}",
    ]

    # The image signed with the base key passes; the one signed with the head's key does not.
    report = checked.report
    assert report is not None and report.conclusion == "failure"
    assert image_findings(report) == [("images/signature-invalid", "apps/b.yaml", 8)]
    (invalid,) = [f for f in report.findings if f.rule_id == "images/signature-invalid"]
    assert "does not verify" in invalid.message


def test_a_key_file_only_the_head_adds_is_not_trusted(
    world: World, registry: RegistryHandle, registry_repo: str, tmp_path: Path
) -> None:
    image = registry.push_image(registry_repo, "v1", seed="trusted-base-new-key")
    sign_legacy(registry, registry_repo, image.digest, KEY_B)
    repo = world.repo
    base = repo.commit({CONFIG: key_file_config(registry.host)}, branch="main")
    head = repo.commit_changes(
        base,
        {
            KEY_PATH: KEY_B.public_pem,
            "apps/b.yaml": pod("b", registry.reference(registry_repo, image.digest)),
        },
    )
    pr = repo.open_pull_request(base_sha=base, head_sha=head)

    checked = check(world, pr.number, tmp_path)
    assert checked.fetched.changeset.trusted.read(KEY_PATH) is None
    report = checked.report
    assert report is not None and report.conclusion == "failure"
    missing = [f for f in report.findings if f.path == CONFIG]
    assert [(f.rule_id, f.line) for f in missing] == [("config/invalid-value", 4)]
    assert f'key file "{KEY_PATH}" was not found in the trusted tree' in missing[0].message
    # The rule has no usable key: the config error alone fails the run (it blocks), so an
    # image signed with the pull request's own key never makes it pass.
    assert report.blocking == (True,) and len(report.findings) == 1


def test_an_unreadable_base_archive_trusts_nothing_and_says_so(world: World) -> None:
    repo = world.repo
    base = repo.commit(
        {CONFIG: key_file_config("127.0.0.1:1"), KEY_PATH: KEY_A.public_pem}, branch="main"
    )
    head = repo.commit_changes(base, {KEY_PATH: KEY_B.public_pem, "apps/p.yaml": pod("p", PAUSE)})
    repo.tarball_overrides[base] = b"not a gzip archive"
    pr = repo.open_pull_request(base_sha=base, head_sha=head)

    fetched = check(world, pr.number).fetched
    # Never a fallback to the head's files.
    assert fetched.changeset.trusted.read(KEY_PATH) is None
    assert fetched.changeset.trusted.files_under("") == []
    assert "the base commit's policies and keys could not be read." in fetched.incomplete


# ---------------------------------------------------------------------------- API calls

NAMES_FILES = {
    "key_files": "images:\n  signatures:\n    - match: ['**']\n      key_files: [k.pub]\n",
    "policies": "policies:\n  rego:\n    paths: [policy]\n",
}
NAMES_NO_FILES = {
    "no images or policies": "kubernetes_version: '1.30'\n",
    "inline keys": (
        "images:\n  signatures:\n    - match: ['**']\n      keys:\n        - |\n"
        + "".join(f"          {line}\n" for line in KEY_A.public_pem.strip().splitlines())
    ),
    "empty key_files": "images:\n  signatures:\n    - match: ['**']\n      key_files: []\n",
    "not YAML": "images: [unclosed\n  key_files: [k.pub]\n",
    "policies not a mapping": "policies: [policy]\n",
}


def _pr_with_base_config(world: World, config: str) -> tuple[int, str, str]:
    repo = world.repo
    base = repo.commit({CONFIG: config, "apps/p.yaml": pod("p", PAUSE)}, branch="main")
    head = repo.commit_changes(base, {"apps/p.yaml": pod("p2", PAUSE)})
    return repo.open_pull_request(base_sha=base, head_sha=head).number, base, head


@pytest.mark.parametrize("config", NAMES_FILES.values(), ids=NAMES_FILES.keys())
def test_the_base_archive_is_fetched_when_the_config_names_repository_files(
    world: World, config: str
) -> None:
    number, base, head = _pr_with_base_config(world, config)
    fetched = check(world, number).fetched
    assert fetched.api_calls == 4  # files, head tarball, config, base tarball
    assert tarball_calls(world) == [
        f"/repos/{REPO}/tarball/{head}",
        f"/repos/{REPO}/tarball/{base}",
    ]
    assert fetched.changeset.trusted.read("apps/p.yaml") == pod("p", PAUSE).encode()


@pytest.mark.parametrize("config", NAMES_NO_FILES.values(), ids=NAMES_NO_FILES.keys())
def test_a_config_naming_no_repository_files_costs_no_extra_call(world: World, config: str) -> None:
    number, _base, head = _pr_with_base_config(world, config)
    fetched = check(world, number).fetched
    assert fetched.changeset.config_text == config
    assert fetched.api_calls == 3  # files, head tarball, config
    assert tarball_calls(world) == [f"/repos/{REPO}/tarball/{head}"]
    assert fetched.changeset.trusted.read("apps/p.yaml") is None


def test_a_key_file_named_only_by_the_head_config_costs_no_extra_call(world: World) -> None:
    repo = world.repo
    base = repo.commit({CONFIG: "kubernetes_version: '1.30'\n"}, branch="main")
    head = repo.commit_changes(base, {CONFIG: NAMES_FILES["key_files"], "k.pub": KEY_B.public_pem})
    pr = repo.open_pull_request(base_sha=base, head_sha=head)

    fetched = check(world, pr.number).fetched
    assert fetched.changeset.proposed_config_text == NAMES_FILES["key_files"]
    assert fetched.api_calls == 3
    assert fetched.changeset.trusted.read("k.pub") is None


# ---------------------------------------------------------------------------- needs_trusted_files


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, False),
        ("", False),
        ("# only a comment\n", False),
        ("- a list\n- at the top\n", False),
        ("just a string\n", False),
        ("images: [unclosed\n", False),
        ("images:\n\tsignatures: []\n", False),  # a tab: not YAML
        ("images: 3\n", False),
        ("images:\n  signatures: {key_files: [k.pub]}\n", False),  # not a list of rules
        ("images:\n  signatures: [3, 'x', null]\n", False),
        ("images:\n  signatures:\n    - key_files: null\n", False),
        ("images:\n  signatures:\n    - key_files: []\n", False),
        ("images:\n  signatures:\n    - key_files: [k.pub]\n", True),
        ("images:\n  signatures:\n    - 3\n    - key_files: k.pub\n", True),  # one good rule
        ("policies: [policy]\n", False),
        ("policies: {rego: {paths: [policy]}}\n", True),
        ("---\nkubernetes_version: '1.30'\n---\npolicies: {}\n", False),  # first document only
    ],
)
def test_needs_trusted_files_reads_malformed_configs_without_failing(
    text: str | None, expected: bool
) -> None:
    assert needs_trusted_files(text) is expected


def test_needs_trusted_files_is_bounded_on_an_alias_bomb() -> None:
    """10^11 nodes once expanded: the bounded parse refuses the document (the config reader
    reports it) instead of walking it, so nothing is fetched for it."""
    lines = ['a0: &a0 ["x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    bomb = "\n".join([*lines, "policies: {rego: *a11}", ""])
    started = time.monotonic()
    assert needs_trusted_files(bomb) is False
    assert time.monotonic() - started < 5
