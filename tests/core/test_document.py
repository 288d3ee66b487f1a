"""The document loader: data as Kubernetes reads it, and a position for every node."""

from __future__ import annotations

from bot.core.document import Document, LoadedFile, Position, load_file, load_text
from bot.core.filekind import FileKind


def load(text: str) -> LoadedFile:
    return load_text("f.yaml", text, FileKind.MANIFEST)


def only(text: str) -> Document:
    loaded = load(text)
    assert loaded.findings == [], loaded.findings
    (doc,) = loaded.documents
    return doc


DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports:
            - containerPort: 80
"""


def test_position_of_a_nested_field() -> None:
    doc = only(DEPLOY)
    path = ("spec", "template", "spec", "containers", 0, "image")
    assert doc.locate(path) == Position(10, 18, 10)
    port = doc.locate(("spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"))
    assert (port.line, port.column) == (12, 30)


def test_position_of_a_key() -> None:
    doc = only(DEPLOY)
    key = doc.locate(("spec", "template", "spec", "containers", 0, "image"), key=True)
    assert (key.line, key.column) == (10, 11)


def test_position_of_a_missing_field_is_its_deepest_ancestor() -> None:
    doc = only(DEPLOY)
    pos = doc.locate(("spec", "template", "spec", "containers", 0, "resources", "limits"))
    assert (pos.line, pos.column) == (9, 11)  # the container mapping


def test_position_of_a_list_item_field() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: a\n"
        "  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: b\n"
        "    data:\n      key: value\n"
    )
    loaded = load(text)
    assert [d.name for d in loaded.documents] == ["a", "b"]
    second = loaded.documents[1]
    assert second.base_path == ("items", 1)
    assert second.data["data"] == {"key": "value"}
    pos = second.locate(("data", "key"))
    assert (pos.line, pos.column) == (13, 12)
    assert (second.start.line, second.start.column) == (8, 5)


def test_documents_after_a_syntax_error_are_kept() -> None:
    text = (
        "a: 1\n"
        "---\n"
        "b: [1, 2\n"  # never closed
        "c: 3\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: after\n"
    )
    loaded = load(text)
    assert loaded.documents[0].data == {"a": 1}
    (error,) = loaded.findings
    assert (error.rule_id, error.line, error.column) == ("syntax/parse-error", 4, 2)
    after = loaded.documents[1]
    assert after.name == "after"
    pos = after.locate(("metadata", "name"))
    assert (pos.line, pos.column) == (9, 9)


def test_merge_keys() -> None:
    text = (
        "base: &base\n  cpu: 1\n  memory: 1Gi\n"
        "small:\n  <<: *base\n  memory: 128Mi\n"
        "both:\n  <<: [*base, {disk: 5}]\n"
    )
    doc = only(text)
    assert doc.data["small"] == {"cpu": 1, "memory": "128Mi"}
    assert doc.data["both"] == {"cpu": 1, "memory": "1Gi", "disk": 5}
    own = doc.locate(("small", "memory"))
    assert (own.line, own.column) == (6, 11)
    inherited = doc.locate(("small", "cpu"))  # found through "<<": where it is written
    assert (inherited.line, inherited.column) == (2, 8)


def test_yaml_1_1_scalars() -> None:
    text = (
        "yes_: yes\nno_: no\non_: on\noff_: off\nTrue_: True\n"
        "hex: 0x1F\nocto: 0o17\noctal: 0755\nbinary: 0b101\nplain: 42\nunderscore: 1_000\n"
        "date: 2001-12-14\nstamp: 2001-12-14t21:59:43.10-05:00\n"
        "sexagesimal: 1:30\nexp: 1e3\nfloat: 1.5\nquoted: '0x1F'\ntagged: !!str 12\n"
    )
    data = only(text).data
    assert [data[k] for k in ("yes_", "no_", "on_", "off_", "True_")] == [
        True,
        False,
        True,
        False,
        True,
    ]
    assert [data[k] for k in ("hex", "octo", "octal", "binary", "plain", "underscore")] == [
        31,
        15,
        493,
        5,
        42,
        1000,
    ]
    assert data["date"] == "2001-12-14"
    assert data["stamp"] == "2001-12-14t21:59:43.10-05:00"
    assert data["sexagesimal"] == "1:30"  # Kubernetes' YAML library reads text here
    assert data["exp"] == 1000.0 and isinstance(data["exp"], float)
    assert data["float"] == 1.5
    assert data["quoted"] == "0x1F"
    assert data["tagged"] == "12"


def test_non_string_keys_are_stringified() -> None:
    doc = only("5: a\n3.14: b\ntrue: c\nno: d\n0x10: e\n~: f\n")
    assert doc.data == {"5": "a", "3.14": "b", "true": "c", "false": "d", "16": "e", "null": "f"}
    pos = doc.locate(("false",), key=True)
    assert (pos.line, pos.column) == (4, 1)


def test_separator_with_a_trailing_comment() -> None:
    loaded = load("a: 1\n--- # the second one\nb: 2\n---   \nc: 3\n")
    assert loaded.findings == []
    assert [d.data for d in loaded.documents] == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert [d.start.line for d in loaded.documents] == [1, 3, 5]


def test_documents_after_an_end_marker() -> None:
    loaded = load("a: 1\n...\nb: 2\n... # end\n---\nc: 3\n...\n")
    assert loaded.findings == []
    assert [d.data for d in loaded.documents] == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert [d.start.line for d in loaded.documents] == [1, 3, 6]


def test_directive_stays_with_its_document() -> None:
    loaded = load("%YAML 1.1\n---\na: 1\n")
    assert loaded.findings == []
    assert [d.data for d in loaded.documents] == [{"a": 1}]
    assert loaded.documents[0].start.line == 3


def test_utf8_bom() -> None:
    content = b"\xef\xbb\xbfapiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bom\n"
    loaded = load_file("f.yaml", content, FileKind.MANIFEST)
    assert loaded.findings == []
    (doc,) = loaded.documents
    assert doc.api_version == "v1" and doc.name == "bom"
    assert (doc.start.line, doc.start.column) == (1, 1)


def test_utf16_with_bom() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: wide\ndata:\n  k: é\n"
    for encoding in ("utf-16", "utf-16-be"):
        content = text.encode(encoding)
        if encoding == "utf-16-be":
            content = b"\xfe\xff" + content
        loaded = load_file("f.yaml", content, FileKind.MANIFEST)
        assert loaded.findings == []
        (doc,) = loaded.documents
        assert doc.data["data"] == {"k": "é"}
        assert doc.locate(("data", "k")).line == 6


def test_generate_name() -> None:
    doc = only("apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n")
    assert doc.name == "migrate-{{ generateName }}"
    assert doc.resource_ref().name == "migrate-{{ generateName }}"
    named = only("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  generateName: x-\n")
    assert named.name == "p"


def test_duplicate_key_positions_and_last_value_wins() -> None:
    loaded = load("a: 1\nb: 2\na: 3\n")
    (finding,) = loaded.findings
    assert (finding.rule_id, finding.line, finding.column) == ("syntax/duplicate-key", 3, 1)
    assert "first at line 1" in finding.message
    (doc,) = loaded.documents
    assert doc.data == {"a": 3, "b": 2}
    assert doc.locate(("a",)).line == 3  # the value that counts


def test_recursive_alias_is_refused_not_a_crash() -> None:
    loaded = load("a: &a [*a]\n---\nb: 1\n")
    assert [f.rule_id for f in loaded.findings] == ["syntax/too-deep"]
    assert [d.data for d in loaded.documents] == [{"b": 1}]


def test_list_with_bad_items() -> None:
    loaded = load("apiVersion: v1\nkind: List\nitems: 5\n")
    assert loaded.documents == []
    assert [(f.rule_id, f.line) for f in loaded.findings] == [("syntax/invalid-list", 3)]
    assert load("apiVersion: v1\nkind: List\n").documents == []


def test_helm_templates_are_not_parsed() -> None:
    loaded = load_text("t.yaml", "name: {{ .Values.x }\n  - [", FileKind.HELM_TEMPLATE)
    assert loaded.documents == [] and loaded.findings == []
