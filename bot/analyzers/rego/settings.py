"""The ``policies:`` section of ``.github/gitops-gate.yml``.

```yaml
policies:
  rego:
    paths: [policy/, {path: legacy/, rego_version: v0}]   # read from the BASE commit
    namespaces: [main]          # Go path.Match globs; or all_namespaces: true
    data: [policy/data/]
    rego_version: v1            # default for paths given as plain strings
    combine: false              # one evaluation over every manifest document
    on_error: error             # severity of config/policy-error: error (fail closed) | warning
  builtin:                      # present: the built-in library runs (absent: it does not)
    sets: [pss-baseline, best-practices]  # empty or absent: the catalog's default sets
    disable: [<rule id or set>, ...]
    enable: [<rule id or set>, ...]       # default-off rules, or every rule of a set
    paths: {production: ["clusters/prod/**"]}   # where a set's findings are reported
  engine: regorus               # or opa-server
  opa_server: {url: https://opa.internal:8181, token_env: OPA_TOKEN, timeout: 30,
               rego_version: v1}          # the Rego version the server parses
```

Every bad key or value becomes a ``config/...`` finding at its line (``bot.configreader``) and the
default is used for it. Set names and rule ids of ``builtin`` are checked against the library's
catalog (``bot.analyzers.rego.library``); when the library cannot be loaded they are not, and
the run reports the missing library instead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from bot.analyzers.kyverno.settings import KyvernoConfig, parse_kyverno_config
from bot.analyzers.rego.conftest import DEFAULT_NAMESPACE, go_path_match
from bot.analyzers.rego.library import Catalog, LibraryError, load_library
from bot.analyzers.rego.policyset import PolicyPath
from bot.configreader import Reader, inside_repository, show
from bot.core.document import FieldPath, format_path
from bot.core.finding import Severity
from bot.engines.policy_engine import RegoVersion

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_TIMEOUT = 600.0


class EngineKind(StrEnum):
    REGORUS = "regorus"
    OPA_SERVER = "opa-server"


@dataclass(frozen=True, slots=True)
class RegoConfig:
    paths: tuple[PolicyPath, ...] = ()
    namespaces: tuple[str, ...] = (DEFAULT_NAMESPACE,)
    all_namespaces: bool = False
    data: tuple[str, ...] = ()
    rego_version: RegoVersion = RegoVersion.V1
    combine: bool = False
    on_error: Severity = Severity.ERROR


@dataclass(frozen=True, slots=True)
class BuiltinConfig:
    # Off unless ``policies.builtin`` is in the config: upgrading gitops-gate must not start
    # reporting new things on its own. ``builtin: {}`` (or ``true``) runs the default sets.
    enabled: bool = False
    sets: tuple[str, ...] = ()  # empty: the catalog's default sets
    disable: tuple[str, ...] = ()  # rule ids or set names
    enable: tuple[str, ...] = ()  # rule ids or set names
    paths: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (set, globs): where it is reported


@dataclass(frozen=True, slots=True)
class OpaServerConfig:
    url: str
    token_env: str | None = None  # the NAME of the variable holding the token, never the token
    timeout: float = 30.0
    rego_version: RegoVersion = RegoVersion.V1  # what the server parses (OPA 1.x: v1)


@dataclass(frozen=True, slots=True)
class PoliciesConfig:
    rego: RegoConfig = RegoConfig()
    builtin: BuiltinConfig = BuiltinConfig()
    engine: EngineKind = EngineKind.REGORUS
    opa_server: OpaServerConfig | None = None
    kyverno: KyvernoConfig = field(default_factory=KyvernoConfig)

    def with_paths(self, extra: Sequence[str]) -> PoliciesConfig:
        """``check --policy P``: more Rego paths, in the configured default Rego version."""
        added = tuple(PolicyPath(p, self.rego.rego_version) for p in extra)
        return replace(self, rego=replace(self.rego, paths=(*self.rego.paths, *added)))


def parse_policies_config(reader: Reader, value: Any) -> PoliciesConfig:
    where: FieldPath = ("policies",)
    top = reader.mapping(value, where, ("rego", "builtin", "engine", "opa_server", "kyverno"))
    engine = EngineKind(
        reader.choice(
            top.get("engine"), (*where, "engine"), tuple(e.value for e in EngineKind), "regorus"
        )
    )
    opa_server = _opa_server(reader, top.get("opa_server"), (*where, "opa_server"))
    if engine is EngineKind.OPA_SERVER and opa_server is None:
        reader.problem(
            (*where, "engine"),
            "config/invalid-value",
            "policies.engine is opa-server but policies.opa_server.url is not set; "
            "the embedded engine (regorus) is used.",
        )
        engine = EngineKind.REGORUS
    return PoliciesConfig(
        rego=_rego(reader, top.get("rego"), (*where, "rego")),
        builtin=_builtin(reader, top, (*where, "builtin")),
        engine=engine,
        opa_server=opa_server,
        kyverno=parse_kyverno_config(reader, top.get("kyverno"), (*where, "kyverno")),
    )


def _rego(reader: Reader, value: Any, where: FieldPath) -> RegoConfig:
    known = ("paths", "namespaces", "all_namespaces", "data", "rego_version", "combine", "on_error")
    section = reader.mapping(value, where, known)
    version = RegoVersion(
        reader.choice(section.get("rego_version"), (*where, "rego_version"), ("v0", "v1"), "v1")
    )
    namespaces = _namespaces(reader, section.get("namespaces"), (*where, "namespaces"))
    all_namespaces = reader.boolean(
        section.get("all_namespaces"), (*where, "all_namespaces"), False
    )
    if all_namespaces and "namespaces" in section:
        reader.problem(
            (*where, "namespaces"),
            "config/invalid-value",
            "policies.rego.namespaces is ignored because all_namespaces is true.",
            key=True,
            severity=Severity.WARNING,
        )
    on_error = reader.choice(
        section.get("on_error"), (*where, "on_error"), ("error", "warning"), "error"
    )
    return RegoConfig(
        paths=_paths(reader, section.get("paths"), (*where, "paths"), version),
        namespaces=namespaces or (DEFAULT_NAMESPACE,),
        all_namespaces=all_namespaces,
        data=tuple(
            p
            for i, p in enumerate(reader.strings(section.get("data"), (*where, "data")))
            if inside_repository(reader, p, (*where, "data", i))
        ),
        rego_version=version,
        combine=reader.boolean(section.get("combine"), (*where, "combine"), False),
        on_error=Severity(on_error),
    )


def _paths(
    reader: Reader, value: Any, where: FieldPath, default: RegoVersion
) -> tuple[PolicyPath, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out: list[PolicyPath] = []
    for index, item in enumerate(items):
        here = (*where, index) if isinstance(value, list) else where
        if isinstance(item, str):
            if inside_repository(reader, item, here):
                out.append(PolicyPath(item, default))
            continue
        if isinstance(item, dict):
            entry = reader.mapping(item, here, ("path", "rego_version"))
            path = entry.get("path")
            if not isinstance(path, str) or not path:
                reader.invalid((*here, "path"), path, "a policy file or folder path")
                continue
            version = reader.choice(
                entry.get("rego_version"), (*here, "rego_version"), ("v0", "v1"), default.value
            )
            if inside_repository(reader, path, (*here, "path")):
                out.append(PolicyPath(path, RegoVersion(version)))
            continue
        reader.invalid(here, item, "a path, or {path: ..., rego_version: v0|v1}")
    return tuple(out)


def _namespaces(reader: Reader, value: Any, where: FieldPath) -> tuple[str, ...]:
    out: list[str] = []
    for index, pattern in enumerate(reader.strings(value, where)):
        try:
            go_path_match(pattern)
        except ValueError as exc:
            reader.problem(
                (*where, index) if isinstance(value, list) else where,
                "config/invalid-value",
                f"policies.rego.namespaces: {exc}.",
            )
            continue
        out.append(pattern)
    return tuple(out)


def _builtin(reader: Reader, top: dict[str, Any], where: FieldPath) -> BuiltinConfig:
    if "builtin" not in top:
        return BuiltinConfig()
    value = top["builtin"]
    if isinstance(value, bool):
        return BuiltinConfig(enabled=value)
    section = reader.mapping(value, where, ("sets", "disable", "enable", "paths"))
    catalog = _catalog()
    names = _Names(reader, catalog)
    sets = names.check(section.get("sets"), (*where, "sets"), sets=True, rules=False)
    config = BuiltinConfig(
        enabled=True,
        sets=sets,
        disable=names.check(section.get("disable"), (*where, "disable"), sets=True, rules=True),
        enable=names.check(section.get("enable"), (*where, "enable"), sets=True, rules=True),
        paths=_set_paths(reader, names, section.get("paths"), (*where, "paths")),
    )
    if catalog is not None:
        _unused_paths(reader, catalog, config, (*where, "paths"))
    return config


def _catalog() -> Catalog | None:
    try:
        return load_library().catalog
    except LibraryError:
        return None  # the run reports the missing library; names cannot be checked here


class _Names:
    """Checks set names and rule ids against the catalog (all pass without one)."""

    def __init__(self, reader: Reader, catalog: Catalog | None) -> None:
        self.reader = reader
        self.catalog = catalog

    def check(self, value: Any, where: FieldPath, *, sets: bool, rules: bool) -> tuple[str, ...]:
        items = self.reader.strings(value, where)
        out: list[str] = []
        for index, name in enumerate(items):
            here = (*where, index) if isinstance(value, list) else where
            if self.known(name, here, sets=sets, rules=rules):
                out.append(name)
        return tuple(dict.fromkeys(out))

    def known(
        self, name: str, where: FieldPath, *, sets: bool, rules: bool, key: bool = False
    ) -> bool:
        if self.catalog is None:
            return True
        if (sets and name in self.catalog.sets) or (rules and name in self.catalog.rules):
            return True
        candidates = [*(self.catalog.sets if sets else ()), *(self.catalog.rules if rules else ())]
        what = " or ".join(w for w, on in (("set", sets), ("rule id", rules)) if on)
        close = difflib.get_close_matches(name, candidates, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        self.reader.problem(
            where,
            "config/invalid-value",
            f"{format_path(where)}: {show(name)} is not a built-in policy {what} (the sets: "
            f"{', '.join(sorted(self.catalog.sets))}"
            f"{'; rule ids look like pss.baseline.privileged' if rules else ''}).{hint}",
            key=key,
        )
        return False


def _set_paths(
    reader: Reader, names: _Names, value: Any, where: FieldPath
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out: list[tuple[str, tuple[str, ...]]] = []
    for name, globs in _items(reader, value, where):
        here = (*where, name)
        if not names.known(name, here, sets=True, rules=False, key=True):
            continue
        if globs in ([], ""):  # "nowhere" is not a scope: leave the set out of sets instead
            reader.invalid(here, globs, "a path glob or a non-empty list of path globs")
            continue
        patterns = reader.strings(globs, here)
        if not patterns:
            continue
        out.append((name, patterns))
    return tuple(out)


def _items(reader: Reader, value: Any, where: FieldPath) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        reader.invalid(where, value, "a mapping of set name to path globs")
        return []
    return [(str(k), v) for k, v in value.items()]


def _unused_paths(
    reader: Reader, catalog: Catalog, config: BuiltinConfig, where: FieldPath
) -> None:
    """``paths`` for a set that does not run has no effect: say so rather than let the user
    believe the set is checked there."""
    chosen = {*(config.sets or catalog.default_sets), *config.enable}
    running = catalog.implied(chosen) | {
        catalog.rules[i].set for i in config.enable if i in catalog.rules
    }
    for name, _ in config.paths:
        if name not in running:
            reader.problem(
                (*where, name),
                "config/invalid-value",
                f"{format_path((*where, name))}: the set {name} is not enabled (add it to "
                "policies.builtin.sets), so these paths have no effect.",
                key=True,
                severity=Severity.WARNING,
            )


def _opa_server(reader: Reader, value: Any, where: FieldPath) -> OpaServerConfig | None:
    if value is None:
        return None
    if isinstance(value, dict) and "token" in value:
        reader.problem(
            (*where, "token"),
            "config/invalid-value",
            "policies.opa_server.token: never put a token in the repository's config; store it "
            "in an environment variable and name that variable in token_env.",
            key=True,
        )
        value = {k: v for k, v in value.items() if k != "token"}
    section = reader.mapping(value, where, ("url", "token_env", "timeout", "rego_version"))
    if not section:
        return None
    url = section.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        reader.invalid((*where, "url"), url, "an http:// or https:// URL")
        return None
    token_env = section.get("token_env")
    if token_env is not None and not (isinstance(token_env, str) and _ENV_NAME.match(token_env)):
        reader.invalid((*where, "token_env"), token_env, "an environment variable name")
        token_env = None
    timeout = section.get("timeout", 30)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout <= _MAX_TIMEOUT
    ):
        reader.invalid(
            (*where, "timeout"), timeout, f"a number of seconds between 0 and {_MAX_TIMEOUT:g}"
        )
        timeout = 30
    version = reader.choice(
        section.get("rego_version"), (*where, "rego_version"), ("v0", "v1"), "v1"
    )
    return OpaServerConfig(url, token_env, float(timeout), RegoVersion(version))
