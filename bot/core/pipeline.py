"""The pipeline every entry point runs: ChangeSet + Config -> Report.

1. select and load documents (positions, multi-doc, List, duplicate keys, limits)
2. analyzers: syntax, schema, secrets, images (one failing analyzer becomes one internal
   finding; the run goes on); image signatures are resolved through the engine first
3. severity overrides (global, then per environment), ``--only`` and diff filtering
4. the conclusion, from the fail threshold that applies to each finding's path
"""

from __future__ import annotations

import fnmatch
import gc
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar

from wcmatch import glob as wcglob

if TYPE_CHECKING:
    from bot.engines.schema_store import SchemaEntry

from bot import __version__
from bot.analyzers import rego as rego_analyzer
from bot.analyzers import schema as schema_analyzer
from bot.analyzers import syntax as syntax_analyzer
from bot.analyzers.crd import TreeCrdSchemas
from bot.analyzers.images import analyzer as images_analyzer
from bot.analyzers.images.reference import ImageReference
from bot.analyzers.images.trust import SignatureRule, SignatureVerdict
from bot.analyzers.kyverno import analyzer as kyverno_analyzer
from bot.analyzers.kyverno.settings import KyvernoConfig
from bot.analyzers.rego.policyset import LocalPaths
from bot.analyzers.rego.settings import PoliciesConfig
from bot.analyzers.secrets import analyzer as secrets_analyzer
from bot.analyzers.secrets.allow import AllowList
from bot.config import DEFAULT_CONFIG_PATH, Config, FailOn, SchemaEngine, parse_config
from bot.core.allowance import Allowance
from bot.core.changeset import ChangedFile, ChangeSet, FileStatus
from bot.core.document import Document, LoadedFile, decode, load_file
from bot.core.filekind import FileKind, chart_roots, classify, is_candidate
from bot.core.finding import Category, Finding, Severity, Source
from bot.core.kustomize import patch_paths
from bot.core.limits import DEFAULT_LIMITS, Limits
from bot.engines.policy_engine import PolicyEngine, PolicyError

_GLOB_FLAGS = wcglob.GLOBSTAR | wcglob.DOTGLOB | wcglob.BRACE


T = TypeVar("T")
R = TypeVar("R")


class Mapper(Protocol):
    """Applies a picklable function to every item, in order: in this process, or spread over
    worker processes by the engine the caller chose (``bot.engines.parallel``)."""

    def __call__(self, fn: Callable[[T], R], items: Sequence[T], /) -> list[R]: ...


def sequential(fn: Callable[[T], R], items: Sequence[T], /) -> list[R]:
    return [fn(item) for item in items]


@dataclass(frozen=True, slots=True)
class Options:
    only: frozenset[Category] | None = None
    fail_on: FailOn = FailOn.ERROR
    kubernetes_version: str | None = None  # overrides the config's
    schema_engine: SchemaEngine | None = None  # overrides the config's
    limits: Limits = DEFAULT_LIMITS
    policies: tuple[str, ...] = ()  # ``check --policy P``: Rego paths on top of the config's


class SchemaBackend:
    """Validates manifests against schemas; the kubeconform engine implements this too."""

    def analyze(
        self, files: Sequence[LoadedFile], ctx: schema_analyzer.SchemaContext
    ) -> list[Finding]:
        raise NotImplementedError


@dataclass(slots=True)
class Engines:
    """I/O capabilities the caller provides; the core never opens sockets or processes."""

    # The Kubernetes built-in kinds for (version, strict), and the newest version shipped.
    builtin_schemas: Callable[[str, bool], schema_analyzer.SchemaSource | None] = (
        lambda _version, _strict: None
    )
    default_kubernetes_version: str = "1.37"
    # Extra schema sources from the config's locations (folders, files, URL templates).
    schema_locations: Callable[[Config, str, bool], Sequence[schema_analyzer.SchemaSource]] = (
        lambda _config, _version, _strict: ()
    )
    kubeconform: SchemaBackend | None = None
    # Verifies image signatures against their registries (``engines/local.py`` wraps
    # ``image_verify``). None: images a signature rule matches are reported "could not verify".
    verify_images: (
        Callable[[Sequence[tuple[ImageReference, SignatureRule]]], Sequence[SignatureVerdict]]
        | None
    ) = None
    # Builds the Rego engine for a run (Regorus in a worker process, or a remote OPA). None:
    # configured policies cannot be evaluated, which is reported, never passed.
    policy_engine: Callable[[PoliciesConfig, str], PolicyEngine] | None = None
    # How per-file work (loading, style rules) is spread: in-process unless the caller says.
    map: Mapper = sequential


