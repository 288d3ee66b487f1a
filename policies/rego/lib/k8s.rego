# Shared helpers for the built-in library: where a Kubernetes document keeps its pod spec,
# its containers (with the field path of each), and the document's identity for messages.
#
# `input` is ONE manifest document. Every helper is a rule (not a function) so the engine
# computes it once per document, however many policy rules read it.
#
# Field paths ("spec.template.spec.containers[0]") are dotted from the document root, with
# [N] for list items and ["key"] for map keys that are not plain identifiers (annotations).
package gitops_gate.lib.k8s

import rego.v1

# Where each workload kind keeps its pod spec and the pod's metadata, and which API groups
# own the kind: a custom resource that reuses the name (a Volcano "Job") is left alone.
workloads := {
	"Pod": {"groups": {""}, "spec": ["spec"], "meta": ["metadata"]},
	"PodTemplate": {"groups": {""}, "spec": ["template", "spec"], "meta": ["template", "metadata"]},
	"ReplicationController": {"groups": {""}, "spec": _template_spec, "meta": _template_meta},
	"Deployment": {"groups": {"apps", "extensions"}, "spec": _template_spec, "meta": _template_meta},
	"StatefulSet": {"groups": {"apps"}, "spec": _template_spec, "meta": _template_meta},
	"DaemonSet": {"groups": {"apps", "extensions"}, "spec": _template_spec, "meta": _template_meta},
	"ReplicaSet": {"groups": {"apps", "extensions"}, "spec": _template_spec, "meta": _template_meta},
	"Job": {"groups": {"batch"}, "spec": _template_spec, "meta": _template_meta},
	"CronJob": {
		"groups": {"batch"},
		"spec": ["spec", "jobTemplate", "spec", "template", "spec"],
		"meta": ["spec", "jobTemplate", "spec", "template", "metadata"],
	},
}

_template_spec := ["spec", "template", "spec"]

_template_meta := ["spec", "template", "metadata"]

# Long-running controllers: probes and replicas make sense for these, not for Jobs.
long_running_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"}

container_types := ["initContainers", "containers", "ephemeralContainers"]

# --- the document -------------------------------------------------------------------------

kind := input.kind if {
	is_object(input)
	is_string(input.kind)
}

metadata := m if {
	is_object(input)
	m := input.metadata
	is_object(m)
} else := {}

name := n if {
	n := metadata.name
	is_string(n)
} else := ""

namespace := ns if {
	ns := metadata.namespace
	is_string(ns)
} else := ""

labels := l if {
	l := metadata.labels
	is_object(l)
} else := {}

# "" for the core group ("v1"), "apps" for "apps/v1"; undefined without an apiVersion.
api_group := g if {
	is_string(input.apiVersion)
	parts := split(input.apiVersion, "/")
	g := _group(parts)
}

_group(parts) := parts[0] if count(parts) == 2

_group(parts) := "" if count(parts) == 1

# `Deployment "web"`, for messages.
label := sprintf("%s %q", [kind, name]) if name != ""

label := kind if name == ""

# --- the pod ------------------------------------------------------------------------------

_workload := w if {
	w := workloads[kind]
	_group_ok(w)
}

_group_ok(w) if not is_string(input.apiVersion)

_group_ok(w) if api_group in w.groups

is_workload if _workload

pod_spec := s if {
	s := object.get(input, _workload.spec, null)
	is_object(s)
}

# The pod's metadata (the template's, for controllers): annotations such as AppArmor's.
pod_meta := m if {
	m := object.get(input, _workload.meta, null)
	is_object(m)
} else := {}

spec_prefix := concat(".", _workload.spec)

meta_prefix := concat(".", _workload.meta)

pod_security_context := sc if {
	sc := pod_spec.securityContext
	is_object(sc)
} else := {}

pod_security_context_field := sprintf("%s.securityContext", [spec_prefix])

pod_annotations := a if {
	a := pod_meta.annotations
	is_object(a)
} else := {}

pod_labels := l if {
	l := pod_meta.labels
	is_object(l)
} else := {}

# The restricted Seccomp, Capabilities and Privilege Escalation controls exempt Windows pods.
is_windows if pod_spec.os.name == "windows"

# `hostUsers: false` runs the pod in a user namespace, which relaxes some controls.
in_user_namespace if pod_spec.hostUsers == false

# Every container of the pod, init and ephemeral ones included, each as
#   {"container": <object>, "name": <string>, "type": "containers"|..., "field": <path>,
#    "sc": <its securityContext, or {}>}
containers contains entry if {
	some type in container_types
	list := pod_spec[type]
	is_array(list)
	some i, c in list
	is_object(c)
	entry := {
		"container": c,
		"name": _string_or(object.get(c, "name", null), ""),
		"type": type,
		"field": sprintf("%s.%s[%d]", [spec_prefix, type, i]),
		"sc": _object_or(object.get(c, "securityContext", null)),
	}
}

volumes contains entry if {
	list := pod_spec.volumes
	is_array(list)
	some i, v in list
	is_object(v)
	entry := {"volume": v, "name": _string_or(object.get(v, "name", null), ""), "field": sprintf("%s.volumes[%d]", [spec_prefix, i])}
}

_string_or(x, _) := x if is_string(x)

_string_or(x, d) := d if not is_string(x)

# Callers pass object.get(..., null): a function is never called with an undefined argument.
_object_or(x) := x if is_object(x)

_object_or(x) := {} if not is_object(x)

# --- small helpers -----------------------------------------------------------------------

# A field is set when present and not null (Kubernetes treats null as unset). Safe on any
# value: object.get raises on a non-object in Regorus.
is_set(obj, key) if {
	is_object(obj)
	object.get(obj, key, null) != null
}

# `container "app"` / `init container "setup"` / `ephemeral container "debug"`.
describe(entry) := sprintf("container %q", [entry.name]) if entry.type == "containers"

describe(entry) := sprintf("init container %q", [entry.name]) if entry.type == "initContainers"

describe(entry) := sprintf("ephemeral container %q", [entry.name]) if entry.type == "ephemeralContainers"

# The deepest existing field on the way to securityContext.<key> of a container: the finding
# points at the field when it is set, else at the securityContext, else at the container.
sc_field(entry, key) := sprintf("%s.securityContext.%s", [entry.field, key]) if {
	is_set(entry.sc, key)
} else := sprintf("%s.securityContext", [entry.field]) if {
	is_object(entry.container.securityContext)
} else := entry.field

# The same for the pod-level securityContext.
pod_sc_field(key) := sprintf("%s.%s", [pod_security_context_field, key]) if {
	is_set(pod_security_context, key)
} else := pod_security_context_field if {
	is_object(pod_spec.securityContext)
} else := spec_prefix

# A map key as a path segment: `.name` when it is a plain identifier, `["a.b/c"]` otherwise.
key_segment(key) := sprintf(".%s", [key]) if regex.match(`^[A-Za-z_][A-Za-z0-9_-]*$`, key)

key_segment(key) := sprintf("[%q]", [key]) if not regex.match(`^[A-Za-z_][A-Za-z0-9_-]*$`, key)
