"""YAML and JSON documents with a position for every node.

Parsing uses libyaml's composer (``yaml.compose_all`` with ``CSafeLoader``), which keeps the
node tree with line marks; we build the plain Python data ourselves from that tree so we can
detect duplicate keys, bound alias expansion and depth, and later point a finding at the exact
line and column of the offending field. The node tree is then dropped and composed again only
for a document that needs a position (see ``NodeSource``): most documents never do.

The stream is split on ``---`` lines first (as kubeconform does) so that a syntax error in one
document does not lose the documents after it.
"""

from __future__ import annotations

import itertools
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
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_RESOLVED: dict[str, str] = {}  # plain scalar text -> tag; names and keys repeat endlessly
_RESOLVED_MAX = 200_000


class _Loader(_BaseLoader):
    """The safe loader with tag resolution memoised (libyaml calls back into Python for every
    scalar) and YAML path resolvers, which we never register, skipped."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            if not implicit[0]:
                return _STR_TAG  # quoted: always a string, as no path resolvers exist
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
                if len(_RESOLVED) < _RESOLVED_MAX:
                    _RESOLVED[value] = tag
            return tag
        if kind is MappingNode:
            return "tag:yaml.org,2002:map"
        return "tag:yaml.org,2002:seq"

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


PathElem = str | int
FieldPath = tuple[PathElem, ...]

# A document starts at a "---" line and ends after a "..." line.
_BOUNDARY = re.compile(r"^(?:---(?=[ \t\r]|$)|\.\.\.[ \t\r]*(?:#.*)?$)", re.MULTILINE)
# Lines that carry no content: blank, comments, bare markers.
_EMPTY_LINE = re.compile(r"[ \t\r]*(?:#.*)?|(?:---|\.\.\.)[ \t\r]*(?:#.*)?")
_LINE = re.compile(r"[^\n]*")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_RESOLVER = yaml.resolver.Resolver()
# Numbers as Kubernetes' YAML library (go-yaml v2 via sigs.k8s.io/yaml) reads plain scalars:
# Go integer literals (0x1f, 0o17, 0b101, 0755) and floats; "1:30" (YAML 1.1 base 60) is text.
_GO_OCTAL = re.compile(r"[-+]?0[0-7]+")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_MAX_MERGE_HOPS = 32
_NUMBER_START = frozenset("0123456789+-.")
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xef\xbb\xbf", "utf-8"),
)
# Loader findings that mean "this file was not (fully) checked": style linting is skipped too,
# since yamllint's pure-Python scanner is what hostile input would make slow.
_REFUSALS = frozenset({"syntax/too-deep", "syntax/too-many-documents", "syntax/too-many-nodes"})
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
    source: NodeSource | None = None
    line_offset: int = 0  # lines before the chunk this document was parsed from
    base_path: FieldPath = ()  # ("items", i) for an item of an expanded List

    @property
    def root(self) -> Node | None:
        return self.source.root if self.source is not None else None

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


class NodeSource:
    """The node tree of one document, composed again only when a position is asked for.

    Node trees take about four times the memory of the data built from them, and most
    documents never need a position, so the loader drops each tree once the data is built;
    the few documents with findings compose their chunk again (a fraction of a millisecond).
    """

    __slots__ = ("_root", "chunk", "position")

    def __init__(self, chunk: str, position: int, root: Node | None = None) -> None:
        self.chunk = chunk
        self.position = position  # which document of the chunk
        self._root = root

    @property
    def root(self) -> Node | None:
        if self._root is None:
            try:
                roots = list(yaml.compose_all(self.chunk, Loader=_Loader))
            except yaml.YAMLError:
                return None
            self._root = roots[self.position] if self.position < len(roots) else None
        return self._root

    def release(self) -> None:
        self._root = None


def _child(node: Node, elem: PathElem, *, want_key: bool, merges: int = 0) -> Node | None:
    if isinstance(node, MappingNode):
        wanted = str(elem)
        merged: list[Node] = []
        found: Node | None = None
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.append(value_node)
            elif _key(key_node) == wanted:
                found = key_node if want_key else value_node  # the last duplicate wins
        if found is not None:
            return found
        if merges > _MAX_MERGE_HOPS:
            return None  # a merge cycle (an anchor merged into itself)
        for source in merged:  # inherited through "<<": the first source that has it
            candidates = source.value if isinstance(source, SequenceNode) else [source]
            for candidate in candidates:
                inherited = _child(candidate, elem, want_key=want_key, merges=merges + 1)
                if inherited is not None:
                    return inherited
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


def decode(
    path: str, content: bytes, limits: Limits = DEFAULT_LIMITS
) -> tuple[str | None, list[Finding]]:
    """Bytes to text, refusing what is too big, binary or not valid UTF-8/UTF-16/UTF-32."""
    if len(content) > limits.max_file_bytes:
        return None, [
            _finding(
                "syntax/file-too-large",
                path,
                f"File is over the {limits.max_file_bytes:,}-byte limit; it was not checked.",
                line=None,
            )
        ]
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            try:
                return content[len(bom) :].decode(encoding), []
            except UnicodeDecodeError as exc:
                return None, [
                    _finding(
                        "syntax/encoding",
                        path,
                        f"File starts with a {encoding.upper()} byte order mark but is not valid "
                        f"{encoding.upper()} ({exc.reason} at byte {exc.start + len(bom)}); "
                        "it was not checked.",
                        line=None,
                    )
                ]
    if b"\x00" in content:
        return None, [
            _finding(
                "syntax/binary-file",
                path,
                "File looks binary (it contains NUL bytes), not YAML or JSON; it was not checked.",
                line=content.count(b"\n", 0, content.index(b"\x00")) + 1,
            )
        ]
    try:
        return content.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        line_start = content.rfind(b"\n", 0, exc.start) + 1
        # Columns count characters, not bytes: decode what precedes the bad byte on its line.
        column = len(content[line_start : exc.start].decode("utf-8", errors="replace")) + 1
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


def load_text(path: str, text: str, kind: FileKind, limits: Limits = DEFAULT_LIMITS) -> LoadedFile:
    """Parse every document of ``text``; problems become findings, never exceptions."""
    loaded = LoadedFile(path=path, kind=kind, text=text)
    if kind is FileKind.HELM_TEMPLATE:
        return loaded  # Go templates are not YAML until rendered; never parsed here
    seen = 0  # documents met, empty ones included: each costs a parse
    budget = _FileBudget()
    for offset, chunk in _chunks(text):
        seen += 1
        if seen > limits.max_documents:
            loaded.findings.append(
                _finding(
                    "syntax/too-many-documents",
                    path,
                    f"File has more than {limits.max_documents:,} documents; "
                    "the rest were not checked.",
                    line=offset + 1,
                )
            )
            break
        try:
            nodes = list(yaml.compose_all(chunk, Loader=_Loader))
        except yaml.MarkedYAMLError as exc:
            loaded.findings.append(_parse_error(path, exc, chunk, offset))
            continue
        except yaml.reader.ReaderError as exc:
            loaded.findings.append(_reader_error(path, exc, chunk, offset))
            continue
        except (yaml.YAMLError, RecursionError, ValueError) as exc:
            loaded.findings.append(
                _finding("syntax/parse-error", path, f"YAML error: {exc}", line=offset + 1)
            )
            continue
        if not _add_documents(loaded, nodes, chunk, offset, limits, budget):
            break  # the file's node budget is spent
    if any(f.rule_id in _REFUSALS for f in loaded.findings):
        loaded.text = None
    return loaded


@dataclass(slots=True)
class _FileBudget:
    index: int = 0  # next document index
    nodes: int = 0  # expanded nodes built so far in the file


def _add_documents(
    loaded: LoadedFile,
    roots: list[Node],
    chunk: str,
    offset: int,
    limits: Limits,
    budget: _FileBudget,
) -> bool:
    """Build the documents of one chunk; False once the file's node budget is spent."""
    for position, root in enumerate(roots):
        if root is None:
            continue
        builder = _Builder(loaded.path, offset, limits, budget.nodes)
        data = builder.build(root)
        budget.nodes = builder.file_nodes
        loaded.findings.extend(builder.findings)
        if builder.file_exhausted:
            return False
        if builder.aborted or data is None:
            continue  # a refused document, or "~" (empty, as kubeconform counts it)
        source = NodeSource(chunk, position, root)
        documents, problem = _expand(loaded.path, budget.index, data, loaded.kind, source, offset)
        source.release()
        loaded.documents.extend(documents)
        if problem is not None:
            loaded.findings.append(problem)
        budget.index += 1
    return True


