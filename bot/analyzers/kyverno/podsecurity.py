"""Kyverno's ``validate.podSecurity`` rule: the Pod Security Standards, checked the way Kyverno
checks them, with ``level``, ``version`` and the ``exclude`` list.

Kyverno runs the checks of k8s.io/pod-security-admission (vendored through its fork
kyverno/pod-security-admission, which adds field errors to every check result) and then removes
the field errors an ``exclude`` entry covers. Sources, all read for this port:

- kyverno/kyverno ``pkg/pss/evaluate.go`` (``evaluatePSS``, ``exemptExclusions``,
  ``GetPodWithMatchingContainers``, ``FormatChecksPrint``), ``pkg/pss/utils/mapping.go`` (control
  names), ``pkg/engine/handlers/validation/validate_pss.go`` (pod controllers, message, images),
  ``api/kyverno/v1/common_types.go`` and ``rule_types.go`` (what a policy may say);
- kubernetes ``staging/src/k8s.io/pod-security-admission/policy/check_*.go`` and the fork's
  versions of them (field errors and their bad values), ``api/helpers.go`` (versions);
- kyverno ``pkg/pss/evaluate_test.go``, ``evaluate_userns_test.go``, ``hostprobes_test.go``.

Kyverno behaviours this port keeps on purpose, because ``kyverno test`` results depend on them:

- ``version: latest`` runs the newest revision of each check; a pinned version runs *every*
  revision at or below it, so an older, stricter revision still applies (a pinned ``v1.29``
  still rejects the sysctls only the 1.29 revision allows, and Windows pods are exempted from
  the Linux-only restricted checks only at ``latest``).
- ``level: privileged`` is not special-cased: every check runs, as for ``restricted``.
- Restricted runs the baseline checks too, with no PSA "override": ``procMount`` and
  ``procMount_restricted`` can both fail.
- An exclusion without ``images`` is evaluated on a copy of the pod whose containers are replaced
  by one bare container named ``fake``; with ``images`` on a pod holding only the matching
  containers. Each field error found there removes at most one matching field error of the pod.
- For a CronJob the pod metadata is ``spec.jobTemplate.metadata``; the field names in the failure
  message are rewritten with Kyverno's blind ``spec``/``metadata`` string replacement.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from bot.analyzers.kyverno.values import wildcard_match

FieldPath = tuple[str | int, ...]
BadValue = None | bool | int | str | tuple[str, ...]
Version = tuple[int, int] | None  # None is "latest"

LEVELS: tuple[str, ...] = ("privileged", "baseline", "restricted")

# Kyverno control names (exclude.controlName) and the PSA check IDs behind each
# (pkg/pss/utils/mapping.go PSS_control_name_to_ids).
CONTROL_IDS: dict[str, tuple[str, ...]] = {
    "Capabilities": ("capabilities_baseline", "capabilities_restricted"),
    "Seccomp": ("seccompProfile_baseline", "seccompProfile_restricted"),
    "Privileged Containers": ("privileged",),
    "Host Ports": ("hostPorts",),
    "/proc Mount Type": ("procMount", "procMount_restricted"),
    "Host Probes / Lifecycle Hooks": ("hostProbesAndHostLifecycle",),
    "HostProcess": ("windowsHostProcess",),
    "SELinux": ("seLinuxOptions",),
    "Host Namespaces": ("hostNamespaces",),
    "HostPath Volumes": ("hostPathVolumes",),
    "Sysctls": ("sysctls",),
    "AppArmor": ("appArmorProfile",),
    "Privilege Escalation": ("allowPrivilegeEscalation",),
    "Running as Non-root": ("runAsNonRoot",),
    "Running as Non-root user": ("runAsUser",),
    "Volume Types": ("restrictedVolumes",),
}
CONTROL_OF_CHECK: dict[str, str] = {
    check_id: control for control, ids in CONTROL_IDS.items() for check_id in ids
}
# Controls whose exclusions must name images, and those that must not (ValidatePSaControlNames).
CONTAINER_LEVEL_CONTROLS = frozenset(
    {
        "Capabilities",
        "Privileged Containers",
        "Host Ports",
        "/proc Mount Type",
        "Privilege Escalation",
        "Host Probes / Lifecycle Hooks",
    }
)
POD_LEVEL_CONTROLS = frozenset({"Host Namespaces", "HostPath Volumes", "Sysctls", "Volume Types"})
# A baseline rule may not exclude these (Seccomp and Capabilities are exempt from that rule).
RESTRICTED_CONTROLS = frozenset(
    {"Volume Types", "Privilege Escalation", "Running as Non-root", "Running as Non-root user"}
)

# Pod controllers whose template validate_pss.go reads, and where the pod spec lives in them.
_TEMPLATE_KINDS = frozenset(
    {"DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController"}
)
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")  # PSA visit order


# ---------------------------------------------------------------------------------------------
# Public results


class PodSpecError(Exception):
    """The resource cannot be read as a pod (Kyverno's "Error while getting new resource")."""


class PodSecurityDefinitionError(Exception):
    """The ``podSecurity`` block itself is malformed (level, version or exclude structure)."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One offending field, as Kyverno's field error list reports it."""

    field: str  # Kyverno's name for it, e.g. "spec.template.spec.containers[0].securityContext..."
    path: FieldPath  # where it is in the resource, for Document.locate
    type: Literal["Forbidden", "Required"]
    bad_value: BadValue


@dataclass(frozen=True, slots=True)
class Violation:
    """One failing Pod Security check (Kyverno's PSSCheckResult)."""

    control: str  # Kyverno control name, e.g. "Privileged Containers"
    check_id: str  # PSA check ID, e.g. "privileged"
    reason: str  # ForbiddenReason, e.g. "privileged"
    detail: str  # ForbiddenDetail, e.g. 'container "nginx" must not set ...'
    errors: tuple[FieldError, ...]
    images: tuple[str, ...]  # images of the containers named in the detail
    message: str  # this check's part of the failure message: "(Forbidden reason: ..., ...)"

    @property
    def field_paths(self) -> tuple[FieldPath, ...]:
        return tuple(error.path for error in self.errors)


@dataclass(frozen=True, slots=True)
class PodSecurityResult:
    status: Literal["pass", "fail", "error"]
    message: str
    violations: tuple[Violation, ...] = ()

    @property
    def field_paths(self) -> tuple[FieldPath, ...]:
        """Every offending field, in report order, without repeats."""
        return tuple(dict.fromkeys(p for v in self.violations for p in v.field_paths))


@dataclass(frozen=True, slots=True)
class PodSecurityProblem:
    """A policy mistake Kyverno rejects when the policy is created; ``path`` is relative to the
    ``podSecurity`` block, e.g. ("exclude", 0, "controlName")."""

    path: FieldPath
    message: str


class PodTemplate(NamedTuple):
    """The pod a resource runs: its spec and metadata, and where the pod template sits in the
    resource (``()`` for a Pod, ``("spec", "template")`` for a Deployment)."""

    spec: Mapping[str, Any]
    metadata: Mapping[str, Any]
    path_prefix: FieldPath


# ---------------------------------------------------------------------------------------------
# Go field paths


class _Key(str):
    """A map key: rendered as ``[key]`` in a Go field path (annotations)."""

    __slots__ = ()


_Path = tuple[str | int, ...]


def _go_field(path: _Path) -> str:
    """field.Path String(): children joined by ".", indexes and map keys in brackets."""
    parts: list[str] = []
    for position, element in enumerate(path):
        if isinstance(element, (int, _Key)):
            parts.append(f"[{element}]")
        else:
            parts.append(element if position == 0 else f".{element}")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class _Err:
    path: _Path  # relative to the pod: starts with "spec" or "metadata"
    required: bool
    bad_value: BadValue

    @property
    def field(self) -> str:
        return _go_field(self.path)


def _forbidden(path: _Path, bad_value: BadValue = None) -> _Err:
    return _Err(path, False, bad_value)


def _required(path: _Path) -> _Err:
    return _Err(path, True, None)


@dataclass(frozen=True, slots=True)
class _Failure:
    reason: str
    detail: str
    errors: tuple[_Err, ...]


@dataclass(slots=True)
class _Result:
    check_id: str
    failure: _Failure
    errors: list[_Err]  # mutable: exclusions remove entries the way Go's remove() does


# ---------------------------------------------------------------------------------------------
# Reading the pod with the types Go would decode it into


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _wrong(path: _Path, expected: str, value: object) -> PodSpecError:
    return PodSpecError(f"{_go_field(path)}: expected {expected}, got {_type_name(value)}")


def _map(parent: Mapping[str, Any] | None, key: str, path: _Path) -> Mapping[str, Any] | None:
    value = parent.get(key) if parent is not None else None
    if value is None or isinstance(value, Mapping):
        return value
    raise _wrong((*path, key), "an object", value)


def _bool(parent: Mapping[str, Any] | None, key: str, path: _Path) -> bool | None:
    value = parent.get(key) if parent is not None else None
    if value is None or isinstance(value, bool):
        return value
    raise _wrong((*path, key), "a boolean", value)


def _str(parent: Mapping[str, Any] | None, key: str, path: _Path) -> str | None:
    value = parent.get(key) if parent is not None else None
    if value is None or isinstance(value, str):
        return value
    raise _wrong((*path, key), "a string", value)


def _int(parent: Mapping[str, Any] | None, key: str, path: _Path) -> int | None:
    value = parent.get(key) if parent is not None else None
    if value is None:
        return None
    # The CLI carries numbers as float64; Go decodes a whole float into an integer field.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _wrong((*path, key), "an integer", value)


def _list(parent: Mapping[str, Any] | None, key: str, path: _Path) -> list[Any]:
    value = parent.get(key) if parent is not None else None
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise _wrong((*path, key), "a list", value)


def _objects(
    parent: Mapping[str, Any] | None, key: str, path: _Path
) -> Iterator[tuple[_Path, Mapping[str, Any]]]:
    """Elements of a list of objects; a null element decodes to the zero struct."""
    for index, item in enumerate(_list(parent, key, path)):
        item_path = (*path, key, index)
        if item is None:
            yield item_path, {}
        elif isinstance(item, Mapping):
            yield item_path, item
        else:
            raise _wrong(item_path, "an object", item)


def _strings(parent: Mapping[str, Any] | None, key: str, path: _Path) -> list[str]:
    """A list of strings; a null element decodes to ""."""
    out: list[str] = []
    for index, item in enumerate(_list(parent, key, path)):
        if item is None:
            out.append("")
        elif isinstance(item, str):
            out.append(item)
        else:
            raise _wrong((*path, key, index), "a string", item)
    return out


@dataclass(frozen=True, slots=True)
class _Pod:
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]

    def containers(self) -> Iterator[tuple[_Path, Mapping[str, Any]]]:
        for kind in _CONTAINER_LISTS:
            yield from _objects(self.spec, kind, ("spec",))

    def security_context(self) -> Mapping[str, Any] | None:
        return _map(self.spec, "securityContext", ("spec",))

    def annotations(self) -> dict[str, str]:
        raw = _map(self.metadata, "annotations", ("metadata",)) or {}
        out: dict[str, str] = {}
        for key, value in raw.items():
            if value is not None and not isinstance(value, str):
                raise _wrong(("metadata", "annotations", _Key(str(key))), "a string", value)
            out[str(key)] = value or ""
        return out

    def is_windows(self) -> bool:
        os_info = _map(self.spec, "os", ("spec",))
        return _str(os_info, "name", ("spec", "os")) == "windows"

    def in_user_namespace(self) -> bool:
        """KEP-127: ``hostUsers: false`` relaxes some checks from policy version 1.35."""
        return _bool(self.spec, "hostUsers", ("spec",)) is False


