# Kubernetes best practices: image pinning, resources, probes, container hardening, Service
# exposure, namespaces, labels, Ingress TLS, RBAC wildcards and CronJob concurrency.
#
# Rules that fire on most ordinary workloads (probes, labels, read-only root filesystem, CPU
# limits, ...) and rules that repeat a Pod Security Standards Baseline control (host
# namespaces, hostPath, hostPort, dangerous capabilities) are off by default; see the catalog.
package gitops_gate.best_practices

import rego.v1

import data.gitops_gate.catalog
import data.gitops_gate.lib.k8s

# conftest's rules: errors fail, warnings and notices warn; disabled rules are dropped.
deny contains f if {
	some f in findings
	catalog.is_deny(f)
}

warn contains f if {
	some f in findings
	catalog.is_warn(f)
}

# --- Images --------------------------------------------------------------------------------

findings contains catalog.finding(
	"bp.image-latest-tag",
	sprintf("%s.image", [c.field]),
	sprintf("%s: %s uses image %s with the latest tag", [k8s.label, k8s.describe(c), image]),
) if {
	some c in k8s.containers
	image := c.container.image
	_unpinned(image)
	_image_tag(image) == "latest"
}

findings contains catalog.finding(
	"bp.image-missing-tag",
	sprintf("%s.image", [c.field]),
	sprintf("%s: %s uses image %s without a tag or digest", [k8s.label, k8s.describe(c), image]),
) if {
	some c in k8s.containers
	image := c.container.image
	_unpinned(image)
	_image_tag(image) == ""
}

# A digest pins the image whatever the tag says.
_unpinned(image) if {
	is_string(image)
	image != ""
	not contains(image, "@")
}

# The tag is after the last ":" of the last path segment ("registry:5000/app" has none).
_image_tag(image) := tag if {
	segments := split(image, "/")
	parts := split(segments[count(segments) - 1], ":")
	count(parts) > 1
	tag := parts[count(parts) - 1]
} else := ""

# --- Resources -----------------------------------------------------------------------------

# The containers that run for the pod's lifetime: regular ones and sidecars (init containers
# with restartPolicy Always).
_app_containers contains c if {
	some c in k8s.containers
	c.type == "containers"
}

_app_containers contains c if {
	some c in k8s.containers
	c.type == "initContainers"
	c.container.restartPolicy == "Always"
}

findings contains catalog.finding(
	"bp.resources-requests",
	_resources_field(c, "requests"),
	sprintf("%s: %s has no %s request", [k8s.label, k8s.describe(c), concat(" or ", missing)]),
) if {
	some c in _app_containers
	missing := [r | some r in ["cpu", "memory"]; not _requested(c, r)]
	count(missing) > 0
}

# A limit without a request also sets the request to the limit.
_requested(c, r) if k8s.is_set(c.container.resources.requests, r)

_requested(c, r) if k8s.is_set(c.container.resources.limits, r)

findings contains catalog.finding(
	"bp.memory-limit",
	_resources_field(c, "limits"),
	sprintf("%s: %s has no memory limit", [k8s.label, k8s.describe(c)]),
) if {
	some c in _app_containers
	not k8s.is_set(c.container.resources.limits, "memory")
}

findings contains catalog.finding(
	"bp.cpu-limit",
	_resources_field(c, "limits"),
	sprintf("%s: %s has no CPU limit", [k8s.label, k8s.describe(c)]),
) if {
	some c in _app_containers
	not k8s.is_set(c.container.resources.limits, "cpu")
}

_resources_field(c, key) := sprintf("%s.resources.%s", [c.field, key]) if {
	k8s.is_set(c.container.resources, key)
} else := sprintf("%s.resources", [c.field]) if {
	k8s.is_set(c.container, "resources")
} else := c.field

# --- Probes (long-running controllers only: a Job's container ends by design) ---------------

findings contains catalog.finding(
	sprintf("bp.%s", [rule]),
	c.field,
	sprintf("%s: %s has no %s", [k8s.label, k8s.describe(c), probe]),
) if {
	k8s.long_running_kinds[k8s.kind]
	some c in k8s.containers
	c.type == "containers"
	some rule, probe in {"liveness-probe": "livenessProbe", "readiness-probe": "readinessProbe"}
	not k8s.is_set(c.container, probe)
}

