package gitops_gate.pss.restricted_test

import rego.v1

import data.gitops_gate.pss.baseline
import data.gitops_gate.pss.restricted
import data.gitops_gate.test.fixtures as fx

# --- clean documents ---------------------------------------------------------------------

test_hardened_pod_passes if {
	count(restricted.findings) == 0 with input as fx.pod(fx.hardened_pod_spec)
}

test_every_workload_kind_passes_when_hardened if {
	every w in fx.workloads(fx.hardened_pod_spec) {
		count(restricted.findings) == 0 with input as w.doc
	}
}

test_documents_without_pods_pass if {
	count(restricted.findings) == 0 with input as {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
	count(restricted.findings) == 0 with input as null
}

# A minimally specified pod fails every Restricted control that requires a setting.
test_minimal_pod_fails_required_settings if {
	fs := restricted.findings with input as fx.pod({"containers": [{"name": "app", "image": "nginx:1.27"}]})
	fx.ids(fs) == {
		"pss.restricted.privilege-escalation",
		"pss.restricted.run-as-non-root",
		"pss.restricted.seccomp",
		"pss.restricted.capabilities",
	}
	fx.fields(fs) == {"spec.containers[0]"}
}

# --- Volume types ------------------------------------------------------------------------

test_restricted_volume_type_fails if {
	vols := [{"name": "tmp", "emptyDir": {}}, {"name": "shared", "nfs": {"server": "nfs.local", "path": "/export"}}]
	fs := restricted.findings with input as fx.pod_with({"volumes": vols})
	fx.ids(fs) == {"pss.restricted.volume-types"}
	fx.fields(fs) == {"spec.volumes[1].nfs"}
}

test_allowed_volume_types_pass if {
	vols := [
		{"name": "a", "configMap": {"name": "c"}},
		{"name": "b", "csi": {"driver": "secrets-store.csi.k8s.io"}},
		{"name": "c", "downwardAPI": {"items": []}},
		{"name": "d", "emptyDir": {"medium": "Memory"}},
		{"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
		{"name": "f", "image": {"reference": "ghcr.io/acme/models:1"}},
		{"name": "g", "persistentVolumeClaim": {"claimName": "data"}},
		{"name": "h", "projected": {"sources": []}},
		{"name": "i", "secret": {"secretName": "tls"}},
		{"name": "defaults-to-empty-dir"},
	]
	count(restricted.findings) == 0 with input as fx.pod_with({"volumes": vols})
}

# hostPath is reported once, by Baseline.
test_host_path_left_to_baseline if {
	doc := fx.pod_with({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]})
	count(restricted.findings) == 0 with input as doc
	fx.ids(baseline.findings) == {"pss.baseline.host-path-volumes"} with input as doc
}

# --- Privilege escalation ----------------------------------------------------------------

test_privilege_escalation_true_fails if {
	fs := restricted.findings with input as fx.pod_with_container({"securityContext": {"allowPrivilegeEscalation": true}})
	fx.ids(fs) == {"pss.restricted.privilege-escalation"}
	fx.fields(fs) == {"spec.containers[0].securityContext.allowPrivilegeEscalation"}
}

test_privilege_escalation_unset_fails if {
	fs := restricted.findings with input as fx.pod_without_sc_keys(["allowPrivilegeEscalation"])
	fx.ids(fs) == {"pss.restricted.privilege-escalation"}
	fx.fields(fs) == {"spec.containers[0].securityContext"}
}

test_privilege_escalation_init_container_fails if {
	init := json.remove(fx.container_with({"name": "setup"}), ["securityContext/allowPrivilegeEscalation"])
	fs := restricted.findings with input as fx.pod_with({"initContainers": [init]})
	fx.fields(fs) == {"spec.initContainers[0].securityContext"}
}

test_privilege_escalation_false_passes if {
	count(restricted.findings) == 0 with input as fx.pod_with_container({"securityContext": {"allowPrivilegeEscalation": false}})
}

# --- Running as non-root -----------------------------------------------------------------

test_run_as_non_root_false_at_pod_fails if {
	fs := restricted.findings with input as fx.pod_with({"securityContext": {"runAsNonRoot": false}})
	fx.ids(fs) == {"pss.restricted.run-as-non-root"}
	fx.fields(fs) == {"spec.securityContext.runAsNonRoot"}
}

test_run_as_non_root_false_at_container_fails if {
	fs := restricted.findings with input as fx.pod_with_container({"securityContext": {"runAsNonRoot": false}})
	fx.fields(fs) == {"spec.containers[0].securityContext.runAsNonRoot"}
}

test_run_as_non_root_unset_everywhere_fails if {
	spec := json.remove(fx.hardened_pod_spec, ["securityContext/runAsNonRoot"])
	container := json.remove(fx.hardened_container, ["securityContext/runAsNonRoot"])
	fs := restricted.findings with input as fx.pod(object.union(spec, {"containers": [container]}))
	fx.ids(fs) == {"pss.restricted.run-as-non-root"}
	fx.fields(fs) == {"spec.containers[0].securityContext"}
}

# The pod-level setting covers containers that leave it unset.
test_run_as_non_root_inherited_from_pod_passes if {
	count(restricted.findings) == 0 with input as fx.pod_without_sc_keys(["runAsNonRoot"])
}

test_run_as_non_root_set_on_every_container_passes if {
	spec := json.remove(fx.hardened_pod_spec, ["securityContext/runAsNonRoot"])
	count(restricted.findings) == 0 with input as fx.pod(spec)
}

# Pods in a user namespace are exempt (Kubernetes 1.35+).
test_run_as_non_root_user_namespace_passes if {
	spec := fx.spec_with({"hostUsers": false, "securityContext": {"runAsNonRoot": false}})
	count(restricted.findings) == 0 with input as fx.pod(spec)
}

test_run_as_user_zero_fails if {
	fs := restricted.findings with input as fx.pod_with({"securityContext": {"runAsUser": 0}})
	fx.ids(fs) == {"pss.restricted.run-as-user"}
	fx.fields(fs) == {"spec.securityContext.runAsUser"}
}

test_run_as_user_zero_container_fails if {
	fs := restricted.findings with input as fx.pod_with_container({"securityContext": {"runAsUser": 0}})
	fx.fields(fs) == {"spec.containers[0].securityContext.runAsUser"}
}

test_run_as_user_non_zero_or_unset_passes if {
	count(restricted.findings) == 0 with input as fx.pod_with_container({"securityContext": {"runAsUser": 65534}})
	count(restricted.findings) == 0 with input as fx.pod_without_sc_keys(["runAsUser"])
}

test_run_as_user_zero_user_namespace_passes if {
	spec := fx.spec_with({"hostUsers": false, "securityContext": {"runAsUser": 0}})
	count(restricted.findings) == 0 with input as fx.pod(spec)
}

# --- Seccomp -----------------------------------------------------------------------------

test_seccomp_unset_everywhere_fails if {
	spec := json.remove(fx.hardened_pod_spec, ["securityContext/seccompProfile"])
	container := json.remove(fx.hardened_container, ["securityContext/seccompProfile"])
	fs := restricted.findings with input as fx.pod(object.union(spec, {"containers": [container]}))
	fx.ids(fs) == {"pss.restricted.seccomp"}
	fx.fields(fs) == {"spec.containers[0].securityContext"}
}

test_seccomp_pod_level_covers_containers if {
	count(restricted.findings) == 0 with input as fx.pod_without_sc_keys(["seccompProfile"])
}

test_seccomp_container_level_everywhere_passes if {
	spec := json.remove(fx.hardened_pod_spec, ["securityContext/seccompProfile"])
	count(restricted.findings) == 0 with input as fx.pod(spec)
}

# An explicit Unconfined is reported once, by Baseline.
test_seccomp_unconfined_left_to_baseline if {
	doc := fx.pod_with_container({"securityContext": {"seccompProfile": {"type": "Unconfined"}}})
	count(restricted.findings) == 0 with input as doc
	fx.ids(baseline.findings) == {"pss.baseline.seccomp"} with input as doc
}

test_seccomp_windows_pod_exempt if {
	spec := json.remove(fx.hardened_pod_spec, ["securityContext/seccompProfile"])
	container := json.remove(fx.hardened_container, ["securityContext/seccompProfile"])
	doc := fx.pod(object.union(spec, {"os": {"name": "windows"}, "containers": [container]}))
	count(restricted.findings) == 0 with input as doc
}

# --- Capabilities ------------------------------------------------------------------------

test_capabilities_not_dropped_fails if {
	fs := restricted.findings with input as fx.pod_with_container({"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}})
	fx.ids(fs) == {"pss.restricted.capabilities"}
	fx.fields(fs) == {"spec.containers[0].securityContext.capabilities.drop"}
}

test_capabilities_add_beyond_net_bind_service_fails if {
	fs := restricted.findings with input as fx.pod_with_container({"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}}})
	fx.ids(fs) == {"pss.restricted.capabilities"}
	fx.fields(fs) == {"spec.containers[0].securityContext.capabilities.add[1]"}
}

# SYS_ADMIN is outside the Baseline list: Baseline reports it, Restricted does not repeat it.
test_capabilities_outside_baseline_reported_once if {
	doc := fx.pod_with_container({"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}})
	count(restricted.findings) == 0 with input as doc
	fx.ids(baseline.findings) == {"pss.baseline.capabilities"} with input as doc
}

test_capabilities_drop_all_add_net_bind_service_passes if {
	count(restricted.findings) == 0 with input as fx.pod_with_container({"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}})
}

test_windows_pod_exempt_from_capabilities_and_privilege_escalation if {
	container := {"name": "app", "image": "mcr.microsoft.com/windows/nanoserver:ltsc2022"}
	spec := {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true}, "containers": [container]}
	count(restricted.findings) == 0 with input as fx.pod(spec)
}

# --- /proc mount type --------------------------------------------------------------------

test_proc_mount_unmasked_in_user_namespace_fails if {
	spec := fx.spec_with({"hostUsers": false, "containers": [fx.container_with({"securityContext": {"procMount": "Unmasked"}})]})
	doc := fx.pod(spec)
	fs := restricted.findings with input as doc
	fx.ids(fs) == {"pss.restricted.proc-mount"}
	count(baseline.findings) == 0 with input as doc
}

# Outside a user namespace it is reported once, by Baseline.
test_proc_mount_unmasked_left_to_baseline if {
	doc := fx.pod_with_container({"securityContext": {"procMount": "Unmasked"}})
	count(restricted.findings) == 0 with input as doc
	fx.ids(baseline.findings) == {"pss.baseline.proc-mount"} with input as doc
}

test_proc_mount_default_in_user_namespace_passes if {
	spec := fx.spec_with({"hostUsers": false, "containers": [fx.container_with({"securityContext": {"procMount": "Default"}})]})
	count(restricted.findings) == 0 with input as fx.pod(spec)
}

# --- conftest routing --------------------------------------------------------------------

test_restricted_findings_are_deny_errors if {
	doc := fx.pod_with_container({"securityContext": {"runAsUser": 0}})
	denied := restricted.deny with input as doc
	fx.ids(denied) == {"pss.restricted.run-as-user"}
	count(restricted.warn) == 0 with input as doc
}