def _name(container: Mapping[str, Any], path: _Path) -> str:
    return _str(container, "name", path) or ""


def _security_context(container: Mapping[str, Any], path: _Path) -> Mapping[str, Any] | None:
    return _map(container, "securityContext", path)


# ---------------------------------------------------------------------------------------------
# The checks (k8s.io/pod-security-admission/policy/check_*.go, with the fork's field errors)


def _pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def _join_quote(items: Sequence[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def _containers_phrase(names: Sequence[str]) -> str:
    return f"{_pluralize('container', 'containers', len(names))} {_join_quote(names)}"


def _go_quote(text: str) -> str:
    """Go's %q of a string."""
    escapes = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n"}
    escapes |= {"\r": "\\r", "\t": "\\t", "\v": "\\v"}
    out = ['"']
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


CheckFn = Callable[[_Pod], _Failure | None]


def _allow_privilege_escalation_1_8(pod: _Pod) -> _Failure | None:
    names: list[str] = []
    errors: list[_Err] = []
    for path, container in pod.containers():
        field = (*path, "securityContext", "allowPrivilegeEscalation")
        context = _security_context(container, path)
        if context is None:
            names.append(_name(container, path))
            errors.append(_required(field))
            continue
        allow = _bool(context, "allowPrivilegeEscalation", (*path, "securityContext"))
        if allow is None or allow:
            names.append(_name(container, path))
            errors.append(_forbidden(field, "nil" if allow is None else True))
    if not names:
        return None
    return _Failure(
        "allowPrivilegeEscalation != false",
        f"{_containers_phrase(names)} must set securityContext.allowPrivilegeEscalation=false",
        tuple(errors),
    )


def _allow_privilege_escalation_1_25(pod: _Pod) -> _Failure | None:
    # Windows pods cannot set the field; from 1.25 they are exempt.
    return None if pod.is_windows() else _allow_privilege_escalation_1_8(pod)


_APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _apparmor_type_allowed(profile_type: str) -> bool:
    return profile_type in ("RuntimeDefault", "Localhost")


def _apparmor_annotation_allowed(value: str) -> bool:
    return value in ("", "runtime/default") or value.startswith("localhost/")


def _app_armor_profile_1_0(pod: _Pod) -> _Failure | None:
    setters: list[str] = []
    errors: list[_Err] = []
    bad_values: set[str] = set()
    profile = _map(pod.security_context(), "appArmorProfile", ("spec", "securityContext"))
    if profile is not None:
        profile_type = _str(profile, "type", ("spec", "securityContext", "appArmorProfile")) or ""
        if not _apparmor_type_allowed(profile_type):
            setters.append("pod")
            errors.append(
                _forbidden(("spec", "securityContext", "appArmorProfile", "type"), profile_type)
            )
            bad_values.add(profile_type)
    bad_containers: list[str] = []
    for path, container in pod.containers():
        context = _security_context(container, path)
        profile = _map(context, "appArmorProfile", (*path, "securityContext"))
        if profile is None:
            continue
        profile_path = (*path, "securityContext", "appArmorProfile")
        profile_type = _str(profile, "type", profile_path) or ""
        if not _apparmor_type_allowed(profile_type):
            bad_containers.append(_name(container, path))
            errors.append(_forbidden((*profile_path, "type"), profile_type))
            bad_values.add(profile_type)
    if bad_containers:
        setters.append(_containers_phrase(bad_containers))
    annotations: list[str] = []
    for key, value in sorted(pod.annotations().items()):
        if key.startswith(_APPARMOR_ANNOTATION_PREFIX) and not _apparmor_annotation_allowed(value):
            annotations.append(f"{key}={_go_quote(value)}")
            errors.append(_forbidden(("metadata", "annotations", _Key(key)), value))
    bad_list = sorted(bad_values)
    if annotations:
        bad_list += sorted(annotations)
        setters.append(_pluralize("annotation", "annotations", len(annotations)))
    if not setters:
        return None
    return _Failure(
        _pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(bad_list)),
        f"{' and '.join(setters)} must not set AppArmor profile type to {_join_quote(bad_list)}",
        tuple(errors),
    )


_CAPABILITIES_BASELINE = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def _capabilities(container: Mapping[str, Any], path: _Path) -> Mapping[str, Any] | None:
    return _map(_security_context(container, path), "capabilities", (*path, "securityContext"))


def _capabilities_baseline_1_0(pod: _Pod) -> _Failure | None:
    names: list[str] = []
    errors: list[_Err] = []
    non_default: set[str] = set()
    for path, container in pod.containers():
        capabilities = _capabilities(container, path)
        if capabilities is None:
            continue
        caps_path = (*path, "securityContext", "capabilities")
        forbidden = {
            c for c in _strings(capabilities, "add", caps_path) if c not in _CAPABILITIES_BASELINE
        }
        if forbidden:
            names.append(_name(container, path))
            errors.append(_forbidden((*caps_path, "add"), tuple(sorted(forbidden))))
            non_default |= forbidden
    if not names:
        return None
    return _Failure(
        "non-default capabilities",
        f"{_containers_phrase(names)} must not include {_join_quote(sorted(non_default))} "
        "in securityContext.capabilities.add",
        tuple(errors),
    )


def _capabilities_restricted_1_22(pod: _Pod) -> _Failure | None:
    missing_drop: list[str] = []
    missing_errors: list[_Err] = []
    adding: list[str] = []
    adding_errors: list[_Err] = []
    forbidden_all: set[str] = set()
    for path, container in pod.containers():
        caps_path = (*path, "securityContext", "capabilities")
        capabilities = _capabilities(container, path)
        if capabilities is None:
            missing_drop.append(_name(container, path))
            missing_errors.append(_required((*caps_path, "drop")))
            continue
        drop = _strings(capabilities, "drop", caps_path)
        if "ALL" not in drop:
            missing_drop.append(_name(container, path))
            if drop:
                missing_errors.append(_forbidden((*caps_path, "drop"), tuple(sorted(set(drop)))))
            else:
                missing_errors.append(_required((*caps_path, "drop")))
        forbidden = {c for c in _strings(capabilities, "add", caps_path) if c != "NET_BIND_SERVICE"}
        if forbidden:
            adding.append(_name(container, path))
            adding_errors.append(_forbidden((*caps_path, "add"), tuple(sorted(forbidden))))
            forbidden_all |= forbidden
    details: list[str] = []
    if missing_drop:
        details.append(
            f'{_containers_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{_containers_phrase(adding)} must not include {_join_quote(sorted(forbidden_all))} "
            "in securityContext.capabilities.add"
        )
    if not details:
        return None
    return _Failure(
        "unrestricted capabilities", "; ".join(details), tuple(missing_errors + adding_errors)
    )


def _capabilities_restricted_1_25(pod: _Pod) -> _Failure | None:
    return None if pod.is_windows() else _capabilities_restricted_1_22(pod)


def _host_namespaces_1_0(pod: _Pod) -> _Failure | None:
    data: list[str] = []
    errors: list[_Err] = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if _bool(pod.spec, field, ("spec",)):
            data.append(f"{field}=true")
            errors.append(_forbidden(("spec", field), True))
    if not data:
        return None
    return _Failure("host namespaces", ", ".join(data), tuple(errors))


def _host_path_volumes_1_0(pod: _Pod) -> _Failure | None:
    names: list[str] = []
    errors: list[_Err] = []
    for path, volume in _objects(pod.spec, "volumes", ("spec",)):
        host_path = _map(volume, "hostPath", path)
        if host_path is not None:
            names.append(_str(volume, "name", path) or "")
            # The fork reports the host path as the bad value (kyverno evaluate_test.go
            # baseline_hostPath_volumes_exclude_path_*).
            errors.append(
                _forbidden((*path, "hostPath"), _str(host_path, "path", (*path, "hostPath")) or "")
            )
    if not names:
        return None
    detail = f"{_pluralize('volume', 'volumes', len(names))} {_join_quote(names)}"
    return _Failure("hostPath volumes", detail, tuple(errors))


def _host_ports_1_0(pod: _Pod) -> _Failure | None:
    names: list[str] = []
    errors: list[_Err] = []
    ports: set[str] = set()
    for path, container in pod.containers():
        bad = False
        for port_path, port in _objects(container, "ports", path):
            host_port = _int(port, "hostPort", port_path) or 0
            if host_port != 0:
                bad = True
                ports.add(str(host_port))
                errors.append(_forbidden((*port_path, "hostPort"), host_port))
        if bad:
            names.append(_name(container, path))
    if not names:
        return None
    detail = (
        f"{_containers_phrase(names)} {_pluralize('uses', 'use', len(names))} "
        f"{_pluralize('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}"
    )
    return _Failure("hostPort", detail, tuple(errors))


_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_LIFECYCLE_HANDLERS = ("postStart", "preStop")


def _handler_hosts(handler: Mapping[str, Any] | None, path: _Path) -> Iterator[tuple[_Path, str]]:
    for action in ("httpGet", "tcpSocket"):
        host = _str(_map(handler, action, path), "host", (*path, action))
        if host:
            yield (*path, action, "host"), host


def _host_probes_and_host_lifecycle_1_34(pod: _Pod) -> _Failure | None:
    names: set[str] = set()
    hosts: set[str] = set()
    errors: list[_Err] = []
    for path, container in pod.containers():
        handlers = [((*path, probe), _map(container, probe, path)) for probe in _PROBES]
        lifecycle = _map(container, "lifecycle", path)
        handlers += [
            ((*path, "lifecycle", hook), _map(lifecycle, hook, (*path, "lifecycle")))
            for hook in _LIFECYCLE_HANDLERS
        ]
        for handler_path, handler in handlers:
            for host_path, host in _handler_hosts(handler, handler_path):
                names.add(_name(container, path))
                hosts.add(host)
                errors.append(_forbidden(host_path, host))
    if not names:
        return None
    detail = (
        f"{_containers_phrase(sorted(names))} {_pluralize('uses', 'use', len(names))} "
        f"{_pluralize('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{_join_quote(sorted(hosts))}"
    )
    return _Failure("probe or lifecycle host", detail, tuple(errors))


def _privileged_1_0(pod: _Pod) -> _Failure | None:
    names: list[str] = []
    errors: list[_Err] = []
    for path, container in pod.containers():
        if _bool(_security_context(container, path), "privileged", (*path, "securityContext")):
            names.append(_name(container, path))
            errors.append(_forbidden((*path, "securityContext", "privileged"), True))
    if not names:
        return None
    detail = f"{_containers_phrase(names)} must not set securityContext.privileged=true"
    return _Failure("privileged", detail, tuple(errors))


def _proc_mount_1_0(pod: _Pod) -> _Failure | None:
    names: list[str] = []
    errors: list[_Err] = []
    types: set[str] = set()
    for path, container in pod.containers():
        context_path = (*path, "securityContext")
        proc_mount = _str(_security_context(container, path), "procMount", context_path)
        if proc_mount is not None and proc_mount != "Default":
            names.append(_name(container, path))
            types.add(proc_mount)
            errors.append(_forbidden((*context_path, "procMount"), proc_mount))
    if not names:
        return None
    detail = (
        f"{_containers_phrase(names)} must not set securityContext.procMount to "
        f"{_join_quote(sorted(types))}"
    )
    return _Failure("procMount", detail, tuple(errors))


def _proc_mount_1_35_baseline(pod: _Pod) -> _Failure | None:
    return None if pod.in_user_namespace() else _proc_mount_1_0(pod)


_RESTRICTED_VOLUME_ALLOWED = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
_RESTRICTED_VOLUME_FORBIDDEN = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


def _restricted_volumes_1_0(pod: _Pod) -> _Failure | None:
    names: list[str] = []
    types: set[str] = set()
    errors: list[_Err] = []
    for path, volume in _objects(pod.spec, "volumes", ("spec",)):
        # A source is "set" when its field decodes to a non-nil pointer.
        if any(volume.get(source) is not None for source in _RESTRICTED_VOLUME_ALLOWED):
            continue
        source = next(
            (s for s in _RESTRICTED_VOLUME_FORBIDDEN if volume.get(s) is not None), "unknown"
        )
        names.append(_str(volume, "name", path) or "")
        types.add(source)
        errors.append(_forbidden((*path, source)))
    if not names:
        return None
    detail = (
        f"{_pluralize('volume', 'volumes', len(names))} {_join_quote(names)} "
        f"{_pluralize('uses', 'use', len(names))} "
        f"{_pluralize('restricted volume type', 'restricted volume types', len(types))} "
        f"{_join_quote(sorted(types))}"
    )
    return _Failure("restricted volume types", detail, tuple(errors))


def _run_as_non_root_1_0(pod: _Pod) -> _Failure | None:
    setters: list[str] = []
    setter_errors: list[_Err] = []
    pod_non_root = False
    pod_value = _bool(pod.security_context(), "runAsNonRoot", ("spec", "securityContext"))
    if pod_value is False:
        setters.append("pod")
        setter_errors.append(_forbidden(("spec", "securityContext", "runAsNonRoot"), False))
    elif pod_value:
        pod_non_root = True
    explicit: list[str] = []
    implicit: list[str] = []
    implicit_errors: list[_Err] = []
    for path, container in pod.containers():
        field = (*path, "securityContext", "runAsNonRoot")
        value = _bool(_security_context(container, path), "runAsNonRoot", field[:-1])
        if value is False:
            explicit.append(_name(container, path))
            setter_errors.append(_forbidden(field, False))
        elif value is None and not pod_non_root:
            implicit.append(_name(container, path))
            implicit_errors.append(_required(field))
    if explicit:
        setters.append(_containers_phrase(explicit))
    # Upstream reports the explicit setters alone when there are any.
    if setters:
        detail = f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
        return _Failure("runAsNonRoot != true", detail, tuple(setter_errors))
    if implicit:
        detail = f"pod or {_containers_phrase(implicit)} must set securityContext.runAsNonRoot=true"
        return _Failure("runAsNonRoot != true", detail, tuple(implicit_errors))
    return None


def _run_as_non_root_1_35(pod: _Pod) -> _Failure | None:
    return None if pod.in_user_namespace() else _run_as_non_root_1_0(pod)


def _run_as_user_1_23(pod: _Pod) -> _Failure | None:
    setters: list[str] = []
    errors: list[_Err] = []
    if _int(pod.security_context(), "runAsUser", ("spec", "securityContext")) == 0:
        setters.append("pod")
        errors.append(_forbidden(("spec", "securityContext", "runAsUser"), 0))
    names: list[str] = []
    for path, container in pod.containers():
        context_path = (*path, "securityContext")
        if _int(_security_context(container, path), "runAsUser", context_path) == 0:
            names.append(_name(container, path))
            errors.append(_forbidden((*context_path, "runAsUser"), 0))
    if names:
        setters.append(_containers_phrase(names))
    if not setters:
        return None
    return _Failure(
        "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0", tuple(errors)
    )


def _run_as_user_1_35(pod: _Pod) -> _Failure | None:
    return None if pod.in_user_namespace() else _run_as_user_1_23(pod)


_SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_SELINUX_TYPES_1_31 = _SELINUX_TYPES_1_0 | {"container_engine_t"}


def _se_linux_options(pod: _Pod, allowed: frozenset[str]) -> _Failure | None:
    setters: list[str] = []
    errors: list[_Err] = []
    bad_types: set[str] = set()
    set_user = set_role = False

    def check(options: Mapping[str, Any], path: _Path) -> bool:
        nonlocal set_user, set_role
        valid = True
        selinux_type = _str(options, "type", path) or ""
        if selinux_type not in allowed:
            valid = False
            bad_types.add(selinux_type)
            errors.append(_forbidden((*path, "type"), selinux_type))
        for field in ("user", "role"):
            value = _str(options, field, path) or ""
            if value:
                valid = False
                if field == "user":
                    set_user = True
                else:
                    set_role = True
                errors.append(_forbidden((*path, field), value))
        return valid

    pod_options = _map(pod.security_context(), "seLinuxOptions", ("spec", "securityContext"))
    if pod_options is not None and not check(
        pod_options, ("spec", "securityContext", "seLinuxOptions")
    ):
        setters.append("pod")
    names: list[str] = []
    for path, container in pod.containers():
        context_path = (*path, "securityContext")
        options = _map(_security_context(container, path), "seLinuxOptions", context_path)
        if options is not None and not check(options, (*context_path, "seLinuxOptions")):
            names.append(_name(container, path))
    if names:
        setters.append(_containers_phrase(names))
    if not setters:
        return None
    data: list[str] = []
    if bad_types:
        types = sorted(bad_types)
        data.append(f"{_pluralize('type', 'types', len(types))} {_join_quote(types)}")
    if set_user:
        data.append("user may not be set")
    if set_role:
        data.append("role may not be set")
    detail = (
        f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}"
    )
    return _Failure("seLinuxOptions", detail, tuple(errors))


