package gitops_gate.best_practices_test

import rego.v1

import data.gitops_gate.best_practices as bp
import data.gitops_gate.test.fixtures as fx

# --- clean documents ---------------------------------------------------------------------

test_hardened_workloads_pass_every_rule if {
	every w in fx.workloads(fx.hardened_pod_spec) {
		count(bp.findings) == 0 with input as w.doc
	}
}

test_documents_without_pods_pass if {
	count(bp.findings) == 0 with input as {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}
	count(bp.findings) == 0 with input as null
	count(bp.findings) == 0 with input as {"kind": "Ingress", "metadata": fx.metadata, "spec": "text"}
	count(bp.findings) == 0 with input as {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "rules": "text"}
}

# --- Images ------------------------------------------------------------------------------

test_latest_tag_fails if {
	fs := bp.findings with input as fx.pod_with_container({"image": "nginx:latest"})
	fx.ids(fs) == {"bp.image-latest-tag"}
	fx.fields(fs) == {"spec.containers[0].image"}
}

test_latest_tag_in_init_container_fails if {
	init := fx.container_with({"name": "migrate", "image": "registry.example.com:5000/tools/migrate:latest"})
	fs := bp.findings with input as fx.pod_with({"initContainers": [init]})
	fx.ids(fs) == {"bp.image-latest-tag"}
	fx.fields(fs) == {"spec.initContainers[0].image"}
}

test_missing_tag_fails if {
	fs := bp.findings with input as fx.pod_with_container({"image": "registry.example.com:5000/web"})
	fx.ids(fs) == {"bp.image-missing-tag"}
}

test_pinned_images_pass if {
	every image in [
		"nginx:1.27.3",
		"registry.example.com:5000/web:2.0",
		"nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
		"nginx:latest@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
	] {
		count(bp.findings) == 0 with input as fx.pod_with_container({"image": image})
	}
}

# --- Resources ---------------------------------------------------------------------------

test_missing_requests_fails if {
	doc := fx.pod_with_container({"resources": {"requests": {"cpu": null}, "limits": {"cpu": null}}})
	fs := bp.findings with input as doc
	fx.ids(fs) == {"bp.resources-requests", "bp.cpu-limit"}
	some f in fs
	f.id == "bp.resources-requests"
	f.msg == `Pod "web": container "app" has no cpu request`
	f.field == "spec.containers[0].resources.requests"
}

test_no_resources_at_all_fails_requests_and_memory_limit if {
	container := json.remove(fx.hardened_container, ["resources"])
	fs := bp.findings with input as fx.pod_with({"containers": [container]})
	fx.ids(fs) == {"bp.resources-requests", "bp.memory-limit", "bp.cpu-limit"}
	fx.fields(fs) == {"spec.containers[0]"}
}

test_limits_imply_requests if {
	resources := {"requests": null, "limits": {"cpu": "1", "memory": "1Gi"}}
	count(bp.findings) == 0 with input as fx.pod_with_container({"resources": resources})
}

test_missing_memory_limit_fails if {
	fs := bp.findings with input as fx.pod_with_container({"resources": {"limits": {"memory": null}}})
	fx.ids(fs) == {"bp.memory-limit"}
	fx.fields(fs) == {"spec.containers[0].resources.limits"}
}

test_missing_cpu_limit_fails if {
	fs := bp.findings with input as fx.pod_with_container({"resources": {"limits": {"cpu": null}}})
	fx.ids(fs) == {"bp.cpu-limit"}
}

test_sidecar_init_container_needs_resources if {
	sidecar := {"name": "proxy", "image": "envoyproxy/envoy:v1.31.0", "restartPolicy": "Always", "securityContext": fx.hardened_container.securityContext}
	fs := bp.findings with input as fx.pod_with({"initContainers": [sidecar]})
	fx.ids(fs) == {"bp.resources-requests", "bp.memory-limit", "bp.cpu-limit"}
}

test_plain_init_container_needs_no_resources if {
	init := {"name": "setup", "image": "busybox:1.36", "securityContext": fx.hardened_container.securityContext}
	count(bp.findings) == 0 with input as fx.pod_with({"initContainers": [init]})
}

