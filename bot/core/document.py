"""YAML and JSON documents with a position for every node.

Parsing uses libyaml's composer (``yaml.compose_all`` with ``CSafeLoader``), which keeps the
node tree with line marks; we build the plain Python data ourselves from that tree so we can
detect duplicate keys, bound alias expansion and depth, and later point a finding at the exact
line and column of the offending field. Positions are resolved lazily from the node tree: most
documents never need one.

The stream is split on ``---`` lines first (as kubeconform does) so that a syntax error in one
document does not lose the documents after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.core.filekind import FileKind
from bot.core.finding import Category, Finding, ResourceRef, Severity, Source
from bot.core.limits import DEFAULT_LIMITS, Limits

try:  # libyaml is the fast path; the pure-Python loader is a correct fallback.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

PathElem = str | int
FieldPath = tuple[PathElem, ...]

_SEPARATOR = re.compile(r"^---(?=[ \t\r]|$)", re.MULTILINE)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_LOADER_SOURCE = Source(engine="yaml")


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based
    end_line: int


@dataclass(slots=True)
class Document:
    """One YAML document (or one item of an expanded ``List``) of a file."""

    path: str
    index: int
    data: Any
    file_kind: FileKind
    root: Node | None = None
    line_offset: int = 0  # lines before the chunk this document was parsed from
    base_path: FieldPath = ()  # ("items", i) for an item of an expanded List

    @property
    def api_version(self) -> str | None:
        value = self.data.get("apiVersion") if isinstance(self.data, dict) else None
        return value if isinstance(value, str) else None

    @property
    def kind(self) -> str | None:
        value = self.data.get("kind") if isinstance(self.data, dict) else None
        return value if isinstance(value, str) else None

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.data.get("metadata") if isinstance(self.data, dict) else None
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str | None:
        name = self.metadata.get("name")
        if isinstance(name, str):
            return name
        generate = self.metadata.get("generateName")
        return f"{generate}{{{{ generateName }}}}" if isinstance(generate, str) else None

    @property
    def namespace(self) -> str | None:
        value = self.metadata.get("namespace")
        return value if isinstance(value, str) else None

    @property
    def looks_like_resource(self) -> bool:
        """A mapping that names an ``apiVersion`` or a ``kind`` is meant to be a resource."""
        return isinstance(self.data, dict) and ("apiVersion" in self.data or "kind" in self.data)

    @property
    def is_resource(self) -> bool:
        return self.api_version is not None and self.kind is not None

    def resource_ref(self) -> ResourceRef:
        return ResourceRef(self.api_version, self.kind, self.namespace, self.name)

    @property
    def start(self) -> Position:
        return self.locate(())

    def locate(self, path: Sequence[PathElem], *, key: bool = False) -> Position:
        """Where the node at ``path`` starts; the deepest existing ancestor when it is absent.

        ``key=True`` points at the mapping key of the last element instead of its value
        (the right place for "unknown field" and "duplicate key").
        """
        node = self.root
        if node is None:
            return Position(1 + self.line_offset, 1, 1 + self.line_offset)
        target: Node = node
        full = (*self.base_path, *path)
        for depth, elem in enumerate(full):
            child = _child(target, elem, want_key=key and depth == len(full) - 1)
            if child is None:
                break
            target = child
        return Position(
            target.start_mark.line + 1 + self.line_offset,
            target.start_mark.column + 1,
            target.end_mark.line + 1 + self.line_offset,
        )


def _child(node: Node, elem: PathElem, *, want_key: bool) -> Node | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == str(elem):
                return key_node if want_key else value_node
        return None
    if isinstance(node, SequenceNode) and isinstance(elem, int) and 0 <= elem < len(node.value):
        child: Node = node.value[elem]
        return child
    return None


@dataclass(slots=True)
class LoadedFile:
    path: str
    kind: FileKind
    text: str | None
    documents: list[Document] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def format_path(path: Sequence[PathElem]) -> str:
    """``spec.template.spec.containers[0].image`` for a field path."""
    out = ""
    for elem in path:
        if isinstance(elem, int):
            out += f"[{elem}]"
        else:
            out += ("." if out else "") + elem
    return out or "(document root)"


def decode(path: str, content: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[str | None, list[Finding]]:
    """Bytes to text, refusing what is too big, binary or not valid UTF-8/UTF-16."""
    if len(content) > limits.max_file_bytes:
        return None, [
            _finding(
                "syntax/file-too-large",
                path,
                f"File is {len(content):,} bytes, over the {limits.max_file_bytes:,}-byte limit; "
                "it was not checked.",
                line=None,
            )
        ]
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16"), []
        except UnicodeDecodeError:
            pass
    elif b"\x00" in content[: limits.binary_sniff_bytes]:
        return None, [
            _finding(
                "syntax/binary-file",
                path,
                "File looks binary (it contains NUL bytes), not YAML or JSON; it was not checked.",
                line=None,
            )
        ]
    try:
        return content.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        column = exc.start - (content.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [
            _finding(
                "syntax/encoding",
                path,
                f"File is not valid UTF-8 (byte 0x{content[exc.start]:02x} at line {line}, "
                f"column {column}); it was not checked.",
                line=line,
                column=column,
            )
        ]


def load_text(
    path: str, text: str, kind: FileKind, limits: Limits = DEFAULT_LIMITS
) -> LoadedFile:
    """Parse every document of ``text``; problems become findings, never exceptions."""
    loaded = LoadedFile(path=path, kind=kind, text=text)
    if kind is FileKind.HELM_TEMPLATE:
        return loaded  # Go templates are not YAML until rendered; never parsed here
    index = 0
    for offset, chunk in _chunks(text):
        try:
            nodes = list(yaml.compose_all(chunk, Loader=_Loader))
        except yaml.MarkedYAMLError as exc:
            loaded.findings.append(_parse_error(path, exc, offset))
            continue
        except (yaml.YAMLError, RecursionError, ValueError) as exc:
            loaded.findings.append(
                _finding("syntax/parse-error", path, f"YAML error: {exc}", line=offset + 1)
            )
            continue
        for root in nodes:
            if root is None:
                continue
            builder = _Builder(path, offset, limits)
            data = builder.build(root)
            loaded.findings.extend(builder.findings)
            if builder.aborted or data is None:
                continue
            for doc in _expand(path, index, data, kind, root, offset):
                loaded.documents.append(doc)
            index += 1
            if index >= limits.max_documents:
                loaded.findings.append(
                    _finding(
                        "syntax/too-many-documents",
                        path,
                        f"File has more than {limits.max_documents:,} documents; "
                        "the rest were not checked.",
                        line=root.end_mark.line + 1 + offset,
                    )
                )
                return loaded
    return loaded


def load_file(
    path: str, content: bytes, kind: FileKind, limits: Limits = DEFAULT_LIMITS
) -> LoadedFile:
    text, findings = decode(path, content, limits)
    if text is None:
        return LoadedFile(path=path, kind=kind, text=None, findings=findings)
    return load_text(path, text, kind, limits)


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Split a stream at ``---`` lines, keeping the separator line with its document."""
    starts = [m.start() for m in _SEPARATOR.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    line = 0
    for i, begin in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        chunk = text[begin:end]
        yield line, chunk
        line += chunk.count("\n")


def _expand(
    path: str, index: int, data: Any, kind: FileKind, root: Node, offset: int
) -> Iterator[Document]:
    """A ``kind: List`` stands for its items (kubeconform: case-insensitive, exactly "list")."""
    if (
        isinstance(data, dict)
        and isinstance(data.get("kind"), str)
        and data["kind"].lower() == "list"
        and isinstance(data.get("items"), list)
    ):
        for i, item in enumerate(data["items"]):
            if item is not None:
                yield Document(path, index, item, kind, root, offset, ("items", i))
        return
    yield Document(path, index, data, kind, root, offset)


class _Builder:
    """Builds plain data from a node tree, with duplicate-key, depth and alias-bomb checks."""

    def __init__(self, path: str, offset: int, limits: Limits) -> None:
        self.path = path
        self.offset = offset
        self.limits = limits
        self.findings: list[Finding] = []
        self.aborted = False
        self._nodes = 0
        # Aliased nodes are built once and shared; their expanded size still counts.
        self._memo: dict[int, tuple[Any, int]] = {}

    def build(self, root: Node) -> Any:
        try:
            value, _ = self._build(root, 0)
        except _Abort:
            self.aborted = True
            return None
        return value

    def _charge(self, count: int, node: Node) -> None:
        self._nodes += count
        if self._nodes > self.limits.max_nodes_per_document:
            self.findings.append(
                self._at(
                    "syntax/too-many-nodes",
                    node,
                    f"Document expands to more than {self.limits.max_nodes_per_document:,} "
                    "nodes (an alias bomb?); it was not checked.",
                )
            )
            raise _Abort

    def _build(self, node: Node, depth: int) -> tuple[Any, int]:
        memo = self._memo.get(id(node))
        if memo is not None:
            self._charge(memo[1], node)
            return memo
        if depth > self.limits.max_depth:
            self.findings.append(
                self._at(
                    "syntax/too-deep",
                    node,
                    f"Document nests deeper than {self.limits.max_depth} levels; "
                    "it was not checked.",
                )
            )
            raise _Abort
        if isinstance(node, ScalarNode):
            self._charge(1, node)
            return _scalar(node), 1
        size_before = self._nodes
        self._charge(1, node)
        result: tuple[Any, int]
        if isinstance(node, SequenceNode):
            items = [self._build(child, depth + 1)[0] for child in node.value]
            result = (items, self._nodes - size_before)
        elif isinstance(node, MappingNode):
            result = (self._mapping(node, depth), self._nodes - size_before)
        else:  # pragma: no cover - the composer only makes these three
            result = (None, 1)
        self._memo[id(node)] = result
        return result

    def _mapping(self, node: MappingNode, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.update(self._merge_source(value_node, depth))
                continue
            key = _key(key_node)
            if key in out:
                first = next(k for k, _ in node.value if _key(k) == key)
                self.findings.append(
                    self._at(
                        "syntax/duplicate-key",
                        key_node,
                        f'Duplicate key "{key}" (first at line '
                        f"{first.start_mark.line + 1 + self.offset}); "
                        "Kubernetes would silently keep only the last value.",
                        locator=f"duplicate:{key}",
                    )
                )
            out[key] = self._build(value_node, depth + 1)[0]
        if merged:
            return {**merged, **out}
        return out

    def _merge_source(self, node: Node, depth: int) -> dict[str, Any]:
        value = self._build(node, depth + 1)[0]
        if isinstance(value, dict):
            return value
        merged: dict[str, Any] = {}
        if isinstance(value, list):
            for item in reversed(value):
                if isinstance(item, dict):
                    merged.update(item)
        return merged

    def _at(self, rule: str, node: Node, message: str, locator: str = "") -> Finding:
        return _finding(
            rule,
            self.path,
            message,
            line=node.start_mark.line + 1 + self.offset,
            column=node.start_mark.column + 1,
            locator=locator,
        )


class _Abort(Exception):
    pass


def _key(node: Node) -> str:
    # Non-string keys become strings, as sigs.k8s.io/yaml does ("5", "true", "3.14").
    if isinstance(node, ScalarNode):
        return str(node.value)
    return yaml.serialize(node, Dumper=yaml.SafeDumper).strip()


def _scalar(node: ScalarNode) -> Any:
    tag = node.tag
    if tag == "tag:yaml.org,2002:str":
        return node.value
    if tag == "tag:yaml.org,2002:int":
        return _CONSTRUCTOR.construct_yaml_int(node)
    if tag == "tag:yaml.org,2002:bool":
        return _CONSTRUCTOR.construct_yaml_bool(node)
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:float":
        return _CONSTRUCTOR.construct_yaml_float(node)
    # Timestamps, binary and custom tags stay text, as they do in Kubernetes' JSON.
    return node.value


def _parse_error(path: str, exc: yaml.MarkedYAMLError, offset: int) -> Finding:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    context = f" {exc.context}" if exc.context else ""
    line = mark.line + 1 + offset if mark else offset + 1
    column = mark.column + 1 if mark else None
    return _finding(
        "syntax/parse-error",
        path,
        f"YAML syntax error: {problem}{context}".strip(),
        line=line,
        column=column,
        locator=problem,
    )


def _finding(
    rule: str,
    path: str,
    message: str,
    *,
    line: int | None,
    column: int | None = None,
    locator: str = "",
) -> Finding:
    return Finding(
        rule_id=rule,
        category=Category.SYNTAX,
        severity=Severity.ERROR,
        message=message,
        path=path,
        line=line,
        column=column,
        end_line=line,
        source=_LOADER_SOURCE,
        locator=locator or rule,
    )
