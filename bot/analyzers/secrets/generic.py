"""Generic credential assignments: ``password``, ``secret``, ``token``, ``api_key``... in YAML
(from the parsed documents and their node positions), JSON, dotenv, HCL/Terraform, Java
properties and INI files, and in the multi-line strings (block scalars) embedded in YAML.

A key name alone decides the family; the value must then look like a credential: not a
placeholder, reference, template, path, URL without credentials, identifier or benign value
(``placeholders``), and random enough for its family. Keys that name configuration rather than
a credential (``TOKEN_TTL``, ``PASSWORD_MIN_LENGTH``, ``SECRET_NAME``, ``*_FILE``...) are
skipped. Container env entries are paired across lines (``- name: DB_PASSWORD`` then
``value: ...``) and command-line flags across list items (``["--password", "x"]``).

Every hit carries offsets into the whole file's text, so the caller can place it (1-based line
and column of the value, inside block scalars too) and dedupe it against text-level hits.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.analyzers.secrets import families, placeholders
from bot.analyzers.secrets.model import Family, Hit
from bot.core.document import Document

GENERIC_PASSWORD = Family("generic-password", "Password assigned in a configuration value")
GENERIC_TOKEN = Family("generic-token", "Token assigned in a configuration value")
GENERIC_API_KEY = Family("generic-api-key", "API or access key assigned in a configuration value")
GENERIC_SECRET = Family("generic-secret", "Secret assigned in a configuration value")
FAMILIES: tuple[Family, ...] = (GENERIC_PASSWORD, GENERIC_TOKEN, GENERIC_API_KEY, GENERIC_SECRET)

Dialect = Literal["env", "hcl", "properties", "ini", "embedded"]

# ---------------------------------------------------------------------------------------------
# Text positions


class TextIndex:
    """Line starts of a text: offsets to 1-based (line, column) and back."""

    __slots__ = ("starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        self.starts.extend(m.end() for m in re.finditer("\n", text))

    def offset(self, line0: int, column0: int) -> int:
        """Offset of a 0-based line and column (clamped to the text)."""
        if line0 >= len(self.starts):
            return len(self.text)
        return min(self.starts[line0] + column0, len(self.text))

    def line0(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column of an offset."""
        line0 = self.line0(offset)
        return line0 + 1, offset - self.starts[line0] + 1

    def line_text(self, line0: int) -> str:
        if line0 >= len(self.starts):
            return ""
        end = self.starts[line0 + 1] - 1 if line0 + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[line0] : end].rstrip("\r")


@dataclass(frozen=True, slots=True)
class DocText:
    """A document's node marks (relative to its chunk) as offsets into the file's text."""

    index: TextIndex
    line_offset: int

    def at(self, mark: Mark) -> int:
        return self.index.offset(mark.line + self.line_offset, mark.column)

    def span(self, node: Node) -> tuple[int, int]:
        return self.at(node.start_mark), self.at(node.end_mark)

    def place(self, node: ScalarNode, inner_start: int = 0, inner_end: int | None = None) -> int:
        """Offset in the file of ``node.value[inner_start:]`` (the first character of a part of
        a scalar's value): exact for plain, quoted and literal block scalars, found by search
        in the node's raw text otherwise."""
        value: str = node.value
        inner_end = len(value) if inner_end is None else inner_end
        start, end = self.span(node)
        text = self.index.text
        if node.style in ("'", '"'):
            start += 1
        if node.style == "|":
            placed = self._place_literal(node, start, inner_start)
            if placed is not None:
                return placed
        elif text.startswith(value[:inner_end], start):
            return start + inner_start
        fragment = value[inner_start:inner_end].split("\n", 1)[0].strip()
        if fragment:
            found = text.find(fragment, start, max(end, start + len(fragment)))
            if found >= 0:
                return found
        return start

    def _place_literal(self, node: ScalarNode, start: int, inner_start: int) -> int | None:
        value: str = node.value
        line_in_value = value.count("\n", 0, inner_start)
        column = inner_start - (value.rfind("\n", 0, inner_start) + 1)
        value_line = value.split("\n")[line_in_value] if value else ""
        raw_line0 = self.index.line0(start) + 1 + line_in_value  # the header line comes first
        raw = self.index.line_text(raw_line0)
        if not value_line or not raw.endswith(value_line):
            return None
        indent = len(raw) - len(value_line)
        return self.index.offset(raw_line0, indent + column)

    def value_end(self, node: ScalarNode, start: int) -> int:
        """End offset of a scalar whose value starts at ``start``."""
        value: str = node.value
        if "\n" not in value:
            return start + len(value)
        return max(start + 1, self.at(node.end_mark))