@dataclass(frozen=True, slots=True)
class Report:
    findings: tuple[Finding, ...]
    blocking: tuple[bool, ...]  # parallel to findings: does it fail the run?
    files: int
    documents: int
    tool_version: str = __version__
    # Findings allowed on purpose (inline comments, config allowlists): listed, never hidden.
    allowances: tuple[Allowance, ...] = ()
    # Secrets on lines the change did not add (only a change's own secrets fail its check).
    pre_existing_secrets: int = 0

    @property
    def conclusion(self) -> str:
        return "failure" if any(self.blocking) else "success"

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def summary(self) -> dict[str, int | str]:
        """Counts and conclusion, as the JSON contract's ``summary`` (and SARIF's) has them."""
        return {
            "files": self.files,
            "documents": self.documents,
            "error": self.count(Severity.ERROR),
            "warning": self.count(Severity.WARNING),
            "notice": self.count(Severity.NOTICE),
            "conclusion": self.conclusion,
        }

    def has_config_errors(self) -> bool:
        return any(
            f.category is Category.CONFIG and f.severity is Severity.ERROR for f in self.findings
        )


@dataclass(slots=True)
class _Run:
    changeset: ChangeSet
    config: Config
    options: Options
    engines: Engines
    findings: list[Finding] = field(default_factory=list)
    allowances: list[Allowance] = field(default_factory=list)
    pre_existing_secrets: int = 0


def run(
    changeset: ChangeSet,
    config: Config,
    options: Options = Options(),
    engines: Engines | None = None,
    config_findings: Sequence[Finding] = (),
) -> Report:
    state = _Run(changeset, config, options, engines or Engines(), list(config_findings))
    if changeset.proposed_config_text is not None:
        # The change edits the config: it does not apply to this run, but its mistakes are
        # reported now rather than after the merge.
        state.findings.extend(
            parse_config(
                changeset.proposed_config_text,
                changeset.config_path or DEFAULT_CONFIG_PATH,
                # key files as the change will have them once merged
                read_file=changeset.read_context,
            )[1]
        )
    selected = select_files(changeset.files, config)
    charts = chart_roots(changeset.tree_paths | {f.path for f in changeset.files})
    with collector_paused():
        loaded = load_files(selected, charts, options.limits, state.engines.map)
        for item in loaded:
            state.findings.extend(item.findings)
        _guarded(state, "syntax", lambda: _syntax(state, loaded))
        _guarded(state, "schema", lambda: _schema(state, loaded))
        _guarded(state, "secrets", lambda: _secrets(state, loaded))
        _guarded(state, "images", lambda: _images(state, loaded))
        _guarded(state, "rego", lambda: _rego(state, loaded))
        _guarded(state, "kyverno", lambda: _kyverno(state, loaded))
    findings = _post_process(state, {f.path: f for f in selected})
    blocking = tuple(_fails(f, config, options.fail_on) for f in findings)
    return Report(
        findings=tuple(findings),
        blocking=blocking,
        files=len(loaded),
        documents=sum(len(item.documents) for item in loaded),
        allowances=tuple(state.allowances),
        pre_existing_secrets=state.pre_existing_secrets,
    )


@dataclass(frozen=True, slots=True)
class _LoadTask:
    path: str
    content: bytes
    kind: FileKind


def _load_task(task: _LoadTask, limits: Limits) -> LoadedFile:
    with collector_paused():  # also in worker processes
        return load_file(task.path, task.content, task.kind, limits)


def load_files(
    files: Iterable[ChangedFile],
    charts: Collection[str],
    limits: Limits = DEFAULT_LIMITS,
    mapper: Mapper = sequential,
) -> list[LoadedFile]:
    """Load (decode, parse, build) every file that has content, in order."""
    tasks = [
        _LoadTask(f.path, f.content, classify(f.path, charts))
        for f in files
        if f.content is not None
    ]
    return mapper(partial(_load_task, limits=limits), tasks)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while documents are built and analyzed.

    Building data allocates millions of small containers that live until the run ends, so the
    collector's generational passes keep rescanning them for nothing: measured, they were three
    quarters of the load time. Documents form no reference cycles (the loader's alias memo
    shares objects, it does not loop), and reference counting still frees everything at once.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def select_files(files: Iterable[ChangedFile], config: Config) -> list[ChangedFile]:
    """The YAML and JSON files the config's include/exclude leave in."""
    return [f for f in files if is_candidate(f.path) and _in_scope(f.path, config)]