# --- Probes ------------------------------------------------------------------------------

test_missing_probes_fail_on_deployments if {
	container := json.remove(fx.hardened_container, ["livenessProbe", "readinessProbe"])
	fs := bp.findings with input as fx.deployment(fx.spec_with({"containers": [container]}))
	fx.ids(fs) == {"bp.liveness-probe", "bp.readiness-probe"}
	fx.fields(fs) == {"spec.template.spec.containers[0]"}
}

test_missing_probes_pass_on_jobs if {
	container := json.remove(fx.hardened_container, ["livenessProbe", "readinessProbe"])
	count(bp.findings) == 0 with input as fx.job(fx.spec_with({"containers": [container]}))
	count(bp.findings) == 0 with input as fx.cronjob(fx.spec_with({"containers": [container]}))
}

# --- Container hardening -----------------------------------------------------------------

test_writable_root_filesystem_fails if {
	fs := bp.findings with input as fx.pod_without_sc_keys(["readOnlyRootFilesystem"])
	fx.ids(fs) == {"bp.read-only-root-filesystem"}
	fx.fields(fs) == {"spec.containers[0].securityContext"}
}

test_windows_pods_skip_linux_only_hardening if {
	container := {"name": "app", "image": "mcr.microsoft.com/dotnet/aspnet:8.0-nanoserver-ltsc2022", "resources": fx.hardened_container.resources, "livenessProbe": {"tcpSocket": {"port": 80}}, "readinessProbe": {"tcpSocket": {"port": 80}}}
	spec := {"os": {"name": "windows"}, "automountServiceAccountToken": false, "containers": [container]}
	count(bp.findings) == 0 with input as fx.deployment(spec)
}

test_read_only_root_filesystem_false_fails if {
	fs := bp.findings with input as fx.pod_with_container({"securityContext": {"readOnlyRootFilesystem": false}})
	fx.fields(fs) == {"spec.containers[0].securityContext.readOnlyRootFilesystem"}
}

test_privilege_escalation_fails if {
	fs := bp.findings with input as fx.pod_with_container({"securityContext": {"allowPrivilegeEscalation": true}})
	fx.ids(fs) == {"bp.allow-privilege-escalation"}
}

test_host_namespaces_fail if {
	fs := bp.findings with input as fx.pod_with({"hostNetwork": true, "hostPID": true, "hostIPC": true})
	fx.ids(fs) == {"bp.host-network", "bp.host-pid", "bp.host-ipc"}
}

test_host_namespaces_false_pass if {
	count(bp.findings) == 0 with input as fx.pod_with({"hostNetwork": false, "hostPID": false, "hostIPC": false})
}