# ---------------------------------------------------------------------------------------------
# Key names

_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_PASSWORD_WORDS = frozenset({"password", "passwd", "pwd", "pass", "passphrase", "passcode"})
_TOKEN_WORDS = frozenset({"token", "bearer"})
_SECRET_WORDS = frozenset({"secret", "credential", "credentials", "creds", "auth"})
_API_KEY_OWNERS = frozenset(
    {
        "api",
        "access",
        "account",
        "service",
        "client",
        "app",
        "subscription",
        "license",
        "master",
        "admin",
    }
)
_SECRET_KEY_OWNERS = frozenset({"secret", "private", "signing", "encryption", "crypt", "hmac"})
_COMPOUND_SUFFIXES = ("password", "passwd", "secret", "token")
_COMPOUND_KEY_PREFIXES = _API_KEY_OWNERS | _SECRET_KEY_OWNERS


def word_list(text: str) -> list[str]:
    """The whitespace-separated words of a long literal (keeps word tables readable)."""
    return text.split()


# A key ending in one of these names configuration about a credential, not the credential.
_CONFIG_LAST_WORDS = frozenset(
    word_list(
        """ttl length len min max minimum maximum name names endpoint endpoints header headers file
    files path paths url uri urls dir directory folder id ids ref refs reference type types kind
    mode format expiry expires expiration lifetime timeout duration seconds secs minutes hours
    days age interval policy policies enabled enable disabled required rotation size count limit
    version algorithm algo prefix suffix location provider issuer audience scope scopes field
    selector template hint regex pattern label labels annotation annotations env var variable
    source store mount volume method strategy port host hostname user username login email
    namespace class manager backend generator complexity strength cache lookup command cmd
    script callback redirect validity validation chars characters digits symbols retries
    attempts encoding charset config configuration settings options opts params parameters sha
    checksum digest fingerprint level bits description desc help title placeholder example
    sample keyref arn mapping role roles group groups usage exchange introspection
    revocation revoke request response claim claims query param parameter location bucket
    providers schema"""
    )
)
# A key holding one of these words anywhere is a switch or a reference, not a credential.
_CONFIG_ANY_WORDS = frozenset(
    word_list(
        """existing public pub csrf xsrf use enable enabled disable is has no skip allow require
    show hide reset forgot generate generated auto placeholder example sample dummy fake
    lookup kms checksum"""
    )
)


def key_words(key: str) -> list[str]:
    """``DB_PASSWORD`` -> [db, password]; ``apiKey`` -> [api, key]; ``rootpassword`` ->
    [root, password]."""
    words: list[str] = []
    for chunk in _SEPARATORS.split(key):
        for part in _CAMEL.split(chunk):
            if part:
                words.extend(_split_compound(part.lower()))
    return words


def _split_compound(word: str) -> list[str]:
    for suffix in _COMPOUND_SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix):
            return [*_split_compound(word[: -len(suffix)]), suffix]
    if word.endswith("key") and word[:-3] in _COMPOUND_KEY_PREFIXES:
        return [word[:-3], "key"]
    return [word]