def load_file(
    path: str, content: bytes, kind: FileKind, limits: Limits = DEFAULT_LIMITS
) -> LoadedFile:
    text, findings = decode(path, content, limits)
    if text is None:
        return LoadedFile(path=path, kind=kind, text=None, findings=findings)
    return load_text(path, text, kind, limits)


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Split a stream into documents: at ``---`` lines (kept with their document, as the line
    may carry content) and after ``...`` lines. Chunks without content are dropped, except that
    directives (``%YAML``) are kept with the document they introduce.

    Yields (number of lines before the chunk, chunk).
    """
    cuts = [0]
    for match in _BOUNDARY.finditer(text):
        if match.group().startswith("-"):
            cuts.append(match.start())
        else:
            newline = text.find("\n", match.end())
            cuts.append(len(text) if newline < 0 else newline + 1)
    cuts.append(len(text))
    line = 0
    pending: tuple[int, str] | None = None
    for begin, end in itertools.pairwise(cuts):
        if begin >= end:
            continue
        chunk = text[begin:end]
        lines_before = line
        line += chunk.count("\n")
        if pending is not None:
            lines_before, chunk = pending[0], pending[1] + chunk
            pending = None
        content = _content_lines(chunk)
        if not content:
            yield lines_before, ""  # an empty document: counted, nothing to parse
        elif all(text_line.startswith("%") for text_line in content):
            pending = (lines_before, chunk)  # directives belong to the next document
        else:
            yield lines_before, chunk
    if pending is not None:
        yield pending


def _content_lines(chunk: str) -> list[str]:
    """The lines of ``chunk`` that are not blank, comments or bare ``---``/``...`` markers,
    stopping at the first line that is neither a directive nor empty (enough to decide)."""
    out: list[str] = []
    for match in _LINE.finditer(chunk):
        text_line = match.group()
        if _EMPTY_LINE.fullmatch(text_line):
            continue
        out.append(text_line)
        if not text_line.startswith("%"):
            break
    return out


def _expand(
    path: str, index: int, data: Any, kind: FileKind, root: NodeSource, offset: int
) -> tuple[list[Document], Finding | None]:
    """A ``kind: List`` stands for its items (kubeconform: case-insensitive, exactly "list");
    ``items: []`` or no items at all is an empty list."""
    if not (
        isinstance(data, dict)
        and isinstance(data.get("kind"), str)
        and data["kind"].lower() == "list"
    ):
        return [Document(path, index, data, kind, root, offset)], None
    items = data.get("items")
    if items is None:
        return [], None
    if not isinstance(items, list):
        doc = Document(path, index, data, kind, root, offset)
        pos = doc.locate(("items",))
        return [], _finding(
            "syntax/invalid-list",
            path,
            f"items of a List must be a sequence, got {type(items).__name__}; "
            "the List was not checked.",
            line=pos.line,
            column=pos.column,
        )
    return [
        Document(path, index, item, kind, root, offset, ("items", i))
        for i, item in enumerate(items)
        if item is not None
    ], None


class _Builder:
    """Builds plain data from a node tree, with duplicate-key, depth and alias-bomb checks."""

    def __init__(self, path: str, offset: int, limits: Limits, file_nodes: int = 0) -> None:
        self.path = path
        self.offset = offset
        self.limits = limits
        self.findings: list[Finding] = []
        self.aborted = False
        self.file_exhausted = False  # the whole file's node budget is spent
        self.file_nodes = file_nodes
        self._nodes = 0
        self._duplicates = 0
        self._node_limit = limits.max_nodes_per_document
        self._file_node_limit = limits.max_nodes_per_file
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
        self.file_nodes += count
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
        if self.file_nodes > self.limits.max_nodes_per_file:
            self.file_exhausted = True
            self.findings.append(
                self._at(
                    "syntax/too-many-nodes",
                    node,
                    f"File expands to more than {self.limits.max_nodes_per_file:,} nodes; "
                    "this document and the rest of the file were not checked.",
                )
            )
            raise _Abort

    def _build(self, node: Node, depth: int) -> tuple[Any, int]:
        if node.__class__ is ScalarNode:  # the hot path: most nodes are plain strings
            self._nodes += 1
            self.file_nodes += 1
            if self._nodes > self._node_limit or self.file_nodes > self._file_node_limit:
                self._charge(0, node)
            if node.tag == _STR_TAG and node.value[:1] not in _NUMBER_START:
                return node.value, 1
            return _scalar(node), 1
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
        first_seen: dict[str, Node] | None = None  # built only when a duplicate shows up
        for key_node, value_node in node.value:
            if key_node.tag == _STR_TAG and key_node.value[:1] not in _NUMBER_START:
                key = key_node.value
            elif key_node.tag == _MERGE_TAG:
                merged.update(self._merge_source(value_node, depth))
                continue
            else:
                key = _key(key_node)
            if key in out:
                if first_seen is None:
                    first_seen = {}
                    for k, _ in node.value:
                        if k.tag != _MERGE_TAG:
                            first_seen.setdefault(_key(k), k)
                self._duplicate(key, key_node, first_seen[key])
            out[key] = self._build(value_node, depth + 1)[0]
        if merged:
            return {**merged, **out}
        return out

    def _duplicate(self, key: str, key_node: Node, first: Node) -> None:
        self._duplicates += 1
        if self._duplicates > self.limits.max_findings_per_document:
            return  # one is enough to fix the file; thousands only cost memory
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
    """A mapping key as sigs.k8s.io/yaml makes it: resolved, then stringified ("5", "true")."""
    if isinstance(node, ScalarNode):
        if node.tag == _STR_TAG and not (node.value[:1] in _NUMBER_START and _plain(node)):
            return str(node.value)
        value = _scalar(node)
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return _go_float_text(value)
        return str(value)
    return yaml.serialize(node, Dumper=yaml.SafeDumper).strip()


def _go_float_text(value: float) -> str:
    """Go's shortest form: 3.14 -> "3.14", 1.0 -> "1"."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return "+.inf" if value > 0 else "-.inf"
    return repr(value).removesuffix(".0")


