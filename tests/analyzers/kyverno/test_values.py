"""Scalar values as Kyverno compares them: wildcards, quantities, durations, pattern strings and
Go's number formatting. Tables marked "ported" come from Kyverno's own Go tests."""

from fractions import Fraction

import pytest

from bot.analyzers.kyverno.values import (
    format_duration,
    format_quantity,
    go_format_float_e,
    go_format_float_g,
    go_format_float_json,
    go_parse_float,
    go_sprint,
    match_scalar,
    match_string_pattern,
    parse_duration,
    parse_quantity,
    parse_quantity_with_format,
    wildcard_match,
)

# --- wildcards -------------------------------------------------------------------------------

# ported: kyverno/kyverno ext/wildcard/match_test.go (TestMatch)
WILDCARD_CASES = [
    ("*", "s3:GetObject", True),
    ("", "s3:GetObject", False),
    ("", "", True),
    ("s3:*", "s3:ListMultipartUploadParts", True),
    ("s3:ListBucketMultipartUploads", "s3:ListBucket", False),
    ("s3:ListBucket", "s3:ListBucket", True),
    ("my-bucket/oo*", "my-bucket/oo", True),
    ("my-bucket/In*", "my-bucket/India/Karnataka/", True),
    ("my-bucket/In*", "my-bucket/Karnataka/India/", False),
    ("my-bucket/In*/Ka*/Ban", "my-bucket/India/Karnataka/Ban", True),
    ("my-bucket/In*/Ka*/Ban", "my-bucket/India/Karnataka/Ban/Ban/Ban/Ban/Ban", True),
    ("my-bucket/In*/Ka*/Ban", "my-bucket/India/Karnataka/Area1/Area2/Area3/Ban", True),
    ("my-bucket/In*/Ka*/Ban", "my-bucket/India/Karnataka/Bangalore", False),
    ("my-bucket/In*/Ka*/Ban*", "my-bucket/India/Karnataka/Bangalore", True),
    ("my-bucket/oo*", "my-bucket/odo", False),
    ("my-bucket?/abc*", "mybucket/abc", False),
    ("my-bucket?/abc*", "my-bucket1/abc", True),
    ("my-?-bucket/abc*", "my--bucket/abc", False),
    ("my-?-bucket/abc*", "my-1-bucket/abc", True),
    ("my??bucket/abc*", "mybucket/abc", False),
    ("my??bucket/abc*", "my4abucket/abc", True),
    ("my-bucket?abc*", "my-bucket/abc", True),
    ("my-bucket/abc?efg", "my-bucket/abc/efg", True),
    ("my-bucket/abc????", "my-bucket/abc", False),
    ("my-bucket/abc????", "my-bucket/abcde", False),
    ("my-bucket/abc????", "my-bucket/abcdefg", True),
    ("my-bucket/abc?", "my-bucket/abc", False),
    ("my-bucket/abc?", "my-bucket/abcd", True),
    ("my-bucket/abc?", "my-bucket/abcde", False),
    ("my-bucket/mnop*?", "my-bucket/mnop", False),
    ("my-bucket/mnop*?", "my-bucket/mnopqrst/mnopqr", True),
    ("my-bucket/mnop*?and", "my-bucket/mnopqand", True),
    ("my-bucket/mnop*?and", "my-bucket/mnopand", False),
    ("my-bucket/mnop*?and?", "my-bucket/mnopqanda", True),
    ("my-bucket/mnop*?and", "my-bucket/mnopqanda", False),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), WILDCARD_CASES)
def test_wildcard_matches_like_go_wildcard(pattern: str, text: str, expected: bool) -> None:
    assert wildcard_match(pattern, text) is expected


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("[abc]", "a", False),  # no character classes, unlike fnmatch
        ("[abc]", "[abc]", True),
        ("nginx:[0-9]*", "nginx:[0-9]1", True),
        ("a.b", "axb", False),  # a dot is literal
        ("a\\*", "a\\xyz", True),  # no escaping: the backslash is literal
        ("*.example.com", "api.example.com", True),
        ("Nginx", "nginx", False),  # case-sensitive
    ],
)
def test_wildcard_has_no_classes_no_escapes(pattern: str, text: str, expected: bool) -> None:
    assert wildcard_match(pattern, text) is expected


