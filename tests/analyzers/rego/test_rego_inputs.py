"""conftest's input parsing (parser/yaml/yaml.go and its tests, parser/json)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.analyzers.rego.inputs import (
    InputError,
    expand_arguments,
    parse_input,
    parse_yaml,
    split_documents,
)
from bot.core.limits import Limits


def test_conftest_yaml_parser_cases() -> None:
    # parser/yaml/yaml_test.go, case by case.
    assert parse_yaml("") is None
    assert parse_yaml("sample: true") == {"sample": True}
    multi = "---\nsample: true\n---\nhello: true\n---\nnice: true"
    expected = [{"sample": True}, {"hello": True}, {"nice": True}]
    assert parse_yaml(multi) == expected
    assert parse_yaml(multi.replace("\n", "\r\n")) == expected
    assert parse_yaml("%YAML 1.1\n---\ngroup_id: 1234") == {"group_id": 1234}
    directive_multi = "%YAML 1.1\n---\ngroup_id: 1234\n---\nother_id: 5678\n---\nthird_id: 9012"
    assert parse_yaml(directive_multi) == [
        {"group_id": 1234},
        {"other_id": 5678},
        {"third_id": 9012},
    ]
    with pytest.raises(InputError):
        parse_yaml("---\nvalid: true\n---\ninvalid:\n  - not closed\n[\n---\nalso_valid: true")


def test_only_the_exact_separator_splits() -> None:
    # "--- # comment" is no separator: that chunk's first document alone survives.
    assert parse_yaml("a: 1\n--- # two\nb: 2\n") == {"a": 1}
    assert parse_yaml("a: 1\n---\nb: 2\n--- # three\nc: 3\n") == [{"a": 1}, {"b": 2}]


def test_empty_chunks_are_null_documents() -> None:
    assert parse_yaml("a: 1\n---\n\n---\nb: 2\n") == [{"a": 1}, None, {"b": 2}]
    # Two "---" lines in a row are ONE separator: the split consumed the newline before the
    # second, which then starts the next chunk as a document marker (Go's bytes.Split).
    assert parse_yaml("a: 1\n---\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]
    assert parse_yaml("a: 1\n---\n# only a comment\n---\nb: 2") == [{"a": 1}, None, {"b": 2}]


def test_a_single_list_document_is_checked_element_by_element() -> None:
    assert parse_yaml("- a: 1\n- b: 2\n") == [{"a": 1}, {"b": 2}]
    assert parse_input("x.json", '[{"a": 1}, 2]') == [{"a": 1}, 2]


def test_values_are_json_values() -> None:
    value = parse_yaml(
        "when: 2024-01-02T03:04:05Z\n1: one\ntrue: yes\n~: x\nblob: !!binary aGVs\n  bG8=\n"
        "set: !!set {a, b}\nshort: [y, N, yes, off]\ntime: 1:30\nn: 1_000\nf: 1.5\n"
    )
    assert value == {
        "when": "2024-01-02T03:04:05Z",
        "1": "one",
        "true": True,
        "null": "x",
        "blob": "aGVsbG8=",
        "set": {"a": None, "b": None},
        "short": [True, False, True, False],  # go-yaml v2 reads y/n as booleans
        "time": "1:30",  # base 60 is text to go-yaml
        "false": 1000,  # the key n is a boolean too, then a string
        "f": 1.5,
    }


def test_split_tracks_lines_for_errors() -> None:
    assert split_documents("a: 1\n---\nb: 2\n") == [(0, "a: 1"), (2, "b: 2\n")]
    with pytest.raises(InputError) as caught:
        parse_yaml("a: 1\n---\nb: 2\nc: [\n")
    assert caught.value.line == 5


def test_json_errors_carry_the_line() -> None:
    with pytest.raises(InputError) as caught:
        parse_input("x.json", '{\n  "a": 1,\n  oops\n}')
    assert caught.value.line == 3 and "invalid JSON" in caught.value.message


def test_alias_bombs_are_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    with pytest.raises(InputError, match="alias bomb"):
        parse_yaml(bomb, Limits(max_nodes_per_document=10_000))


def test_unknown_file_types_need_a_parser() -> None:
    with pytest.raises(InputError, match="--parser"):
        parse_input("main.tf", 'resource "x" "y" {}')
    assert parse_input("main.tf", "a: 1", forced="yaml") == {"a": 1}
    assert parse_input("-", "a: 1") == {"a": 1}  # stdin is YAML unless --parser says


def test_arguments_skip_blanks_and_walk_folders(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.yaml", "a.json", "sub/c.yml", "notes.txt"):
        (tmp_path / name).write_text("a: 1\n")
    found = expand_arguments(["", str(tmp_path)])
    assert [Path(p).name for p in found] == ["a.json", "b.yaml", "c.yml"]
    with pytest.raises(InputError, match="no files found"):
        expand_arguments([""])
    with pytest.raises(InputError, match="no such file"):
        expand_arguments([str(tmp_path / "missing.yaml")])
