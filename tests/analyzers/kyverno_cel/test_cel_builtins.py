"""What cel-cpp's extensions give Kyverno policies: strings, sets, lists, math, base64,
optional types, bindings, two-variable comprehensions."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analyzers.kyverno.cel import CelEvaluationError, Environment
from tests.analyzers.kyverno_cel.cel_helpers import evaluate


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'MiXed'.lowerAscii()", "mixed"),
        ("'MiXed'.upperAscii()", "MIXED"),
        ("'a,b,c'.split(',')", ["a", "b", "c"]),
        ("'a,b,c'.split(',', 2)", ["a", "b,c"]),
        ("['a', 'b'].join('-')", "a-b"),
        ("'aaa'.replace('a', 'b', 2)", "bba"),
        ("'  x '.trim()", "x"),
        ("'hello'.substring(1, 3)", "el"),
        ("'hello'.indexOf('l')", 2),
        ("'hello'.lastIndexOf('l')", 3),
        ("'hello'.charAt(1)", "e"),
        ("'%s has %d containers'.format(['web', dyn(2)])", "web has 2 containers"),
        ("strings.quote('a\"b')", '"a\\"b"'),
        ("'abc'.reverse()", "cba"),
        ("sets.contains([1, 2, 3], [1, 2])", True),
        ("sets.equivalent([1, 2], [2, 1, 1])", True),
        ("sets.intersects([1, 2], [3])", False),
        ("[3, 1, 2].sort()", [1, 2, 3]),
        ("[[1], [2, 3]].flatten()", [1, 2, 3]),
        ("[1, 1, 2].distinct()", [1, 2]),
        ("lists.range(3)", [0, 1, 2]),
        ("math.greatest(1, 5, 3)", 5),
        ("math.abs(-2)", 2),
        ("base64.encode(b'hi')", "aGk="),
        ("cel.bind(n, object.spec.containers.size(), n * n)", 4),
        ("object.metadata.labels.exists(k, v, k == 'app' && v == 'web')", True),
        ("object.spec.containers.all(i, c, i < 2 && c.name != '')", True),
        ("object.spec.containers.transformList(i, c, c.name)", ["app", "sidecar"]),
        ("optional.of(1).orValue(2)", 1),
        ("object.?spec.?nodeName.orValue('none')", "none"),
        ("object.spec.containers.exists_one(c, c.name == 'app')", True),
        ("timestamp('2024-01-01T00:00:00Z') < timestamp('2025-01-01T00:00:00Z')", True),
        ("duration('1h') > duration('30m')", True),
    ],
)
def test_builtin_functions(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


def test_two_variable_map_transform_is_not_supported_by_cel_expr_python() -> None:
    # cel-expr-python 0.1.3 compiles transformMap but fails at run time (cel.@mapInsert).
    with pytest.raises(CelEvaluationError):
        evaluate("object.metadata.labels.transformMap(k, v, v + '!')")


def test_strings_and_sets_in_validate_cel() -> None:
    env = Environment.VALIDATE_CEL
    assert evaluate("sets.contains(['a', 'b'], ['a'])", environment=env) is True
    assert evaluate("'A'.lowerAscii()", environment=env) == "a"
