"""Kyverno's homogeneous aggregate literals, checked with cel-cpp's own type checker.

Kyverno (like Kubernetes) builds its environments with cel-go's
``HomogeneousAggregateLiterals``: ``[1, 'a']`` and ``{'a': 1, 'b': 'x'}`` are compile
errors unless the author writes ``dyn()``. cel-cpp has no such option; it types a mixed
literal as ``list(dyn)``. To get the same verdict this module builds a variant of the
expression where a literal's elements are folded into one conditional
``(true ? (true ? e1 : e2) : e3)``: cel-cpp requires both branches of ``?:`` to have one
type, so the variant fails to compile exactly when cel-go's left-to-right join of the
element types fails (``dyn`` joins with anything). Elements stay in place, so
comprehension variables and everything else they use stay in scope. Optional entries
``?e`` contribute the type of ``e.value()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.analyzers.kyverno.cel.scanner import (
    Kind,
    Token,
    ends_operand,
    matching,
    split_top_level,
    tokenize,
)


@dataclass(frozen=True, slots=True)
class Literal:
    """A list or map literal with at least two entries."""

    kind: str  # "list" or "map"
    open: int  # token index of [ or {
    close: int
    entries: tuple[range, ...]


@dataclass(frozen=True, slots=True)
class Mismatch:
    kind: str
    offset: int  # of the literal's opening bracket in the checked text
    found: str  # "int and string", from the checker's message when it names the types


_TERNARY_TYPES = re.compile(r"applied to '\(bool, (.+)\)'")


def literals(tokens: Sequence[Token]) -> list[Literal]:
    found: list[Literal] = []
    for i, token in enumerate(tokens):
        if token.kind is not Kind.PUNCT or token.text not in ("[", "{"):
            continue
        if i > 0 and (ends_operand(tokens[i - 1]) or tokens[i - 1].is_punct(".")):
            continue  # an index x[i] or a message construction T{...}
        close = matching(tokens, i)
        if close < 0:
            continue
        entries = split_top_level(tokens, i + 1, close, ",")
        if len(entries) >= 2:
            kind = "list" if token.text == "[" else "map"
            found.append(Literal(kind, i, close, tuple(entries)))
    return found


def check(text: str, compiles: Callable[[str], str | None]) -> Mismatch | None:
    """The first heterogeneous literal of ``text``, or None.

    ``compiles(variant)`` returns None when the variant type-checks, else the checker's
    message. One variant with every literal folded is tried first; only when it fails is
    each literal tried alone to name the culprit.
    """
    tokens = tokenize(text)
    found = literals(tokens)
    if not found:
        return None
    if compiles(_variant(text, tokens, found)) is None:
        return None
    for literal in found:
        message = compiles(_variant(text, tokens, [literal]))
        if message is not None:
            types = _TERNARY_TYPES.search(message)
            described = " and ".join(types.group(1).split(", ", 1)) if types else "mixed types"
            return Mismatch(literal.kind, tokens[literal.open].start, described)
    return None


def _variant(text: str, tokens: Sequence[Token], chosen: Sequence[Literal]) -> str:
    """``text`` with each chosen literal folded (nested chosen literals folded too)."""
    chosen_by_open = {literal.open: literal for literal in chosen}

    def emit(first: int, last: int) -> str:
        """Text of tokens[first:last] (source spacing kept) with chosen literals folded."""
        if first >= last:
            return ""
        out: list[str] = []
        position = tokens[first].start
        i = first
        while i < last:
            literal = chosen_by_open.get(i)
            if literal is not None:
                out.append(text[position : tokens[i].start])
                out.append(fold(literal))
                position = tokens[literal.close].end
                i = literal.close + 1
            else:
                i += 1
        out.append(text[position : tokens[last - 1].end])
        return "".join(out)

    def entry_value(entry: range) -> str:
        if tokens[entry.start].is_punct("?"):
            return f"({emit(entry.start + 1, entry.stop)}).value()"
        return emit(entry.start, entry.stop)

    def fold(literal: Literal) -> str:
        if literal.kind == "list":
            return "[" + _fold([entry_value(e) for e in literal.entries]) + "]"
        keys: list[str] = []
        values: list[str] = []
        for entry in literal.entries:
            colon = _map_colon(tokens, entry)
            if colon is None:
                return emit(literal.open, literal.close + 1)  # leave what we cannot split
            optional = tokens[entry.start].is_punct("?")
            key_start = entry.start + 1 if optional else entry.start
            keys.append(emit(key_start, colon))
            value = emit(colon + 1, entry.stop)
            values.append(f"({value}).value()" if optional else value)
        return "{(" + _fold(keys) + "): (" + _fold(values) + ")}"

    return emit(0, len(tokens)) if tokens else text


def _fold(parts: Sequence[str]) -> str:
    folded = f"({parts[0]})"
    for part in parts[1:]:
        folded = f"(true ? {folded} : ({part}))"
    return folded


def _map_colon(tokens: Sequence[Token], entry: range) -> int | None:
    """The ``:`` separating key and value in a map entry (skipping ``a ? b : c`` keys)."""
    depth = 0
    pending_ternaries = 0
    for i in entry:
        token = tokens[i]
        if token.kind is not Kind.PUNCT:
            continue
        if token.text in "([{":
            depth += 1
        elif token.text in ")]}":
            depth -= 1
        elif depth == 0 and token.text == "?" and i != entry.start:
            if not (i > 0 and tokens[i - 1].text in (".", "[")):
                pending_ternaries += 1
        elif depth == 0 and token.text == ":":
            if pending_ternaries == 0:
                return i
            pending_ternaries -= 1
    return None
