"""RegorusEngine: compile errors, versions, rule heads, evaluation, limits and isolation."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.engines.policy_engine import EvalRequest, PolicyModule, RegoVersion, RuleHead
from bot.engines.rego_engine import RegorusEngine

SECRET_NAME = "GITOPS_GATE_TEST_PRIVATE_KEY"
SECRET_VALUE = "-----BEGIN RSA PRIVATE KEY----- do-not-leak"

DEPLOYMENT_POLICY = """\
package main

import data.kubernetes

name := input.metadata.name

deny contains msg if {
    kubernetes.is_deployment
    not input.spec.template.spec.securityContext.runAsNonRoot
    msg := sprintf("Containers must not run as root in Deployment %s", [name])
}

deny contains msg if {
    kubernetes.is_deployment
    some container in input.spec.template.spec.containers
    endswith(container.image, ":latest")
    msg := {"msg": sprintf("%s uses a latest tag", [container.name]), "_loc": {"line": 7}}
}

warn contains msg if {
    kubernetes.is_service
    msg := sprintf("Service %s: prefer ClusterIP", [name])
}

violation contains msg if {
    some label in data.required_labels
    not input.metadata.labels[label]
    msg := sprintf("%s must have label %s", [name, label])
}

exception contains rules if {
    input.metadata.name == "root-allowed"
    rules := ["run_as_root"]
}
"""

KUBERNETES_LIB = """\
package kubernetes

is_deployment if input.kind == "Deployment"

is_service if input.kind == "Service"
"""


def deployment(name: str, image: str = "nginx:1.27", non_root: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "template": {
                "spec": {
                    "securityContext": {"runAsNonRoot": non_root},
                    "containers": [{"name": "web", "image": image}],
                }
            }
        },
    }


@pytest.fixture(scope="module")
def engine() -> Iterator[RegorusEngine]:
    with RegorusEngine(time_limit=5) as shared:
        yield shared


def compile_ok(engine: RegorusEngine, *modules: PolicyModule, data: Any = None) -> list[RuleHead]:
    heads, errors = engine.compile(modules, data or {})
    assert errors == []
    return heads


def values(engine: RegorusEngine, refs: list[str], document: Any, **file: str) -> dict[str, Any]:
    (evaluation,) = engine.evaluate(refs, [EvalRequest(document, file or None)])
    assert evaluation.error is None
    return dict(evaluation.values)


# --- compiling ---------------------------------------------------------------------------------


def test_parse_error_names_file_line_and_column(engine: RegorusEngine) -> None:
    _, errors = engine.compile(
        [
            PolicyModule(
                "policy/deny.rego", "package main\n\ndeny contains msg if {\n  msg := [1,)\n}\n"
            )
        ],
        {},
    )
    (error,) = errors
    assert (error.path, error.line) == ("policy/deny.rego", 4)
    assert error.column is not None and error.message


def test_v0_policy_loaded_as_v1_says_to_set_rego_version(engine: RegorusEngine) -> None:
    _, errors = engine.compile(
        [PolicyModule("old.rego", 'package main\n\ndeny[msg] {\n  msg := "x"\n}\n')], {}
    )
    (error,) = errors
    assert (error.path, error.line, error.column) == ("old.rego", 3, 11)
    assert "`if` keyword is required" in error.message
    assert "set rego_version: v0 for this policy path" in error.message


def test_v1_policy_marked_v0_gets_the_opposite_hint(engine: RegorusEngine) -> None:
    _, errors = engine.compile(
        [
            PolicyModule(
                "new.rego",
                'package main\n\ndeny contains msg if {\n  msg := "x"\n}\n',
                RegoVersion.V0,
            )
        ],
        {},
    )
    assert errors, "v1 syntax must not load silently as v0"
    assert errors[0].path == "new.rego"
    assert "set rego_version: v1" in errors[0].message


def test_a_module_with_an_unsafe_variable_is_dropped_and_the_rest_evaluates(
    engine: RegorusEngine,
) -> None:
    heads, errors = engine.compile(
        [
            PolicyModule("bad.rego", "package bad\n\nallow if x == 1\n"),
            PolicyModule("good.rego", 'package good\n\ndeny contains "d" if input.bad\n'),
        ],
        {},
    )
    (error,) = errors
    assert (error.path, error.line) == ("bad.rego", 3)
    assert "unsafe" in error.message
    assert [h.path for h in heads] == ["good.rego"]
    assert values(engine, ["data.good.deny"], {"bad": True}) == {"data.good.deny": ["d"]}


def test_unknown_functions_are_found_without_running_them(engine: RegorusEngine) -> None:
    policy = """\
