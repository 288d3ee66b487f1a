"""The repository configuration file (``.github/gitops-gate.yml``) as frozen dataclasses.

A bad key or value never stops the run: it becomes a ``config/...`` finding at its line in
the config file and the default is used for that key. Keys that belong to analyzers not built
yet are accepted with a notice saying they are ignored, so a config written for a later version
does not fail today.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.analyzers.images.settings import ImagesConfig, parse_images_config
from bot.analyzers.rego.settings import PoliciesConfig, parse_policies_config
from bot.configreader import SEVERITY_WORDS, Reader, off
from bot.core.document import FieldPath, load_text
from bot.core.filekind import FileKind
from bot.core.finding import Category, Finding, Severity

DEFAULT_CONFIG_PATH = ".github/gitops-gate.yml"


class MissingSchema(StrEnum):
    SKIP = "skip"
    WARN = "warn"
    ERROR = "error"


class FailOn(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"
    NEVER = "never"

    def fails(self, severity: Severity) -> bool:
        if self is FailOn.NEVER:
            return False
        return severity.rank >= Severity(self.value).rank


class SchemaEngine(StrEnum):
    EMBEDDED = "embedded"
    KUBECONFORM = "kubeconform"


@dataclass(frozen=True, slots=True)
class SchemaConfig:
    strict: bool = True
    missing: MissingSchema = MissingSchema.WARN
    locations: tuple[str, ...] = ()
    engine: SchemaEngine = SchemaEngine.EMBEDDED
    skip_kinds: tuple[str, ...] = ()  # "Kind" or "apiVersion/Kind", as kubeconform -skip


@dataclass(frozen=True, slots=True)
class SyntaxConfig:
    # yamllint rule name -> options; "severity" in the options is ours (error|warning|notice|off)
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    paths: tuple[str, ...]
    fail_on: FailOn | None = None
    severity: tuple[tuple[str, str], ...] = ()  # (rule_id glob, severity or "off")
    # Images in these paths must be pinned by digest: a tag alone is an error, not a warning.
    require_digest: bool | None = None


@dataclass(frozen=True, slots=True)
class SecretsConfig:
    # Findings allowed on purpose (each listed in the report as an allowance).
    allow_paths: tuple[str, ...] = ()
    allow_rules: tuple[str, ...] = ()
    allow_fingerprints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportConfig:
    # Annotations on the check run; past the cap the summary says how many were left out.
    max_annotations: int = 1000


@dataclass(frozen=True, slots=True)
class Config:
    kubernetes_version: str | None = None  # "1.37"; None = newest shipped
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    schema: SchemaConfig = SchemaConfig()
    syntax: SyntaxConfig = SyntaxConfig()
    severity: tuple[tuple[str, str], ...] = ()  # global (rule_id glob, severity or "off")
    environments: tuple[Environment, ...] = ()
    report: ReportConfig = ReportConfig()
    secrets: SecretsConfig = SecretsConfig()
    images: ImagesConfig = field(default_factory=ImagesConfig)
    policies: PoliciesConfig = field(default_factory=PoliciesConfig)
    source_path: str | None = None


_LATER_SECTIONS = ("render", "commands")
_LATER_REPORT_KEYS = ("review_comments", "summary_comment")
_MAX_ANNOTATIONS_CEILING = 50_000
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")


def parse_config(
    text: str | None,
    path: str = DEFAULT_CONFIG_PATH,
    *,
    supported_versions: tuple[str, ...] = (),
    read_file: Callable[[str], bytes | None] = lambda _path: None,
) -> tuple[Config, list[Finding]]:
    """Config and the findings about it; no text means all defaults."""
    if text is None:
        return Config(), []
    loaded = load_text(path, text, FileKind.GATE_CONFIG)
    findings = [_as_config_finding(f) for f in loaded.findings]
    doc = loaded.documents[0] if loaded.documents else None
    reader = Reader(doc, path)
    if len(loaded.documents) > 1:
        reader.problem((), "config/invalid-value", "Config file must hold one YAML document.")
    data = doc.data if doc else None
    top = reader.mapping(
        data,
        (),
        (
            "kubernetes_version",
            "include",
            "exclude",
            "schema",
            "syntax",
            "severity",
            "environments",
            "report",
            "secrets",
            "images",
            "policies",
            *_LATER_SECTIONS,
        ),
    )
    for section in _LATER_SECTIONS:
        if section in top:
            reader.problem(
                (section,),
                "config/not-supported",
                f'"{section}" is not supported by this version of gitops-gate yet; it is ignored.',
                key=True,
                severity=Severity.NOTICE,
            )
    config = Config(
        kubernetes_version=_version(reader, top.get("kubernetes_version"), supported_versions),
        include=reader.strings(top.get("include"), ("include",)),
        exclude=reader.strings(top.get("exclude"), ("exclude",)),
        schema=_schema(reader, top.get("schema")),
        syntax=_syntax(reader, top.get("syntax")),
        severity=reader.severity_map(top.get("severity"), ("severity",)),
        environments=_environments(reader, top.get("environments")),
        report=_report(reader, top.get("report")),
        secrets=_secrets(reader, top.get("secrets")),
        images=parse_images_config(reader, top.get("images"), read_file),
        policies=parse_policies_config(reader, top.get("policies")),
        source_path=path,
    )
    return config, findings + reader.findings


def _as_config_finding(finding: Finding) -> Finding:
    from dataclasses import replace

    return replace(finding, category=Category.CONFIG, rule_id="config/" + finding.rule_id)


def _version(reader: Reader, value: Any, supported: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    text = str(value) if isinstance(value, (str, int, float)) else None
    match = _VERSION.match(text or "")
    if not match:
        reader.invalid(("kubernetes_version",), value, 'a version such as "1.31"')
        return None
    version = f"{match.group(1)}.{match.group(2)}"
    if supported and version not in supported:
        reader.problem(
            ("kubernetes_version",),
            "config/invalid-value",
            f"Kubernetes {version} has no bundled schemas; available: {', '.join(supported)}.",
        )
        return None
    return version


def _schema(reader: Reader, value: Any) -> SchemaConfig:
    where: FieldPath = ("schema",)
    data = reader.mapping(value, where, ("strict", "missing", "locations", "engine", "skip"))
    return SchemaConfig(
        strict=reader.boolean(data.get("strict"), (*where, "strict"), True),
        missing=MissingSchema(
            reader.choice(
                data.get("missing"), (*where, "missing"), ("skip", "warn", "error"), "warn"
            )
        ),
        locations=reader.strings(data.get("locations"), (*where, "locations")),
        engine=SchemaEngine(
            reader.choice(
                data.get("engine"), (*where, "engine"), ("embedded", "kubeconform"), "embedded"
            )
        ),
        skip_kinds=reader.strings(data.get("skip"), (*where, "skip")),
    )


def _secrets(reader: Reader, value: Any) -> SecretsConfig:
    where: FieldPath = ("secrets",)
    data = reader.mapping(value, where, ("allow",))
    allow_where: FieldPath = (*where, "allow")
    allow = reader.mapping(data.get("allow"), allow_where, ("paths", "rules", "fingerprints"))
    return SecretsConfig(
        allow_paths=reader.strings(allow.get("paths"), (*allow_where, "paths")),
        allow_rules=reader.strings(allow.get("rules"), (*allow_where, "rules")),
        allow_fingerprints=reader.strings(
            allow.get("fingerprints"), (*allow_where, "fingerprints")
        ),
    )


def _report(reader: Reader, value: Any) -> ReportConfig:
    where: FieldPath = ("report",)
    data = reader.mapping(value, where, ("max_annotations", *_LATER_REPORT_KEYS))
    for key in _LATER_REPORT_KEYS:
        if key in data:
            reader.problem(
                (*where, key),
                "config/not-supported",
                f'"report.{key}" is not supported by this version of gitops-gate yet; '
                "it is ignored.",
                key=True,
                severity=Severity.NOTICE,
            )
    cap = data.get("max_annotations")
    if cap is None:
        return ReportConfig()
    if (
        isinstance(cap, bool)
        or not isinstance(cap, int)
        or not 0 <= cap <= _MAX_ANNOTATIONS_CEILING
    ):
        reader.invalid(
            (*where, "max_annotations"), cap, f"an integer from 0 to {_MAX_ANNOTATIONS_CEILING:,}"
        )
        return ReportConfig()
    return ReportConfig(max_annotations=cap)


def _syntax(reader: Reader, value: Any) -> SyntaxConfig:
    where: FieldPath = ("syntax",)
    data = reader.mapping(value, where, ("rules",))
    rules_value = data.get("rules")
    rules: dict[str, Mapping[str, Any]] = {}
    if rules_value is not None and not isinstance(rules_value, dict):
        reader.invalid((*where, "rules"), rules_value, "a mapping of yamllint rule to options")
    elif isinstance(rules_value, dict):
        for name, options in rules_value.items():
            options = off(options)
            rule_where = (*where, "rules", name)
            if isinstance(options, str) and options in SEVERITY_WORDS:
                rules[name] = {"severity": options}
            elif isinstance(options, dict):
                sev = options.get("severity")
                if sev is not None and sev not in SEVERITY_WORDS:
                    reader.invalid(
                        (*rule_where, "severity"), sev, "one of error, warning, notice, off"
                    )
                    options = {k: v for k, v in options.items() if k != "severity"}
                rules[name] = options
            else:
                reader.invalid(rule_where, options, "a severity or a mapping of rule options")
    return SyntaxConfig(rules=rules)


def _environments(reader: Reader, value: Any) -> tuple[Environment, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        reader.invalid(("environments",), value, "a mapping of environment name to settings")
        return ()
    out: list[Environment] = []
    for name, settings in value.items():
        where: FieldPath = ("environments", name)
        data = reader.mapping(settings, where, ("paths", "fail_on", "severity", "require_digest"))
        require_digest = data.get("require_digest")
        paths = reader.strings(data.get("paths"), (*where, "paths"))
        if not paths:
            reader.problem(
                where, "config/invalid-value", f'Environment "{name}" needs "paths".', key=True
            )
            continue
        fail_on = data.get("fail_on")
        out.append(
            Environment(
                name=str(name),
                paths=paths,
                fail_on=FailOn(
                    reader.choice(
                        fail_on, (*where, "fail_on"), tuple(f.value for f in FailOn), "error"
                    )
                )
                if fail_on is not None
                else None,
                severity=reader.severity_map(data.get("severity"), (*where, "severity")),
                require_digest=_optional_boolean(
                    reader, require_digest, (*where, "require_digest")
                ),
            )
        )
    return tuple(out)


def _optional_boolean(reader: Reader, value: Any, where: FieldPath) -> bool | None:
    """A bad value is reported and leaves the setting unset (the global one applies)."""
    if value is None or isinstance(value, bool):
        return value
    reader.invalid(where, value, "true or false")
    return None
