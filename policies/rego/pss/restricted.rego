# Pod Security Standards, Restricted profile: the controls Restricted adds on top of Baseline
# (policy version "latest" of Kubernetes 1.35/1.36). Restricted is cumulative, so this set is
# meant to run together with gitops_gate.pss.baseline (the catalog's "implies"). Where
# Restricted tightens a Baseline control, this package reports only what Baseline does not,
# so the two sets never report one problem twice:
#   - volume types: hostPath volumes are left to pss.baseline.host-path-volumes;
#   - seccomp: an explicit Unconfined (or unknown) profile is left to pss.baseline.seccomp;
#   - capabilities: adds outside the Baseline list are left to pss.baseline.capabilities;
#   - /proc mount: Baseline relaxes it for user-namespace pods, this package does not.
# Windows pods (spec.os.name: windows) are exempt from privilege escalation, seccomp and
# capabilities, as the standard says.
package gitops_gate.pss.restricted

import rego.v1

import data.gitops_gate.catalog
import data.gitops_gate.lib.k8s
import data.gitops_gate.pss.baseline

# conftest's rules: errors fail, warnings and notices warn; disabled rules are dropped.
deny contains f if {
	some f in findings
	catalog.is_deny(f)
}

warn contains f if {
	some f in findings
	catalog.is_warn(f)
}

# --- Volume types --------------------------------------------------------------------------

allowed_volume_types := [
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
	"persistentVolumeClaim", "projected", "secret",
]

findings contains catalog.finding(
	"pss.restricted.volume-types",
	sprintf("%s.%s", [v.field, type]),
	sprintf("%s: volume %q uses the restricted volume type %s", [k8s.label, v.name, type]),
) if {
	some v in k8s.volumes
	not _allowed_volume(v.volume)
	not k8s.is_set(v.volume, "hostPath")
	type := _volume_type(v.volume)
}

_allowed_volume(volume) if {
	some type in allowed_volume_types
	k8s.is_set(volume, type)
}

# The volume's source: the first key set besides "name". A volume without any source is
# defaulted to emptyDir by the API server, so it has no type here and passes.
_volume_type(volume) := min(types) if {
	types := [key | some key, value in volume; key != "name"; value != null]
	count(types) > 0
}

# --- Privilege escalation ------------------------------------------------------------------

# Unset means true (the kernel's no_new_privs is off), so only an explicit false passes.
findings contains catalog.finding(
	"pss.restricted.privilege-escalation",
	k8s.sc_field(c, "allowPrivilegeEscalation"),
	sprintf("%s: %s must set securityContext.allowPrivilegeEscalation=false", [k8s.label, k8s.describe(c)]),
) if {
	not k8s.is_windows
	some c in k8s.containers
	not c.sc.allowPrivilegeEscalation == false
}

# --- Running as non-root -------------------------------------------------------------------

# A pod in a user namespace is exempt from runAsNonRoot and runAsUser (1.35+): UID 0 inside
# is an unprivileged UID on the node.
findings contains catalog.finding(
	"pss.restricted.run-as-non-root",
	sprintf("%s.runAsNonRoot", [k8s.pod_security_context_field]),
	sprintf("%s: the pod must not set securityContext.runAsNonRoot=false", [k8s.label]),
) if {
	not k8s.in_user_namespace
	k8s.pod_security_context.runAsNonRoot == false
}

findings contains catalog.finding(
	"pss.restricted.run-as-non-root",
	sprintf("%s.securityContext.runAsNonRoot", [c.field]),
	sprintf("%s: %s must not set securityContext.runAsNonRoot=false", [k8s.label, k8s.describe(c)]),
) if {
	not k8s.in_user_namespace
	some c in k8s.containers
	c.sc.runAsNonRoot == false
}

# A container that leaves runAsNonRoot unset inherits the pod's; without runAsNonRoot=true at
# the pod level it may run as root.
findings contains catalog.finding(
	"pss.restricted.run-as-non-root",
	k8s.sc_field(c, "runAsNonRoot"),
	sprintf("%s: the pod or %s must set securityContext.runAsNonRoot=true", [k8s.label, k8s.describe(c)]),
) if {
	not k8s.in_user_namespace
	not k8s.pod_security_context.runAsNonRoot == true
	some c in k8s.containers
	not k8s.is_set(c.sc, "runAsNonRoot")
}

findings contains catalog.finding(
	"pss.restricted.run-as-user",
	sprintf("%s.runAsUser", [k8s.pod_security_context_field]),
	sprintf("%s: the pod must not set runAsUser=0", [k8s.label]),
) if {
	not k8s.in_user_namespace
	k8s.pod_security_context.runAsUser == 0
}

findings contains catalog.finding(
	"pss.restricted.run-as-user",
	sprintf("%s.securityContext.runAsUser", [c.field]),
	sprintf("%s: %s must not set runAsUser=0", [k8s.label, k8s.describe(c)]),
) if {
	not k8s.in_user_namespace
	some c in k8s.containers
	c.sc.runAsUser == 0
}

# --- Seccomp -------------------------------------------------------------------------------

# Restricted requires a profile: a container without one needs the pod-level profile.
findings contains catalog.finding(
	"pss.restricted.seccomp",
	k8s.sc_field(c, "seccompProfile"),
	sprintf(
		"%s: the pod or %s must set securityContext.seccompProfile.type to RuntimeDefault or Localhost",
		[k8s.label, k8s.describe(c)],
	),
) if {
	not k8s.is_windows
	not k8s.is_set(k8s.pod_security_context, "seccompProfile")
	some c in k8s.containers
	not k8s.is_set(c.sc, "seccompProfile")
}

# --- Capabilities --------------------------------------------------------------------------

findings contains catalog.finding(
	"pss.restricted.capabilities",
	_drop_field(c),
	sprintf("%s: %s must set securityContext.capabilities.drop=[\"ALL\"]", [k8s.label, k8s.describe(c)]),
) if {
	not k8s.is_windows
	some c in k8s.containers
	not _drops_all(c)
}

findings contains catalog.finding(
	"pss.restricted.capabilities",
	sprintf("%s.securityContext.capabilities.add[%d]", [c.field, i]),
	sprintf("%s: %s adds capability %v; only NET_BIND_SERVICE may be added", [k8s.label, k8s.describe(c), cap]),
) if {
	not k8s.is_windows
	some c in k8s.containers
	added := c.sc.capabilities.add
	is_array(added)
	some i, cap in added
	cap != "NET_BIND_SERVICE"

	# Capabilities outside the Baseline list are reported by pss.baseline.capabilities.
	baseline.allowed_capabilities[cap]
}

_drops_all(c) if {
	dropped := c.sc.capabilities.drop
	is_array(dropped)
	"ALL" in dropped
}

_drop_field(c) := sprintf("%s.securityContext.capabilities.drop", [c.field]) if {
	k8s.is_set(c.sc.capabilities, "drop")
} else := sprintf("%s.securityContext.capabilities", [c.field]) if {
	is_object(c.sc.capabilities)
} else := k8s.sc_field(c, "capabilities")

# --- /proc mount type ----------------------------------------------------------------------

findings contains catalog.finding(
	"pss.restricted.proc-mount",
	sprintf("%s.securityContext.procMount", [c.field]),
	sprintf("%s: %s sets securityContext.procMount=%v; Restricted requires Default even with hostUsers: false", [k8s.label, k8s.describe(c), c.sc.procMount]),
) if {
	# Outside a user namespace pss.baseline.proc-mount reports it.
	k8s.in_user_namespace
	some c in k8s.containers
	k8s.is_set(c.sc, "procMount")
	c.sc.procMount != "Default"
}