def _se_linux_options_1_0(pod: _Pod) -> _Failure | None:
    return _se_linux_options(pod, _SELINUX_TYPES_1_0)


def _se_linux_options_1_31(pod: _Pod) -> _Failure | None:
    return _se_linux_options(pod, _SELINUX_TYPES_1_31)


_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"


def _seccomp_annotation_allowed(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def _seccomp_type_allowed(seccomp_type: str) -> bool:
    return seccomp_type in ("Localhost", "RuntimeDefault")


def _seccomp_profile_baseline_1_0(pod: _Pod) -> _Failure | None:
    """Before 1.19 seccomp was set through alpha annotations."""
    annotations = pod.annotations()
    keys = [_SECCOMP_POD_ANNOTATION] + [
        _SECCOMP_CONTAINER_ANNOTATION_PREFIX + _name(c, p) for p, c in pod.containers()
    ]
    found: dict[str, list[_Err]] = {}
    for key in keys:
        value = annotations.get(key)
        if value is not None and not _seccomp_annotation_allowed(value):
            found.setdefault(f"{key}={_go_quote(value)}", []).append(
                _forbidden(("metadata", "annotations", _Key(key)), value)
            )
    if not found:
        return None
    data = sorted(found)
    detail = f"forbidden {_pluralize('annotation', 'annotations', len(data))} {', '.join(data)}"
    return _Failure("seccompProfile", detail, tuple(e for d in data for e in found[d]))


def _seccomp_profile_baseline_1_19(pod: _Pod) -> _Failure | None:
    setters: list[str] = []
    errors: list[_Err] = []
    bad_values: set[str] = set()
    profile_path: _Path = ("spec", "securityContext", "seccompProfile")
    profile = _map(pod.security_context(), "seccompProfile", profile_path[:-1])
    if profile is not None:
        seccomp_type = _str(profile, "type", profile_path) or ""
        if not _seccomp_type_allowed(seccomp_type):
            setters.append("pod")
            errors.append(_forbidden((*profile_path, "type"), seccomp_type))
            bad_values.add(seccomp_type)
    names: list[str] = []
    for path, container in pod.containers():
        container_profile_path = (*path, "securityContext", "seccompProfile")
        container_profile = _map(
            _security_context(container, path), "seccompProfile", container_profile_path[:-1]
        )
        if container_profile is None:
            continue
        seccomp_type = _str(container_profile, "type", container_profile_path) or ""
        if not _seccomp_type_allowed(seccomp_type):
            names.append(_name(container, path))
            errors.append(_forbidden((*container_profile_path, "type"), seccomp_type))
            bad_values.add(seccomp_type)
    if names:
        setters.append(_containers_phrase(names))
    if not setters:
        return None
    detail = (
        f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
        f"{_join_quote(sorted(bad_values))}"
    )
    return _Failure("seccompProfile", detail, tuple(errors))


def _seccomp_profile_restricted_1_19(pod: _Pod) -> _Failure | None:
    setters: list[str] = []
    setter_errors: list[_Err] = []
    bad_values: set[str] = set()
    pod_set = False
    profile_path: _Path = ("spec", "securityContext", "seccompProfile")
    profile = _map(pod.security_context(), "seccompProfile", profile_path[:-1])
    if profile is not None:
        seccomp_type = _str(profile, "type", profile_path) or ""
        if _seccomp_type_allowed(seccomp_type):
            pod_set = True
        else:
            setters.append("pod")
            setter_errors.append(_forbidden((*profile_path, "type"), seccomp_type))
            bad_values.add(seccomp_type)
    explicit: list[str] = []
    implicit: list[str] = []
    implicit_errors: list[_Err] = []
    for path, container in pod.containers():
        container_profile_path = (*path, "securityContext", "seccompProfile")
        container_profile = _map(
            _security_context(container, path), "seccompProfile", container_profile_path[:-1]
        )
        if container_profile is not None:
            seccomp_type = _str(container_profile, "type", container_profile_path) or ""
            if not _seccomp_type_allowed(seccomp_type):
                explicit.append(_name(container, path))
                setter_errors.append(_forbidden((*container_profile_path, "type"), seccomp_type))
                bad_values.add(seccomp_type)
        elif not pod_set:
            implicit.append(_name(container, path))
            implicit_errors.append(_required((*container_profile_path, "type")))
    if explicit:
        setters.append(_containers_phrase(explicit))
    if setters:
        detail = (
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
            f"{_join_quote(sorted(bad_values))}"
        )
        return _Failure("seccompProfile", detail, tuple(setter_errors))
    if implicit:
        detail = (
            f"pod or {_containers_phrase(implicit)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"'
        )
        return _Failure("seccompProfile", detail, tuple(implicit_errors))
    return None


def _seccomp_profile_restricted_1_25(pod: _Pod) -> _Failure | None:
    return None if pod.is_windows() else _seccomp_profile_restricted_1_19(pod)


_SYSCTLS_1_0 = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    }
)
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def _sysctls(allowed: frozenset[str]) -> CheckFn:
    def check(pod: _Pod) -> _Failure | None:
        names: list[str] = []
        errors: list[_Err] = []
        context_path: _Path = ("spec", "securityContext")
        for path, sysctl in _objects(pod.security_context(), "sysctls", context_path):
            name = _str(sysctl, "name", path) or ""
            if name not in allowed:
                names.append(name)
                errors.append(_forbidden((*path, "name"), name))
        if not names:
            return None
        return _Failure("forbidden sysctls", ", ".join(names), tuple(errors))

    return check


