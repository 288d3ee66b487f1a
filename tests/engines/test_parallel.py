"""Work spread over processes gives exactly the in-process result, in order."""

from __future__ import annotations

import os
from pathlib import Path

from bot.core.pipeline import Options
from bot.engines.parallel import ProcessMapper
from tests.conftest import check_tree, write_tree

PARENT = os.getpid()


def _square(x: int) -> int:
    return x * x


def _dies_in_a_worker(x: int) -> int:
    if os.getpid() != PARENT:
        os._exit(1)  # a worker killed mid-task
    return x + 1


def test_order_is_kept_across_workers() -> None:
    mapper = ProcessMapper(workers=2, min_items=10)
    try:
        assert mapper(_square, list(range(500))) == [x * x for x in range(500)]
        assert mapper._pool is not None  # the pool really ran
    finally:
        mapper.close()


def test_small_inputs_stay_in_process() -> None:
    mapper = ProcessMapper(workers=2, min_items=10)
    assert mapper(_dies_in_a_worker, [1, 2, 3]) == [2, 3, 4]
    assert mapper._pool is None


def test_a_broken_pool_falls_back_to_in_process() -> None:
    mapper = ProcessMapper(workers=2, min_items=10)
    assert mapper(_dies_in_a_worker, list(range(50))) == [x + 1 for x in range(50)]
    assert mapper._pool is None


def test_parallel_run_equals_sequential_run(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    files: dict[str, str | bytes] = {}
    for i in range(240):
        bad = "  replicas: two\n" if i % 7 == 0 else ""
        trailing = "   " if i % 5 == 0 else ""
        files[f"apps/app{i}/deploy.yaml"] = (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
            f"  name: app{i}{trailing}\nspec:\n{bad}  selector: {{}}\n"
            "  template:\n    spec:\n      containers: []\n"
        )
    files["broken.yaml"] = b"\x00\x01binary"
    write_tree(tmp_path, files)
    parallel = check_tree(tmp_path, options=Options())
    monkeypatch.setattr("bot.engines.local._shared_mapper", lambda: ProcessMapper(workers=1))
    sequential = check_tree(tmp_path, options=Options())
    assert parallel.findings == sequential.findings
    assert parallel.documents == sequential.documents == 240
    assert len([f for f in parallel.findings if f.rule_id == "schema/wrong-type"]) == 35
    assert len([f for f in parallel.findings if f.rule_id == "syntax/trailing-spaces"]) == 48
