# Pod Security Standards, Baseline profile: every control, with the allowed values of the
# Kubernetes Pod Security Admission checks at policy version "latest" of Kubernetes 1.35/1.36
# (k8s.io/pod-security-admission/policy/check_*.go), for every kind that carries a pod spec.
#
# Findings: `deny` (all Baseline controls are errors). `findings` holds every finding before
# the configuration (data.gitops_gate.config) filters it.
package gitops_gate.pss.baseline

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

# --- HostProcess ---------------------------------------------------------------------------

findings contains catalog.finding(
	"pss.baseline.host-process",
	sprintf("%s.windowsOptions.hostProcess", [k8s.pod_security_context_field]),
	sprintf("%s: the pod sets securityContext.windowsOptions.hostProcess=true", [k8s.label]),
) if {
	k8s.pod_security_context.windowsOptions.hostProcess == true
}

findings contains catalog.finding(
	"pss.baseline.host-process",
	sprintf("%s.securityContext.windowsOptions.hostProcess", [c.field]),
	sprintf("%s: %s sets securityContext.windowsOptions.hostProcess=true", [k8s.label, k8s.describe(c)]),
) if {
	some c in k8s.containers
	c.sc.windowsOptions.hostProcess == true
}

# --- Host namespaces -----------------------------------------------------------------------

findings contains catalog.finding(
	"pss.baseline.host-namespaces",
	sprintf("%s.%s", [k8s.spec_prefix, key]),
	sprintf("%s: the pod sets %s=true", [k8s.label, key]),
) if {
	some key in ["hostNetwork", "hostPID", "hostIPC"]
	k8s.pod_spec[key] == true
}

# --- Privileged containers -----------------------------------------------------------------

findings contains catalog.finding(
	"pss.baseline.privileged",
	sprintf("%s.securityContext.privileged", [c.field]),
	sprintf("%s: %s sets securityContext.privileged=true", [k8s.label, k8s.describe(c)]),
) if {
	some c in k8s.containers
	c.sc.privileged == true
}

# --- Capabilities --------------------------------------------------------------------------

# Docker's default set; anything else added is a Baseline violation.
allowed_capabilities := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

findings contains catalog.finding(
	"pss.baseline.capabilities",
	sprintf("%s.securityContext.capabilities.add[%d]", [c.field, i]),
	sprintf("%s: %s adds capability %v, beyond the baseline set", [k8s.label, k8s.describe(c), cap]),
) if {
	some c in k8s.containers
	added := c.sc.capabilities.add
	is_array(added)
	some i, cap in added
	not allowed_capabilities[cap]
}

# --- HostPath volumes ----------------------------------------------------------------------

findings contains catalog.finding(
	"pss.baseline.host-path-volumes",
	sprintf("%s.hostPath", [v.field]),
	sprintf("%s: volume %q is a hostPath volume", [k8s.label, v.name]),
) if {
	some v in k8s.volumes
	k8s.is_set(v.volume, "hostPath")
}

# --- Host ports ----------------------------------------------------------------------------

findings contains catalog.finding(
	"pss.baseline.host-ports",
	sprintf("%s.ports[%d].hostPort", [c.field, i]),
	sprintf("%s: %s uses hostPort %v", [k8s.label, k8s.describe(c), port.hostPort]),
) if {
	some c in k8s.containers
	ports := c.container.ports
	is_array(ports)
	some i, port in ports
	k8s.is_set(port, "hostPort")
	port.hostPort != 0
}

# --- Host probes and lifecycle hooks (Kubernetes 1.34+) ------------------------------------

findings contains catalog.finding(
	"pss.baseline.host-probes",
	sprintf("%s.%s.%s.host", [c.field, probe, handler]),
	sprintf("%s: %s sets %s.%s.host=%v", [k8s.label, k8s.describe(c), probe, handler, host]),
) if {
	some c in k8s.containers
	some probe in ["livenessProbe", "readinessProbe", "startupProbe"]
	some handler in ["httpGet", "tcpSocket"]
	host := c.container[probe][handler].host
	_non_empty(host)
}

findings contains catalog.finding(
	"pss.baseline.host-probes",
	sprintf("%s.lifecycle.%s.%s.host", [c.field, hook, handler]),
	sprintf("%s: %s sets lifecycle.%s.%s.host=%v", [k8s.label, k8s.describe(c), hook, handler, host]),
) if {
	some c in k8s.containers
	some hook in ["postStart", "preStop"]
	some handler in ["httpGet", "tcpSocket"]
	host := c.container.lifecycle[hook][handler].host
	_non_empty(host)
}

_non_empty(x) if {
	x != null
	x != ""
}

# --- AppArmor ------------------------------------------------------------------------------

allowed_apparmor_types := {"RuntimeDefault", "Localhost"}

findings contains catalog.finding(
	"pss.baseline.apparmor",
	sprintf("%s.appArmorProfile.type", [k8s.pod_security_context_field]),
	sprintf("%s: the pod sets AppArmor profile type %v", [k8s.label, type]),
) if {
	profile := k8s.pod_security_context.appArmorProfile
	is_object(profile)
	type := object.get(profile, "type", "")
	not allowed_apparmor_types[type]
}