package main

import data.lib

deny contains "x" if {
    input.never_set
    strings.render_template("{{.a}}", {"a": 1})
}

deny contains "y" if {
    input.never_set
    lib.f(1)
    lib.missing(1)
    local(2)
}

local(x) := x
"""
    _, errors = engine.compile(
        [
            PolicyModule("p.rego", policy),
            PolicyModule("lib.rego", "package lib\n\nf(x) := x\n"),
        ],
        {},
    )
    assert [(e.path, e.line, e.column) for e in errors] == [("p.rego", 7, 5), ("p.rego", 13, 5)], (
        errors
    )
    assert "strings.render_template" in errors[0].message
    assert "lib.missing" in errors[1].message


def test_long_lines_load(engine: RegorusEngine) -> None:
    allowed = ", ".join(f'"registry-{i}.example.com"' for i in range(200))  # ~6,000 columns
    compile_ok(engine, PolicyModule("p.rego", f"package main\n\nallowed := {{{allowed}}}\n"))
    assert len(values(engine, ["data.main.allowed"], {})["data.main.allowed"]) == 200


def test_data_that_is_not_json_is_an_error(engine: RegorusEngine) -> None:
    _, errors = engine.compile([PolicyModule("p.rego", "package main\n")], {"x": float("nan")})
    assert errors and "data" in errors[0].message


# --- rule heads ----------------------------------------------------------------------------------


def test_rule_heads_one_per_definition_functions_apart(engine: RegorusEngine) -> None:
    policy = """\
package kubernetes.security

default allow := false

deny contains "a" if input.a

deny contains "b" if input.b

warn_latest contains "c" if input.c

allow if input.ok

format(x) := sprintf("%v", [x])

deny_reasons.privileged contains "p" if input.p