def _windows_host_process_1_0(pod: _Pod) -> _Failure | None:
    setters: list[str] = []
    errors: list[_Err] = []
    names: list[str] = []
    container_errors: list[_Err] = []
    for path, container in pod.containers():
        options_path = (*path, "securityContext", "windowsOptions")
        options = _map(_security_context(container, path), "windowsOptions", options_path[:-1])
        if _bool(options, "hostProcess", options_path):
            names.append(_name(container, path))
            container_errors.append(_forbidden((*options_path, "hostProcess"), True))
    pod_options_path: _Path = ("spec", "securityContext", "windowsOptions")
    pod_options = _map(pod.security_context(), "windowsOptions", pod_options_path[:-1])
    if _bool(pod_options, "hostProcess", pod_options_path):
        setters.append("pod")
        errors.append(_forbidden((*pod_options_path, "hostProcess"), True))
    if names:
        setters.append(_containers_phrase(names))
        errors += container_errors
    if not setters:
        return None
    detail = f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true"
    return _Failure("hostProcess", detail, tuple(errors))


@dataclass(frozen=True, slots=True)
class _Check:
    id: str
    level: Literal["baseline", "restricted"]
    versions: tuple[tuple[tuple[int, int], CheckFn], ...]  # (minimum version, check), ascending