# --- Container hardening -------------------------------------------------------------------

findings contains catalog.finding(
	"bp.read-only-root-filesystem",
	k8s.sc_field(c, "readOnlyRootFilesystem"),
	sprintf("%s: %s does not set securityContext.readOnlyRootFilesystem=true", [k8s.label, k8s.describe(c)]),
) if {
	# Windows pods cannot set it (the API rejects Linux-only securityContext fields there).
	not k8s.is_windows
	some c in k8s.containers
	c.type != "ephemeralContainers"
	not c.sc.readOnlyRootFilesystem == true
}

findings contains catalog.finding(
	"bp.allow-privilege-escalation",
	k8s.sc_field(c, "allowPrivilegeEscalation"),
	sprintf("%s: %s does not set securityContext.allowPrivilegeEscalation=false", [k8s.label, k8s.describe(c)]),
) if {
	not k8s.is_windows
	some c in k8s.containers
	c.type != "ephemeralContainers"
	not c.sc.allowPrivilegeEscalation == false
}

findings contains catalog.finding(
	sprintf("bp.%s", [rule]),
	sprintf("%s.%s", [k8s.spec_prefix, key]),
	sprintf("%s: the pod sets %s=true", [k8s.label, key]),
) if {
	some rule, key in {"host-network": "hostNetwork", "host-pid": "hostPID", "host-ipc": "hostIPC"}
	k8s.pod_spec[key] == true
}

findings contains catalog.finding(
	"bp.host-path",
	sprintf("%s.hostPath", [v.field]),
	sprintf("%s: volume %q mounts host path %v", [k8s.label, v.name, object.get(v.volume.hostPath, "path", "")]),
) if {
	some v in k8s.volumes
	is_object(v.volume.hostPath)
}

findings contains catalog.finding(
	"bp.host-port",
	sprintf("%s.ports[%d].hostPort", [c.field, i]),
	sprintf("%s: %s binds host port %v", [k8s.label, k8s.describe(c), port.hostPort]),
) if {
	some c in k8s.containers
	ports := c.container.ports
	is_array(ports)
	some i, port in ports
	k8s.is_set(port, "hostPort")
	port.hostPort != 0
}

dangerous_capabilities := {
	"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "SYS_BOOT",
	"SYS_TIME", "DAC_READ_SEARCH", "BPF", "PERFMON", "MAC_ADMIN", "MAC_OVERRIDE", "SYSLOG",
}

findings contains catalog.finding(
	"bp.dangerous-capabilities",
	sprintf("%s.securityContext.capabilities.add[%d]", [c.field, i]),
	sprintf("%s: %s adds capability %s", [k8s.label, k8s.describe(c), cap]),
) if {
	some c in k8s.containers
	added := c.sc.capabilities.add
	is_array(added)
	some i, cap in added
	is_string(cap)

	# Runtimes accept "CAP_SYS_ADMIN" and any case for "SYS_ADMIN".
	dangerous_capabilities[trim_prefix(upper(cap), "CAP_")]
}

findings contains catalog.finding(
	"bp.automount-service-account-token",
	_automount_field,
	sprintf("%s: the pod does not set automountServiceAccountToken=false", [k8s.label]),
) if {
	k8s.pod_spec
	not k8s.pod_spec.automountServiceAccountToken == false
}

_automount_field := sprintf("%s.automountServiceAccountToken", [k8s.spec_prefix]) if {
	k8s.is_set(k8s.pod_spec, "automountServiceAccountToken")
} else := k8s.spec_prefix

# --- Services ------------------------------------------------------------------------------

_is_service if {
	k8s.kind == "Service"
	_core_group
}

_core_group if not is_string(input.apiVersion)

_core_group if k8s.api_group == ""

findings contains catalog.finding(
	"bp.service-node-port",
	"spec.type",
	sprintf("%s: type NodePort opens the port on every node", [k8s.label]),
) if {
	_is_service
	input.spec.type == "NodePort"
}

findings contains catalog.finding(
	"bp.service-load-balancer",
	"spec.type",
	sprintf("%s: type LoadBalancer without spec.loadBalancerSourceRanges", [k8s.label]),
) if {
	_is_service
	input.spec.type == "LoadBalancer"
	not _has_source_ranges
}