test_allow if allow with input as {"ok": true}
"""
    heads = compile_ok(engine, PolicyModule("sec.rego", policy))
    assert [(h.package, h.name, h.line) for h in heads] == [
        ("kubernetes.security", "allow", 3),
        ("kubernetes.security", "deny", 5),
        ("kubernetes.security", "deny", 7),
        ("kubernetes.security", "warn_latest", 9),
        ("kubernetes.security", "allow", 11),
        ("kubernetes.security", "deny_reasons.privileged", 15),
        ("kubernetes.security", "test_allow", 17),
    ]
    assert {h.path for h in heads} == {"sec.rego"}


# --- versions ----------------------------------------------------------------------------------


def test_v0_and_v1_modules_share_a_package_and_refer_to_each_other(
    engine: RegorusEngine,
) -> None:
    v0 = 'package main\n\ndeny[msg] {\n  input.root\n  msg := "root"\n}\n'
    v1 = (
        "package main\n\n"
        'deny contains msg if {\n  input.latest\n  msg := "latest"\n}\n\n'
        "total := count(deny)\n"
    )
    heads = compile_ok(
        engine,
        PolicyModule("v0.rego", v0, RegoVersion.V0),
        PolicyModule("v1.rego", v1, RegoVersion.V1),
    )
    assert [(h.path, h.name, h.line) for h in heads] == [
        ("v0.rego", "deny", 3),
        ("v1.rego", "deny", 3),
        ("v1.rego", "total", 8),
    ]
    got = values(engine, ["data.main.deny", "data.main.total"], {"root": True, "latest": True})
    assert got == {"data.main.deny": ["latest", "root"], "data.main.total": 2}


def test_v1_module_in_a_v0_set_still_rejects_v0_syntax(engine: RegorusEngine) -> None:
    _, errors = engine.compile(
        [
            PolicyModule("a.rego", "package a\n\nx[1] {\n  true\n}\n", RegoVersion.V0),
            PolicyModule("b.rego", "package b\n\ny[1] {\n  true\n}\n", RegoVersion.V1),
        ],
        {},
    )
    assert [(e.path, e.line) for e in errors] == [("b.rego", 3)]
    assert "rego_version: v0" in errors[0].message


# --- evaluating --------------------------------------------------------------------------------


def test_conftest_style_policy_over_many_inputs(engine: RegorusEngine) -> None:
    compile_ok(
        engine,
        PolicyModule("policy/deny.rego", DEPLOYMENT_POLICY),
        PolicyModule("policy/lib/kubernetes.rego", KUBERNETES_LIB),
        data={"required_labels": ["app"]},
    )
    refs = ["data.main.deny", "data.main.warn", "data.main.violation", "data.main.exception"]
    documents: list[Any] = []
    for i in range(300):
        if i % 3 == 0:
            documents.append(deployment(f"web-{i}", image="nginx:latest", non_root=False))
        elif i % 3 == 1:
            documents.append({"kind": "Service", "metadata": {"name": f"svc-{i}"}})
        else:
            documents.append(deployment(f"ok-{i}"))
    evaluations = engine.evaluate(refs, [EvalRequest(d) for d in documents])
    assert len(evaluations) == 300
    assert all(e.error is None for e in evaluations)
    first, service, clean = evaluations[:3]
    assert first.values["data.main.deny"] == [
        "Containers must not run as root in Deployment web-0",
        {"msg": "web uses a latest tag", "_loc": {"line": 7}},
    ]
    assert first.values["data.main.exception"] == []
    assert service.values["data.main.warn"] == ["Service svc-1: prefer ClusterIP"]
    assert service.values["data.main.violation"] == ["svc-1 must have label app"]
    assert clean.values == {
        "data.main.deny": [],
        "data.main.warn": [],
        "data.main.violation": [],
        "data.main.exception": [],
    }
    assert evaluations[299].values["data.main.deny"] == []


def test_undefined_is_absent_and_empty_set_is_present(engine: RegorusEngine) -> None:
    policy = (
        "package main\n\n"
        'deny contains "x" if input.bad\n\n'
        "allow if input.ok\n\n"
        "nothing := 1 if false\n"
    )
    compile_ok(engine, PolicyModule("p.rego", policy))
    refs = ["data.main.deny", "data.main.allow", "data.main.nothing", "data.main.no_such_rule"]
    assert values(engine, refs, {}) == {"data.main.deny": []}
    assert values(engine, refs, {"ok": True, "bad": 1}) == {
        "data.main.deny": ["x"],
        "data.main.allow": True,
    }
    assert values(engine, refs, None) == {"data.main.deny": []}  # conftest's null documents


def test_data_documents_are_visible_to_policies(engine: RegorusEngine) -> None:
    policy = (
        "package main\n\n"
        "deny contains msg if {\n"
        "  not input.registry in data.registries.allowed\n"
        '  msg := sprintf("registry %s is not allowed", [input.registry])\n'
        "}\n"
    )
    compile_ok(
        engine,
        PolicyModule("p.rego", policy),
        data={"registries": {"allowed": ["ghcr.io", "quay.io"]}},
    )
    assert values(engine, ["data.main.deny"], {"registry": "ghcr.io"}) == {"data.main.deny": []}
    assert values(engine, ["data.main.deny"], {"registry": "docker.io"}) == {
        "data.main.deny": ["registry docker.io is not allowed"]
    }


def test_data_conftest_file_is_set_per_request(engine: RegorusEngine) -> None:
    policy = (
        "package main\n\n"
        "deny contains msg if {\n"
        '  endswith(data.conftest.file.name, ".yml")\n'
        '  msg := sprintf("%s/%s: use .yaml", [data.conftest.file.dir, data.conftest.file.name])\n'
        "}\n"
    )
    compile_ok(engine, PolicyModule("p.rego", policy))
    requests = [
        EvalRequest({}, {"name": "a.yml", "dir": "/repo/apps"}),
        EvalRequest({}, {"name": "b.yaml", "dir": "/repo"}),
        EvalRequest({}, None),
        EvalRequest({}, {"name": 'we"ird\\.yml', "dir": "/r"}),
    ]
    got = [e.values.get("data.main.deny") for e in engine.evaluate(["data.main.deny"], requests)]
    assert got == [["/repo/apps/a.yml: use .yaml"], [], [], ['/r/we"ird\\.yml: use .yaml']]


def test_builtin_error_is_that_inputs_error_with_its_location(engine: RegorusEngine) -> None:
    policy = 'package main\n\ndeny contains "too many" if {\n  to_number(input.replicas) > 10\n}\n'
    compile_ok(engine, PolicyModule("limits.rego", policy))
    bad, good = engine.evaluate(
        ["data.main.deny"], [EvalRequest({"replicas": "lots"}), EvalRequest({"replicas": "20"})]
    )
    assert bad.error is not None and bad.values == {}
    assert (bad.error.path, bad.error.line) == ("limits.rego", 4)
    assert good.error is None and good.values == {"data.main.deny": ["too many"]}


def test_print_output_is_gathered_per_input(engine: RegorusEngine) -> None:
    policy = 'package main\n\ndeny contains "x" if {\n  print("kind is", input.kind)\n  false\n}\n'
    compile_ok(engine, PolicyModule("p.rego", policy))
    first, second = engine.evaluate(
        ["data.main.deny"], [EvalRequest({"kind": "Pod"}), EvalRequest({"kind": "Job"})]
    )
    assert first.prints == ("p.rego:4: kind is Pod",)
    assert second.prints == ("p.rego:4: kind is Job",)


def test_big_inputs_and_outputs_stream_without_deadlock(engine: RegorusEngine) -> None:
    policy = "package main\n\necho := input\n"
    compile_ok(engine, PolicyModule("p.rego", policy))
    documents = [{"i": i, "blob": "x" * 200_000} for i in range(40)]
    evaluations = engine.evaluate(["data.main.echo"], [EvalRequest(d) for d in documents])
    assert [e.values["data.main.echo"]["i"] for e in evaluations] == list(range(40))


def test_numbers_keep_their_json_text(engine: RegorusEngine) -> None:
    compile_ok(engine, PolicyModule("p.rego", "package main\n\nn := input.n\n\nbig := n > 2\n"))
    assert values(engine, ["data.main.n", "data.main.big"], {"n": 2**62 + 1}) == {
        "data.main.n": 2**62 + 1,
        "data.main.big": True,
    }


def test_refs_must_be_full_paths(engine: RegorusEngine) -> None:
    compile_ok(engine, PolicyModule("p.rego", "package main\n"))
    with pytest.raises(ValueError, match="not a full rule path"):
        engine.evaluate(["data.main.deny; true"], [EvalRequest({})])


def test_evaluate_before_compile_is_a_programming_error() -> None:
    with RegorusEngine() as fresh, pytest.raises(RuntimeError, match="before compile"):
        fresh.evaluate(["data.main.deny"], [EvalRequest({})])


# --- verify ------------------------------------------------------------------------------------


def test_run_tests_reports_pass_fail_skip_and_error(engine: RegorusEngine) -> None:
    policy = 'package main\n\ndeny contains "root" if input.root\n'
    tests = """\