def _plain(node: ScalarNode) -> bool:
    """A plain scalar whose tag came from resolution, not from an explicit ``!!tag``."""
    if node.style not in ("", None):
        return False
    resolved: str = _RESOLVER.resolve(  # type: ignore[no-untyped-call]
        ScalarNode, node.value, (True, False)
    )
    return resolved == node.tag


def _go_number(text: str) -> int | float | None:
    plain = text.replace("_", "")
    if _GO_OCTAL.fullmatch(plain):
        return int(plain, 8)
    try:
        return int(plain, 0)  # decimal, 0x.., 0o.., 0b.., with an optional sign
    except ValueError:
        pass
    if _GO_FLOAT.fullmatch(plain):
        return float(plain)
    return None


def _scalar(node: ScalarNode) -> Any:
    tag = node.tag
    if tag == _STR_TAG:
        if node.value[:1] in _NUMBER_START and _plain(node):
            number = _go_number(node.value)
            if number is not None:
                return number  # 0o17, 1e3: numbers to Kubernetes, text to YAML 1.1
        return node.value
    if tag in (_INT_TAG, _FLOAT_TAG):
        if ":" in node.value and _plain(node):
            return node.value  # YAML 1.1 base 60 ("1:30"): text to Kubernetes
        if tag == _INT_TAG:
            return _CONSTRUCTOR.construct_yaml_int(node)
        return _CONSTRUCTOR.construct_yaml_float(node)
    if tag == "tag:yaml.org,2002:bool":
        return _CONSTRUCTOR.construct_yaml_bool(node)
    if tag == "tag:yaml.org,2002:null":
        return None
    # Timestamps, binary and custom tags stay text, as they do in Kubernetes' JSON.
    return node.value


