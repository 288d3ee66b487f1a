package gitops_gate.pss.baseline_test

import rego.v1

import data.gitops_gate.pss.baseline
import data.gitops_gate.test.fixtures as fx

# --- clean documents ---------------------------------------------------------------------

test_hardened_pod_passes if {
	count(baseline.findings) == 0 with input as fx.pod(fx.hardened_pod_spec)
}

test_every_workload_kind_passes_when_hardened if {
	every w in fx.workloads(fx.hardened_pod_spec) {
		count(baseline.findings) == 0 with input as w.doc
	}
}

# A minimally specified pod (no securityContext at all) is what Baseline allows.
test_minimal_pod_passes if {
	count(baseline.findings) == 0 with input as fx.pod({"containers": [{"name": "app", "image": "nginx:1.27"}]})
}

test_documents_without_pods_pass if {
	count(baseline.findings) == 0 with input as {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
	count(baseline.findings) == 0 with input as null
	count(baseline.findings) == 0 with input as "text"
	count(baseline.findings) == 0 with input as [1, 2]
	count(baseline.findings) == 0 with input as {"kind": "Pod", "spec": "not an object"}
	count(baseline.findings) == 0 with input as {"kind": "Pod", "spec": {"containers": "not a list"}}
}

# A custom resource that reuses a workload kind name is not a Kubernetes workload.
test_custom_resource_with_workload_kind_is_ignored if {
	doc := object.union(fx.deployment(fx.spec_with({"hostNetwork": true})), {"apiVersion": "example.com/v1"})
	count(baseline.findings) == 0 with input as doc
}

# --- every kind carrying a pod spec is checked, with the right field path ----------------

test_privileged_found_in_every_workload_kind if {
	spec := fx.spec_with({"containers": [fx.container_with({"securityContext": {"privileged": true}})]})
	every w in fx.workloads(spec) {
		fs := baseline.findings with input as w.doc
		fx.ids(fs) == {"pss.baseline.privileged"}
		fx.fields(fs) == {sprintf("%s.containers[0].securityContext.privileged", [w.prefix])}
	}
}

# --- HostProcess -------------------------------------------------------------------------

test_host_process_pod_level_fails if {
	fs := baseline.findings with input as fx.pod_with({"securityContext": {"windowsOptions": {"hostProcess": true}}})
	fx.ids(fs) == {"pss.baseline.host-process"}
	fx.fields(fs) == {"spec.securityContext.windowsOptions.hostProcess"}
}

test_host_process_container_level_fails if {
	fs := baseline.findings with input as fx.pod_with_container({"securityContext": {"windowsOptions": {"hostProcess": true}}})
	fx.ids(fs) == {"pss.baseline.host-process"}
}

test_host_process_ephemeral_container_fails if {
	debug := {"name": "debug", "image": "busybox:1.36", "securityContext": {"windowsOptions": {"hostProcess": true}}}
	fs := baseline.findings with input as fx.pod_with({"ephemeralContainers": [debug]})
	fx.fields(fs) == {"spec.ephemeralContainers[0].securityContext.windowsOptions.hostProcess"}
}

test_host_process_false_passes if {
	count(baseline.findings) == 0 with input as fx.pod_with_container({"securityContext": {"windowsOptions": {"hostProcess": false, "runAsUserName": "app"}}})
}

# --- Host namespaces ---------------------------------------------------------------------

test_host_namespaces_fail if {
	fs := baseline.findings with input as fx.pod_with({"hostNetwork": true, "hostPID": true, "hostIPC": true})
	fx.ids(fs) == {"pss.baseline.host-namespaces"}
	fx.fields(fs) == {"spec.hostNetwork", "spec.hostPID", "spec.hostIPC"}
}

test_host_namespaces_false_pass if {
	count(baseline.findings) == 0 with input as fx.pod_with({"hostNetwork": false, "hostPID": false, "hostIPC": false})
}

# --- Privileged --------------------------------------------------------------------------

test_privileged_init_container_fails if {
	init := {"name": "setup", "image": "busybox:1.36", "securityContext": {"privileged": true}}
	fs := baseline.findings with input as fx.pod_with({"initContainers": [init]})
	fx.ids(fs) == {"pss.baseline.privileged"}
	fx.fields(fs) == {"spec.initContainers[0].securityContext.privileged"}
}

test_privileged_false_passes if {
	count(baseline.findings) == 0 with input as fx.pod_with_container({"securityContext": {"privileged": false}})
}

# --- Capabilities ------------------------------------------------------------------------

test_capability_beyond_baseline_fails if {
	fs := baseline.findings with input as fx.pod_with_container({"securityContext": {"capabilities": {"add": ["CHOWN", "NET_RAW", "SYS_ADMIN"]}}})
	fx.ids(fs) == {"pss.baseline.capabilities"}
	fx.fields(fs) == {
		"spec.containers[0].securityContext.capabilities.add[1]",
		"spec.containers[0].securityContext.capabilities.add[2]",
	}
}

test_capability_all_fails if {
	fs := baseline.findings with input as fx.pod_with_container({"securityContext": {"capabilities": {"add": ["ALL"]}}})
	fx.ids(fs) == {"pss.baseline.capabilities"}
}

test_baseline_capabilities_pass if {
	caps := [
		"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
		"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
	]
	count(baseline.findings) == 0 with input as fx.pod_with_container({"securityContext": {"capabilities": {"add": caps}}})
}

# --- HostPath volumes --------------------------------------------------------------------

test_host_path_volume_fails if {
	fs := baseline.findings with input as fx.pod_with({"volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]})
	fx.ids(fs) == {"pss.baseline.host-path-volumes"}
	fx.fields(fs) == {"spec.volumes[1].hostPath"}
}

test_other_volumes_pass if {
	vols := [
		{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
		{"name": "config", "configMap": {"name": "web"}},
		{"name": "nfs", "nfs": {"server": "nfs.local", "path": "/export"}},
	]
	count(baseline.findings) == 0 with input as fx.pod_with({"volumes": vols})
}

# --- Host ports --------------------------------------------------------------------------

test_host_port_fails if {
	fs := baseline.findings with input as fx.pod_with_container({"ports": [{"containerPort": 8080, "hostPort": 8080}]})
	fx.ids(fs) == {"pss.baseline.host-ports"}
	fx.fields(fs) == {"spec.containers[0].ports[0].hostPort"}
}

test_host_port_zero_passes if {
	count(baseline.findings) == 0 with input as fx.pod_with_container({"ports": [{"containerPort": 8080, "hostPort": 0}]})
}

# --- Host probes and lifecycle hooks -----------------------------------------------------

test_probe_host_fails if {
	probe := {"httpGet": {"host": "169.254.169.254", "path": "/", "port": 80}}
	fs := baseline.findings with input as fx.pod_with_container({"readinessProbe": probe})
	fx.ids(fs) == {"pss.baseline.host-probes"}
	fx.fields(fs) == {"spec.containers[0].readinessProbe.httpGet.host"}
}

test_lifecycle_host_fails if {
	hook := {"preStop": {"tcpSocket": {"host": "10.0.0.1", "port": 22}}}
	fs := baseline.findings with input as fx.pod_with_container({"lifecycle": hook})
	fx.fields(fs) == {"spec.containers[0].lifecycle.preStop.tcpSocket.host"}
}

test_probe_without_host_passes if {
	probe := {"tcpSocket": {"host": "", "port": 8080}}
	count(baseline.findings) == 0 with input as fx.pod_with_container({"startupProbe": probe})
}

# --- AppArmor ----------------------------------------------------------------------------

test_apparmor_unconfined_field_fails if {
	fs := baseline.findings with input as fx.pod_with({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}})
	fx.ids(fs) == {"pss.baseline.apparmor"}
	fx.fields(fs) == {"spec.securityContext.appArmorProfile.type"}
}

test_apparmor_unconfined_container_field_fails if {
	fs := baseline.findings with input as fx.pod_with_container({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}})
	fx.ids(fs) == {"pss.baseline.apparmor"}
}

test_apparmor_unconfined_annotation_fails if {
	meta := {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}}
	fs := baseline.findings with input as fx.pod_with_meta(meta, fx.hardened_pod_spec)
	fx.ids(fs) == {"pss.baseline.apparmor"}
	fx.fields(fs) == {`metadata.annotations["container.apparmor.security.beta.kubernetes.io/app"]`}
}

test_apparmor_allowed_values_pass if {
	meta := {"annotations": {
		"container.apparmor.security.beta.kubernetes.io/app": "runtime/default",
		"container.apparmor.security.beta.kubernetes.io/sidecar": "localhost/k8s-nginx",
	}}
	spec := fx.spec_with({"securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "k8s-nginx"}}})
	count(baseline.findings) == 0 with input as fx.pod_with_meta(meta, spec)
	count(baseline.findings) == 0 with input as fx.pod_with_container({"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}})
}

# --- SELinux -----------------------------------------------------------------------------

test_selinux_type_fails if {
	fs := baseline.findings with input as fx.pod_with({"securityContext": {"seLinuxOptions": {"type": "spc_t"}}})
	fx.ids(fs) == {"pss.baseline.selinux"}
	fx.fields(fs) == {"spec.securityContext.seLinuxOptions.type"}
}

test_selinux_user_and_role_fail if {
	fs := baseline.findings with input as fx.pod_with_container({"securityContext": {"seLinuxOptions": {"user": "system_u", "role": "system_r"}}})
	fx.ids(fs) == {"pss.baseline.selinux"}
	fx.fields(fs) == {
		"spec.containers[0].securityContext.seLinuxOptions.user",
		"spec.containers[0].securityContext.seLinuxOptions.role",
	}
}

test_selinux_container_types_and_level_pass if {
	every type in ["container_t", "container_init_t", "container_kvm_t", "container_engine_t", ""] {
		count(baseline.findings) == 0 with input as fx.pod_with({"securityContext": {"seLinuxOptions": {"type": type, "level": "s0:c123,c456"}}})
	}
}

# --- /proc mount type --------------------------------------------------------------------

test_proc_mount_unmasked_fails if {
	fs := baseline.findings with input as fx.pod_with_container({"securityContext": {"procMount": "Unmasked"}})
	fx.ids(fs) == {"pss.baseline.proc-mount"}
	fx.fields(fs) == {"spec.containers[0].securityContext.procMount"}
}

test_proc_mount_default_passes if {
	count(baseline.findings) == 0 with input as fx.pod_with_container({"securityContext": {"procMount": "Default"}})
}

# Baseline relaxes /proc for pods in a user namespace (Kubernetes 1.35+).
test_proc_mount_unmasked_in_user_namespace_passes if {
	spec := fx.spec_with({"hostUsers": false, "containers": [fx.container_with({"securityContext": {"procMount": "Unmasked"}})]})
	count(baseline.findings) == 0 with input as fx.pod(spec)
}

# --- Seccomp -----------------------------------------------------------------------------

test_seccomp_unconfined_pod_fails if {
	fs := baseline.findings with input as fx.pod_with({"securityContext": {"seccompProfile": {"type": "Unconfined"}}})
	fx.ids(fs) == {"pss.baseline.seccomp"}
	fx.fields(fs) == {"spec.securityContext.seccompProfile.type"}
}

test_seccomp_unconfined_container_fails if {
	fs := baseline.findings with input as fx.pod_with_container({"securityContext": {"seccompProfile": {"type": "Unconfined"}}})
	fx.fields(fs) == {"spec.containers[0].securityContext.seccompProfile.type"}
}

test_seccomp_allowed_or_unset_passes if {
	count(baseline.findings) == 0 with input as fx.pod_with_container({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/app.json"}}})
	count(baseline.findings) == 0 with input as fx.pod({"containers": [{"name": "app", "image": "nginx:1.27"}]})
}

# --- Sysctls -----------------------------------------------------------------------------

test_unsafe_sysctl_fails if {
	sysctls := [{"name": "net.ipv4.tcp_syncookies", "value": "1"}, {"name": "kernel.msgmax", "value": "65536"}]
	fs := baseline.findings with input as fx.pod_with({"securityContext": {"sysctls": sysctls}})
	fx.ids(fs) == {"pss.baseline.sysctls"}
	fx.fields(fs) == {"spec.securityContext.sysctls[1].name"}
}

test_safe_sysctls_pass if {
	names := [
		"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_local_reserved_ports",
		"net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
		"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
		"net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
	]
	sysctls := [{"name": n, "value": "1"} | some n in names]
	count(baseline.findings) == 0 with input as fx.pod_with({"securityContext": {"sysctls": sysctls}})
}

# --- conftest routing --------------------------------------------------------------------

test_baseline_findings_are_deny_errors if {
	doc := fx.pod_with({"hostPID": true})
	denied := baseline.deny with input as doc
	count(denied) == 1
	count(baseline.warn) == 0 with input as doc
	some f in denied
	f.severity == "error"
	f.msg == `Pod "web": the pod sets hostPID=true`
	f.title != ""
	f.remediation != ""
}

test_disabled_rule_is_dropped if {
	doc := fx.pod_with({"hostPID": true})
	count(baseline.deny) == 0 with input as doc with data.gitops_gate.config as {"disable": ["pss.baseline.host-namespaces"]}
}