_has_source_ranges if {
	ranges := input.spec.loadBalancerSourceRanges
	is_array(ranges)
	count(ranges) > 0
}

# --- Namespaces and labels -----------------------------------------------------------------

findings contains catalog.finding(
	"bp.default-namespace",
	"metadata.namespace",
	sprintf("%s is deployed to the default namespace", [k8s.label]),
) if {
	k8s.kind != "Namespace"
	k8s.namespace == "default"
}

_labelled_kinds := {"Service", "Ingress"}

findings contains catalog.finding(
	"bp.recommended-labels",
	_labels_field,
	sprintf("%s has no app.kubernetes.io/name label", [k8s.label]),
) if {
	_wants_labels
	not k8s.is_set(k8s.labels, "app.kubernetes.io/name")
}

_wants_labels if k8s.is_workload

_wants_labels if _labelled_kinds[k8s.kind]

_labels_field := "metadata.labels" if {
	k8s.is_set(k8s.metadata, "labels")
} else := "metadata"

# --- Ingress TLS ---------------------------------------------------------------------------

_is_ingress if {
	k8s.kind == "Ingress"
	k8s.api_group in {"networking.k8s.io", "extensions"}
}

_tls_entries := [t |
	entries := input.spec.tls
	is_array(entries)
	some t in entries
	is_object(t)
]

findings contains catalog.finding(
	"bp.ingress-tls",
	_tls_field,
	sprintf("%s has no spec.tls: it serves plain HTTP", [k8s.label]),
) if {
	_is_ingress
	count(_tls_entries) == 0
}

_tls_field := "spec.tls" if {
	k8s.is_set(input.spec, "tls")
} else := "spec"

findings contains catalog.finding(
	"bp.ingress-tls",
	sprintf("spec.rules[%d].host", [i]),
	sprintf("%s: host %s is not listed in any spec.tls hosts", [k8s.label, host]),
) if {
	_is_ingress
	count(_tls_entries) > 0
	rules := input.spec.rules
	is_array(rules)
	some i, rule in rules
	host := rule.host
	is_string(host)
	host != ""
	not _tls_covers(host)
}

_tls_covers(host) if {
	some t in _tls_entries
	hosts := t.hosts
	is_array(hosts)
	some h in hosts
	_host_matches(h, host)
}

_host_matches(pattern, host) if pattern == host

# "*.example.com" covers exactly one label in front of example.com.
_host_matches(pattern, host) if {
	is_string(pattern)
	startswith(pattern, "*.")
	suffix := trim_prefix(pattern, "*")
	endswith(host, suffix)
	not contains(trim_suffix(host, suffix), ".")
}

# --- RBAC ----------------------------------------------------------------------------------

_is_role if {
	k8s.kind in {"Role", "ClusterRole"}
	k8s.api_group == "rbac.authorization.k8s.io"
}

findings contains catalog.finding(
	"bp.rbac-wildcard",
	sprintf("rules[%d].%s[%d]", [i, key, j]),
	sprintf("%s: rule %d grants %s \"*\"", [k8s.label, i, key]),
) if {
	_is_role

	# An aggregated ClusterRole's rules are filled in by the controller, not by this file.
	not k8s.is_set(input, "aggregationRule")
	rules := input.rules
	is_array(rules)
	some i, rule in rules
	some key in ["verbs", "resources", "apiGroups"]
	values := rule[key]
	is_array(values)
	some j, value in values
	value == "*"
}

# --- CronJob -------------------------------------------------------------------------------

findings contains catalog.finding(
	"bp.cronjob-concurrency-policy",
	_concurrency_field,
	sprintf("%s: concurrencyPolicy %s lets runs overlap", [k8s.label, _concurrency]),
) if {
	k8s.kind == "CronJob"
	k8s.pod_spec
	not _concurrency in {"Forbid", "Replace"}
}

_concurrency := p if {
	p := input.spec.concurrencyPolicy
	is_string(p)
} else := "Allow"

_concurrency_field := "spec.concurrencyPolicy" if {
	k8s.is_set(input.spec, "concurrencyPolicy")
} else := "spec"