def _reader_error(path: str, exc: yaml.reader.ReaderError, chunk: str, offset: int) -> Finding:
    """A character YAML does not allow (control characters): at its line and column."""
    position = max(0, min(exc.position, len(chunk)))
    line = chunk.count("\n", 0, position) + 1
    column = position - (chunk.rfind("\n", 0, position) + 1) + 1
    return _finding(
        "syntax/parse-error",
        path,
        f"YAML syntax error: unacceptable character #x{exc.character:04x}: "
        "control characters are not allowed",
        line=line + offset,
        column=column,
        locator="control-character",
    )


def _parse_error(path: str, exc: yaml.MarkedYAMLError, chunk: str, offset: int) -> Finding:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    context = f" {exc.context}" if exc.context else ""
    # libyaml refuses nesting deeper than 1,000 levels itself: that is our depth bound too.
    rule = "syntax/too-deep" if "maximum nesting depth" in problem else "syntax/parse-error"
    line, column = offset + 1, None
    if mark is not None:
        line, column = mark.line + 1 + offset, mark.column + 1
        last = chunk.rstrip("\n")
        if mark.index > len(last):  # "found end of stream": point at the document's last line
            line = offset + last.count("\n") + 1
            column = len(last) - (last.rfind("\n") + 1) + 1
    return _finding(
        rule,
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