# policy.DefaultChecks() order: Go runs the init() functions in check file name order.
_CHECKS: tuple[_Check, ...] = (
    _Check(
        "allowPrivilegeEscalation",
        "restricted",
        (((1, 8), _allow_privilege_escalation_1_8), ((1, 25), _allow_privilege_escalation_1_25)),
    ),
    _Check("appArmorProfile", "baseline", (((1, 0), _app_armor_profile_1_0),)),
    _Check("capabilities_baseline", "baseline", (((1, 0), _capabilities_baseline_1_0),)),
    _Check(
        "capabilities_restricted",
        "restricted",
        (((1, 22), _capabilities_restricted_1_22), ((1, 25), _capabilities_restricted_1_25)),
    ),
    _Check("hostNamespaces", "baseline", (((1, 0), _host_namespaces_1_0),)),
    _Check("hostPathVolumes", "baseline", (((1, 0), _host_path_volumes_1_0),)),
    _Check("hostPorts", "baseline", (((1, 0), _host_ports_1_0),)),
    _Check(
        "hostProbesAndHostLifecycle",
        "baseline",
        (((1, 34), _host_probes_and_host_lifecycle_1_34),),
    ),
    _Check("privileged", "baseline", (((1, 0), _privileged_1_0),)),
    _Check(
        "procMount", "baseline", (((1, 0), _proc_mount_1_0), ((1, 35), _proc_mount_1_35_baseline))
    ),
    # Kyverno's vendored check reports at every pinned version (evaluate_userns_test.go:
    # "restricted v1.32, userns, unmasked" fails procMount_restricted), so it starts at 1.0.
    _Check("procMount_restricted", "restricted", (((1, 0), _proc_mount_1_0),)),
    _Check("restrictedVolumes", "restricted", (((1, 0), _restricted_volumes_1_0),)),
    _Check(
        "runAsNonRoot",
        "restricted",
        (((1, 0), _run_as_non_root_1_0), ((1, 35), _run_as_non_root_1_35)),
    ),
    _Check("runAsUser", "restricted", (((1, 23), _run_as_user_1_23), ((1, 35), _run_as_user_1_35))),
    _Check(
        "seLinuxOptions",
        "baseline",
        (((1, 0), _se_linux_options_1_0), ((1, 31), _se_linux_options_1_31)),
    ),
    _Check(
        "seccompProfile_baseline",
        "baseline",
        (((1, 0), _seccomp_profile_baseline_1_0), ((1, 19), _seccomp_profile_baseline_1_19)),
    ),
    _Check(
        "seccompProfile_restricted",
        "restricted",
        (
            ((1, 19), _seccomp_profile_restricted_1_19),
            ((1, 25), _seccomp_profile_restricted_1_25),
        ),
    ),
    _Check(
        "sysctls",
        "baseline",
        (
            ((1, 0), _sysctls(_SYSCTLS_1_0)),
            ((1, 27), _sysctls(_SYSCTLS_1_27)),
            ((1, 29), _sysctls(_SYSCTLS_1_29)),
            ((1, 32), _sysctls(_SYSCTLS_1_32)),
        ),
    ),
    _Check("windowsHostProcess", "baseline", (((1, 0), _windows_host_process_1_0),)),
)
CHECK_IDS: tuple[str, ...] = tuple(check.id for check in _CHECKS)


