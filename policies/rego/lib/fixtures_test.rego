# Test fixtures shared by the library's tests: a hardened pod that passes every rule of every
# set, and builders that change one thing in it, so a failing test shows exactly one rule.
package gitops_gate.test.fixtures

import rego.v1

labels := {
	"app.kubernetes.io/name": "web",
	"app.kubernetes.io/instance": "web-shop",
	"app.kubernetes.io/version": "1.4.2",
}

hardened_container := {
	"name": "app",
	"image": "ghcr.io/acme/web:1.4.2",
	"ports": [{"name": "http", "containerPort": 8080}],
	"resources": {
		"requests": {"cpu": "100m", "memory": "128Mi"},
		"limits": {"cpu": "500m", "memory": "128Mi"},
	},
	"livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
	"readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
	"securityContext": {
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem": true,
		"runAsNonRoot": true,
		"runAsUser": 10001,
		"capabilities": {"drop": ["ALL"]},
		"seccompProfile": {"type": "RuntimeDefault"},
	},
}

hardened_pod_spec := {
	"automountServiceAccountToken": false,
	"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": 10001},
	"containers": [hardened_container],
	"volumes": [{"name": "tmp", "emptyDir": {}}],
}

metadata := {"name": "web", "namespace": "shop", "labels": labels}

template(spec) := {"metadata": {"labels": labels}, "spec": spec}

pod(spec) := {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}

pod_with_meta(meta, spec) := {"apiVersion": "v1", "kind": "Pod", "metadata": object.union(metadata, meta), "spec": spec}

deployment(spec) := controller("apps/v1", "Deployment", spec)

controller(api_version, kind, spec) := {
	"apiVersion": api_version,
	"kind": kind,
	"metadata": metadata,
	"spec": {"replicas": 3, "selector": {"matchLabels": labels}, "template": template(spec)},
}

job(spec) := {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": {"template": template(spec)}}

cronjob(spec) := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": metadata,
	"spec": {
		"schedule": "*/5 * * * *",
		"concurrencyPolicy": "Forbid",
		"jobTemplate": {"spec": {"template": template(spec)}},
	},
}

pod_template(spec) := {"apiVersion": "v1", "kind": "PodTemplate", "metadata": metadata, "template": template(spec)}

# Every kind that carries a pod spec, built around one spec, with its spec's path.
workloads(spec) := [
	{"doc": pod(spec), "prefix": "spec"},
	{"doc": pod_template(spec), "prefix": "template.spec"},
	{"doc": controller("v1", "ReplicationController", spec), "prefix": "spec.template.spec"},
	{"doc": deployment(spec), "prefix": "spec.template.spec"},
	{"doc": controller("apps/v1", "StatefulSet", spec), "prefix": "spec.template.spec"},
	{"doc": controller("apps/v1", "DaemonSet", spec), "prefix": "spec.template.spec"},
	{"doc": controller("apps/v1", "ReplicaSet", spec), "prefix": "spec.template.spec"},
	{"doc": job(spec), "prefix": "spec.template.spec"},
	{"doc": cronjob(spec), "prefix": "spec.jobTemplate.spec.template.spec"},
]

# The hardened pod spec with a change at the pod level (objects merge, lists are replaced).
spec_with(patch) := object.union(hardened_pod_spec, patch)

container_with(patch) := object.union(hardened_container, patch)

# A Pod whose only container is the hardened one with `patch` merged in.
pod_with_container(patch) := pod(spec_with({"containers": [container_with(patch)]}))

# A Pod whose container lacks the given securityContext keys.
pod_without_sc_keys(keys) := pod(spec_with({"containers": [json.remove(hardened_container, [k | some key in keys; k := concat("/", ["securityContext", key])])]}))

pod_with(patch) := pod(spec_with(patch))

ids(findings) := {f.id | some f in findings}

fields(findings) := {f.field | some f in findings}
