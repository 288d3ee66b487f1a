# Production readiness across documents. Evaluated ONCE over every document together, as
# `conftest test --combine` does: input = [{"path": <file>, "contents": <document>}, ...].
#
# Each finding also carries "path" (the document's file) and "document_index" (its position
# in the combined input), and its "field" is relative to that document.
package gitops_gate.production.combined

import rego.v1

import data.gitops_gate.catalog

# conftest's rules: errors fail, warnings and notices warn; disabled rules are dropped.
deny contains f if {
	some f in findings
	catalog.is_deny(f)
}

warn contains f if {
	some f in findings
	catalog.is_warn(f)
}

# --- the documents -------------------------------------------------------------------------

_docs contains {"index": i, "path": path, "doc": doc, "kind": doc.kind, "name": _name(doc), "namespace": _namespace(doc), "group": _group(doc)} if {
	is_array(input)
	some i, item in input
	is_object(item)
	doc := item.contents
	is_object(doc)
	is_string(doc.kind)
	path := _string_or(object.get(item, "path", ""), "")
}

_name(doc) := n if {
	n := doc.metadata.name
	is_string(n)
} else := ""

_namespace(doc) := ns if {
	ns := doc.metadata.namespace
	is_string(ns)
} else := ""

# The API group of apiVersion ("" for "v1" or a missing apiVersion).
_group(doc) := parts[0] if {
	is_string(doc.apiVersion)
	parts := split(doc.apiVersion, "/")
	count(parts) == 2
} else := ""

_string_or(x, _) := x if is_string(x)

_string_or(x, d) := d if not is_string(x)

_workloads contains w if {
	some w in _docs
	w.kind in {"Deployment", "StatefulSet"}
	w.group in {"apps", "extensions"}
}

_hpas contains h if {
	some h in _docs
	h.kind == "HorizontalPodAutoscaler"
	h.group == "autoscaling"
}

_pdbs contains p if {
	some p in _docs
	p.kind == "PodDisruptionBudget"
	p.group == "policy"
}

# A document without a namespace lands in whatever namespace it is applied to (a kustomize
# or Argo CD destination), so it may share a namespace with any other document.
_same_namespace(a, b) if a.namespace == b.namespace

_same_namespace(a, b) if a.namespace == ""

_same_namespace(a, b) if b.namespace == ""

# --- replicas ------------------------------------------------------------------------------

# The HPAs scaling a workload.
_scalers(w) := [h |
	some h in _hpas
	_same_namespace(h, w)
	h.doc.spec.scaleTargetRef.kind == w.kind
	h.doc.spec.scaleTargetRef.name == w.name
]

# The fewest replicas the workload runs: an HPA's minReplicas (default 1) when one scales it,
# else spec.replicas (default 1).
_min_replicas(w) := min([m |
	some h in _scalers(w)
	m := _number_or(object.get(h.doc.spec, "minReplicas", 1), 1)
]) if {
	count(_scalers(w)) > 0
} else := _number_or(object.get(_spec(w), "replicas", 1), 1)

_spec(w) := s if {
	s := w.doc.spec
	is_object(s)
} else := {}

_number_or(x, _) := x if is_number(x)

_number_or(x, d) := d if not is_number(x)

_label(w) := sprintf("%s %q", [w.kind, w.name])

# Unset replicas and no HPA: the workload runs one replica. (An explicit replicas: 1 is
# reported per document by gitops_gate.production.)
findings contains _located(w, catalog.finding(
	"prod.replicas",
	"spec",
	sprintf("%s does not set replicas (it defaults to 1) and no HorizontalPodAutoscaler scales it", [_label(w)]),
)) if {
	some w in _workloads
	is_object(w.doc.spec)
	not _is_set(w.doc.spec, "replicas")
	count(_scalers(w)) == 0
}

_is_set(obj, key) if {
	is_object(obj)
	object.get(obj, key, null) != null
}

# --- PodDisruptionBudgets ------------------------------------------------------------------

findings contains _located(w, catalog.finding(
	"prod.pdb",
	"spec.template.metadata.labels",
	sprintf("%s runs at least %v replicas but no PodDisruptionBudget selects its pods", [_label(w), _min_replicas(w)]),
)) if {
	some w in _workloads
	_min_replicas(w) >= 2
	not _has_pdb(w)
}

_has_pdb(w) if {
	labels := _template_labels(w)
	some p in _pdbs
	_same_namespace(p, w)
	_selects(p.doc.spec.selector, labels)
}

_template_labels(w) := l if {
	l := w.doc.spec.template.metadata.labels
	is_object(l)
} else := {}

# A label selector: every matchLabels pair and every matchExpressions requirement holds.
# An empty selector ({}) selects every pod; a missing or null one selects none (policy/v1).
_selects(selector, labels) if {
	is_object(selector)
	match_labels := _object_or_empty(object.get(selector, "matchLabels", {}))
	every key, value in match_labels {
		labels[key] == value
	}
	expressions := _array_or_empty(object.get(selector, "matchExpressions", []))
	every e in expressions {
		_requirement_holds(e, labels)
	}
}

_object_or_empty(x) := x if is_object(x)

_object_or_empty(x) := {} if not is_object(x)

_array_or_empty(x) := x if is_array(x)

_array_or_empty(x) := [] if not is_array(x)

_requirement_holds(e, labels) if {
	e.operator == "In"
	labels[e.key] in _array_or_empty(object.get(e, "values", []))
}

_requirement_holds(e, labels) if {
	e.operator == "NotIn"
	not labels[e.key] in _array_or_empty(object.get(e, "values", []))
}

_requirement_holds(e, labels) if {
	e.operator == "Exists"
	_ = labels[e.key]
}

_requirement_holds(e, labels) if {
	e.operator == "DoesNotExist"
	not _has_label(labels, e.key)
}

_has_label(labels, key) if _ = labels[key]

# --- locating a finding in its document ----------------------------------------------------

_located(d, f) := object.union(f, {
	"path": d.path,
	"document_index": d.index,
	"resource": {"kind": d.kind, "name": d.name, "namespace": d.namespace},
})
