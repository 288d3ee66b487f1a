"""A small CEL tokenizer for the source rewrites: enough to never touch string contents.

It does not parse CEL. It splits text into identifiers, literals and punctuation with their
offsets, matches brackets, and finds the receiver of a member call (``R.f(...)`` -> ``R``).
The runtime remains the judge of validity: on text it cannot tokenize cleanly the scanner
still returns tokens (an unterminated string runs to the end), and the rewrites leave that
text for the runtime to reject with its own message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    IDENT = "ident"
    NUMBER = "number"
    STRING = "string"
    PUNCT = "punct"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    start: int
    end: int

    def is_punct(self, text: str) -> bool:
        return self.kind is Kind.PUNCT and self.text == text


_TWO_CHAR = {"==", "!=", "<=", ">=", "&&", "||"}
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}
# Identifiers that are operators, not operands: `x in [..]` must not read as an index.
_OPERATOR_WORDS = {"in"}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "/" and text.startswith("//", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif _string_start(text, i) is not None:
            end = _string_end(text, i)
            tokens.append(Token(Kind.STRING, text[i:end], i, end))
            i = end
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token(Kind.IDENT, text[i:j], i, j))
            i = j
        elif c == "`":  # escaped field name, e.g. object.`foo.bar`
            close = text.find("`", i + 1)
            j = n if close < 0 else close + 1
            tokens.append(Token(Kind.IDENT, text[i:j], i, j))
            i = j
        elif c.isdigit() or (c == "." and text[i + 1 : i + 2].isdigit() and _no_operand(tokens)):
            j = _number_end(text, i)
            tokens.append(Token(Kind.NUMBER, text[i:j], i, j))
            i = j
        else:
            width = 2 if text[i : i + 2] in _TWO_CHAR else 1
            tokens.append(Token(Kind.PUNCT, text[i : i + width], i, i + width))
            i += width
    return tokens


def _no_operand(tokens: Sequence[Token]) -> bool:
    return not tokens or not ends_operand(tokens[-1])


def _string_start(text: str, i: int) -> int | None:
    """Offset of the opening quote when a string literal (with r/b prefixes) starts at i."""
    j = i
    while j < len(text) and j - i < 2 and text[j] in "rRbB":
        j += 1
    if j < len(text) and text[j] in "'\"":
        if j > i and i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
            return None  # the prefix letters end an identifier: not a string prefix
        return j
    return None


def _string_end(text: str, i: int) -> int:
    quote_at = _string_start(text, i)
    assert quote_at is not None
    raw = "r" in text[i:quote_at].lower()
    quote = text[quote_at]
    delimiter = quote * 3 if text.startswith(quote * 3, quote_at) else quote
    j = quote_at + len(delimiter)
    while j < len(text):
        if not raw and text[j] == "\\":
            j += 2
            continue
        if text.startswith(delimiter, j):
            return j + len(delimiter)
        if len(delimiter) == 1 and text[j] == "\n":
            return j  # unterminated single-line string: stop at the line end
        j += 1
    return len(text)


def _number_end(text: str, i: int) -> int:
    n = len(text)
    if text.startswith(("0x", "0X"), i):
        j = i + 2
        while j < n and text[j] in "0123456789abcdefABCDEF":
            j += 1
    else:
        j = i
        while j < n and text[j].isdigit():
            j += 1
        if j < n and text[j] == "." and j + 1 < n and text[j + 1].isdigit():
            j += 1
            while j < n and text[j].isdigit():
                j += 1
        if j < n and text[j] in "eE":
            k = j + 1
            if k < n and text[k] in "+-":
                k += 1
            if k < n and text[k].isdigit():
                j = k
                while j < n and text[j].isdigit():
                    j += 1
    if j < n and text[j] in "uU":
        j += 1
    return j


def ends_operand(token: Token) -> bool:
    """True when the token can end an operand, so a following ``[`` or ``(`` applies to it."""
    if token.kind is Kind.IDENT:
        return token.text not in _OPERATOR_WORDS
    if token.kind in (Kind.NUMBER, Kind.STRING):
        return True
    return token.kind is Kind.PUNCT and token.text in _CLOSE


def is_root(tokens: Sequence[Token], index: int) -> bool:
    """True when the identifier at ``index`` is not a field (no ``.`` or ``.?`` before it),
    so it names a variable or a function: ``request`` in ``request.userInfo``."""
    if index == 0:
        return True
    before = tokens[index - 1]
    if before.is_punct("."):
        return False
    return not (before.is_punct("?") and index >= 2 and tokens[index - 2].is_punct("."))


def variable_roots(tokens: Sequence[Token]) -> Iterator[int]:
    """Indexes of the identifiers used as roots that are not calls: the variables an
    expression reads (comprehension variables included)."""
    for i, token in enumerate(tokens):
        if token.kind is not Kind.IDENT or not is_root(tokens, i):
            continue
        if i + 1 < len(tokens) and tokens[i + 1].is_punct("("):
            continue  # a function call, not a variable
        yield i


def matching(tokens: Sequence[Token], index: int) -> int:
    """Index of the bracket matching ``tokens[index]`` (either direction); -1 if unbalanced."""
    text = tokens[index].text
    if text in _OPEN:
        step, opener, closer = 1, text, _OPEN[text]
    elif text in _CLOSE:
        step, opener, closer = -1, text, _CLOSE[text]
    else:
        raise ValueError(f"not a bracket: {text!r}")
    depth = 0
    i = index
    while 0 <= i < len(tokens):
        token = tokens[i]
        if token.kind is Kind.PUNCT:
            if token.text == opener:
                depth += 1
            elif token.text == closer:
                depth -= 1
                if depth == 0:
                    return i
        i += step
    return -1


def receiver_start(tokens: Sequence[Token], dot: int) -> int:
    """Index of the first token of the receiver of the member call whose ``.`` is at ``dot``.

    Walks back over the postfix chain: field selections (``.f``, ``.?f``), indexes
    (``[i]``, ``[?i]``), calls (``f(...)``, ``.f(...)``), down to its primary (identifier,
    literal, parenthesised expression, list or map literal, message construction).
    Returns -1 when there is no receiver (a ``.`` at the start).
    """
    i = dot - 1
    while i >= 0:
        token = tokens[i]
        if token.kind is Kind.PUNCT and token.text in _CLOSE:
            opened = matching(tokens, i)
            if opened < 0:
                return -1
            before = tokens[opened - 1] if opened > 0 else None
            if token.text == "]":
                if before is not None and ends_operand(before):
                    i = opened - 1  # an index: continue with what it indexes
                    continue
                return opened  # a list literal
            if before is not None and before.kind is Kind.IDENT:
                i = opened - 1  # a call f(...) or a message construction T{...}
                continue
            return opened  # a parenthesised expression or a map literal
        if token.kind is Kind.IDENT:
            k = i - 1
            if k >= 1 and tokens[k].is_punct("?") and tokens[k - 1].is_punct("."):
                k -= 1
            if k >= 0 and tokens[k].is_punct("."):
                if k > 0 and ends_operand(tokens[k - 1]):
                    i = k - 1
                    continue
                return k  # a leading-dot qualified name
            return i
        return i  # a literal
    return -1


def chain_is_optional(tokens: Sequence[Token], start: int, end: int) -> bool:
    """True when the postfix chain in ``tokens[start:end]`` uses ``.?`` or ``[?`` itself.

    Only the chain's own level counts (and the inside of a parenthesised primary); an
    optional selection inside a call argument or a comprehension does not make the
    chain's value optional.
    """
    depth = 0
    base = 0
    if tokens[start].is_punct("("):
        close = matching(tokens, start)
        if close == end - 1:
            base = 1  # the whole receiver is parenthesised: look inside it
    for i in range(start, end - 1):
        token = tokens[i]
        if token.kind is Kind.PUNCT and token.text in _OPEN:
            if depth == base and token.text == "[" and tokens[i + 1].is_punct("?"):
                return True
            depth += 1
        elif token.kind is Kind.PUNCT and token.text in _CLOSE:
            depth -= 1
        elif depth == base and token.is_punct(".") and tokens[i + 1].is_punct("?"):
            return True
    return False


def split_top_level(tokens: Sequence[Token], start: int, end: int, separator: str) -> list[range]:
    """Split ``tokens[start:end]`` at top-level ``separator`` punctuation into index ranges."""
    parts: list[range] = []
    depth = 0
    part_start = start
    for i in range(start, end):
        token = tokens[i]
        if token.kind is not Kind.PUNCT:
            continue
        if token.text in _OPEN:
            depth += 1
        elif token.text in _CLOSE:
            depth -= 1
        elif depth == 0 and token.text == separator:
            parts.append(range(part_start, i))
            part_start = i + 1
    if part_start < end:
        parts.append(range(part_start, end))
    return parts


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column
