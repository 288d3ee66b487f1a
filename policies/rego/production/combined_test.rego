package gitops_gate.production.combined_test

import rego.v1

import data.gitops_gate.production.combined
import data.gitops_gate.test.fixtures as fx

# conftest --combine input: one {"path", "contents"} per document.
combine(docs) := [{"path": sprintf("apps/%s.yaml", [d.metadata.name]), "contents": d} | some d in docs]

app(name, replicas, labels) := object.union(fx.deployment(fx.hardened_pod_spec), {
	"metadata": {"name": name, "labels": labels},
	"spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}}},
})

pdb(name, selector) := {
	"apiVersion": "policy/v1",
	"kind": "PodDisruptionBudget",
	"metadata": {"name": name, "namespace": "shop"},
	"spec": {"maxUnavailable": 1, "selector": selector},
}

hpa(name, target, min) := {
	"apiVersion": "autoscaling/v2",
	"kind": "HorizontalPodAutoscaler",
	"metadata": {"name": name, "namespace": "shop"},
	"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}, "minReplicas": min, "maxReplicas": 10},
}

web_labels := {"app.kubernetes.io/name": "web", "app.kubernetes.io/component": "frontend"}

# --- PodDisruptionBudget coverage --------------------------------------------------------

test_multi_replica_without_pdb_fails if {
	fs := combined.findings with input as combine([app("web", 3, web_labels)])
	fx.ids(fs) == {"prod.pdb"}
	some f in fs
	f.path == "apps/web.yaml"
	f.document_index == 0
	f.field == "spec.template.metadata.labels"
	f.resource == {"kind": "Deployment", "name": "web", "namespace": "shop"}
}

test_pdb_match_labels_passes if {
	docs := [app("web", 3, web_labels), pdb("web", {"matchLabels": {"app.kubernetes.io/name": "web"}})]
	count(combined.findings) == 0 with input as combine(docs)
}

test_pdb_match_expressions_pass if {
	selector := {"matchExpressions": [
		{"key": "app.kubernetes.io/name", "operator": "In", "values": ["web", "api"]},
		{"key": "app.kubernetes.io/component", "operator": "Exists"},
		{"key": "tier", "operator": "DoesNotExist"},
		{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["db"]},
	]}
	count(combined.findings) == 0 with input as combine([app("web", 3, web_labels), pdb("web", selector)])
}

test_pdb_empty_selector_selects_all if {
	count(combined.findings) == 0 with input as combine([app("web", 3, web_labels), pdb("all", {})])
}

test_pdb_not_matching_fails if {
	every selector in [
		{"matchLabels": {"app.kubernetes.io/name": "api"}},
		{"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["web"]}]},
		{"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
		{"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "DoesNotExist"}]},
		null,
	] {
		fs := combined.findings with input as combine([app("web", 3, web_labels), pdb("other", selector)])
		fx.ids(fs) == {"prod.pdb"}
	}
}

test_pdb_in_other_namespace_fails if {
	other := object.union(pdb("web", {}), {"metadata": {"namespace": "billing"}})
	fs := combined.findings with input as combine([app("web", 3, web_labels), other])
	fx.ids(fs) == {"prod.pdb"}
}

# A document without a namespace may land in any namespace: not a finding.
test_pdb_without_namespace_matches if {
	other := json.remove(pdb("web", {}), ["metadata/namespace"])
	count(combined.findings) == 0 with input as combine([app("web", 3, web_labels), other])
}

test_single_replica_needs_no_pdb if {
	count(combined.findings) == 0 with input as combine([app("web", 1, web_labels)])
}

# An HPA with minReplicas >= 2 makes the workload multi-replica even without spec.replicas.
test_hpa_scaled_workload_needs_pdb if {
	scaled := json.remove(app("web", 1, web_labels), ["spec/replicas"])
	fs := combined.findings with input as combine([scaled, hpa("web", "web", 3)])
	fx.ids(fs) == {"prod.pdb"}
	count(combined.findings) == 0 with input as combine([scaled, hpa("web", "web", 3), pdb("web", {})])
}

# --- unset replicas ----------------------------------------------------------------------

test_unset_replicas_without_hpa_fails if {
	scaled := json.remove(app("web", 1, web_labels), ["spec/replicas"])
	fs := combined.findings with input as combine([scaled])
	fx.ids(fs) == {"prod.replicas"}
	fx.fields(fs) == {"spec"}
}

test_unset_replicas_with_hpa_passes if {
	scaled := json.remove(app("web", 1, web_labels), ["spec/replicas"])
	count(combined.findings) == 0 with input as combine([scaled, hpa("web", "web", 1)])
}

test_hpa_for_another_workload_does_not_count if {
	scaled := json.remove(app("web", 1, web_labels), ["spec/replicas"])
	fx.ids(combined.findings) == {"prod.replicas"} with input as combine([scaled, hpa("api", "api", 3)])
}

# --- robustness --------------------------------------------------------------------------

test_odd_inputs_pass if {
	count(combined.findings) == 0 with input as []
	count(combined.findings) == 0 with input as {"kind": "Deployment"}
	count(combined.findings) == 0 with input as [null, {"path": "x.yaml", "contents": null}, {"path": "y.yaml", "contents": "text"}, 3]
}

test_combined_findings_are_warnings if {
	docs := combine([app("web", 3, web_labels)])
	count(combined.deny) == 0 with input as docs
	count(combined.warn) == 1 with input as docs
}
