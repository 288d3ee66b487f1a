# The catalog of every built-in rule: its set, severity, whether it runs by default, and the
# text a finding carries. Policy rules build their findings with `finding(id, field, msg)`,
# so a rule's title or severity is written once, here.
#
# Configuration (optional data, e.g. `conftest -d`): data.gitops_gate.config =
#   {"disable": [rule id, ...], "enable": [rule id or set name, ...]}
# A rule runs when its set is queried, it is not disabled, and it is on by default or enabled.
package gitops_gate.catalog

import rego.v1

_pss_baseline_url := "https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline"

_pss_restricted_url := "https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted"

_security_context_url := "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/"

_resources_url := "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"

_probes_url := "https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/"

_pdb_url := "https://kubernetes.io/docs/tasks/run-application/configure-pdb/"

# Each set: the packages evaluated once per document, and those evaluated once over every
# document together (conftest --combine: input = [{"path": ..., "contents": doc}, ...]).
sets := {
	"pss-baseline": {"default": true, "document": ["gitops_gate.pss.baseline"], "combined": []},
	# Restricted is cumulative: choosing it also runs Baseline ("implies").
	"pss-restricted": {
		"default": false,
		"document": ["gitops_gate.pss.restricted"],
		"combined": [],
		"implies": ["pss-baseline"],
	},
	"best-practices": {"default": true, "document": ["gitops_gate.best_practices"], "combined": []},
	"production": {
		"default": false,
		"document": ["gitops_gate.production"],
		"combined": ["gitops_gate.production.combined"],
	},
}