def classify_key(key: str) -> Family | None:
    """The family a value assigned to ``key`` would belong to, or None for an ordinary key."""
    words = key_words(key)
    if not words or (words[-1] in _CONFIG_LAST_WORDS and not _is_secret_id(words)):
        return None
    if any(word in _CONFIG_ANY_WORDS for word in words):
        return None
    keyword_positions = [
        i
        for i, word in enumerate(words)
        if word in _PASSWORD_WORDS or word in _TOKEN_WORDS or word in _SECRET_WORDS
    ]
    # passwordSecret, tokenSecret: the name of a Secret that holds the credential.
    if words[-1] in ("secret", "secrets") and len(keyword_positions) > 1:
        return None
    if any(word in _PASSWORD_WORDS for word in words):
        return GENERIC_PASSWORD
    for previous, word in itertools.pairwise(words):
        if word == "key" and previous in _API_KEY_OWNERS:
            return GENERIC_API_KEY
        if word == "key" and previous in _SECRET_KEY_OWNERS:
            return GENERIC_SECRET
    if any(word in _TOKEN_WORDS for word in words):
        return GENERIC_TOKEN
    if any(word in _SECRET_WORDS for word in words[:-1]) and words[-1] in ("key", "value"):
        return GENERIC_SECRET
    if words[-1] in _SECRET_WORDS or words[-1] in ("authorization", "apikey"):
        return GENERIC_SECRET
    return None


def _is_secret_id(words: list[str]) -> bool:
    """Vault AppRole's ``secret_id`` is a credential although ``*_id`` usually is not."""
    return len(words) >= 2 and words[-2:] == ["secret", "id"]


# ---------------------------------------------------------------------------------------------
# Values

_REFERENCE = re.compile(
    r"""\$\{|\$\(|\{\{|\}\}|%\{|^\$[A-Za-z_]\w*$|^%[A-Za-z_]\w*%$|^@\w+@$|^<[^<>]*>$|^\[\[.*\]\]$
    |^(?:var|local|module|data|random_password|random_string)\.[\w.\[\]*"-]+$
    |^(?:vault|ref\+\w+|sm|gsm|awssm|azkv|op|env|file|secret|k8s|kubernetes):
    |^arn:aws|secretKeyRef|existingSecret""",
    re.VERBOSE,
)
_NOT_VALUES = frozenset(
    word_list(
        """true false yes no on off null none nil undefined unset empty required optional n/a na
    tbd todo fixme redacted hidden masked omitted secret password token"""
    )
)
_PATH = re.compile(r"(?:/|\./|\.\./|~/|[A-Za-z]:\\)[\w./\\ @+-]*")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_IDENTIFIER = re.compile(r"[A-Za-z._-]+")
_RESOURCE_NAME = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)+")
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(r"[0-9a-fA-F]{32,128}")


def is_credential_value(family: Family, value: str) -> bool:
    """Whether a value assigned to a key of ``family`` looks like a real credential."""
    v = value.strip()
    if not v or "\n" in v or len(v) > 1024:
        return False
    password = family is GENERIC_PASSWORD
    if len(v) < (4 if password else 8):
        return False
    if v.lower() in _NOT_VALUES or _REFERENCE.search(v):
        return False
    if _PATH.fullmatch(v) or (_URL.fullmatch(v) and "@" not in v):
        return False
    if len(v.split()) >= 3:
        return False  # prose: a description or a comment-like value
    if len(set(v)) < 3 or _sequential(v):
        return False
    if placeholders.is_placeholder(v) or placeholders.is_documentation_example(v):
        return False
    if placeholders.is_benign(v) and (password or not _HEX.fullmatch(v)):
        return False  # a UUID or digest; bare hex under a token/key name is a credential
    entropy = placeholders.shannon_entropy(v)
    if _DIGITS.fullmatch(v):
        return password and len(v) >= 6 and entropy >= 2.0
    if _IDENTIFIER.fullmatch(v):
        # Letters, dots, dashes only: a name (a Secret's, a user's...) unless long and random.
        return len(v) >= 16 and entropy >= 3.5 and not v.islower() and not v.isupper()
    if password:
        return entropy >= 1.9
    if _RESOURCE_NAME.fullmatch(v):
        return False  # db-creds-v2: the name of a resource
    return entropy >= 3.0


def _sequential(value: str) -> bool:
    lower = value.lower()
    return any(lower in run for run in _RUNS)


_RUNS = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789012345678901234567890",
    "9876543210",
    "qwertyuiopasdfghjklzxcvbnm",
)