def _evaluate(level: str, version: Version, pod: _Pod) -> list[_Result]:
    """evaluatePSS: the failing checks of ``pod`` at ``level`` and ``version``."""
    results: list[_Result] = []
    for check in _CHECKS:
        # Only baseline filters; "privileged" runs every check, as Kyverno's code does.
        if level == "baseline" and check.level != "baseline":
            continue
        if version is None:
            functions = [check.versions[-1][1]]
        else:
            functions = [fn for minimum, fn in check.versions if minimum <= version]
        for function in functions:
            failure = function(pod)
            if failure is not None:
                results.append(_Result(check.id, failure, list(failure.errors)))
    return results


# ---------------------------------------------------------------------------------------------
# Exclusions (pkg/pss/evaluate.go ApplyPodSecurityExclusion / exemptExclusions)


@dataclass(frozen=True, slots=True)
class _Exclude:
    control_name: str
    images: tuple[str, ...]
    restricted_field: str
    values: tuple[str, ...]


_DIGITS = re.compile(r"[0-9]+")
_WORDS = re.compile(r"[a-zA-Z]+")


def _parse_field(field: str) -> tuple[str, list[int], str, bool]:
    """parseField: the field with indexes as ``*``, the indexes, and the container list named
    by its second word (``spec.containers[0]...`` -> "containers")."""
    words = _WORDS.findall(field)
    container_type = words[1] if len(words) > 1 else ""
    indexes = [int(number) for number in _DIGITS.findall(field)]
    return _DIGITS.sub("*", field), indexes, container_type, container_type in _CONTAINER_LISTS


def _container_name(spec: Mapping[str, Any], container_type: str, index: int) -> str:
    containers = spec.get(container_type) or []
    if not 0 <= index < len(containers) or not isinstance(containers[index], Mapping):
        return ""
    name = containers[index].get("name")
    return name if isinstance(name, str) else ""