package main

test_denies_root if {
    deny["root"] with input as {"root": true}
}

test_wrong if {
    count(deny) == 1 with input as {}
}

todo_test_later if false

test_error if {
    to_number("abc") == 1
}
"""
    results, errors = engine.run_tests(
        [PolicyModule("policy/deny.rego", policy), PolicyModule("policy/deny_test.rego", tests)],
        {},
    )
    assert errors == []
    by_name = {r.name: r for r in results}
    assert set(by_name) == {"test_denies_root", "test_wrong", "todo_test_later", "test_error"}
    assert by_name["test_denies_root"].passed and by_name["test_denies_root"].line == 3
    assert not by_name["test_wrong"].passed and by_name["test_wrong"].error is None
    assert by_name["todo_test_later"].skipped and not by_name["todo_test_later"].passed
    error = by_name["test_error"].error
    assert error is not None and (error.path, error.line) == ("policy/deny_test.rego", 14)
    assert {r.path for r in results} == {"policy/deny_test.rego"}


# --- limits and isolation ----------------------------------------------------------------------

LIMITS_POLICY = """\
package main

# about 10^10 steps for n = 100000: far beyond any time limit, in constant memory
slow contains 1 if {
    some i in numbers.range(1, input.n)
    some j in numbers.range(1, input.n)
    i * j < 0
}

