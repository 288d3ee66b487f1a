"""Rego policies with conftest's conventions: ``gitops-gate rego test|verify`` and the policy
analyzer of ``gitops-gate check``."""

from bot.analyzers.rego.analyzer import analyze, load
from bot.analyzers.rego.builtin import Builtin, parse_field
from bot.analyzers.rego.builtin import prepare as prepare_builtin
from bot.analyzers.rego.findings import POLICY_ERROR, policy_error_finding, policy_findings
from bot.analyzers.rego.library import LIBRARY_ENV, Library, LibraryError, library_root
from bot.analyzers.rego.policyset import PolicyPath, PolicySet, load_policy_set
from bot.analyzers.rego.settings import (
    BuiltinConfig,
    EngineKind,
    OpaServerConfig,
    PoliciesConfig,
    RegoConfig,
    parse_policies_config,
)

__all__ = [
    "LIBRARY_ENV",
    "POLICY_ERROR",
    "Builtin",
    "BuiltinConfig",
    "EngineKind",
    "Library",
    "LibraryError",
    "OpaServerConfig",
    "PoliciesConfig",
    "PolicyPath",
    "PolicySet",
    "RegoConfig",
    "analyze",
    "library_root",
    "load",
    "load_policy_set",
    "parse_field",
    "parse_policies_config",
    "policy_error_finding",
    "policy_findings",
    "prepare_builtin",
]
