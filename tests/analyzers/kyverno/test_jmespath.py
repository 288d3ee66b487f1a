"""Kyverno's JMESPath dialect: unknown keys, and the custom functions (tables ported from
kyverno/kyverno pkg/engine/jmespath/functions_test.go, arithmetic_test.go, time_test.go)."""

import re
from typing import Any

import pytest

from bot.analyzers.kyverno.errors import JMESPathError, NotFoundError
from bot.analyzers.kyverno.jmespath_dialect import (
    CUSTOM_FUNCTIONS,
    compile_expression,
    normalize_image,
    semver_matches,
    to_json,
)

POD: dict[str, Any] = {
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "containers": [
            {"name": "a", "image": "nginx", "resources": {"limits": {"memory": "1Gi"}}},
            {"name": "b", "image": "busybox"},
        ]
    },
}


def search(expr: str, data: Any = None) -> Any:
    return compile_expression(expr).search(POD if data is None else data)


# --- unknown keys ------------------------------------------------------------------------------


def test_unknown_key_in_a_field_path_raises() -> None:
    with pytest.raises(NotFoundError, match='Unknown key "team" in path'):
        search("metadata.labels.team")


def test_unknown_key_propagates_through_index_expressions() -> None:
    with pytest.raises(NotFoundError):
        search("spec.initContainers[0].image")
    with pytest.raises(NotFoundError):
        search("metadata.labels.team.deeper")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("metadata.labels.team || ''", ""),
        ("metadata.labels.team || metadata.name", "web"),
        ("metadata.labels.team && 'x'", None),
        ("!(metadata.labels.team)", True),
        ("metadata.labels.team == null", True),
        ("length(metadata.labels.team || '')", 0),
        ("[metadata.labels.team, metadata.name]", [None, "web"]),
        ("{team: metadata.labels.team}", {"team": None}),
        ("spec.containers[].resources.limits.memory", ["1Gi"]),
        ("spec.containers[].resources.keys(@)[]", ["limits"]),
        ("spec.containers[?resources.limits.memory == '1Gi'].name", ["a"]),
        ("metadata.labels.team | @", None),
        ("spec.missing[].name", None),
        ("spec.missing[]", None),
        ("metadata.labels.*", ["web"]),
    ],
)
def test_unknown_key_is_null_where_go_jmespath_swallows_it(expr: str, expected: Any) -> None:
    try:
        assert search(expr) == expected
    except NotFoundError:  # pragma: no cover - the assertion below explains the failure
        pytest.fail(f"{expr} raised NotFoundError")


def test_subexpression_of_null_stops() -> None:
    # Go returns null without calling the function on a null left side
    assert search("metadata.annotations", {"metadata": {"annotations": None}}) is None
    assert search("metadata.annotations.keys(@)", {"metadata": {"annotations": None}}) is None


def test_right_side_of_and_still_raises() -> None:
    with pytest.raises(NotFoundError):
        search("metadata.name && metadata.labels.team")


def test_function_argument_unknown_key_becomes_null_then_type_error() -> None:
    with pytest.raises(JMESPathError):
        search("keys(metadata.annotations)")


def test_field_on_non_object_is_null_not_an_error() -> None:
    assert search("metadata.name.first") is None
    assert search("spec.containers.name") is None


def test_ordering_compares_numbers_only() -> None:
    assert search("`2` > `1`") is True
    assert search("'b' > 'a'") is None


def test_negative_index_and_equality() -> None:
    assert search("spec.containers[-1].name") == "b"
    assert search("`1` == `1.0`") is True
    assert search("`true` == `1`") is False


def test_syntax_error_is_a_jmespath_error() -> None:
    with pytest.raises(JMESPathError, match="invalid JMESPath expression"):
        compile_expression("metadata.[")


def test_compiled_expressions_are_cached() -> None:
    assert compile_expression("metadata.name") is compile_expression("metadata.name")


# --- functions (ported tables) ---------------------------------------------------------------