# ---------------------------------------------------------------------------------------------
# Line-oriented files: dotenv, HCL, properties, INI, and text embedded in YAML strings

_ASSIGNMENT = re.compile(
    r"""^[ \t]*(?:export[ \t]+)?(?P<kq>["']?)(?P<key>[A-Za-z_][\w.\-]*)(?P=kq)[ \t]*
    (?P<op>:=|=>|=|:)[ \t]*(?P<rest>[^\n]*)""",
    re.MULTILINE | re.VERBOSE,
)
_OPERATORS: dict[str, frozenset[str]] = {
    "env": frozenset({"="}),
    "hcl": frozenset({"=", ":"}),
    "properties": frozenset({"=", ":"}),
    "ini": frozenset({"=", ":"}),
    "embedded": frozenset({"=", ":", ":=", "=>"}),
}
_COMMENT = {
    "env": re.compile(r"[ \t]#"),
    "hcl": re.compile(r"[ \t](?:#|//)"),
    "properties": None,
    "ini": re.compile(r"[ \t][#;]"),
    "embedded": re.compile(r"[ \t]#"),
}
_KEYWORD_HINT = re.compile(r"pass|pwd|secret|token|key|auth|cred|bearer", re.IGNORECASE)
_FLAG = re.compile(
    r"""(?:^|(?<=[\s"'\[,]))--?(?:D)?(?P<key>[A-Za-z][\w.\-]*)(?:=|[ \t]+)
    (?P<value>"[^"\n]*"|'[^'\n]*'|[^\s"',\]\[]+)""",
    re.VERBOSE,
)
_BARE_FLAG = re.compile(r"--?(?P<key>[A-Za-z][\w.\-]*)")


def scan_assignments(
    text: str, dialect: Dialect, start: int = 0, end: int | None = None
) -> list[Hit]:
    """``key = value`` lines of ``text[start:end]`` whose key names a credential."""
    end = len(text) if end is None else end
    region = text[start:end]
    if not _KEYWORD_HINT.search(region):
        return []
    operators = _OPERATORS[dialect]
    comment = _COMMENT[dialect]
    hits: list[Hit] = []
    for match in _ASSIGNMENT.finditer(region):
        if match.group("op") not in operators:
            continue
        key = match.group("key")
        family = classify_key(key)
        if family is None:
            continue
        parsed = _assigned_value(match.group("rest"), dialect, comment)
        if parsed is None:
            continue
        value, value_offset = parsed
        if is_credential_value(family, value):
            at = start + match.start("rest") + value_offset
            hits.append(Hit(family, value, at, at + len(value), key=key))
    if dialect == "hcl":
        hits.extend(scan_variable_defaults(text, start, end))
    if dialect in ("embedded", "env"):
        hits.extend(scan_flags(text, start, end))
    return hits


_VARIABLE = re.compile(r'^[ \t]*variable[ \t]+"(?P<name>[A-Za-z_][\w\-]*)"[ \t]*\{', re.MULTILINE)
_DEFAULT = re.compile(r'(?:^|[{;])[ \t]*default[ \t]*=[ \t]*(?P<rest>"[^\n]*)', re.MULTILINE)


def _block_end(text: str, open_brace: int, end: int) -> int:
    """The offset just past the ``}`` closing the block opened at ``open_brace`` (strings and
    ``#``/``//`` comments skipped), or ``end`` when it is not closed."""
    depth = 0
    i = open_brace
    while i < end:
        char = text[i]
        if char == '"':
            i += 1
            while i < end and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif char == "#" or text.startswith("//", i):
            newline = text.find("\n", i, end)
            i = end if newline < 0 else newline
            continue
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return end