def _bad_values(value: BadValue) -> list[str]:
    """extractBadValues: only strings (non-empty), bools, ints and string lists count."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, tuple):
        return list(value)
    return []


def _matching_pods(exclude: _Exclude, pod: _Pod) -> tuple[_Pod, bool]:
    """GetPodWithMatchingContainers: the pod to evaluate for an exclusion, and whether the
    exclusion is container level (it names images)."""
    if not exclude.images:
        spec = dict(copy.deepcopy(pod.spec))
        spec["containers"] = [{"name": "fake"}]
        spec.pop("initContainers", None)
        spec.pop("ephemeralContainers", None)
        return _Pod(pod.metadata, spec), False
    metadata = {key: pod.metadata[key] for key in ("name", "namespace") if key in pod.metadata}
    matching: dict[str, list[Mapping[str, Any]]] = {}
    for path, container in pod.containers():
        image = _str(container, "image", path) or ""
        if any(wildcard_match(pattern, image) for pattern in exclude.images):
            matching.setdefault(str(path[1]), []).append(container)
    return _Pod(metadata, matching), True


def _exempt(
    defaults: list[_Result],
    excluded: list[_Result],
    exclude: _Exclude,
    pod: _Pod,
    matching: _Pod,
    container_level: bool,
) -> list[_Result]:
    by_id: dict[str, _Result] = {}
    for result in defaults:
        by_id[result.check_id] = result  # Go's map: one result per check, the last one
    check_ids = CONTROL_IDS.get(exclude.control_name, ())
    for excluded_result in excluded:
        if excluded_result.check_id not in check_ids:
            continue
        check_id = excluded_result.check_id
        for excluded_error in excluded_result.errors:
            if container_level:
                field, indexes, container_type, is_container = _parse_field(excluded_error.field)
            else:
                field, indexes, container_type, is_container = (
                    _DIGITS.sub("*", excluded_error.field),
                    [],
                    "",
                    False,
                )
            container = (
                _container_name(matching.spec, container_type, indexes[0]) if is_container else ""
            )
            if exclude.restricted_field and field != exclude.restricted_field:
                continue
            if exclude.values and not all(
                any(wildcard_match(pattern, bad) for pattern in exclude.values)
                for bad in _bad_values(excluded_error.bad_value)
            ):
                continue
            target = by_id.get(check_id)
            if target is None:
                continue
            _remove_first_match(target, field, container, pod, container_level)
            if not target.errors:
                del by_id[check_id]
    return list(by_id.values())


def _remove_first_match(
    result: _Result, field: str, container: str, pod: _Pod, container_level: bool
) -> None:
    for index, error in enumerate(result.errors):
        if container_level:
            default_field, indexes, container_type, is_container = _parse_field(error.field)
        else:
            default_field, indexes, container_type, is_container = (
                _DIGITS.sub("*", error.field),
                [],
                "",
                False,
            )
        if default_field != field:
            continue
        if is_container and _container_name(pod.spec, container_type, indexes[0]) != container:
            continue
        # Go's remove(): the last error takes the removed one's place.
        result.errors[index] = result.errors[-1]
        result.errors.pop()
        return


def _apply_exclusions(
    level: str, version: Version, excludes: Sequence[_Exclude], results: list[_Result], pod: _Pod
) -> list[_Result]:
    for exclude in excludes:
        matching, container_level = _matching_pods(exclude, pod)
        excluded = _evaluate(level, version, matching)
        results = _exempt(results, excluded, exclude, pod, matching, container_level)
    return results


# ---------------------------------------------------------------------------------------------
# Pod controllers


@dataclass(frozen=True, slots=True)
class _KyvernoPod:
    pod: _Pod
    spec_path: FieldPath
    metadata_path: FieldPath


def _mapping_at(resource: Mapping[str, Any], path: FieldPath) -> Mapping[str, Any]:
    node: Any = resource
    for depth, key in enumerate(path):
        child = node.get(key) if isinstance(node, Mapping) else None
        if child is None:
            return {}
        if not isinstance(child, Mapping):
            raise _wrong(tuple(path[: depth + 1]), "an object", child)
        node = child
    return node  # type: ignore[no-any-return]


def pod_spec_of(resource: Mapping[str, Any]) -> PodTemplate | None:
    """The pod a Pod or pod controller runs; None for any other kind. A missing template reads
    as an empty pod (Go decodes it so). Raises PodSpecError when a level is not an object."""
    kind = resource.get("kind")
    if kind == "Pod":
        prefix: FieldPath = ()
    elif kind in _TEMPLATE_KINDS:
        prefix = ("spec", "template")
    elif kind == "CronJob":
        prefix = ("spec", "jobTemplate", "spec", "template")
    else:
        return None
    return PodTemplate(
        _mapping_at(resource, (*prefix, "spec")),
        _mapping_at(resource, (*prefix, "metadata")),
        prefix,
    )


def _kyverno_pod(resource: Mapping[str, Any]) -> _KyvernoPod:
    template = pod_spec_of(resource)
    if template is None:
        raise PodSpecError("could not find correct resource type")
    metadata_path = (*template.path_prefix, "metadata")
    if resource.get("kind") == "CronJob":
        # validate_pss.go getSpec reads the CronJob's pod metadata from spec.jobTemplate.metadata.
        metadata_path = ("spec", "jobTemplate", "metadata")
    pod = _Pod(_mapping_at(resource, metadata_path), template.spec)
    return _KyvernoPod(pod, (*template.path_prefix, "spec"), metadata_path)


def _resource_path(path: _Path, pod: _KyvernoPod) -> FieldPath:
    base = pod.spec_path if path[0] == "spec" else pod.metadata_path
    return base + tuple(str(e) if isinstance(e, _Key) else e for e in path[1:])


def _kyverno_field_name(field: str, kind: str) -> str:
    """convertChecks: Kyverno renames fields with plain string replacement, "metadata" even for
    a Pod."""
    if kind in _TEMPLATE_KINDS:
        field = field.replace("spec", "spec.template.spec")
    elif kind == "CronJob":
        field = field.replace("spec", "spec.jobTemplate.spec.template.spec")
    return field.replace("metadata", "spec.template.metadata")


# ---------------------------------------------------------------------------------------------
# Messages (FormatChecksPrint) and images (validate_pss.go addImages)


def _format_bad_value(value: BadValue) -> str:
    """Go's %+v of the bad value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + " ".join(value) + "]"
    return str(value)


def _format_error(error: FieldError) -> str:
    if error.type == "Required":
        return f"{error.field}: Required value"
    if error.bad_value == "":
        return f"{error.field}: Forbidden"
    return (
        f"{error.field} is forbidden, forbidden values found: {_format_bad_value(error.bad_value)}"
    )


def _format_check(reason: str, errors: Sequence[FieldError]) -> str:
    listed = ", ".join(_format_error(error) for error in errors)
    return f"(Forbidden reason: {reason}, field error list: [{listed}])"


_CONTAINER_NAMES = re.compile(r"container(?:s)?\s*(.*?)\s*must")


def _images(detail: str, spec: Mapping[str, Any]) -> tuple[str, ...]:
    match = _CONTAINER_NAMES.search(detail)
    if match is None:
        return ()
    names = match.group(1).replace('"', "").replace(" ", "").split(",")
    images: list[str] = []
    for name in names:
        image = name  # Kyverno falls back to the name when no container has it
        for kind in ("containers", "initContainers", "ephemeralContainers"):
            found = [
                c.get("image")
                for c in spec.get(kind) or []
                if isinstance(c, Mapping) and c.get("name") == name
            ]
            if found:
                image = found[0] if isinstance(found[0], str) else ""
                break
        images.append(image)
    return tuple(images)