FUNCTION_CASES: list[tuple[str, Any]] = [
    ("compare('a', 'a')", 0),
    ("compare('a', 'b')", -1),
    ("compare('b', 'a')", 1),
    ('parse_json(\'{"a": "b"}\').a', "b"),
    ("parse_json('{\"a\": [1, 2, 3, 4]}').a[0]", 1),
    ('parse_json(\'[1, 2, {"a": {"b": {"c": [1, 2]}}}]\')[2].a.b.c[1]', 2),
    ("parse_yaml('a: b')", {"a": "b"}),
    ("parse_yaml('foo: ~')", {"foo": None}),
    ("parse_yaml('at: 2021-01-02T15:04:05Z')", {"at": "2021-01-02T15:04:05Z"}),
    ("parse_yaml('[1, 2]')", [1, 2]),
    ("equal_fold('Go', 'go')", True),
    ("equal_fold('a', 'b')", False),
    ("equal_fold('1', 'b')", False),
    ("replace('Lorem ipsum dolor sit amet', 'ipsum', 'muspi', `-1`)", "Lorem muspi dolor sit amet"),
    (
        "replace('Lorem ipsum ipsum ipsum dolor sit amet', 'ipsum', 'muspi', `-1`)",
        "Lorem muspi muspi muspi dolor sit amet",
    ),
    (
        "replace('Lorem ipsum ipsum ipsum dolor sit amet', 'ipsum', 'muspi', `1`)",
        "Lorem muspi ipsum ipsum dolor sit amet",
    ),
    ("replace_all('Lorem ipsum dolor sit amet', 'ipsum', 'muspi')", "Lorem muspi dolor sit amet"),
    ("to_upper('a#%&123Bc')", "A#%&123BC"),
    ("to_lower('a#%&123Bc')", "a#%&123bc"),
    ("trim('\u00a1\u00a1\u00a1Hello, Gophers!!!', '!\u00a1')", "Hello, Gophers"),
    (
        "trim_prefix('\u00a1\u00a1\u00a1Hello, Gophers!!!', '\u00a1\u00a1\u00a1Hello, ')",
        "Gophers!!!",
    ),
    ("split('Hello, Gophers', ', ')", ["Hello", "Gophers"]),
    ("starts_with('Gophers', 'Go')", True),
    ("ends_with('Amigo', 'go')", True),
    ("regex_match('12.*', 'hgf\\'b1a2r\\'b12g')", True),
    ("regex_match('12.*', abs(`-12.0`))", True),
    ("regex_match('^[0-9]+$', `42`)", True),
    ("pattern_match('prefix-*', 'prefix-foo')", True),
    ("pattern_match('12*', abs(`-12.0`))", True),
    ("regex_replace_all('([Hh]e|G)l', 'Hello world, helworldlo', '${2}G')", "Glo world, Gworldlo"),
    ("regex_replace_all('(\\w+)@(\\w+)', 'me@host', '$2 at $1')", "host at me"),
    ("regex_replace_all_literal('[Hh]el?', 'Hello world, helworldlo', 'G')", "Glo world, Gworldlo"),
    ('label_match(`{"app": "test-app"}`, `{"app": "test-app", "x": "y"}`)', True),
    ('label_match(`{"app": "test-app2"}`, `{"app": "test-app"}`)', False),
    ('label_match(`{"a.io/name": "test-app"}`, `{"app": "test-app"}`)', False),
    ("to_boolean('TRue')", True),
    ("to_boolean('FaLse')", False),
    ("base64_decode('SGVsbG8sIHdvcmxkIQ==')", "Hello, world!"),
    ("base64_encode('Hello, world!')", "SGVsbG8sIHdvcmxkIQ=="),
    ("path_canonicalize('///')", "/"),
    (
        "path_canonicalize('///var/run/containerd/containerd.sock')",
        "/var/run/containerd/containerd.sock",
    ),
    ("path_canonicalize('/var/run///containerd////')", "/var/run/containerd"),
    ("path_canonicalize('/run/../etc')", "/etc"),
    ("path_canonicalize('///etc*')", "/etc*"),
    ("path_canonicalize('/../../')", "/"),
    ("truncate('Lorem ipsum dolor sit amet', `5`)", "Lorem"),
    ("truncate('Lorem ipsum', `-1`)", ""),
    ("truncate('Lorem', `42`)", "Lorem"),
    ("semver_compare('1.2.3', '>1.0.0')", True),
    ("semver_compare('1.2.3', '>1.0.0 <1.2.0')", False),
    ("semver_compare('1.2.3', '<1.0.0 || >=1.2.3')", True),
    ("semver_compare('1.0.0-alpha', '<1.0.0')", True),
    ("lookup(`{\"a\": 1}`, 'a')", 1),
    ("lookup(`{\"a\": 1}`, 'b')", None),
    ('lookup(`["x", "y"]`, `1`)', "y"),
    ('lookup(`["x", "y"]`, `5`)', None),
    (
        "items(`{\"b\": 2, \"a\": 1}`, 'key', 'value')",
        [{"key": "a", "value": 1}, {"key": "b", "value": 2}],
    ),
    ("items(`[\"x\"]`, 'i', 'v')", [{"i": 0, "v": "x"}]),
    ('object_from_lists(`["a", "b"]`, `[1]`)', {"a": 1, "b": None}),
    ("sha256('abc')", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("is_external_url('https://example.com/x')", True),
    ("is_external_url('http://10.0.0.1/')", False),
    ("is_external_url('http://localhost:8080')", False),
    ("round(`3.14159`, `2`)", 3.14),
    ("round(`2.5`, `0`)", 3),
    ('to_string(parse_json(\'[1.2,true,{"a":{"a":"b"}}]\'))', '[1.2,true,{"a":{"a":"b"}}]'),
    ("to_string(`3.0`)", "3"),
    ("image_normalize('nginx')", "docker.io/library/nginx:latest"),
]


@pytest.mark.parametrize(("expr", "expected"), FUNCTION_CASES)
def test_custom_functions(expr: str, expected: Any) -> None:
    assert search(expr, {}) == expected


@pytest.mark.parametrize(
    "expr",
    [
        "to_boolean('FaLsee')",
        "to_boolean(`1`)",
        "base64_decode('%%%')",
        "regex_match('(', 'x')",
        "trim_prefix(`1`, 'x')",
        "lookup(`[1]`, `0.5`)",
        "semver_compare('1.0.0', 'not a range')",
        "x509_decode('not a pem')",
        "time_add('not a time', '1h')",
        "no_such_function('x')",
    ],
)
def test_function_errors(expr: str) -> None:
    with pytest.raises(JMESPathError):
        search(expr, {})


# ported: arithmetic_test.go (Test_Add/Sum/Subtract/Multiply/Divide/Modulo)
ARITHMETIC_CASES: list[tuple[str, Any]] = [
    ("add(`12`, `13`)", 25),
    ("add('12Ki', '13Ki')", "25Ki"),
    ("add('12Ki', '13')", "12301"),
    ("add('12s', '13s')", "25s"),
    ("sum([`12`])", 12),
    ("sum([`12`, `13`, `1`, `4`])", 30),
    ("sum(['12Ki', '13Ki', '1Ki', '4Ki'])", "30Ki"),
    ("sum(['12Ki', '13'])", "12301"),
    ("sum(['12s', '13s', '1s', '4s'])", "30s"),
    ("subtract(`12`, `13`)", -1),
    ("subtract('12Ki', '13Ki')", "-1Ki"),
    ("subtract('12Ki', '13')", "12275"),
    ("subtract('12s', '13s')", "-1s"),
    ("multiply('12Ki', `2`)", "24Ki"),
    ("multiply('12s', `2`)", "24s"),
    ("multiply(`2.5`, `2.5`)", 6.25),
    ("multiply(`2.5`, '12Ki')", "30Ki"),
    ("multiply(`2.5`, '12')", "30"),
    ("multiply(`2.5`, '40s')", "1m40s"),
    ("divide('256M', '256M')", 1),
    ("divide('512M', '256M')", 2),
    ("divide('8', '3')", 8 / 3),
    ("divide('128M', '256M')", 0.5),
    ("divide('12Ki', `3`)", "4Ki"),
    ("divide('12Ki', '2Ki')", 6),
    ("divide('12Ki', '200')", 61.44),
    ("divide('12s', `3`)", "4s"),
    ("divide('12s', '5s')", 2.4),
    ("divide(`14`, `3`)", 4.666666666666667),
    ("modulo('12Ki', '5Ki')", "2Ki"),
    ("modulo('13s', '2s')", "1s"),
    ("modulo(`13`, `5`)", 3),
    ("modulo(`-13`, `5`)", -3),  # Go: the sign of the dividend
    ("sum(spec.containers[].resources.limits.memory)", "1Gi"),
]


@pytest.mark.parametrize(("expr", "expected"), ARITHMETIC_CASES)
def test_arithmetic(expr: str, expected: Any) -> None:
    assert search(expr) == expected


@pytest.mark.parametrize(
    "expr",
    [
        "add('12', '13s')",
        "add(`12`, '13Ki')",
        "add(`12`, '13')",
        "add('12Ki', '13s')",
        "add('12Ki', `13`)",
        "add('12s', `13`)",
        "add('12s', '13')",
        "sum([])",
        "sum(['12', '13s'])",
        "multiply('12Ki', '12Ki')",
        "multiply('12s', '12s')",
        "divide('12Ki', '2s')",
        "divide('12s', '4')",
        "divide(`14`, '5s')",
        "divide(`14`, `0`)",
        "divide('4Ki', `0`)",
        "divide('4Ki', '0Ki')",
        "divide('4s', '0s')",
        "modulo('12', '13s')",
        "modulo('12Ki', `13`)",
        "modulo('13s', `2`)",
        "modulo(`14`, `0`)",
        "modulo('4', '1.5')",
        "modulo('4.5', '1')",
        "modulo(`14`, `1.5`)",
        "modulo(`14.5`, `2`)",
        "add('abc', '1')",
    ],
)
def test_arithmetic_errors(expr: str) -> None:
    with pytest.raises(JMESPathError):
        search(expr, {})


# --- time functions (time_test.go) ------------------------------------------------------------

TIME_CASES: list[tuple[str, Any]] = [
    ("time_since('', '2021-01-02T15:04:05-07:00', '2021-01-10T03:14:05-07:00')", "180h10m0s"),
    (
        "time_since('Mon Jan _2 15:04:05 MST 2006', 'Mon Jan 02 15:04:05 MST 2021', "
        "'Mon Jan 10 03:14:16 MST 2021')",
        "180h10m11s",
    ),
    ("time_to_cron(time_utc('2023-02-02T15:04:05-07:00'))", "4 22 2 2 4"),
    (
        "time_add(time_parse('Mon Jan 02 15:04:05 MST 2006', 'Sat Jan 02 15:04:05 MST 2021'), "
        "'5h30m40s')",
        "2021-01-02T20:34:45Z",
    ),
    (
        "time_parse('Mon Jan 02 15:04:05 MST 2006', 'Sat Jan 02 15:04:05 MST 2021')",
        "2021-01-02T15:04:05Z",
    ),
    ("time_utc('2023-02-02T15:04:05Z')", "2023-02-02T15:04:05Z"),
    ("time_before('2021-01-02T15:04:05-07:00', '2021-01-02T15:04:05-07:00')", False),
    (
        "time_between('2021-01-02T15:04:05-07:00', '2021-01-02T15:04:05-07:00', "
        "'2021-01-02T18:04:05-07:00')",
        False,
    ),
    ("time_parse('2006-01-02', '2024-02-29')", "2024-02-29T00:00:00Z"),
    ("time_parse('02/01/06 3:04PM', '25/12/23 9:30PM')", "2023-12-25T21:30:00Z"),
    ("time_to_cron('2023-02-02T15:04:05Z')", "4 15 2 2 4"),
    ("time_add('2021-01-02T15:04:05-07:00', '3h')", "2021-01-02T18:04:05-07:00"),
    (
        "time_parse('2006-01-02T15:04:05Z07:00', '2021-01-02T15:04:05-07:00')",
        "2021-01-02T15:04:05-07:00",
    ),
    ("time_parse('1702691171', '1702691171')", "2023-12-16T01:46:11Z"),
    (
        "time_parse('Mon Jan 02 2006 15:04:05 -0700', 'Sat Jan 02 2021 15:04:05 -0700')",
        "2021-01-02T15:04:05-07:00",
    ),
    ("time_utc('2021-01-02T18:04:05-07:00')", "2021-01-03T01:04:05Z"),
    ("time_diff('2021-01-02T15:04:05-07:00', '2021-01-10T03:14:05-07:00')", "180h10m0s"),
    ("time_before('2023-02-02T15:04:05Z', '2023-02-03T15:04:05Z')", True),
    ("time_after('2023-02-02T15:04:05Z', '2023-02-03T15:04:05Z')", False),
    ("time_between('2023-02-02T15:04:05Z', '2023-02-01T15:04:05Z', '2023-02-03T15:04:05Z')", True),
    ("time_truncate('2023-02-02T15:04:05Z', '1h')", "2023-02-02T15:00:00Z"),
    ("time_truncate('2023-02-02T15:04:05Z', '24h')", "2023-02-02T00:00:00Z"),
]


@pytest.mark.parametrize(("expr", "expected"), TIME_CASES)
def test_time_functions(expr: str, expected: Any) -> None:
    assert search(expr, {}) == expected


def test_time_now_is_rfc3339() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", search("time_now_utc()", {}))
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", search("time_now()", {})
    )


