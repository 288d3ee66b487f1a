"""``gitops-gate check`` end to end through the real command line: exit codes, --only, --base
against a real git repository, and usage errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from tests.conftest import WIDGET_CRD, write_tree

GOOD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\ndata:\n  a: b\n"
BAD_TYPE = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  a: 1\n"


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root), *args],
        check=True,
        capture_output=True,
    )


def test_clean_tree_exits_zero(tmp_path: Path) -> None:
    write_tree(tmp_path, {"cm.yaml": GOOD})
    code, output = _invoke("check", str(tmp_path))
    assert code == 0
    assert output.strip() == "PASS: 0 errors, 0 warnings, 0 notices in 1 file, 1 document"


def test_findings_exit_one_and_paths_are_relative(tmp_path: Path) -> None:
    write_tree(tmp_path, {"apps/cm.yaml": BAD_TYPE})
    code, output = _invoke("check", str(tmp_path), "--format", "json")
    assert code == 1
    report = json.loads(output)
    assert [(f["path"], f["line"], f["rule_id"]) for f in report["findings"]] == [
        ("apps/cm.yaml", 6, "schema/wrong-type")
    ]


def test_only_filters_categories(tmp_path: Path) -> None:
    write_tree(tmp_path, {"cm.yaml": BAD_TYPE.replace("a: 1", "a: yes")})
    code, output = _invoke("check", str(tmp_path), "--only", "syntax", "--format", "json")
    assert code == 0  # the truthy warning remains; the schema error is filtered out
    assert [f["rule_id"] for f in json.loads(output)["findings"]] == ["syntax/truthy"]
    code, output = _invoke("check", str(tmp_path), "--only", "bogus")
    assert code == 2
    assert 'unknown category "bogus"' in output


def test_fail_on_warning_and_never(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"cm.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nimmutable: yes\n"},
    )
    assert _invoke("check", str(tmp_path))[0] == 0  # a warning does not fail by default
    assert _invoke("check", str(tmp_path), "--fail-on", "warning")[0] == 1
    write_tree(tmp_path, {"bad.yaml": BAD_TYPE})
    assert _invoke("check", str(tmp_path), "--fail-on", "never")[0] == 0


def test_usage_errors_exit_two(tmp_path: Path) -> None:
    code, output = _invoke("check", str(tmp_path / "missing"))
    assert code == 2 and "no such file or directory" in output
    code, output = _invoke("check", str(tmp_path), "--kubernetes-version", "1.9")
    assert code == 2 and "no bundled schemas" in output
    code, output = _invoke("check", str(tmp_path), "--policy", str(tmp_path / "policies"))
    assert code == 2 and 'policies" does not exist' in output


def test_config_error_exits_two_after_reporting(tmp_path: Path) -> None:
    write_tree(
        tmp_path, {".github/gitops-gate.yml": "schema:\n  strcit: true\n", "cm.yaml": BAD_TYPE}
    )
    code, output = _invoke("check", str(tmp_path))
    assert code == 2
    assert "config/unknown-key" in output
    assert "schema/wrong-type" in output  # the rest of the run still happened


def test_kubernetes_version_selects_schemas(tmp_path: Path) -> None:
    # FlowSchema flowcontrol.apiserver.k8s.io/v1beta3 was removed in Kubernetes 1.32.
    write_tree(
        tmp_path,
        {
            "fs.yaml": "apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\n"
            "metadata:\n  name: f\nspec:\n  priorityLevelConfiguration:\n    name: p\n"
        },
    )
    old = json.loads(
        _invoke("check", str(tmp_path), "--kubernetes-version", "1.29", "--format", "json")[1]
    )
    new = json.loads(
        _invoke("check", str(tmp_path), "--kubernetes-version", "1.33", "--format", "json")[1]
    )
    assert old["findings"] == []
    assert [f["rule_id"] for f in new["findings"]] == ["schema/missing-schema"]


def test_base_checks_only_changed_files_and_added_lines(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_tree(
        repo,
        {
            "old/bad.yaml": BAD_TYPE,
            "app/cm.yaml": GOOD + "# trailing   \n",
            "crds/widget.yaml": WIDGET_CRD,
        },
    )
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "checkout", "-qb", "feature")
    write_tree(
        repo,
        {
            "app/cm.yaml": GOOD + "# trailing   \n" + "  b: c   \n",
            "app/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
            "spec:\n  size: big\n",
        },
    )
    _git(repo, "add", "app/cm.yaml")
    _git(repo, "commit", "-qm", "change")
    code, output = _invoke("check", str(repo), "--base", "main", "--format", "json")
    report = json.loads(output)
    got = {(f["path"], f["line"], f["rule_id"]) for f in report["findings"]}
    # old/bad.yaml is unchanged, so not checked; the old trailing space (line 7) predates the
    # change; the untracked widget is new and validated against the CRD from the tree.
    assert got == {
        ("app/cm.yaml", 8, "syntax/trailing-spaces"),
        ("app/widget.yaml", 6, "schema/wrong-type"),
    }
    assert code == 1


def test_base_uses_the_base_config_and_validates_the_proposed_one(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_tree(repo, {".github/gitops-gate.yml": "schema:\n  missing: error\n", "a.yaml": GOOD})
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    write_tree(
        repo,
        {
            ".github/gitops-gate.yml": "schema:\n  missing: skip\n  bogus: 1\n",
            "w.yaml": "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n",
        },
    )
    code, output = _invoke("check", str(repo), "--base", "main", "--format", "json")
    got = {(f["path"], f["rule_id"], f["severity"]) for f in json.loads(output)["findings"]}
    # The change tries to relax missing-schema to skip: the base config still applies.
    assert ("w.yaml", "schema/missing-schema", "error") in got
    # Its own config mistake is reported now.
    assert (".github/gitops-gate.yml", "config/unknown-key", "error") in got
    assert code == 2


def test_base_with_unknown_ref_is_a_usage_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.yaml": GOOD})
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    code, output = _invoke("check", str(tmp_path), "--base", "no-such-branch")
    assert code == 2
    assert "git merge-base" in output


def test_paths_are_relative_to_the_repository_when_checking_a_subfolder(tmp_path: Path) -> None:
    write_tree(tmp_path, {"clusters/prod/cm.yaml": BAD_TYPE, "other/cm.yaml": BAD_TYPE})
    _git(tmp_path, "init", "-q", "-b", "main")
    code, output = _invoke("check", str(tmp_path / "clusters"), "--format", "json")
    assert code == 1
    # Only the folder asked for is checked, reported with the path GitHub knows it by.
    assert [f["path"] for f in json.loads(output)["findings"]] == ["clusters/prod/cm.yaml"]