def _violation(result: _Result, pod: _KyvernoPod, kind: str) -> Violation:
    errors = tuple(
        FieldError(
            _kyverno_field_name(error.field, kind),
            _resource_path(error.path, pod),
            "Required" if error.required else "Forbidden",
            error.bad_value,
        )
        for error in result.errors
    )
    return Violation(
        control=CONTROL_OF_CHECK.get(result.check_id, ""),
        check_id=result.check_id,
        reason=result.failure.reason,
        detail=result.failure.detail,
        errors=errors,
        images=_images(result.failure.detail, pod.pod.spec),
        message=_format_check(result.failure.reason, errors),
    )


# ---------------------------------------------------------------------------------------------
# Policy side: level, version, excludes

_VERSION = re.compile(r"v1\.([0-9]|[1-9][0-9]*)")


def parse_version(version: str) -> Version:
    """pss.ParseVersion: "" and "latest" are the latest version, else ``v1.<minor>``."""
    if version in ("", "latest"):
        return None
    match = _VERSION.fullmatch(version)
    if match is None:
        raise PodSecurityDefinitionError('must be "latest" or "v1.x"')
    return (1, int(match.group(1)))


def _string_list(
    value: object, path: FieldPath, problems: list[PodSecurityProblem]
) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    problems.append(PodSecurityProblem(path, "must be a list of strings"))
    return ()


def _parse_excludes(excludes: object, problems: list[PodSecurityProblem]) -> list[_Exclude]:
    """The exclude entries; structural mistakes go to ``problems``."""
    if excludes is None:
        return []
    if not isinstance(excludes, list | tuple):
        problems.append(PodSecurityProblem(("exclude",), "must be a list"))
        return []
    parsed: list[_Exclude] = []
    for index, entry in enumerate(excludes):
        path: FieldPath = ("exclude", index)
        if not isinstance(entry, Mapping):
            problems.append(PodSecurityProblem(path, "must be a mapping"))
            continue
        for key in entry:
            if key not in ("controlName", "images", "restrictedField", "values"):
                problems.append(PodSecurityProblem((*path, str(key)), "unknown field"))
        control = entry.get("controlName")
        if not isinstance(control, str):
            problems.append(PodSecurityProblem((*path, "controlName"), "must be a string"))
            control = ""
        restricted = entry.get("restrictedField")
        if restricted is not None and not isinstance(restricted, str):
            problems.append(PodSecurityProblem((*path, "restrictedField"), "must be a string"))
            restricted = ""
        parsed.append(
            _Exclude(
                control,
                _string_list(entry.get("images"), (*path, "images"), problems),
                restricted or "",
                _string_list(entry.get("values"), (*path, "values"), problems),
            )
        )
    return parsed


def validate_pod_security(block: Mapping[str, Any]) -> list[PodSecurityProblem]:
    """What Kyverno rejects when the policy is created (the CRD enums,
    PodSecurityStandard.Validate and Rule.ValidatePSaControlNames), for a config finding."""
    problems: list[PodSecurityProblem] = []
    level = block.get("level")
    if level not in LEVELS:
        problems.append(
            PodSecurityProblem(("level",), f"must be one of {', '.join(LEVELS)}, got {level!r}")
        )
    version = block.get("version")
    if version is not None:
        try:
            if not isinstance(version, str):
                raise PodSecurityDefinitionError('must be "latest" or "v1.x"')
            parse_version(version)
        except PodSecurityDefinitionError as error:
            problems.append(PodSecurityProblem(("version",), f"{error}, got {version!r}"))
    excludes = _parse_excludes(block.get("exclude"), problems)
    for index, exclude in enumerate(excludes):
        path: FieldPath = ("exclude", index)
        if exclude.control_name and exclude.control_name not in CONTROL_IDS:
            problems.append(
                PodSecurityProblem(
                    (*path, "controlName"),
                    f"unknown control {exclude.control_name!r}; one of: {', '.join(CONTROL_IDS)}",
                )
            )
        if exclude.control_name in CONTAINER_LEVEL_CONTROLS and not exclude.images:
            problems.append(
                PodSecurityProblem(
                    (*path, "controlName"),
                    "exclude.images must be specified for the container level control",
                )
            )
        elif exclude.control_name in POD_LEVEL_CONTROLS and exclude.images:
            problems.append(
                PodSecurityProblem(
                    (*path, "controlName"),
                    "exclude.images must not be specified for the pod level control",
                )
            )
        if exclude.restricted_field and not exclude.values:
            problems.append(PodSecurityProblem((*path, "values"), "values is required"))
        if exclude.values and not exclude.restricted_field:
            problems.append(
                PodSecurityProblem((*path, "restrictedField"), "restrictedField is required")
            )
        if level == "baseline" and exclude.control_name in RESTRICTED_CONTROLS:
            problems.append(
                PodSecurityProblem(
                    (*path, "controlName"), "Invalid control name defined at the given level"
                )
            )
    return problems


# ---------------------------------------------------------------------------------------------
# The rule


def _error(message: str) -> PodSecurityResult:
    return PodSecurityResult("error", message)


def evaluate_pod_security(
    resource: Mapping[str, Any],
    level: str,
    version: str,
    excludes: Sequence[Mapping[str, Any]] | None,
    *,
    rule_name: str = "",
) -> PodSecurityResult:
    """Kyverno's podSecurity handler for one resource (a Pod or a pod controller). ``level``,
    ``version`` and ``excludes`` are the rule's ``validate.podSecurity`` fields as written;
    ``rule_name`` goes into the message as Kyverno writes it."""
    try:
        pod = _kyverno_pod(resource)
    except PodSpecError as error:
        return _error(f"Error while getting new resource: {error}")
    try:
        parsed_version = parse_version(version)
    except PodSecurityDefinitionError as error:
        return _error(f"failed to parse pod security api version: {error}")
    if level not in LEVELS:
        return _error(f"invalid pod security level {level!r}: must be one of {', '.join(LEVELS)}")
    problems: list[PodSecurityProblem] = []
    parsed_excludes = _parse_excludes(excludes, problems)
    if problems:
        first = problems[0]
        where = ".".join(str(p) for p in first.path)
        return _error(f"invalid podSecurity.{where}: {first.message}")
    try:
        results = _evaluate(level, parsed_version, pod.pod)
        if parsed_excludes:
            results = _apply_exclusions(level, parsed_version, parsed_excludes, results, pod.pod)
    except PodSpecError as error:
        return _error(f"Error while getting new resource: {error}")
    if not results:
        return PodSecurityResult("pass", f"Validation rule '{rule_name}' passed.")
    kind = str(resource.get("kind"))
    violations = tuple(_violation(result, pod, kind) for result in results)
    checks = "".join(violation.message for violation in violations)
    message = (
        f"Validation rule '{rule_name}' failed. It violates PodSecurity "
        f'"{level}:{version}": {checks}'
    )
    return PodSecurityResult("fail", message, violations)