def test_time_since_with_empty_end_is_a_duration_until_now() -> None:
    since = search("time_since('', '2021-01-02T15:04:05Z', '')", {})
    assert re.fullmatch(r"\d+h\d+m[\d.]+s", since)


def test_random_generates_from_a_simple_pattern() -> None:
    value = search("random('[a-z0-9]{6}')", {})
    assert re.fullmatch(r"[a-z0-9]{6}", value)


def test_semver_ranges() -> None:
    assert semver_matches("1.2.3", ">=1.2.0")
    assert not semver_matches("garbage", ">=0.0.1")  # unparsable version counts as 0.0.0
    assert semver_matches("1.5.0", "1.x") is False
    assert semver_matches("1.5.0", ">=1.x")


def test_every_function_of_the_table_is_registered() -> None:
    table = {
        "regex_match", "regex_replace_all", "regex_replace_all_literal", "split", "replace",
        "replace_all", "trim", "to_upper", "to_lower", "equal_fold", "compare", "truncate",
        "label_match", "base64_decode", "base64_encode", "add", "subtract", "multiply", "divide",
        "modulo", "sum", "round", "parse_json", "parse_yaml", "time_now_utc", "time_now",
        "time_since", "time_add", "time_to_cron", "time_parse", "time_before", "time_after",
        "time_between", "time_diff", "time_truncate", "time_utc", "x509_decode", "random",
        "semver_compare", "path_canonicalize", "lookup", "items", "object_from_lists",
        "pattern_match", "sha256", "to_boolean", "is_external_url",
    }  # fmt: skip
    assert table <= CUSTOM_FUNCTIONS


