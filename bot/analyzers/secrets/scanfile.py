"""Every secret of one loaded file, placed (1-based line and column of the value) and tied to
the Kubernetes resource it sits in.

Three sources, deduped to one hit per secret position (the most specific family wins: a
provider format over a Kubernetes-aware family over a generic assignment):

1. structured: the parsed YAML/JSON documents (``generic`` assignments, ``kubernetes``
   Secrets, Docker configs, kubeconfigs), or the assignments of dotenv, HCL, properties and
   INI files;
2. text: ``families.scan`` over the raw text of any file;
3. suppression: nothing inside documents that keep secrets out of Git (SealedSecret,
   ExternalSecret...), public material or Vault agent annotations; nothing in a SOPS-encrypted
   file but the values it should have encrypted and did not.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from bot.analyzers.secrets import families, generic, kubernetes
from bot.analyzers.secrets.generic import DocText, TextIndex, document_root
from bot.analyzers.secrets.model import Family, FileHit, Hit
from bot.core.document import Document, LoadedFile
from bot.core.filekind import FileKind

_ENV_NAMES = re.compile(r"(?:.*\.env|\.env(?:\..*)?|env|\.envrc|.*\.env\..*)")
_DIALECTS: dict[str, generic.Dialect] = {
    ".tf": "hcl",
    ".tfvars": "hcl",
    ".hcl": "hcl",
    ".properties": "properties",
    ".ini": "ini",
    ".cfg": "ini",
    ".conf": "ini",
    ".toml": "ini",
}
_YAML_SUFFIXES = (".yaml", ".yml", ".json")
_YAML_KINDS = frozenset(
    {
        FileKind.MANIFEST,
        FileKind.KUSTOMIZATION,
        FileKind.HELM_VALUES,
        FileKind.HELM_CHART,
        FileKind.GATE_CONFIG,
        FileKind.WORKFLOW,
    }
)
_KEYWORDS = re.compile(r"pass|pwd|secret|token|key|auth|cred|bearer|sops|ENC\[", re.IGNORECASE)
_DEDUPE_WINDOW = 16
_GENERIC_FAMILIES = frozenset(generic.FAMILIES)
_KUBERNETES_FAMILIES = frozenset(kubernetes.FAMILIES)

Span = tuple[int, int]


@dataclass(slots=True)
class _Placed:
    hit: Hit
    doc: Document | None


def scan_file(loaded: LoadedFile) -> list[FileHit]:
    """Every secret in ``loaded``, in file order. A file that was not read (``text`` is None:
    too big, binary, refused by the loader) has none."""
    text = loaded.text
    if text is None or not text:
        return []
    index = TextIndex(text)
    text_hits = families.scan(text)
    dialect, line_dialect = _dialect(loaded)
    structured: list[_Placed] = []
    suppressed: list[Span] = []
    doc_spans: list[tuple[Span, Document]] = []
    encrypted_file = False
    if dialect == "yaml":
        encrypted_file = _scan_documents(
            loaded, index, bool(text_hits), structured, suppressed, doc_spans
        )
    elif dialect == "template":
        structured.extend(_Placed(h, None) for h in generic.scan_assignments(text, "embedded"))
    elif line_dialect is not None:
        if kubernetes.is_sops_text(text):
            encrypted_file = True
            found = kubernetes.scan_sops_text(text, line_dialect)
        else:
            found = generic.scan_assignments(text, line_dialect)
        structured.extend(_Placed(h, None) for h in found)
    placed = list(structured)
    if not encrypted_file:
        for hit in text_hits:
            if not any(start <= hit.start < end for start, end in suppressed):
                placed.append(_Placed(hit, _owner(hit.start, doc_spans)))
    return [_file_hit(p, index) for p in _dedupe(placed)]


def _dialect(loaded: LoadedFile) -> tuple[str, generic.Dialect | None]:
    """How to read a file: "yaml" (its parsed documents), "template" (a Helm template, not
    parsed), "lines" (dotenv, HCL, properties, INI: the second item says which) or "text"
    (families only)."""
    base = posixpath.basename(loaded.path).lower()
    if loaded.kind is FileKind.HELM_TEMPLATE:
        return "template", None
    if base.endswith(_YAML_SUFFIXES):
        return "yaml", None
    if _ENV_NAMES.fullmatch(base):
        return "lines", "env"
    suffix = posixpath.splitext(base)[1]
    if suffix in _DIALECTS:
        return "lines", _DIALECTS[suffix]
    if loaded.kind in _YAML_KINDS and loaded.documents:
        return "yaml", None
    if any(doc.looks_like_resource for doc in loaded.documents):
        return "yaml", None  # a kubeconfig or manifest without a YAML suffix
    return "text", None


def _scan_documents(
    loaded: LoadedFile,
    index: TextIndex,
    need_spans: bool,
    out: list[_Placed],
    suppressed: list[Span],
    doc_spans: list[tuple[Span, Document]],
) -> bool:
    """Structured hits of the documents of a YAML/JSON file; True for a SOPS-encrypted file."""
    documents = loaded.documents
    encrypted = any(
        kubernetes.sops_metadata(d.data) is not None or kubernetes.has_encrypted_values(d.data)
        for d in documents
    )
    for doc in documents:
        special = encrypted or (
            doc.kind is not None
            and (kubernetes.never_document(doc) or kubernetes.is_core_secret(doc))
        )
        if not (special or need_spans or _has_keywords(doc)):
            continue  # nothing that could be a credential: do not compose its node tree
        root = document_root(doc)
        if root is None:
            continue
        dt = DocText(index, doc.line_offset)
        span = dt.span(root)
        if not doc.base_path:  # from the chunk's first line: its "---" and comments too
            span = (min(span[0], index.offset(doc.line_offset, 0)), span[1])
        doc_spans.append((span, doc))
        if encrypted:
            meta = kubernetes.sops_metadata(doc.data) or {}
            rules = kubernetes.SopsRules.from_metadata(meta)
            out.extend(_Placed(h, doc) for h in kubernetes.scan_sops_document(doc, root, dt, rules))
            continue
        if kubernetes.never_document(doc):
            suppressed.append(span)
            continue
        suppressed.extend(kubernetes.public_spans(root, dt))
        hits: list[Hit] = []
        skip: frozenset[str] = frozenset()
        if kubernetes.is_core_secret(doc):
            hits.extend(kubernetes.scan_secret(doc, root, dt))
            skip = frozenset({"data", "stringData"})
        elif kubernetes.is_kubeconfig(doc):
            hits.extend(kubernetes.scan_kubeconfig(root, dt))
            skip = frozenset({"users"})
        elif isinstance(doc.data, dict) and isinstance(doc.data.get("auths"), dict):
            hits.extend(kubernetes.scan_docker_config(root, dt))
            skip = frozenset({"auths"})
        hits.extend(generic.scan_tree(root, dt, skip))
        out.extend(_Placed(h, doc) for h in hits)
    return encrypted


def _has_keywords(doc: Document) -> bool:
    source = doc.source
    return source is None or _KEYWORDS.search(source.chunk) is not None


def _owner(offset: int, doc_spans: list[tuple[Span, Document]]) -> Document | None:
    for (start, end), doc in doc_spans:
        if start <= offset < end:
            return doc
    return None


def _rank(family: Family) -> int:
    if family in _GENERIC_FAMILIES:
        return 0
    if family in _KUBERNETES_FAMILIES:
        return 1
    return 2


def _dedupe(placed: list[_Placed]) -> list[_Placed]:
    """One hit per secret: of overlapping hits, the most specific family (then the first)."""
    ordered = sorted(placed, key=lambda p: (p.hit.start, -_rank(p.hit.family), p.hit.end))
    kept: list[_Placed] = []
    for candidate in ordered:
        hit = candidate.hit
        clash: int | None = None
        for i in range(len(kept) - 1, max(-1, len(kept) - 1 - _DEDUPE_WINDOW), -1):
            other = kept[i].hit
            if other.start == hit.start or (other.start < hit.end and hit.start < other.end):
                clash = i
                break
        if clash is None:
            kept.append(candidate)
        elif _rank(hit.family) > _rank(kept[clash].hit.family):
            kept[clash] = _Placed(hit, kept[clash].doc if candidate.doc is None else candidate.doc)
    return kept


def _file_hit(placed: _Placed, index: TextIndex) -> FileHit:
    hit, doc = placed.hit, placed.doc
    line, column = index.position(hit.start)
    end_line = index.position(max(hit.start, hit.end - 1))[0]
    resource = doc is not None and doc.kind is not None
    return FileHit(
        family=hit.family,
        value=hit.value,
        line=line,
        column=column,
        end_line=end_line,
        encrypted=hit.encrypted,
        key=hit.key,
        api_version=doc.api_version if resource and doc is not None else None,
        kind=doc.kind if resource and doc is not None else None,
        namespace=doc.namespace if resource and doc is not None else None,
        name=doc.name if resource and doc is not None else None,
    )
