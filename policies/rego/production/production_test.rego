package gitops_gate.production_test

import rego.v1

import data.gitops_gate.production as prod
import data.gitops_gate.test.fixtures as fx

with_replicas(doc, n) := object.union(doc, {"spec": {"replicas": n}})

# --- replicas ----------------------------------------------------------------------------

test_single_replica_deployment_fails if {
	fs := prod.findings with input as with_replicas(fx.deployment(fx.hardened_pod_spec), 1)
	fx.ids(fs) == {"prod.replicas"}
	fx.fields(fs) == {"spec.replicas"}
}

test_single_replica_statefulset_fails if {
	doc := with_replicas(fx.controller("apps/v1", "StatefulSet", fx.hardened_pod_spec), 1)
	fx.ids(prod.findings) == {"prod.replicas"} with input as doc
}

test_multi_replica_passes if {
	count(prod.findings) == 0 with input as with_replicas(fx.deployment(fx.hardened_pod_spec), 2)
}

# Scaled to zero on purpose, or left to an HPA (judged in combined mode).
test_zero_or_unset_replicas_pass if {
	count(prod.findings) == 0 with input as with_replicas(fx.deployment(fx.hardened_pod_spec), 0)
	count(prod.findings) == 0 with input as json.remove(fx.deployment(fx.hardened_pod_spec), ["spec/replicas"])
}

test_other_kinds_with_one_replica_pass if {
	count(prod.findings) == 0 with input as with_replicas(fx.controller("apps/v1", "ReplicaSet", fx.hardened_pod_spec), 1)
	count(prod.findings) == 0 with input as with_replicas(fx.controller("apps/v1", "DaemonSet", fx.hardened_pod_spec), 1)
}

# --- HorizontalPodAutoscaler -------------------------------------------------------------

hpa(spec) := {
	"apiVersion": "autoscaling/v2",
	"kind": "HorizontalPodAutoscaler",
	"metadata": fx.metadata,
	"spec": object.union({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 10}, spec),
}

test_hpa_default_min_replicas_fails if {
	fs := prod.findings with input as hpa({})
	fx.ids(fs) == {"prod.hpa-min-replicas"}
	fx.fields(fs) == {"spec"}
}

test_hpa_min_replicas_one_fails if {
	fs := prod.findings with input as hpa({"minReplicas": 1})
	fx.fields(fs) == {"spec.minReplicas"}
}

test_hpa_min_replicas_two_passes if {
	count(prod.findings) == 0 with input as hpa({"minReplicas": 2})
}

# --- PodDisruptionBudget -----------------------------------------------------------------

pdb(spec) := {
	"apiVersion": "policy/v1",
	"kind": "PodDisruptionBudget",
	"metadata": fx.metadata,
	"spec": object.union({"selector": {"matchLabels": fx.labels}}, spec),
}

test_pdb_max_unavailable_zero_fails if {
	every value in [0, "0%"] {
		fs := prod.findings with input as pdb({"maxUnavailable": value})
		fx.ids(fs) == {"prod.pdb-zero-disruption"}
		fx.fields(fs) == {"spec.maxUnavailable"}
	}
}

test_pdb_min_available_all_fails if {
	fs := prod.findings with input as pdb({"minAvailable": "100%"})
	fx.fields(fs) == {"spec.minAvailable"}
}

test_pdb_allowing_disruption_passes if {
	count(prod.findings) == 0 with input as pdb({"maxUnavailable": 1})
	count(prod.findings) == 0 with input as pdb({"minAvailable": "50%"})
	count(prod.findings) == 0 with input as pdb({"minAvailable": 2})
}

test_production_findings_are_warnings if {
	doc := with_replicas(fx.deployment(fx.hardened_pod_spec), 1)
	count(prod.deny) == 0 with input as doc
	count(prod.warn) == 1 with input as doc
}