# a string of m * 10 bytes, and one ten times as long
huge := concat("", [s | some _ in numbers.range(1, input.m); s := concat("", ["0123456789"] )])
huge_size := count(concat("", [huge | some _ in numbers.range(1, 10)]))

ok := input.v
"""


def test_time_limit_fails_that_input_and_the_next_still_evaluates() -> None:
    with RegorusEngine(time_limit=1.0) as limited:
        compile_ok(limited, PolicyModule("slow.rego", LIMITS_POLICY))
        started = time.monotonic()
        slow, after = limited.evaluate(
            ["data.main.slow", "data.main.ok"], [EvalRequest({"n": 100_000}), EvalRequest({"v": 1})]
        )
        elapsed = time.monotonic() - started
    assert slow.error is not None
    assert slow.error.message == "policy evaluation exceeded the time limit of 1 s"
    assert after.error is None and after.values["data.main.ok"] == 1
    assert elapsed < 4


def test_memory_limit_fails_that_input_and_the_engine_keeps_working() -> None:
    with RegorusEngine(memory_limit=300 << 20) as limited:
        compile_ok(limited, PolicyModule("huge.rego", LIMITS_POLICY))
        refs = ["data.main.huge_size", "data.main.ok"]
        huge, after = limited.evaluate(
            refs, [EvalRequest({"m": 10_000_000}), EvalRequest({"v": 2})]
        )
        assert huge.error is not None
        assert huge.error.message == "policy evaluation exceeded the memory limit of 300 MiB"
        assert after.error is None and after.values["data.main.ok"] == 2
        (again,) = limited.evaluate(refs, [EvalRequest({"m": 1_000, "v": 3})])
    assert again.values == {"data.main.huge_size": 100_000, "data.main.ok": 3}


def test_a_crash_fails_that_input_and_repeated_failures_give_up_quickly() -> None:
    policy = (
        "package main\n\nloop(x) := loop(x)\n\ncrash := loop(1) if input.crash\n\nok := input.v\n"
    )
    with RegorusEngine(max_consecutive_failures=2) as limited:
        compile_ok(limited, PolicyModule("crash.rego", policy))
        requests = [EvalRequest({"crash": True, "v": i}) for i in range(6)]
        first, second, *rest = limited.evaluate(["data.main.crash", "data.main.ok"], requests)
        (recovered,) = limited.evaluate(["data.main.ok"], [EvalRequest({"v": 9})])
    assert first.error is not None and "crashed" in first.error.message
    assert second.error is not None and "crashed" in second.error.message
    assert all(e.error is not None and "2 inputs in a row" in e.error.message for e in rest)
    assert recovered.values == {"data.main.ok": 9}


def test_policies_cannot_read_the_apps_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
    policy = (
        "package main\n\n"
        "runtime := opa.runtime()\n\n"
        f'secret := opa.runtime().env["{SECRET_NAME}"]\n'
    )
    with RegorusEngine() as isolated:
        compile_ok(isolated, PolicyModule("env.rego", policy))
        (evaluation,) = isolated.evaluate(
            ["data.main.runtime", "data.main.secret"], [EvalRequest({})]
        )
        worker = isolated._worker
        assert worker is not None
        environ = Path(f"/proc/{worker.pid}/environ").read_bytes()
    assert "data.main.secret" not in evaluation.values
    assert SECRET_VALUE not in repr(evaluation.values)
    assert SECRET_NAME.encode() not in environ
    assert os.environ[SECRET_NAME] == SECRET_VALUE  # the parent's own environment is untouched


def test_network_builtins_are_compile_errors(engine: RegorusEngine) -> None:
    policy = """\
