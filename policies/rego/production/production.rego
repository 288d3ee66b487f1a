# Production readiness, one document at a time: replica counts and disruption budgets that
# can be judged from the document alone. The checks that need several documents (does a
# PodDisruptionBudget select this Deployment? does an HPA scale it?) are in
# gitops_gate.production.combined, evaluated once over all documents (conftest --combine).
package gitops_gate.production

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

replicated_kinds := {"Deployment", "StatefulSet"}

# An explicit single replica. replicas: 0 is a deliberate scale-down and passes; an unset
# replicas count is judged in combined mode, where an HPA managing it can be seen.
findings contains catalog.finding(
	"prod.replicas",
	"spec.replicas",
	sprintf("%s runs %v replica; production workloads need at least 2", [k8s.label, replicas]),
) if {
	replicated_kinds[k8s.kind]
	k8s.is_workload
	replicas := input.spec.replicas
	is_number(replicas)
	replicas > 0
	replicas < 2
}

_is_hpa if {
	k8s.kind == "HorizontalPodAutoscaler"
	k8s.api_group == "autoscaling"
	is_object(input.spec)
}

findings contains catalog.finding(
	"prod.hpa-min-replicas",
	_min_replicas_field,
	sprintf("%s may scale down to %v replica (minReplicas); production workloads need at least 2", [k8s.label, minimum]),
) if {
	_is_hpa
	minimum := object.get(input.spec, "minReplicas", 1)
	is_number(minimum)

	# minReplicas: 0 (scale to zero, an alpha feature) is deliberate.
	minimum > 0
	minimum < 2
}

_min_replicas_field := "spec.minReplicas" if {
	k8s.is_set(input.spec, "minReplicas")
} else := "spec"

_is_pdb if {
	k8s.kind == "PodDisruptionBudget"
	k8s.api_group == "policy"
	is_object(input.spec)
}

findings contains catalog.finding(
	"prod.pdb-zero-disruption",
	"spec.maxUnavailable",
	sprintf("%s sets maxUnavailable=%v: no pod may ever be evicted, so node drains block", [k8s.label, input.spec.maxUnavailable]),
) if {
	_is_pdb
	input.spec.maxUnavailable in {0, "0%"}
}

findings contains catalog.finding(
	"prod.pdb-zero-disruption",
	"spec.minAvailable",
	sprintf("%s sets minAvailable=100%%: no pod may ever be evicted, so node drains block", [k8s.label]),
) if {
	_is_pdb
	input.spec.minAvailable == "100%"
}