rules := {
	# --- Pod Security Standards: Baseline -----------------------------------------------
	"pss.baseline.host-process": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "Windows HostProcess containers are not allowed",
		"rationale": "A HostProcess container runs as a process on the Windows node with access to the host, bypassing container isolation.",
		"remediation": "Remove securityContext.windowsOptions.hostProcess (or set it to false) on the pod and on every container.",
		"help_url": _pss_baseline_url,
	},
	"pss.baseline.host-namespaces": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "Sharing the host's namespaces is not allowed",
		"rationale": "hostNetwork, hostPID and hostIPC give the pod the node's network stack, process table or IPC objects: it can sniff traffic, signal or inspect other processes and reach node-local services.",
		"remediation": "Remove spec.hostNetwork, spec.hostPID and spec.hostIPC (or set them to false).",
		"help_url": _pss_baseline_url,
	},
	"pss.baseline.privileged": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "Privileged containers are not allowed",
		"rationale": "A privileged container has every capability and all host devices; it disables most isolation and can take over the node.",
		"remediation": "Remove securityContext.privileged (or set it to false); grant only the specific capabilities the process needs.",
		"help_url": _pss_baseline_url,
	},
	"pss.baseline.capabilities": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "Capabilities beyond the baseline set are not allowed",
		"rationale": "Capabilities such as SYS_ADMIN, NET_ADMIN or NET_RAW grant kernel privileges a workload can use to escape or attack the node and its neighbours.",
		"remediation": "Add only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID or SYS_CHROOT in securityContext.capabilities.add.",
		"help_url": _pss_baseline_url,
	},
	"pss.baseline.host-path-volumes": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "HostPath volumes are not allowed",
		"rationale": "A hostPath volume exposes the node's filesystem to the pod (credentials, the container runtime socket, other pods' data).",
		"remediation": "Use a persistentVolumeClaim, emptyDir, configMap, secret or projected volume instead of hostPath.",
		"help_url": _pss_baseline_url,
	},
	"pss.baseline.host-ports": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "Host ports are not allowed",
		"rationale": "A hostPort binds the container to a port on the node's address, bypassing Services and network policy, and limits scheduling.",
		"remediation": "Remove ports[].hostPort (or set it to 0) and expose the port through a Service.",
		"help_url": _pss_baseline_url,
	},
	"pss.baseline.host-probes": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "Probes and lifecycle hooks must not target another host",
		"rationale": "The kubelet performs httpGet and tcpSocket probes and hooks from the node; a host field lets a pod make the kubelet reach arbitrary addresses (Kubernetes 1.34+).",
		"remediation": "Remove the host field from httpGet and tcpSocket in livenessProbe, readinessProbe, startupProbe and lifecycle hooks; the pod's IP is used by default.",
		"help_url": _pss_baseline_url,
	},
	"pss.baseline.apparmor": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "AppArmor must not be disabled or overridden",
		"rationale": "The runtime's default AppArmor profile confines the container; Unconfined removes that confinement.",
		"remediation": "Leave appArmorProfile unset or use type RuntimeDefault or Localhost; annotations container.apparmor.security.beta.kubernetes.io/* may only be runtime/default or localhost/<profile>.",
		"help_url": _pss_baseline_url,
	},
	"pss.baseline.selinux": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "Custom SELinux user, role or type is not allowed",
		"rationale": "Setting an SELinux user, role or a type outside the container types can lift the confinement SELinux gives containers.",
		"remediation": "Leave seLinuxOptions.user and .role unset and use type container_t, container_init_t, container_kvm_t or container_engine_t (or leave it unset).",
		"help_url": _pss_baseline_url,
	},
	"pss.baseline.proc-mount": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "The default /proc mount is required",
		"rationale": "An Unmasked /proc exposes kernel information and interfaces the default masks hide; Baseline allows it only for pods in a user namespace (hostUsers: false).",
		"remediation": "Remove securityContext.procMount or set it to Default.",
		"help_url": _pss_baseline_url,
	},
	"pss.baseline.seccomp": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "Seccomp must not be Unconfined",
		"rationale": "Without a seccomp profile every system call is available to the container, including those used in kernel exploits.",
		"remediation": "Set securityContext.seccompProfile.type to RuntimeDefault (or Localhost with a profile), or leave it unset.",
		"help_url": _pss_baseline_url,
	},
	"pss.baseline.sysctls": {
		"set": "pss-baseline", "severity": "error", "default": true,
		"title": "Only safe sysctls are allowed",
		"rationale": "Sysctls outside the namespaced safe set can disable security mechanisms or affect every pod on the node.",
		"remediation": "Use only kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.ip_local_reserved_ports, net.ipv4.ip_unprivileged_port_start, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, net.ipv4.tcp_keepalive_time, net.ipv4.tcp_fin_timeout, net.ipv4.tcp_keepalive_intvl, net.ipv4.tcp_keepalive_probes, net.ipv4.tcp_rmem or net.ipv4.tcp_wmem.",
		"help_url": _pss_baseline_url,
	},
	# --- Pod Security Standards: Restricted (on top of Baseline) -------------------------
	"pss.restricted.volume-types": {
		"set": "pss-restricted", "severity": "error", "default": true,
		"title": "Only core volume types are allowed",
		"rationale": "Restricted pods may only use configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret volumes; other in-tree types reach storage directly, outside PersistentVolume control.",
		"remediation": "Replace the volume with a persistentVolumeClaim (backed by a PersistentVolume of that type) or one of the allowed volume types.",
		"help_url": _pss_restricted_url,
	},
	"pss.restricted.privilege-escalation": {
		"set": "pss-restricted", "severity": "error", "default": true,
		"title": "Privilege escalation must be disabled",
		"rationale": "Unless allowPrivilegeEscalation is false, a process can gain more privileges than its parent (setuid binaries, file capabilities).",
		"remediation": "Set securityContext.allowPrivilegeEscalation: false on every container.",
		"help_url": _pss_restricted_url,
	},
	"pss.restricted.run-as-non-root": {
		"set": "pss-restricted", "severity": "error", "default": true,
		"title": "Containers must run as non-root",
		"rationale": "A process running as UID 0 is root on the node too if it escapes the container; runAsNonRoot makes the kubelet refuse to start a root process.",
		"remediation": "Set spec.securityContext.runAsNonRoot: true (or on every container) and build the image with a non-root USER.",
		"help_url": _pss_restricted_url,
	},
	"pss.restricted.run-as-user": {
		"set": "pss-restricted", "severity": "error", "default": true,
		"title": "Containers must not run as UID 0",
		"rationale": "runAsUser: 0 runs the process as root.",
		"remediation": "Set runAsUser to a non-zero UID, or remove it and rely on the image's non-root USER.",
		"help_url": _pss_restricted_url,
	},
	"pss.restricted.seccomp": {
		"set": "pss-restricted", "severity": "error", "default": true,
		"title": "A seccomp profile must be set",
		"rationale": "Restricted requires an explicit RuntimeDefault or Localhost seccomp profile so the container cannot use dangerous system calls.",
		"remediation": "Set spec.securityContext.seccompProfile.type: RuntimeDefault (or on every container).",
		"help_url": _pss_restricted_url,
	},
	"pss.restricted.capabilities": {
		"set": "pss-restricted", "severity": "error", "default": true,
		"title": "Containers must drop ALL capabilities",
		"rationale": "Restricted containers run with no capabilities except, when needed, NET_BIND_SERVICE.",
		"remediation": "Set securityContext.capabilities.drop: [\"ALL\"] and add back at most NET_BIND_SERVICE.",
		"help_url": _pss_restricted_url,
	},
	"pss.restricted.proc-mount": {
		"set": "pss-restricted", "severity": "error", "default": true,
		"title": "The default /proc mount is required, also in a user namespace",
		"rationale": "Restricted allows only the default /proc masks, even for pods with hostUsers: false (Kubernetes 1.35+).",
		"remediation": "Remove securityContext.procMount or set it to Default.",
		"help_url": _pss_restricted_url,
	},
	# --- Best practices --------------------------------------------------------------------
	"bp.image-latest-tag": {
		"set": "best-practices", "severity": "warning", "default": true,
		"title": "Image uses the latest tag",
		"rationale": "latest moves: the same manifest deploys different code over time, rollbacks do not roll back, and nodes may run different versions.",
		"remediation": "Pin a version tag (and preferably a digest: image: repo:1.2.3@sha256:...).",
		"help_url": "https://kubernetes.io/docs/concepts/containers/images/#image-names",
	},
	"bp.image-missing-tag": {
		"set": "best-practices", "severity": "warning", "default": true,
		"title": "Image has no tag",
		"rationale": "An image without a tag or digest means latest, with the same drift problems.",
		"remediation": "Pin a version tag (and preferably a digest).",
		"help_url": "https://kubernetes.io/docs/concepts/containers/images/#image-names",
	},
	"bp.resources-requests": {
		"set": "best-practices", "severity": "warning", "default": true,
		"title": "Container has no CPU or memory request",
		"rationale": "The scheduler places pods by their requests; without them nodes are overcommitted and the pod is first to be evicted (BestEffort).",
		"remediation": "Set resources.requests.cpu and resources.requests.memory (a limit alone also sets the request).",
		"help_url": _resources_url,
	},
	"bp.memory-limit": {
		"set": "best-practices", "severity": "warning", "default": true,
		"title": "Container has no memory limit",
		"rationale": "Without a memory limit a leaking container can exhaust the node's memory and get other pods OOM-killed or evicted.",
		"remediation": "Set resources.limits.memory (commonly equal to the memory request).",
		"help_url": _resources_url,
	},
	"bp.cpu-limit": {
		"set": "best-practices", "severity": "notice", "default": false,
		"title": "Container has no CPU limit",
		"rationale": "A CPU limit caps a noisy container; many teams deliberately omit it to avoid throttling, so this rule is off by default.",
		"remediation": "Set resources.limits.cpu, or leave it out on purpose and keep this rule disabled.",
		"help_url": _resources_url,
	},
	"bp.liveness-probe": {
		"set": "best-practices", "severity": "notice", "default": false,
		"title": "Container has no liveness probe",
		"rationale": "Without a liveness probe a hung process keeps running and is never restarted.",
		"remediation": "Add a livenessProbe that fails only when the process cannot recover by itself.",
		"help_url": _probes_url,
	},
	"bp.readiness-probe": {
		"set": "best-practices", "severity": "notice", "default": false,
		"title": "Container has no readiness probe",
		"rationale": "Without a readiness probe traffic reaches the pod as soon as it starts, and rolling updates cannot wait for new pods to be ready.",
		"remediation": "Add a readinessProbe that succeeds when the container can serve requests.",
		"help_url": _probes_url,
	},
	"bp.read-only-root-filesystem": {
		"set": "best-practices", "severity": "notice", "default": false,
		"title": "Root filesystem is writable",
		"rationale": "A read-only root filesystem stops an attacker or a bug from modifying binaries and configuration in the container.",
		"remediation": "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process must write.",
		"help_url": _security_context_url,
	},
	"bp.allow-privilege-escalation": {
		"set": "best-practices", "severity": "warning", "default": false,
		"title": "Privilege escalation is not disabled",
		"rationale": "allowPrivilegeEscalation defaults to true: setuid binaries and file capabilities can raise a process's privileges.",
		"remediation": "Set securityContext.allowPrivilegeEscalation: false.",
		"help_url": _security_context_url,
	},
	"bp.host-network": {
		"set": "best-practices", "severity": "error", "default": false,
		"title": "Pod uses the host network",
		"rationale": "hostNetwork gives the pod the node's network stack (off by default: pss.baseline.host-namespaces reports it).",
		"remediation": "Remove spec.hostNetwork.",
		"help_url": _pss_baseline_url,
	},
	"bp.host-pid": {
		"set": "best-practices", "severity": "error", "default": false,
		"title": "Pod shares the host's process namespace",
		"rationale": "hostPID lets the pod see and signal every process on the node (off by default: pss.baseline.host-namespaces reports it).",
		"remediation": "Remove spec.hostPID.",
		"help_url": _pss_baseline_url,
	},
	"bp.host-ipc": {
		"set": "best-practices", "severity": "error", "default": false,
		"title": "Pod shares the host's IPC namespace",
		"rationale": "hostIPC exposes the node's shared memory and message queues (off by default: pss.baseline.host-namespaces reports it).",
		"remediation": "Remove spec.hostIPC.",
		"help_url": _pss_baseline_url,
	},
	"bp.host-path": {
		"set": "best-practices", "severity": "error", "default": false,
		"title": "Pod mounts a hostPath volume",
		"rationale": "hostPath exposes the node's filesystem (off by default: pss.baseline.host-path-volumes reports it).",
		"remediation": "Use a persistentVolumeClaim or emptyDir instead.",
		"help_url": "https://kubernetes.io/docs/concepts/storage/volumes/#hostpath",
	},
	"bp.host-port": {
		"set": "best-practices", "severity": "warning", "default": false,
		"title": "Container binds a host port",
		"rationale": "A hostPort bypasses Services and limits scheduling to one pod per node and port (off by default: pss.baseline.host-ports reports it).",
		"remediation": "Remove ports[].hostPort and use a Service.",
		"help_url": "https://kubernetes.io/docs/concepts/configuration/overview/#services",
	},
	"bp.dangerous-capabilities": {
		"set": "best-practices", "severity": "error", "default": false,
		"title": "Container adds a dangerous capability",
		"rationale": "ALL, SYS_ADMIN, NET_ADMIN, SYS_MODULE, SYS_PTRACE and similar capabilities are close to root on the node (off by default: pss.baseline.capabilities reports them).",
		"remediation": "Remove the capability from securityContext.capabilities.add.",
		"help_url": _security_context_url,
	},
	"bp.service-node-port": {
		"set": "best-practices", "severity": "warning", "default": true,
		"title": "Service of type NodePort",
		"rationale": "A NodePort Service opens the port on every node's address, outside ingress and load balancer controls.",
		"remediation": "Use a ClusterIP Service behind an Ingress or Gateway, or a LoadBalancer Service.",
		"help_url": "https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport",
	},
	"bp.service-load-balancer": {
		"set": "best-practices", "severity": "notice", "default": false,
		"title": "LoadBalancer Service without source ranges",
		"rationale": "A LoadBalancer Service without loadBalancerSourceRanges is usually reachable from the internet.",
		"remediation": "Set spec.loadBalancerSourceRanges, use an internal load balancer, or expose the workload through an Ingress or Gateway.",
		"help_url": "https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer",
	},
	"bp.default-namespace": {
		"set": "best-practices", "severity": "warning", "default": true,
		"title": "Resource in the default namespace",
		"rationale": "The default namespace is shared by everything that forgets to set one; quotas, network policies and RBAC are hard to scope there.",
		"remediation": "Deploy to a dedicated namespace.",
		"help_url": "https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/",
	},
	"bp.recommended-labels": {
		"set": "best-practices", "severity": "notice", "default": false,
		"title": "Missing app.kubernetes.io/name label",
		"rationale": "The recommended app.kubernetes.io/* labels (name, instance, version, component, part-of, managed-by) let tools and people find what belongs to an application.",
		"remediation": "Add metadata.labels app.kubernetes.io/name (and instance, version, component, part-of, managed-by where they apply).",
		"help_url": "https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/",
	},
	"bp.ingress-tls": {
		"set": "best-practices", "severity": "warning", "default": true,
		"title": "Ingress host served without TLS",
		"rationale": "Without a tls entry the Ingress serves the host over plain HTTP.",
		"remediation": "Add spec.tls with a secretName whose hosts list every rule host (cert-manager can issue the certificate).",
		"help_url": "https://kubernetes.io/docs/concepts/services-networking/ingress/#tls",
	},
	"bp.automount-service-account-token": {
		"set": "best-practices", "severity": "notice", "default": false,
		"title": "Service account token is mounted automatically",
		"rationale": "Most applications never call the Kubernetes API; a mounted token is a credential an attacker can use.",
		"remediation": "Set spec.automountServiceAccountToken: false in the pod spec (or on the ServiceAccount) unless the workload uses the API.",
		"help_url": "https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting",
	},
	"bp.rbac-wildcard": {
		"set": "best-practices", "severity": "warning", "default": true,
		"title": "RBAC rule uses a wildcard",
		"rationale": "A * in verbs, resources or apiGroups grants every current and future permission in that dimension, including ones added by new CRDs.",
		"remediation": "List the verbs, resources and API groups the subject needs.",
		"help_url": "https://kubernetes.io/docs/concepts/security/rbac-good-practices/",
	},
	"bp.cronjob-concurrency-policy": {
		"set": "best-practices", "severity": "warning", "default": true,
		"title": "CronJob allows concurrent runs",
		"rationale": "With the default concurrencyPolicy Allow, a slow run overlaps the next one; runs pile up and compete for the same data.",
		"remediation": "Set spec.concurrencyPolicy to Forbid (skip a run while one is active) or Replace.",
		"help_url": "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#concurrency-policy",
	},
	# --- Production --------------------------------------------------------------------------
	"prod.replicas": {
		"set": "production", "severity": "warning", "default": true,
		"title": "Workload runs a single replica",
		"rationale": "One replica means downtime on every rollout, node drain or crash.",
		"remediation": "Set spec.replicas to 2 or more (or let a HorizontalPodAutoscaler with minReplicas >= 2 manage it).",
		"help_url": _pdb_url,
	},
	"prod.hpa-min-replicas": {
		"set": "production", "severity": "warning", "default": true,
		"title": "HorizontalPodAutoscaler may scale to one replica",
		"rationale": "minReplicas defaults to 1: at low load the workload runs a single replica.",
		"remediation": "Set spec.minReplicas to 2 or more.",
		"help_url": "https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/",
	},
	"prod.pdb-zero-disruption": {
		"set": "production", "severity": "warning", "default": true,
		"title": "PodDisruptionBudget allows no disruption",
		"rationale": "maxUnavailable 0 or minAvailable 100% blocks every voluntary eviction: node drains and cluster upgrades hang.",
		"remediation": "Allow at least one pod to be unavailable (e.g. maxUnavailable: 1).",
		"help_url": _pdb_url,
	},
	"prod.pdb": {
		"set": "production", "severity": "warning", "default": true,
		"title": "Multi-replica workload has no PodDisruptionBudget",
		"rationale": "Without a PodDisruptionBudget a node drain may evict every replica at once.",
		"remediation": "Add a PodDisruptionBudget in the same namespace whose selector matches the pod template's labels.",
		"help_url": _pdb_url,
	},
}

# --- building findings ----------------------------------------------------------------------

# The finding object conftest reports: msg plus metadata (id, title, severity, ...).
# `field` is the path of the offending field from the document root.
finding(id, field, msg) := object.union(object.remove(rules[id], {"default"}), {"id": id, "msg": msg, "field": field})

# --- configuration --------------------------------------------------------------------------

config := c if {
	c := data.gitops_gate.config
	is_object(c)
} else := {}

disabled := {id |
	list := object.get(config, "disable", [])
	is_array(list)
	some id in list
}

enabled_extra := {id |
	list := object.get(config, "enable", [])
	is_array(list)
	some id in list
}

enabled(id) if {
	not disabled[id]
	_on(id)
}

_on(id) if rules[id].default == true

_on(id) if enabled_extra[id]

_on(id) if enabled_extra[rules[id].set]

# --- routing: error findings are conftest failures (deny), the rest warnings (warn) -------

is_deny(f) if {
	f.severity == "error"
	enabled(f.id)
}

is_warn(f) if {
	f.severity != "error"
	enabled(f.id)
}
