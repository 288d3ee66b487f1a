"""The CEL policies of the public Kyverno library (tests/data/kyverno-library-cel, see its
README) with their own kyverno-test files: every expected row is Kyverno's verdict, or is
reported as not checked with the reason (a policy that needs the cluster, a registry, HTTP
or the admission user), never as a pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.analyzers.kyverno.kyverno_test import discover, run_test_file
from bot.analyzers.kyverno.results import Outcome, render_table

DATA = Path(__file__).resolve().parents[2] / "data"
LIBRARY = discover([DATA / "kyverno-library-cel"])
# What an offline engine may lack; every row not checked must name one of these.
OFFLINE_REASONS = ("cluster", "registry", "HTTP", "RBAC", "request.userInfo", "namespaceObject")


def _id(path: Path) -> str:
    parts = path.relative_to(DATA / "kyverno-library-cel").parts
    return "/".join(p for p in parts[:-1] if p != ".kyverno-test")


def test_the_library_is_there() -> None:
    assert len(LIBRARY) >= 20


@pytest.mark.parametrize("path", LIBRARY, ids=[_id(p) for p in LIBRARY])
def test_library_cel_policy(path: Path) -> None:
    suite = run_test_file(path)
    assert suite.error is None, suite.error
    assert suite.problems == [], suite.problems
    assert suite.rows, "a library test checks something"
    failed = [r for r in suite.rows if r.outcome is Outcome.FAIL]
    assert failed == [], render_table(failed)
    for row in suite.rows:
        if row.outcome is Outcome.SKIP:
            assert row.reason.startswith("not checked: "), row
            assert any(reason in row.reason for reason in OFFLINE_REASONS), row.reason