def scan_variable_defaults(text: str, start: int = 0, end: int | None = None) -> list[Hit]:
    """``variable "db_password" { default = "..." }``: the variable's name says what its
    literal default is. A provider format is reported under its own family (the name gives
    the context that some need: ``cloudflare_api_key``, ``mailgun_api_key``...)."""
    end = len(text) if end is None else end
    hits: list[Hit] = []
    for var in _VARIABLE.finditer(text, start, end):
        name = var.group("name")
        family = classify_key(name)
        if family is None and not families.keywords_in(name.lower()):
            continue
        block_end = _block_end(text, var.end() - 1, end)
        for default in _DEFAULT.finditer(text, var.end() - 1, block_end):
            parsed = _assigned_value(default.group("rest"), "hcl", None)
            if parsed is None:
                continue
            value, value_offset = parsed
            at = default.start("rest") + value_offset
            hit = _variable_default_hit(name, family, value, at)
            if hit is not None:
                hits.append(hit)
    return hits


def _variable_default_hit(name: str, family: Family | None, value: str, at: int) -> Hit | None:
    """The hit for ``value`` (at offset ``at``) as if assigned to ``name``."""
    assignment = f'{name} = "{value}"'
    offset = len(name) + 4
    for found in families.scan(assignment):
        if found.start >= offset and found.end <= offset + len(value):
            inner = at + found.start - offset
            return Hit(found.family, found.value, inner, inner + len(found.value), key=name)
    if family is not None and is_credential_value(family, value):
        return Hit(family, value, at, at + len(value), key=name)
    return None


def _assigned_value(
    rest: str, dialect: Dialect, comment: re.Pattern[str] | None
) -> tuple[str, int] | None:
    """The literal value of an assignment's right-hand side and its offset in ``rest``."""
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        close = _closing_quote(rest, quote)
        if close is None:
            return None
        return rest[1:close], 1
    if dialect == "hcl" or rest[:1] in ("{", "[", "|", ">", "&", "*", "!", "(", "<"):
        return None  # an HCL expression, a YAML collection, block or alias, a heredoc
    if comment is not None:
        found = comment.search(rest)
        if found is not None:
            rest = rest[: found.start()]
    value = rest.rstrip().rstrip(",;").rstrip()
    return (value, 0) if value else None


def _closing_quote(rest: str, quote: str) -> int | None:
    i = 1
    while i < len(rest):
        char = rest[i]
        if char == "\\" and quote == '"':
            i += 2
            continue
        if char == quote:
            return i
        i += 1
    return None


def scan_flags(text: str, start: int = 0, end: int | None = None) -> list[Hit]:
    """``--password=x`` and ``--password x`` (also ``-Dspring.datasource.password=x``)."""
    end = len(text) if end is None else end
    region = text[start:end]
    if "-" not in region or not _KEYWORD_HINT.search(region):
        return []
    hits: list[Hit] = []
    for match in _FLAG.finditer(region):
        key = match.group("key")
        family = classify_key(key)
        if family is None:
            continue
        value = match.group("value")
        offset = start + match.start("value")
        if value[:1] in ("'", '"'):
            value, offset = value[1:-1], offset + 1
        if value.startswith("-"):
            continue  # the next flag: this one takes no value here
        if is_credential_value(family, value):
            hits.append(Hit(family, value, offset, offset + len(value), key=key))
    return hits


# ---------------------------------------------------------------------------------------------
# YAML and JSON documents

# Subtrees that hold references or public material, never plain-text credentials.
_REFERENCE_KEYS = frozenset(
    {"valueFrom", "secretKeyRef", "secretRef", "envFrom", "configMapKeyRef", "existingSecret"}
)
PUBLIC_KEYS = frozenset(
    {
        "caBundle",
        "certificate-authority-data",
        "client-certificate-data",
        "ca.crt",
        "tls.crt",
        "publicKey",
        "public_key",
        "public-key",
    }
)
VAULT_ANNOTATION_PREFIX = "vault.hashicorp.com/"
_MAX_DEPTH = 200


def document_root(doc: Document) -> Node | None:
    """The node of a document (the item's node for an item of an expanded ``List``)."""
    node = doc.root
    for elem in doc.base_path:
        if isinstance(node, SequenceNode) and isinstance(elem, int) and elem < len(node.value):
            node = node.value[elem]
        elif isinstance(node, MappingNode):
            node = mapping_get(node, str(elem))
        else:
            return None
    return node


def mapping_get(node: Node, key: str) -> Node | None:
    """The value of ``key`` in a mapping node (the last duplicate wins), else None."""
    if not isinstance(node, MappingNode):
        return None
    found: Node | None = None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            found = value_node
    return found