findings contains catalog.finding(
	"pss.baseline.apparmor",
	sprintf("%s.securityContext.appArmorProfile.type", [c.field]),
	sprintf("%s: %s sets AppArmor profile type %v", [k8s.label, k8s.describe(c), type]),
) if {
	some c in k8s.containers
	profile := c.sc.appArmorProfile
	is_object(profile)
	type := object.get(profile, "type", "")
	not allowed_apparmor_types[type]
}

apparmor_annotation_prefix := "container.apparmor.security.beta.kubernetes.io/"

findings contains catalog.finding(
	"pss.baseline.apparmor",
	sprintf("%s.annotations%s", [k8s.meta_prefix, k8s.key_segment(key)]),
	sprintf("%s: annotation %s=%v disables or overrides the default AppArmor profile", [k8s.label, key, value]),
) if {
	some key, value in k8s.pod_annotations
	startswith(key, apparmor_annotation_prefix)
	not _allowed_apparmor_annotation(value)
}

_allowed_apparmor_annotation(value) if value == ""

_allowed_apparmor_annotation(value) if value == "runtime/default"

_allowed_apparmor_annotation(value) if {
	is_string(value)
	startswith(value, "localhost/")
}

# --- SELinux -------------------------------------------------------------------------------

allowed_selinux_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

# Every seLinuxOptions object of the pod: {"options", "field", "who"}.
_selinux_setters contains {"options": opts, "field": sprintf("%s.seLinuxOptions", [k8s.pod_security_context_field]), "who": "the pod"} if {
	opts := k8s.pod_security_context.seLinuxOptions
	is_object(opts)
}

_selinux_setters contains {"options": opts, "field": sprintf("%s.securityContext.seLinuxOptions", [c.field]), "who": k8s.describe(c)} if {
	some c in k8s.containers
	opts := c.sc.seLinuxOptions
	is_object(opts)
}

findings contains catalog.finding(
	"pss.baseline.selinux",
	sprintf("%s.type", [s.field]),
	sprintf("%s: %s sets SELinux type %v", [k8s.label, s.who, type]),
) if {
	some s in _selinux_setters
	type := object.get(s.options, "type", "")
	type != null
	not allowed_selinux_types[type]
}

findings contains catalog.finding(
	"pss.baseline.selinux",
	sprintf("%s.%s", [s.field, key]),
	sprintf("%s: %s sets a custom SELinux %s", [k8s.label, s.who, key]),
) if {
	some s in _selinux_setters
	some key in ["user", "role"]
	_non_empty(object.get(s.options, key, null))
}

# --- /proc mount type ----------------------------------------------------------------------

findings contains catalog.finding(
	"pss.baseline.proc-mount",
	sprintf("%s.securityContext.procMount", [c.field]),
	sprintf("%s: %s sets securityContext.procMount=%v", [k8s.label, k8s.describe(c), c.sc.procMount]),
) if {
	# Baseline relaxes /proc for pods in a user namespace (1.35+); Restricted does not.
	not k8s.in_user_namespace
	some c in k8s.containers
	k8s.is_set(c.sc, "procMount")
	c.sc.procMount != "Default"
}

# --- Seccomp -------------------------------------------------------------------------------

allowed_seccomp_types := {"RuntimeDefault", "Localhost"}

findings contains catalog.finding(
	"pss.baseline.seccomp",
	sprintf("%s.seccompProfile.type", [k8s.pod_security_context_field]),
	sprintf("%s: the pod sets seccompProfile.type=%v", [k8s.label, type]),
) if {
	profile := k8s.pod_security_context.seccompProfile
	is_object(profile)
	type := object.get(profile, "type", "")
	not allowed_seccomp_types[type]
}

findings contains catalog.finding(
	"pss.baseline.seccomp",
	sprintf("%s.securityContext.seccompProfile.type", [c.field]),
	sprintf("%s: %s sets seccompProfile.type=%v", [k8s.label, k8s.describe(c), type]),
) if {
	some c in k8s.containers
	profile := c.sc.seccompProfile
	is_object(profile)
	type := object.get(profile, "type", "")
	not allowed_seccomp_types[type]
}

# --- Sysctls -------------------------------------------------------------------------------

# Namespaced sysctls isolated from other pods (safe list as of policy version 1.32+).
safe_sysctls := {
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
}

findings contains catalog.finding(
	"pss.baseline.sysctls",
	sprintf("%s.sysctls[%d].name", [k8s.pod_security_context_field, i]),
	sprintf("%s: the pod sets sysctl %v, which is not in the safe set", [k8s.label, name]),
) if {
	sysctls := k8s.pod_security_context.sysctls
	is_array(sysctls)
	some i, sysctl in sysctls
	name := _sysctl_name(sysctl)
	not safe_sysctls[name]
}

_sysctl_name(sysctl) := object.get(sysctl, "name", "") if is_object(sysctl)

_sysctl_name(sysctl) := "" if not is_object(sysctl)