def _in_scope(path: str, config: Config) -> bool:
    if config.include and not wcglob.globmatch(path, list(config.include), flags=_GLOB_FLAGS):
        return False
    return not (config.exclude and wcglob.globmatch(path, list(config.exclude), flags=_GLOB_FLAGS))


def _guarded(state: _Run, name: str, step: Callable[[], list[Finding]]) -> None:
    try:
        state.findings.extend(step())
    except Exception as exc:  # one analyzer failing must not stop the others
        state.findings.append(
            Finding(
                rule_id="internal/analyzer-error",
                category=Category.INTERNAL,
                severity=Severity.ERROR,
                message=f"The {name} analyzer failed: {type(exc).__name__}: {exc}",
                path="",
                source=Source(engine=name),
                locator=name,
            )
        )


def _wanted(state: _Run, category: Category) -> bool:
    return state.options.only is None or category in state.options.only


def _syntax(state: _Run, loaded: Sequence[LoadedFile]) -> list[Finding]:
    if not _wanted(state, Category.SYNTAX):
        return []
    overrides = state.config.syntax.rules
    _, problems = syntax_analyzer.build_rules(overrides)
    out = [_config_problem(state.config, ("syntax", "rules"), p) for p in problems]
    task = partial(
        syntax_analyzer.run_job_with_overrides,
        overrides=json.dumps(overrides, sort_keys=True, default=str),
        limits=state.options.limits,
    )
    for findings in state.engines.map(task, syntax_analyzer.jobs_for(loaded)):
        out.extend(findings)
    return out


def _secrets(state: _Run, loaded: Sequence[LoadedFile]) -> list[Finding]:
    if not _wanted(state, Category.SECRET):
        return []
    config = state.config.secrets
    allow = AllowList(config.allow_paths, config.allow_rules, config.allow_fingerprints)
    texts = _text_files(state)
    added = {f.path: f.added_lines for f in state.changeset.files}
    result = secrets_analyzer.analyze([*loaded, *texts], allow, added)
    state.allowances.extend(result.allowances)
    state.pre_existing_secrets += result.pre_existing
    return result.findings


def _images(state: _Run, loaded: Sequence[LoadedFile]) -> list[Finding]:
    if not _wanted(state, Category.IMAGE):
        return []
    config = state.config.images
    requests = images_analyzer.signature_requests(loaded, config)
    verify = state.engines.verify_images
    verdicts = verify(requests) if requests and verify is not None else []
    required = images_analyzer.digest_requirement(
        config.require_digest,
        [(env.paths, env.require_digest) for env in state.config.environments],
    )
    return images_analyzer.analyze(
        loaded, config, images_analyzer.index_verdicts(verdicts), required
    )


def _rego(state: _Run, loaded: Sequence[LoadedFile]) -> list[Finding]:
    """Rego policies from the trusted tree (the base commit on a pull request) and from
    ``--policy``, and the built-in library when ``policies.builtin`` is configured; a policy
    (or the library) that fails to load or evaluate is a blocking finding by default."""
    if not _wanted(state, Category.POLICY):
        return []
    policies = state.config.policies
    rego = policies.rego
    extra, _ = _policy_flag_paths(state.options.policies)
    wants_user = bool(rego.paths or extra)
    if not wants_user and not policies.builtin.enabled:
        return []
    findings: list[Finding] = []
    policy_set = rego_analyzer.PolicySet()
    if wants_user:
        policy_set, findings = rego_analyzer.load(state.changeset.trusted, rego, extra_paths=extra)
    builtin: rego_analyzer.Builtin | None = None
    if policies.builtin.enabled:
        try:
            builtin = rego_analyzer.prepare_builtin(policies.builtin)
        except rego_analyzer.LibraryError as exc:
            problem = PolicyError(str(exc))
            findings.append(rego_analyzer.policy_error_finding(problem, rego.on_error))
    if policy_set.empty and builtin is None:
        return findings
    if state.engines.policy_engine is None:
        missing = PolicyError("no Rego engine is available to this run; policies were not checked")
        return [*findings, rego_analyzer.policy_error_finding(missing, rego.on_error)]
    engine = state.engines.policy_engine(policies, state.changeset.repository)
    try:
        found, allowances = rego_analyzer.analyze(loaded, policy_set, engine, rego, builtin)
    finally:
        engine.close()
    state.allowances.extend(allowances)
    return [*findings, *found]


