"""Bounds on what one input may cost, so hostile files cannot exhaust the process."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_file_bytes: int = 10 * 1024 * 1024
    # Documents per file, empty ones included (each costs a parse).
    max_documents: int = 10_000
    # Expanded node count per document: guards against alias bombs ("billion laughs").
    max_nodes_per_document: int = 200_000
    # Expanded node count per file: many small alias bombs must not add up to a big one.
    max_nodes_per_file: int = 2_000_000
    # libyaml itself refuses nesting deeper than 1,000; our own walk stops earlier.
    max_depth: int = 256
    # Repeats of one problem in one document (duplicate keys) reported before going quiet.
    max_findings_per_document: int = 100
    # yamllint's pure-Python scanner reads about 14,000 lines a second: beyond this size a file
    # is still parsed and validated, but its style rules are skipped (with a notice).
    max_lint_chars: int = 1024 * 1024


DEFAULT_LIMITS = Limits()