test_host_path_fails if {
	fs := bp.findings with input as fx.pod_with({"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]})
	fx.ids(fs) == {"bp.host-path"}
	fx.fields(fs) == {"spec.volumes[0].hostPath"}
}

test_host_port_fails if {
	fs := bp.findings with input as fx.pod_with_container({"ports": [{"containerPort": 53, "hostPort": 53}]})
	fx.ids(fs) == {"bp.host-port"}
}

test_host_port_zero_passes if {
	count(bp.findings) == 0 with input as fx.pod_with_container({"ports": [{"containerPort": 53, "hostPort": 0}]})
}

test_dangerous_capabilities_fail if {
	add := ["NET_BIND_SERVICE", "CAP_SYS_ADMIN", "net_admin", "ALL"]
	fs := bp.findings with input as fx.pod_with_container({"securityContext": {"capabilities": {"add": add}}})
	fx.ids(fs) == {"bp.dangerous-capabilities"}
	fx.fields(fs) == {
		"spec.containers[0].securityContext.capabilities.add[1]",
		"spec.containers[0].securityContext.capabilities.add[2]",
		"spec.containers[0].securityContext.capabilities.add[3]",
	}
}

test_harmless_capabilities_pass if {
	count(bp.findings) == 0 with input as fx.pod_with_container({"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}}})
}

test_automounted_token_fails if {
	spec := json.remove(fx.hardened_pod_spec, ["automountServiceAccountToken"])
	fs := bp.findings with input as fx.pod(spec)
	fx.ids(fs) == {"bp.automount-service-account-token"}
	fx.fields(fs) == {"spec"}
}

test_automount_true_fails_at_field if {
	fs := bp.findings with input as fx.deployment(fx.spec_with({"automountServiceAccountToken": true}))
	fx.fields(fs) == {"spec.template.spec.automountServiceAccountToken"}
}

# --- Services ----------------------------------------------------------------------------

service(spec) := {"apiVersion": "v1", "kind": "Service", "metadata": fx.metadata, "spec": spec}

test_node_port_service_fails if {
	fs := bp.findings with input as service({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]})
	fx.ids(fs) == {"bp.service-node-port"}
	fx.fields(fs) == {"spec.type"}
}

test_load_balancer_without_source_ranges_fails if {
	fs := bp.findings with input as service({"type": "LoadBalancer", "ports": [{"port": 443}]})
	fx.ids(fs) == {"bp.service-load-balancer"}
}

test_restricted_load_balancer_and_cluster_ip_pass if {
	count(bp.findings) == 0 with input as service({"type": "LoadBalancer", "loadBalancerSourceRanges": ["10.0.0.0/8"], "ports": [{"port": 443}]})
	count(bp.findings) == 0 with input as service({"type": "ClusterIP", "ports": [{"port": 80}]})
	count(bp.findings) == 0 with input as service({"ports": [{"port": 80}]})
}

# --- Namespaces and labels ---------------------------------------------------------------

test_default_namespace_fails if {
	doc := object.union(service({"ports": [{"port": 80}]}), {"metadata": {"namespace": "default"}})
	fs := bp.findings with input as doc
	fx.ids(fs) == {"bp.default-namespace"}
	fx.fields(fs) == {"metadata.namespace"}
}

test_unset_or_other_namespace_passes if {
	count(bp.findings) == 0 with input as json.remove(service({"ports": [{"port": 80}]}), ["metadata/namespace"])
	count(bp.findings) == 0 with input as {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default", "namespace": "default"}}
}

test_missing_name_label_fails if {
	doc := json.remove(fx.deployment(fx.hardened_pod_spec), [["metadata", "labels", "app.kubernetes.io/name"]])
	fs := bp.findings with input as doc
	fx.ids(fs) == {"bp.recommended-labels"}
	fx.fields(fs) == {"metadata.labels"}
}

test_missing_labels_on_service_fails if {
	doc := json.remove(service({"ports": [{"port": 80}]}), ["metadata/labels"])
	fs := bp.findings with input as doc
	fx.fields(fs) == {"metadata"}
}

# --- Ingress TLS -------------------------------------------------------------------------

ingress(spec) := {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": fx.metadata, "spec": spec}

_rules := [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]

test_ingress_without_tls_fails if {
	fs := bp.findings with input as ingress({"ingressClassName": "nginx", "rules": _rules})
	fx.ids(fs) == {"bp.ingress-tls"}
	fx.fields(fs) == {"spec"}
}

test_ingress_host_not_covered_fails if {
	tls := [{"hosts": ["www.example.com"], "secretName": "www-tls"}]
	fs := bp.findings with input as ingress({"tls": tls, "rules": _rules})
	fx.ids(fs) == {"bp.ingress-tls"}
	fx.fields(fs) == {"spec.rules[0].host"}
}

test_ingress_with_tls_passes if {
	count(bp.findings) == 0 with input as ingress({"tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}], "rules": _rules})
	count(bp.findings) == 0 with input as ingress({"tls": [{"hosts": ["*.example.com"], "secretName": "wildcard"}], "rules": _rules})
}

test_wildcard_covers_one_label_only if {
	rules := [{"host": "a.shop.example.com"}]
	fs := bp.findings with input as ingress({"tls": [{"hosts": ["*.example.com"], "secretName": "wildcard"}], "rules": rules})
	fx.ids(fs) == {"bp.ingress-tls"}
}

# --- RBAC --------------------------------------------------------------------------------

role(kind, rules) := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": fx.metadata, "rules": rules}

test_rbac_wildcards_fail if {
	rules := [
		{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
		{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
	]
	fs := bp.findings with input as role("ClusterRole", rules)
	fx.ids(fs) == {"bp.rbac-wildcard"}
	fx.fields(fs) == {"rules[1].apiGroups[0]", "rules[1].resources[0]", "rules[1].verbs[0]"}
}

test_rbac_wildcard_verbs_in_role_fail if {
	fs := bp.findings with input as role("Role", [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "*"]}])
	fx.fields(fs) == {"rules[0].verbs[1]"}
}

test_rbac_explicit_rules_pass if {
	rules := [{"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["get", "list", "watch", "patch"]}]
	count(bp.findings) == 0 with input as role("Role", rules)
}

test_aggregated_cluster_role_passes if {
	doc := object.union(role("ClusterRole", []), {"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-admin": "true"}}]}})
	count(bp.findings) == 0 with input as doc
}

# --- CronJob -----------------------------------------------------------------------------

test_cronjob_default_concurrency_fails if {
	doc := json.remove(fx.cronjob(fx.hardened_pod_spec), ["spec/concurrencyPolicy"])
	fs := bp.findings with input as doc
	fx.ids(fs) == {"bp.cronjob-concurrency-policy"}
	fx.fields(fs) == {"spec"}
}

test_cronjob_allow_fails if {
	doc := object.union(fx.cronjob(fx.hardened_pod_spec), {"spec": {"concurrencyPolicy": "Allow"}})
	fs := bp.findings with input as doc
	fx.fields(fs) == {"spec.concurrencyPolicy"}
}

test_cronjob_forbid_or_replace_passes if {
	count(bp.findings) == 0 with input as fx.cronjob(fx.hardened_pod_spec)
	count(bp.findings) == 0 with input as object.union(fx.cronjob(fx.hardened_pod_spec), {"spec": {"concurrencyPolicy": "Replace"}})
}

# --- defaults and configuration ----------------------------------------------------------

# A plain Deployment: only the default-on rules reach deny/warn.
_plain := fx.deployment({"containers": [{"name": "app", "image": "nginx:1.27", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}}}]})

test_default_off_rules_stay_quiet if {
	count(bp.findings) > 0 with input as _plain
	count(bp.deny) == 0 with input as _plain
	count(bp.warn) == 0 with input as _plain
}

test_enable_turns_a_rule_on if {
	found := bp.warn with input as _plain with data.gitops_gate.config as {"enable": ["bp.liveness-probe"]}
	fx.ids(found) == {"bp.liveness-probe"}
}

test_enable_a_whole_set if {
	found := bp.warn with input as _plain with data.gitops_gate.config as {"enable": ["best-practices"]}
	fx.ids(found) == {
		"bp.liveness-probe", "bp.readiness-probe", "bp.read-only-root-filesystem",
		"bp.allow-privilege-escalation", "bp.automount-service-account-token", "bp.cpu-limit",
	}
}

test_disable_wins_over_enable if {
	config := {"enable": ["best-practices"], "disable": ["bp.cpu-limit", "bp.liveness-probe"]}
	found := bp.warn with input as _plain with data.gitops_gate.config as config
	not "bp.cpu-limit" in fx.ids(found)
	not "bp.liveness-probe" in fx.ids(found)
	"bp.readiness-probe" in fx.ids(found)
}

test_bad_config_values_are_ignored if {
	count(bp.warn) == 0 with input as _plain with data.gitops_gate.config as {"enable": "bp.cpu-limit", "disable": 3}
	doc := fx.pod_with_container({"image": "nginx:latest"})
	count(bp.warn) == 1 with input as doc with data.gitops_gate.config as "not an object"
}

test_error_rules_go_to_deny if {
	config := {"enable": ["bp.host-pid"]}
	denied := bp.deny with input as fx.pod_with({"hostPID": true}) with data.gitops_gate.config as config
	fx.ids(denied) == {"bp.host-pid"}
}
