package gitops_gate.lib.k8s_test

import rego.v1

import data.gitops_gate.lib.k8s
import data.gitops_gate.test.fixtures as fx

test_pod_spec_found_for_every_workload_kind if {
	every w in fx.workloads(fx.hardened_pod_spec) {
		k8s.pod_spec == fx.hardened_pod_spec with input as w.doc
		k8s.spec_prefix == w.prefix with input as w.doc
		k8s.is_workload with input as w.doc
	}
}

test_pod_metadata_is_the_template_metadata if {
	# Bind the document first: Regorus (0.13) leaves `rule == fx.rule with input as fx.doc`
	# undefined when the input comes from the same package as the compared rule.
	doc := fx.deployment(fx.hardened_pod_spec)
	k8s.pod_labels == fx.labels with input as doc
	k8s.meta_prefix == "spec.jobTemplate.spec.template.metadata" with input as fx.cronjob(fx.hardened_pod_spec)
}

test_legacy_api_groups_are_workloads if {
	k8s.pod_spec with input as object.union(fx.deployment(fx.hardened_pod_spec), {"apiVersion": "extensions/v1beta1"})
	k8s.pod_spec with input as object.union(fx.cronjob(fx.hardened_pod_spec), {"apiVersion": "batch/v1beta1"})
	k8s.pod_spec with input as json.remove(fx.deployment(fx.hardened_pod_spec), ["apiVersion"])
}

test_foreign_group_is_not_a_workload if {
	not k8s.pod_spec with input as object.union(fx.job(fx.hardened_pod_spec), {"apiVersion": "batch.volcano.sh/v1alpha1"})
	not k8s.is_workload with input as {"apiVersion": "v1", "kind": "Service"}
}

test_containers_lists_all_three_types_with_fields if {
	spec := fx.spec_with({
		"initContainers": [{"name": "setup", "image": "busybox:1.36"}],
		"ephemeralContainers": [{"name": "debug", "image": "busybox:1.36", "securityContext": "bad"}],
	})
	entries := k8s.containers with input as fx.deployment(spec)
	{[c.type, c.name, c.field] | some c in entries} == {
		["initContainers", "setup", "spec.template.spec.initContainers[0]"],
		["containers", "app", "spec.template.spec.containers[0]"],
		["ephemeralContainers", "debug", "spec.template.spec.ephemeralContainers[0]"],
	}
	every c in entries {
		is_object(c.sc)
	}
}

test_containers_skip_malformed_items if {
	spec := {"containers": ["text", null, {"image": "nginx:1.27"}]}
	entries := k8s.containers with input as fx.pod(spec)
	{[c.name, c.field] | some c in entries} == {["", "spec.containers[2]"]}
}

test_identity_for_messages if {
	k8s.label == `Deployment "web"` with input as fx.deployment(fx.hardened_pod_spec)
	k8s.label == "Pod" with input as {"kind": "Pod", "spec": {}}
	k8s.namespace == "shop" with input as fx.deployment(fx.hardened_pod_spec)
	k8s.namespace == "" with input as {"kind": "Pod"}
}

test_api_group if {
	k8s.api_group == "" with input as {"apiVersion": "v1"}
	k8s.api_group == "apps" with input as {"apiVersion": "apps/v1"}
	not k8s.api_group with input as {"kind": "Pod"}
}

test_key_segment if {
	k8s.key_segment("labels") == ".labels"
	k8s.key_segment("app.kubernetes.io/name") == `["app.kubernetes.io/name"]`
}

test_is_set_is_safe_on_any_value if {
	k8s.is_set({"a": 1}, "a")
	not k8s.is_set({"a": null}, "a")
	not k8s.is_set({}, "a")
	not k8s.is_set("text", "a")
	not k8s.is_set(null, "a")
}

test_flags if {
	k8s.is_windows with input as fx.pod_with({"os": {"name": "windows"}})
	not k8s.is_windows with input as fx.pod_with({"os": {"name": "linux"}})
	k8s.in_user_namespace with input as fx.pod_with({"hostUsers": false})
	not k8s.in_user_namespace with input as fx.pod_with({"hostUsers": true})
}
