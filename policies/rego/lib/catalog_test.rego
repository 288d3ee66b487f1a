package gitops_gate.catalog_test

import rego.v1

import data.gitops_gate.catalog

_prefixes := {
	"pss-baseline": "pss.baseline.",
	"pss-restricted": "pss.restricted.",
	"best-practices": "bp.",
	"production": "prod.",
}

test_every_rule_is_complete if {
	every id, rule in catalog.rules {
		catalog.sets[rule.set]
		startswith(id, _prefixes[rule.set])
		rule.severity in {"error", "warning", "notice"}
		is_boolean(rule.default)
		every key in ["title", "rationale", "remediation"] {
			is_string(rule[key])
			count(rule[key]) > 10
		}
		startswith(rule.help_url, "https://kubernetes.io/docs/")
	}
}

test_every_set_names_its_packages if {
	every name, set in catalog.sets {
		is_boolean(set.default)
		count(set.document) + count(set.combined) > 0
		every pkg in array.concat(set.document, set.combined) {
			startswith(pkg, "gitops_gate.")
		}
	}
}

test_finding_carries_the_catalog_text if {
	f := catalog.finding("pss.baseline.privileged", "spec.containers[0]", "boom")
	f == {
		"id": "pss.baseline.privileged",
		"msg": "boom",
		"field": "spec.containers[0]",
		"set": "pss-baseline",
		"severity": "error",
		"title": catalog.rules["pss.baseline.privileged"].title,
		"rationale": catalog.rules["pss.baseline.privileged"].rationale,
		"remediation": catalog.rules["pss.baseline.privileged"].remediation,
		"help_url": catalog.rules["pss.baseline.privileged"].help_url,
	}
}

test_unknown_rule_id_builds_no_finding if {
	not catalog.finding("no.such-rule", "spec", "x")
}

test_default_enablement if {
	catalog.enabled("pss.baseline.privileged")
	not catalog.enabled("bp.liveness-probe")
	not catalog.enabled("pss.baseline.privileged") with data.gitops_gate.config as {"disable": ["pss.baseline.privileged"]}
	catalog.enabled("bp.liveness-probe") with data.gitops_gate.config as {"enable": ["bp.liveness-probe"]}
	catalog.enabled("bp.liveness-probe") with data.gitops_gate.config as {"enable": ["best-practices"]}
}

test_routing_by_severity if {
	error := catalog.finding("pss.baseline.privileged", "f", "m")
	warning := catalog.finding("bp.image-latest-tag", "f", "m")
	notice := catalog.finding("bp.cpu-limit", "f", "m")
	catalog.is_deny(error)
	not catalog.is_warn(error)
	catalog.is_warn(warning)
	not catalog.is_deny(warning)
	not catalog.is_warn(notice)
	catalog.is_warn(notice) with data.gitops_gate.config as {"enable": ["bp.cpu-limit"]}
}