# --- quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("1Gi", Fraction(2**30)),
        ("2", Fraction(2)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        (".5", Fraction(1, 2)),
        ("5.", Fraction(5)),
        ("-1.5k", Fraction(-1500)),
        ("+2Mi", Fraction(2 * 2**20)),
        ("100n", Fraction(1, 10**7)),
        ("3u", Fraction(3, 10**6)),
        ("1E", Fraction(10**18)),
        ("1Ei", Fraction(2**60)),
        ("0.1", Fraction(1, 10)),
    ],
)
def test_parse_quantity_is_exact(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1GB", "1 Gi", "Gi", "1.2.3", "1i", "--1", "1Gi "])
def test_parse_quantity_rejects_non_quantities(text: str) -> None:
    assert parse_quantity(text) is None


def test_quantity_formats_follow_the_suffix() -> None:
    assert parse_quantity_with_format("1Ki") == (Fraction(1024), "BinarySI")
    assert parse_quantity_with_format("1k") == (Fraction(1000), "DecimalSI")
    assert parse_quantity_with_format("1e3") == (Fraction(1000), "DecimalExponent")


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (Fraction(25 * 1024), "BinarySI", "25Ki"),
        (Fraction(12301), "BinarySI", "12301"),  # not a multiple of 1024
        (Fraction(-1024), "BinarySI", "-1Ki"),
        (Fraction(512), "BinarySI", "512"),  # below 1024 shown as DecimalSI
        (Fraction(1536 * 2**20), "BinarySI", "1536Mi"),
        (Fraction(3, 2), "DecimalSI", "1500m"),
        (Fraction(2000), "DecimalSI", "2k"),
        (Fraction(1500), "DecimalSI", "1500"),
        (Fraction(0), "DecimalSI", "0"),
        (Fraction(1000), "DecimalExponent", "1e3"),
    ],
)
def test_format_quantity_is_canonical(value: Fraction, fmt: str, text: str) -> None:
    assert format_quantity(value, fmt) == text  # type: ignore[arg-type]


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", Fraction(30)),
        ("1h30m", Fraction(5400)),
        ("0", Fraction(0)),
        ("-1.5h", Fraction(-5400)),
        ("300ms", Fraction(3, 10)),
        ("1us", Fraction(1, 10**6)),
        ("1\u00b5s", Fraction(1, 10**6)),
        ("2ns", Fraction(2, 10**9)),
        ("1h1m1s1ms", Fraction(3661001, 1000)),
        (".5s", Fraction(1, 2)),
    ],
)
def test_parse_duration_follows_go(text: str, seconds: Fraction) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "1d", "s", "1.s.", "h1", "1 h", "-", "1x"])
def test_parse_duration_rejects_what_go_rejects(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (Fraction(100), "1m40s"),
        (Fraction(25), "25s"),
        (Fraction(-1), "-1s"),
        (Fraction(0), "0s"),
        (Fraction(3, 2), "1.5s"),
        (Fraction(1, 2), "500ms"),
        (Fraction(5400), "1h30m0s"),
    ],
)
def test_format_duration_like_go_duration_string(seconds: Fraction, text: str) -> None:
    assert format_duration(seconds) == text


# --- Go number formatting ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (80.0, "8E+01"),
        (1.5, "1.5E+00"),
        (0.0, "0E+00"),
        (-0.001, "-1E-03"),
        (123456.0, "1.23456E+05"),
    ],
)
def test_go_format_float_e(value: float, text: str) -> None:
    assert go_format_float_e(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(80.0, "80"), (1.5, "1.5"), (1e21, "1e+21"), (1e20, "100000000000000000000"), (1e-5, "1e-05")],
)
def test_go_sprint_of_floats(value: float, text: str) -> None:
    assert go_format_float_g(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (1.2, "1.2"), (1e21, "1e+21"), (1e-7, "1e-7"), (0.000001, "0.000001")],
)
def test_go_json_float(value: float, text: str) -> None:
    assert go_format_float_json(value) == text