def _kyverno(state: _Run, loaded: Sequence[LoadedFile]) -> list[Finding]:
    """Kyverno policies from the trusted tree (the base commit on a pull request) and the
    ``--policy`` paths that hold YAML or JSON. A modified file is an UPDATE whose old object is
    the base version, a removed one a DELETE, an added one a CREATE. Kustomize patches are not
    evaluated (they are fragments of resources, not resources)."""
    if not _wanted(state, Category.POLICY):
        return []
    config = state.config.policies.kyverno
    findings: list[Finding] = []
    policy_sets = []
    if config.enabled:
        policy_set, problems = kyverno_analyzer.load(state.changeset.trusted, config)
        policy_sets.append(policy_set)
        findings += problems
    _, extra = _policy_flag_paths(state.options.policies)
    if extra:
        policy_set, problems = kyverno_analyzer.load(
            LocalPaths(), KyvernoConfig(paths=extra, on_error=config.on_error)
        )
        policy_sets.append(policy_set)
        findings += problems
    if not policy_sets:
        return []
    status = {f.path: f.status for f in state.changeset.files}
    base: dict[str, list[Document]] = {}
    for changed in state.changeset.files:
        if changed.status in (FileStatus.MODIFIED, FileStatus.REMOVED):
            content = state.changeset.trusted.read(changed.path)  # the base commit's version
            if content is not None:
                base[changed.path] = load_file(
                    changed.path, content, FileKind.MANIFEST, state.options.limits
                ).documents
    # A kustomize patch is a fragment merged into a resource elsewhere, never applied as is:
    # a policy would fail it for every field it leaves out.
    patches = patch_paths(loaded)
    whole = [item for item in loaded if item.path not in patches]
    subjects = kyverno_analyzer.subjects(whole, status=status, base=base)
    for policy_set in policy_sets:
        findings += kyverno_analyzer.analyze(subjects, policy_set)
    return findings