def scalar_hit(dt: DocText, node: ScalarNode, family: Family, key: str | None) -> Hit:
    start = dt.place(node)
    return Hit(family, node.value, start, dt.value_end(node, start), key=key)


def scan_tree(root: Node, dt: DocText, skip_top: frozenset[str] = frozenset()) -> list[Hit]:
    """Credential assignments anywhere in a YAML/JSON node tree."""
    walker = _Walker(dt)
    walker.visit(root, None, 0, skip_top)
    return walker.hits


class _Walker:
    def __init__(self, dt: DocText) -> None:
        self.dt = dt
        self.hits: list[Hit] = []
        self._seen: set[int] = set()  # aliased collections are scanned once

    def visit(
        self, node: Node, parent_key: str | None, depth: int, skip: frozenset[str] = frozenset()
    ) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(node, MappingNode | SequenceNode):
            if id(node) in self._seen:
                return
            self._seen.add(id(node))
        if isinstance(node, MappingNode):
            self._mapping(node, depth, skip)
        elif isinstance(node, SequenceNode):
            self._sequence(node, parent_key, depth)
        elif isinstance(node, ScalarNode):
            self._text(node)

    def _mapping(self, node: MappingNode, depth: int, skip: frozenset[str]) -> None:
        pairs: list[tuple[str, Node]] = [
            (k.value, v) for k, v in node.value if isinstance(k, ScalarNode)
        ]
        names = dict(pairs)
        env_name = names.get("name")
        paired_key = (
            env_name.value
            if isinstance(env_name, ScalarNode) and isinstance(names.get("value"), ScalarNode)
            else None
        )
        for key, value in pairs:
            if key in skip or key in _REFERENCE_KEYS:
                continue
            if key in PUBLIC_KEYS or key.startswith(VAULT_ANNOTATION_PREFIX):
                continue
            if isinstance(value, ScalarNode):
                effective = paired_key if key == "value" and paired_key else key
                self._scalar(value, effective)
            else:
                self.visit(value, key, depth + 1)

    def _sequence(self, node: SequenceNode, parent_key: str | None, depth: int) -> None:
        items = node.value
        for i, item in enumerate(items):
            if not isinstance(item, ScalarNode):
                self.visit(item, parent_key, depth + 1)
                continue
            self._text(item)
            bare = _BARE_FLAG.fullmatch(item.value.strip()) if item.value[:1] == "-" else None
            if bare is None or i + 1 >= len(items):
                continue
            following = items[i + 1]
            family = classify_key(bare.group("key"))
            if (
                family is not None
                and isinstance(following, ScalarNode)
                and not following.value.startswith("-")
                and is_credential_value(family, following.value)
            ):
                self.hits.append(scalar_hit(self.dt, following, family, bare.group("key")))

    def _scalar(self, node: ScalarNode, key: str) -> None:
        family = classify_key(key)
        if (
            family is not None
            and node.tag.endswith((":str", ":int"))
            and is_credential_value(family, node.value)
        ):
            self.hits.append(scalar_hit(self.dt, node, family, key))
            return
        self._text(node)

    def _text(self, node: ScalarNode) -> None:
        """Assignments and flags inside a string value (a config file in a block scalar)."""
        value: str = node.value
        if len(value) < 6 or not _KEYWORD_HINT.search(value):
            return
        start, end = self.dt.span(node)
        if "\n" in value:
            self.hits.extend(scan_assignments(self.dt.index.text, "embedded", start, end))
        else:
            self.hits.extend(scan_flags(self.dt.index.text, start, end))


def iter_scalars(
    node: Node, path: tuple[str | int, ...] = (), depth: int = 0
) -> Iterator[tuple[tuple[str | int, ...], ScalarNode]]:
    """Every scalar of a tree with its path of keys and indexes (aliases followed once)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, ScalarNode):
        yield path, node
    elif isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode):
                yield from iter_scalars(value_node, (*path, key_node.value), depth + 1)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield from iter_scalars(item, (*path, i), depth + 1)
