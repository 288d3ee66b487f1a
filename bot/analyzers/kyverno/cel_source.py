"""What a CEL expression reads, from its source text (after Kyverno's rewrites and the
inlining of lazy variables, so a variable's reads count where it is used).

- ``needs``: bindings an offline run may not have: ``authorizer`` (cluster RBAC),
  ``request.userInfo`` (the admission user), ``namespaceObject`` beyond its name (the
  namespace's labels and annotations), ``params``. The policy layer skips an expression that
  needs one it lacks, with the reason, instead of evaluating it on a stand-in.
- ``object_paths``: the field paths of ``object`` it names (``object.spec.hostNetwork``,
  ``object.?spec.?containers``), so a finding can point at the field instead of the top of the
  resource.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from bot.analyzers.kyverno.cel.scanner import Kind, Token, is_root, tokenize, variable_roots


class Need(StrEnum):
    AUTHORIZER = "authorizer"
    USER_INFO = "request.userInfo"
    NAMESPACE = "namespaceObject"  # more than namespaceObject.metadata.name
    PARAMS = "params"


def _selection(tokens: Sequence[Token], index: int) -> list[str]:
    """Field names selected after ``tokens[index]``: ``.a.?b['c']`` -> [a, b, c]; stops at a
    call, an index that is not a string, or anything else."""
    out: list[str] = []
    i = index + 1
    while i < len(tokens):
        token = tokens[i]
        if token.is_punct("."):
            j = i + 1
            if j < len(tokens) and tokens[j].is_punct("?"):
                j += 1
            if j >= len(tokens) or tokens[j].kind is not Kind.IDENT:
                break
            if j + 1 < len(tokens) and tokens[j + 1].is_punct("("):
                break  # a member call such as .orValue(...)
            out.append(tokens[j].text.strip("`"))
            i = j + 1
        elif token.is_punct("["):
            j = i + 1
            if j < len(tokens) and tokens[j].is_punct("?"):
                j += 1
            if (
                j + 1 < len(tokens)
                and tokens[j].kind is Kind.STRING
                and tokens[j + 1].is_punct("]")
                and tokens[j].text[:1] in "'\""
            ):
                out.append(tokens[j].text[1:-1])
                i = j + 2
            else:
                break
        else:
            break
    return out


def needs(source: str) -> frozenset[Need]:
    tokens = tokenize(source)
    found: set[Need] = set()
    for i in variable_roots(tokens):
        token = tokens[i]
        if token.text == "authorizer":
            found.add(Need.AUTHORIZER)
        elif token.text == "params":
            found.add(Need.PARAMS)
        elif token.text == "request":
            if _selection(tokens, i)[:1] == ["userInfo"]:
                found.add(Need.USER_INFO)
        elif token.text == "namespaceObject" and _selection(tokens, i)[:2] != [
            "metadata",
            "name",
        ]:
            found.add(Need.NAMESPACE)
    return frozenset(found)


def object_paths(source: str) -> list[tuple[str, ...]]:
    """The ``object`` field paths named in ``source``, in order, without duplicates."""
    tokens = tokenize(source)
    out: list[tuple[str, ...]] = []
    for i, token in enumerate(tokens):
        if token.kind is Kind.IDENT and token.text == "object" and is_root(tokens, i):
            path = tuple(_selection(tokens, i))
            if path and path not in out:
                out.append(path)
    return out


def existing_path(paths: Sequence[tuple[str, ...]], resource: Any) -> tuple[str, ...] | None:
    """The deepest field of ``resource`` that one of ``paths`` names (the first such path
    wins a tie); None when none of them exists."""
    best: tuple[str, ...] = ()
    for path in paths:
        node = resource
        depth = 0
        for key in path:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
            depth += 1
        if depth > len(best):
            best = path[:depth]
    return best or None