def test_go_sprint_of_containers_and_scalars() -> None:
    assert go_sprint(True) == "true"
    assert go_sprint(None) == "<nil>"
    assert go_sprint(["a", 1]) == "[a 1]"
    assert go_sprint({"b": 1, "a": "x"}) == "map[a:x b:1]"


@pytest.mark.parametrize(
    ("text", "value"), [("8", 8.0), ("8.1", 8.1), ("1e3", 1000.0), (" 8", None), ("1_0", None)]
)
def test_go_parse_float(text: str, value: float | None) -> None:
    assert go_parse_float(text) == value


# --- pattern strings (pkg/engine/pattern/pattern_test.go) -------------------------------------

# ported: TestValidateValueWithStringPattern_Ranges
RANGE_CASES = [
    (0, "0-2", True),
    (1, "0-2", True),
    (2, "0-2", True),
    (3, "0-2", False),
    (0, "10!-20", True),
    (15, "10!-20", False),
    (25, "10!-20", True),
    (0, "0.00001-2.00001", False),
    (1, "0.00001-2.00001", True),
    (2, "0.00001-2.00001", True),
    (2.0001, "0.00001-2.00001", False),
    (0, "0.00001!-2.00001", True),
    (1, "0.00001!-2.00001", False),
    (2, "0.00001!-2.00001", False),
    (2.0001, "0.00001!-2.00001", True),
    (2, "2-2", True),
    (2, "2!-2", False),
    (2.99999, "2.99998-3", True),
    (2.99997, "2.99998!-3", True),
    (3.00001, "2.99998!-3", True),
    ("256Mi", "128Mi-512Mi", True),
    ("1024Mi", "128Mi-512Mi", False),
    ("64Mi", "128Mi-512Mi", False),
    ("256Mi", "128Mi!-512Mi", False),
    ("1024Mi", "128Mi!-512Mi", True),
    ("64Mi", "128Mi!-512Mi", True),
    (-9, "-10-8", True),
    (9, "-10--8", False),
    (9, "-10!--8", True),
    ("9Mi", "-10Mi!--8Mi", True),
    (-9, "-10!--8", False),
    ("-9Mi", "-10Mi-8Mi", True),
    ("9Mi", "-10Mi!-8Mi", True),
    (0, "-10-+8", True),
    ("7Mi", "-10Mi-+8Mi", True),
    (10, "-10!-+8", True),
    ("10Mi", "-10Mi!-+8Mi", True),
    (0, "+0-+1", True),
    ("10Mi", "+0Mi-+1024Mi", True),
    (10, "+0!-+1", True),
    ("1025Mi", "+0Mi!-+1024Mi", True),
]


@pytest.mark.parametrize(("value", "pattern", "expected"), RANGE_CASES)
def test_ranges(value: object, pattern: str, expected: bool) -> None:
    assert match_string_pattern(pattern, value) is expected


# ported: TestValidateNumberWithStr_LessFloatAndInt, TestValidateQuantity_*, TestValidateDuration
# (validateString(value, operand, op) is the pattern "<op><operand>")
OPERATOR_CASES = [
    (7.00001, ">7.000001", True),
    (7.00001, "!7", True),
    (7.0, "7", True),
    (6.000000001, "<6", False),  # the value is rendered with %f first: 6.000000
    ("1024Gi", "", False),
    ("gii", "1024Gi", False),
    ("12s", "12s", True),
    ("12s", "!15s", True),
    ("12s", "<15s", True),
    ("12s", "<=15s", True),
    ("12s", "<=12s", True),
    ("15s", "<12s", False),
    ("15s", "<=12s", False),
    ("15s", ">12s", True),
    ("15s", ">=12s", True),
    ("12s", ">=12s", True),
    ("12s", ">15s", False),
    ("12s", ">=15s", False),
    ("1024Gi", "1024Gi", True),
    ("1024Mi", "1Gi", True),
    ("0.2", "200m", True),
    ("500", "500", True),
    ("2048", "1024", False),
    (1024, "1024", True),
    ("1Gi", ">1000Mi", True),
    ("1G", "<1Gi", True),
    ("500m", ">=0.5", True),
    ("1", ">=500m", True),
    ("0.5", "<=.5", True),
    ("0.2", "<=.5", True),
    ("0.2", "!.5", True),
    ("500m", ">=0.6", False),
    (4, ">= 3", True),  # TestValidateValueWithStringPattern_WithSpace
]