def _policy_flag_paths(paths: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``--policy`` paths for Rego and for Kyverno: a path with YAML or
    JSON may hold Kyverno policies; one with ``.rego`` files, or with neither (a missing path
    included, so that it is reported), is Rego's. A path may be both."""
    rego: list[str] = []
    kyverno: list[str] = []
    for path in paths:
        names = LocalPaths().files_under(path)
        has_rego = any(name.endswith(".rego") for name in names)
        has_yaml = any(name.lower().endswith((".yaml", ".yml", ".json")) for name in names)
        if has_rego or not has_yaml:
            rego.append(path)
        if has_yaml:
            kyverno.append(path)
    return tuple(rego), tuple(kyverno)


def _text_files(state: _Run) -> list[LoadedFile]:
    """Files that are not YAML or JSON but may hold secrets (.env, .tf, .properties, ...):
    decoded only. Binary files and undecodable ones are skipped quietly: they are not ours to
    report on."""
    out = []
    for changed in state.changeset.files:
        if changed.content is None or is_candidate(changed.path):
            continue
        if not _in_scope(changed.path, state.config):
            continue
        text, problems = decode(changed.path, changed.content, state.options.limits)
        if text is not None and not problems:
            out.append(LoadedFile(changed.path, FileKind.TEXT, text))
    return out


def _schema(state: _Run, loaded: Sequence[LoadedFile]) -> list[Finding]:
    if not _wanted(state, Category.SCHEMA):
        return []
    config = state.config
    version = (
        state.options.kubernetes_version
        or config.kubernetes_version
        or state.engines.default_kubernetes_version
    )
    strict = config.schema.strict
    manifests = [item for item in loaded if item.kind is FileKind.MANIFEST]
    documents = [doc for item in manifests for doc in item.documents]
    builtin = state.engines.builtin_schemas(version, strict)
    sources: list[schema_analyzer.SchemaSource] = [
        *([builtin] if builtin is not None else []),
        TreeCrdSchemas(documents, strict=strict),
        _ContextCrds(state.changeset, {item.path for item in loaded}, strict, state.options.limits),
        *state.engines.schema_locations(config, version, strict),
    ]
    ctx = schema_analyzer.SchemaContext(sources, config.schema, version)
    engine = state.options.schema_engine or config.schema.engine
    if engine is SchemaEngine.KUBECONFORM:
        if state.engines.kubeconform is None:
            return [
                _config_problem(
                    config,
                    ("schema", "engine"),
                    "schema.engine is kubeconform but no kubeconform binary was found on PATH; "
                    "install it or use the embedded engine.",
                )
            ]
        found = state.engines.kubeconform.analyze(manifests, ctx)
    else:
        found = schema_analyzer.analyze(manifests, ctx)
    patches = patch_paths(loaded)
    return [f for f in found if not (f.rule_id == "schema/missing-field" and f.path in patches)]


class _ContextCrds:
    """CRDs from files of the tree that are not being checked (``--base`` or a pull request),
    loaded only when some kind has no other schema."""

    def __init__(
        self, changeset: ChangeSet, checked: set[str], strict: bool, limits: Limits
    ) -> None:
        self._changeset = changeset
        self._checked = checked
        self._strict = strict
        self._limits = limits
        self._crds: TreeCrdSchemas | None = None

    def lookup(self, api_version: str, kind: str) -> SchemaEntry | None:
        if self._crds is None:
            self._crds = TreeCrdSchemas(self._load(), strict=self._strict)
        return self._crds.lookup(api_version, kind)

    def _load(self) -> list[Document]:
        docs = []
        for path in sorted(self._changeset.tree_paths - self._checked):
            if not is_candidate(path):
                continue
            content = self._changeset.read_context(path)
            if content is None or b"CustomResourceDefinition" not in content:
                continue
            docs.extend(load_file(path, content, FileKind.MANIFEST, self._limits).documents)
        return docs


def _config_problem(config: Config, where: tuple[str, ...], message: str) -> Finding:
    return Finding(
        rule_id="config/invalid-value",
        category=Category.CONFIG,
        severity=Severity.ERROR,
        message=message,
        path=config.source_path or "",
        source=Source(engine="config"),
        locator=".".join(where),
    )


def _post_process(state: _Run, selected: dict[str, ChangedFile]) -> list[Finding]:
    out: list[Finding] = []
    seen: set[tuple[str, str, int | None, int | None, str]] = set()
    for finding in state.findings:
        if state.options.only is not None and finding.category not in state.options.only:
            continue
        adjusted = _override(finding, state.config)
        if adjusted is None or not _in_diff(adjusted, selected.get(adjusted.path)):
            continue
        key = (adjusted.rule_id, adjusted.path, adjusted.line, adjusted.column, adjusted.message)
        if key in seen:
            continue
        seen.add(key)
        out.append(adjusted)
    out.sort(key=Finding.sort_key)
    return out


def _override(finding: Finding, config: Config) -> Finding | None:
    """Apply ``severity`` overrides: global first, then the environments the path is in."""
    rules = list(config.severity)
    for env in config.environments:
        if finding.path and wcglob.globmatch(finding.path, list(env.paths), flags=_GLOB_FLAGS):
            rules.extend(env.severity)
    result: Finding | None = finding
    for pattern, severity in rules:
        if fnmatch.fnmatchcase(finding.rule_id, pattern):
            result = None if severity == "off" else replace(finding, severity=Severity(severity))
    return result


def _in_diff(finding: Finding, changed: ChangedFile | None) -> bool:
    """With a diff, style notes (line-level rules) count only on added lines."""
    if changed is None or changed.added_lines is None or finding.line is None:
        return True
    if finding.source.engine != "yamllint":
        return True
    return finding.line in changed.added_lines


def _fails(finding: Finding, config: Config, default: FailOn) -> bool:
    threshold = default
    for env in config.environments:
        if (
            env.fail_on is not None
            and finding.path
            and wcglob.globmatch(finding.path, list(env.paths), flags=_GLOB_FLAGS)
        ):
            threshold = env.fail_on
    return threshold.fails(finding.severity)
