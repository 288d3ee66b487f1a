"""Hostile or broken input never crashes a run and stays bounded in time and memory.

Each case runs the whole pipeline in a child process that reports its own wall time and peak
RSS, beside a good-but-invalid manifest whose finding must still be reported (one bad file must
not stop the others from being checked).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree

MAX_SECONDS = 10.0
MAX_RSS_MB = 400.0
TESTS_DIR = Path(__file__).resolve().parents[1]

# A good file with one schema error: data.k must be a string (line 6).
NEIGHBOUR = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: neighbour\ndata:\n  k: 1\n"
NEIGHBOUR_FINDING = ("neighbour.yaml", 6, "schema/wrong-type")

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    sys.path.insert(0, sys.argv[2])
    from pathlib import Path
    from conftest import check_tree
    start = time.monotonic()
    report = check_tree(Path(sys.argv[1]))
    elapsed = time.monotonic() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "seconds": elapsed,
        "rss_mb": rss_mb,
        "findings": [f.to_dict() for f in report.findings],
    }))
    """
)


def run_isolated(root: Path) -> dict[str, Any]:
    """Check ``root`` in a child process; its wall time and peak RSS come back with the report."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(TESTS_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{root.name}: {result['seconds']:.2f} s, {result['rss_mb']:.0f} MB")
    return result


def findings_of(result: dict[str, Any]) -> set[tuple[str, int | None, str]]:
    return {(f["path"], f["line"], f["rule_id"]) for f in result["findings"]}


def check_bad(tmp_path: Path, name: str, content: bytes) -> dict[str, Any]:
    root = tmp_path / name
    write_tree(root, {"bad.yaml": content, "neighbour.yaml": NEIGHBOUR})
    result = run_isolated(root)
    assert result["seconds"] < MAX_SECONDS, result["seconds"]
    assert result["rss_mb"] < MAX_RSS_MB, result["rss_mb"]
    assert NEIGHBOUR_FINDING in findings_of(result)
    return result


def bad_findings(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in result["findings"] if f["path"] == "bad.yaml"]


def test_binary_file(tmp_path: Path) -> None:
    result = check_bad(tmp_path, "binary", b"apiVersion: v1\nkind: \x00\x01\x02\xff" * 200)
    assert findings_of(result) == {("bad.yaml", 2, "syntax/binary-file"), NEIGHBOUR_FINDING}


def test_non_utf8_text(tmp_path: Path) -> None:
    content = "apiVersion: v1\nkind: ConfigMap\ndata:\n  motto: 'é à'".encode() + b"\xe9\n"
    result = check_bad(tmp_path, "latin1", content)
    assert findings_of(result) == {("bad.yaml", 4, "syntax/encoding"), NEIGHBOUR_FINDING}
    (finding,) = bad_findings(result)
    # Characters, not bytes: "  motto: 'é à'" is 14 characters (16 bytes) long.
    assert finding["column"] == 15
    assert "byte 0xe9 at line 4, column 15" in finding["message"]


def test_50_mb_file_is_refused_by_size(tmp_path: Path) -> None:
    result = check_bad(tmp_path, "huge", b"key: value\n" * (50 * 1024 * 1024 // 11))
    assert findings_of(result) == {("bad.yaml", None, "syntax/file-too-large"), NEIGHBOUR_FINDING}
    assert result["seconds"] < 3.0  # refused without being parsed


def billion_laughs(levels: int = 9, width: int = 9) -> bytes:
    lines = ['l0: &a0 "lol"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"l{level}: &a{level} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


def test_alias_bomb(tmp_path: Path) -> None:
    result = check_bad(tmp_path, "bomb", billion_laughs())
    # Refused while l6 repeats *a5 (66,430 nodes each): the finding points at the anchored
    # node being expanded, &a5 on line 6.
    assert findings_of(result) == {("bad.yaml", 6, "syntax/too-many-nodes"), NEIGHBOUR_FINDING}
    assert bad_findings(result)[0]["column"] == 5
    assert "alias bomb" in bad_findings(result)[0]["message"]


def test_many_small_alias_bombs_in_one_file(tmp_path: Path) -> None:
    # 200 documents each just under the per-document limit: the per-file budget stops them.
    doc = billion_laughs(levels=5, width=11).decode()  # 11**5 = 161,051 nodes
    content = ("---\n" + doc) * 200
    result = check_bad(tmp_path, "bombs", content.encode())
    (finding,) = bad_findings(result)
    assert finding["rule_id"] == "syntax/too-many-nodes"
    assert "File expands to more than" in finding["message"]


def test_10000_nested_levels_flow(tmp_path: Path) -> None:
    result = check_bad(tmp_path, "flow", b"[" * 10_000 + b"]" * 10_000 + b"\n")
    assert findings_of(result) == {("bad.yaml", 1, "syntax/too-deep"), NEIGHBOUR_FINDING}


def test_10000_nested_levels_block(tmp_path: Path) -> None:
    result = check_bad(tmp_path, "block", b"- " * 10_000 + b"x\n")
    assert findings_of(result) == {("bad.yaml", 1, "syntax/too-deep"), NEIGHBOUR_FINDING}


def test_nesting_between_our_bound_and_libyamls(tmp_path: Path) -> None:
    text = "".join(f"{' ' * i}k{i}:\n" for i in range(400)) + " " * 400 + "leaf\n"
    result = check_bad(tmp_path, "deep", text.encode())
    assert findings_of(result) == {("bad.yaml", 258, "syntax/too-deep"), NEIGHBOUR_FINDING}


def test_100000_documents(tmp_path: Path) -> None:
    result = check_bad(tmp_path, "docs", b"a: 1\n---\n" * 100_000)
    # The 10,001st document starts at line 20,000; the first 10,000 were checked.
    assert findings_of(result) == {
        ("bad.yaml", 20_000, "syntax/too-many-documents"),
        NEIGHBOUR_FINDING,
    }


def test_100000_empty_documents(tmp_path: Path) -> None:
    result = check_bad(tmp_path, "empty-docs", b"---\n" * 100_000)
    assert findings_of(result) == {
        ("bad.yaml", 10_001, "syntax/too-many-documents"),
        NEIGHBOUR_FINDING,
    }


def test_many_duplicate_keys(tmp_path: Path) -> None:
    # 2 x 40,000 distinct keys: each duplicate used to rescan the mapping (quadratic).
    keys = "".join(f"k{i}: 1\n" for i in range(40_000))
    result = check_bad(tmp_path, "dups", (keys * 2).encode())
    duplicates = [f for f in bad_findings(result) if f["rule_id"] == "syntax/duplicate-key"]
    assert len(duplicates) == 100  # reported up to a bound, then quiet
    assert duplicates[0]["line"] == 40_001


@pytest.mark.parametrize("control", [b"\x07", b"\x1b"])
def test_control_character(tmp_path: Path, control: bytes) -> None:
    result = check_bad(tmp_path, "control", b"a: 1\nb: x" + control + b"y\n")
    (finding,) = bad_findings(result)
    assert (finding["rule_id"], finding["line"], finding["column"]) == ("syntax/parse-error", 2, 5)