package main

deny contains "reachable" if {
    input.never
    http.send({"method": "get", "url": "http://127.0.0.1:9"}).status_code == 200
}

addresses := net.lookup_ip_addr("localhost") if input.never
"""
    _, errors = engine.compile([PolicyModule("net.rego", policy)], {})
    assert [(e.path, e.line, e.message) for e in errors] == [
        ("net.rego", 5, "http.send is not available to policies (no network access)"),
        ("net.rego", 8, "net.lookup_ip_addr is not available to policies (no network access)"),
    ]


def test_engine_is_usable_from_other_threads(engine: RegorusEngine) -> None:
    compile_ok(engine, PolicyModule("p.rego", "package main\n\ndouble := input.n * 2\n"))
    results: dict[int, Any] = {}

    def work(n: int) -> None:
        (evaluation,) = engine.evaluate(["data.main.double"], [EvalRequest({"n": n})])
        results[n] = evaluation.values["data.main.double"]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: n * 2 for n in range(8)}


def test_close_ends_the_worker_and_a_later_call_starts_a_new_one() -> None:
    engine = RegorusEngine()
    compile_ok(engine, PolicyModule("p.rego", "package main\n\nv := input.v\n"))
    worker = engine._worker
    assert worker is not None
    engine.close()
    assert not Path(f"/proc/{worker.pid}").exists()  # ended and reaped
    (evaluation,) = engine.evaluate(["data.main.v"], [EvalRequest({"v": 1})])
    assert evaluation.values == {"data.main.v": 1}
    engine.close()


def test_a_rule_that_crashes_for_any_input_is_dropped_at_compile(engine: RegorusEngine) -> None:
    heads, errors = engine.compile(
        [
            PolicyModule("loop.rego", "package loop\n\nf(x) := f(x)\n\nr := f(1)\n"),
            PolicyModule("good.rego", "package good\n\nv := input.v\n"),
        ],
        {},
    )
    (error,) = errors
    assert (error.path, error.line) == ("loop.rego", 5)
    assert error.message.startswith("data.loop.r: the policy engine crashed")
    assert {h.path for h in heads} == {"good.rego"}
    assert values(engine, ["data.good.v", "data.loop.r"], {"v": 1}) == {"data.good.v": 1}


def test_results_larger_than_the_limit_are_an_error() -> None:
    policy = 'package main\n\nbig := concat("", ["x" | some _ in numbers.range(1, input.n)])\n'
    with RegorusEngine(max_result_bytes=1 << 20) as limited:
        compile_ok(limited, PolicyModule("big.rego", policy))
        big, small = limited.evaluate(
            ["data.main.big"], [EvalRequest({"n": 2_000_000}), EvalRequest({"n": 3})]
        )
    assert big.error is not None
    assert big.error.message == "the policy results exceed the size limit of 1 MiB"
    assert small.values == {"data.main.big": "xxx"}