def test_to_json_uses_go_number_formatting() -> None:
    assert to_json({"b": 1.0, "a": [1.5, None, True, "<x>"]}) == (
        '{"a":[1.5,null,true,"\\u003cx\\u003e"],"b":1}'
    )


def test_normalize_image() -> None:
    assert normalize_image("ghcr.io/org/app:1.0") == "ghcr.io/org/app:1.0"
    assert normalize_image("org/app") == "docker.io/org/app:latest"
    assert normalize_image("localhost:5000/app@sha256:abc") == "localhost:5000/app@sha256:abc"


def test_regex_uses_re2_conventions() -> None:
    assert search("regex_match('^\\d+$', '42')", {}) is True
    assert search("regex_match('^\\d+$', '\u0663')", {}) is False  # \d is ASCII-only in RE2
    assert search("regex_replace_all('(?<major>\\d+)\\.\\d+', '1.2', '${major}')", {}) == "1"


def _self_signed_pem() -> str:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "kyverno.test"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gate"),
        ]
    )
    start = datetime(2024, 1, 1, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(42)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("a.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_x509_decode_exposes_go_certificate_fields() -> None:
    decoded = search("x509_decode(pem)", {"pem": _self_signed_pem()})
    assert decoded["Subject"]["CommonName"] == "kyverno.test"
    assert decoded["Issuer"]["Organization"] == ["gate"]
    assert decoded["NotAfter"] == "2024-12-31T00:00:00Z"
    assert decoded["SerialNumber"] == 42
    assert decoded["IsCA"] is True
    assert decoded["DNSNames"] == ["a.test"]
    assert decoded["PublicKey"]["E"] == 65537
    assert search("x509_decode(pem).NotBefore", {"pem": _self_signed_pem()}) == (
        "2024-01-01T00:00:00Z"
    )
