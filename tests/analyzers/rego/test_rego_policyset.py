"""Which modules and data a run loads (conftest + OPA's loader semantics)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.analyzers.rego.policyset import LocalPaths, PolicyPath, load_policy_set
from bot.core.trusted import MemoryTree
from bot.engines.policy_engine import RegoVersion

TREE = MemoryTree(
    {
        "policy/deny.rego": b"package main\n",
        "policy/deny_test.rego": b"package main\n",
        "policy/lib/k8s.rego": b"package lib.k8s\n",
        "policy/README.md": b"# not a module\n",
        "policy/data.json": b'{"from_policy_dir": true}',
        "policy/exceptions/names.yaml": b"names: [a, b]\n",
        "policy/exceptions/deep/more.yml": b"x: 1\n",
        "legacy/old.rego": b"package old\n",
        "data/top.json": b'{"services": {"ports": [22]}}',
        "data/clash.json": b'{"services": {"ports": [21]}}',
        "data/list.json": b"[1, 2]",
        "data/bad.yaml": b"a: [\n",
        "data/latin1.json": b'{"a": "\xe9"}',
    }
)


def test_modules_are_rego_files_walked_recursively_tests_included() -> None:
    policy_set, errors = load_policy_set(
        TREE, [PolicyPath("policy"), PolicyPath("legacy/old.rego", RegoVersion.V0)]
    )
    assert errors == []
    assert [(m.path, m.rego_version) for m in policy_set.modules] == [
        ("policy/deny.rego", RegoVersion.V1),
        ("policy/deny_test.rego", RegoVersion.V1),
        ("policy/lib/k8s.rego", RegoVersion.V1),
        ("legacy/old.rego", RegoVersion.V0),
    ]


def test_missing_path_and_no_policies_are_errors() -> None:
    _, errors = load_policy_set(TREE, [PolicyPath("nope")])
    assert [e.message for e in errors] == ['policy path "nope" does not exist']
    _, errors = load_policy_set(TREE, [PolicyPath("data")])
    assert [e.message for e in errors] == ["no policies found in [data]"]


def test_data_prefix_follows_folders_below_the_given_one() -> None:
    policy_set, errors = load_policy_set(TREE, [PolicyPath("policy")], ["policy", "data/top.json"])
    assert errors == []
    assert policy_set.data == {
        "from_policy_dir": True,
        "exceptions": {"names": ["a", "b"], "deep": {"x": 1}},
        "services": {"ports": [22]},
    }
    assert policy_set.data_files == (
        "policy/data.json",
        "policy/exceptions/deep/more.yml",
        "policy/exceptions/names.yaml",
        "data/top.json",
    )


def test_data_problems_name_the_file() -> None:
    _, errors = load_policy_set(
        TREE,
        [PolicyPath("policy")],
        ["data/top.json", "data/clash.json", "data/list.json", "data/bad.yaml", "data/latin1.json"],
    )
    messages = [e.message for e in errors]
    assert messages[0] == (
        "data/clash.json: data.services.ports is also defined by data/top.json; "
        "data documents must not overlap"
    )
    assert messages[1].startswith("data/list.json: a data file at the root of data must hold")
    assert messages[2].startswith("data/bad.yaml:2: YAML syntax error")
    assert messages[3] == "data/latin1.json: not valid UTF-8 (line 1)"
    assert [e.path for e in errors] == [
        "data/clash.json",
        "data/list.json",
        "data/bad.yaml",
        "data/latin1.json",
    ]


def test_local_paths_keep_the_spelling_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parents[3])
    tree = LocalPaths()
    found = tree.files_under("tests/data/conftest/examples/kubernetes/policy")
    assert "tests/data/conftest/examples/kubernetes/policy/deny.rego" in found
    assert tree.files_under("tests/data/conftest/examples/kubernetes/service.yaml") == [
        "tests/data/conftest/examples/kubernetes/service.yaml"
    ]
    assert tree.files_under("does/not/exist") == []