@pytest.mark.parametrize(("value", "pattern", "expected"), OPERATOR_CASES)
def test_operators(value: object, pattern: str, expected: bool) -> None:
    assert match_string_pattern(pattern, value) is expected


# ported: TestValidate and Test_validateStringPatterns
VALIDATE_CASES = [
    (True, True, True),
    (True, False, False),
    (False, True, False),
    (False, False, True),
    ("value", None, False),
    ("", None, True),
    (0.0, None, True),
    (0, None, True),
    (False, None, True),
    ("10.100.11.54", "192.168.88.1 | 10.100.11.*", True),
    ("10", ">1 & <20", True),
    ("10", ">1 & <20 | >31 & <33", True),
    ("32", ">1 & <20 | >31 & <33", True),
    ("21", ">1 & <20 | >31 & <33", False),
    (7.0, 7.000, True),
    (10, 10, True),
    (8, 10, False),
    (None, [], False),
    ({"a": True}, {"a": True}, True),
    ({"a": True}, {"b": False}, True),  # a map pattern only checks the type here
    (None, False, False),
    (8.0, 8, True),
    (8.1, 8, False),
    ("8", 8, True),
    ("8.1", 8, False),
    (False, 8, False),
    (8, 8.0, True),
    (8, 8.1, False),
    ("8", 8.0, True),
    ("8.1", 8.1, True),
    ("abc", 8.1, False),
    (False, 8.0, False),
    ("5.16.5-arch1-1", "!5.10.84-1", True),
    ("5.10.84-1", "5.10.84-1", True),
    ("!5.10.84-1", "!5.10.84-1", True),
    ("5.10.84-1", "!5.10.84-1", False),
    ("5.16.5-arch1-1", "!5.10.84-1 & !5.15.2-1", True),
    ("5.10.84-1", "!5.10.84-1 & !5.15.2-1", False),
    ("5.15.2-1", "!5.10.84-1 & !5.15.2-1", False),
]


@pytest.mark.parametrize(("value", "pattern", "expected"), VALIDATE_CASES)
def test_match_scalar(value: object, pattern: object, expected: bool) -> None:
    assert match_scalar(pattern, value) is expected


# ported: Test_validateNilPattern and Test_validateMapPattern
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        (0.0, True),
        (0, True),
        ("", True),
        (False, True),
        ({}, False),
        ([], False),
        (1.0, False),
        (1, False),
        ("abc", False),
        (True, False),
    ],
)
def test_null_pattern(value: object, expected: bool) -> None:
    assert match_scalar(None, value) is expected


@pytest.mark.parametrize(
    ("value", "expected"), [(None, False), (True, False), (8, False), ("", False), ({}, True)]
)
def test_map_pattern_checks_the_type(value: object, expected: bool) -> None:
    assert match_scalar({"any": "thing"}, value) is expected


# --- absent values (the §2 table): an absent field is compared as null -----------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("<=2Gi", True),  # quantity comparison: absent = "0"
        (">=2", False),
        ("<1h", True),  # duration comparison: absent = "0"
        ("*", False),
        ("?*", False),
        ("", False),
        ("!x", False),
        ("abc", False),
        (None, True),
    ],
)
def test_absent_value(pattern: object, expected: bool) -> None:
    assert match_scalar(pattern, None) is expected


def test_numbers_are_wildcard_matched_in_go_text() -> None:
    # float64 values (what the Kyverno CLI reads) are rendered %E: 80 -> "8E+01"
    assert match_string_pattern("8E*", 80.0)
    assert not match_string_pattern("8*0", 80.0)
    # integers are decimal
    assert match_string_pattern("8*", 80)
    assert match_string_pattern("true", True)
    # ordering never applies to plain strings
    assert not match_string_pattern(">abc", "abd")


def test_duration_wins_over_quantity() -> None:
    # "100m" is 100 minutes as a duration, 0.1 as a quantity; durations are tried first
    assert match_string_pattern(">1h", "100m")
    assert not match_string_pattern(">1", "100m")  # "1" is not a duration: quantity 0.1 < 1
