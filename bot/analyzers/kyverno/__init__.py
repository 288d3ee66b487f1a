"""Kyverno ClusterPolicy/Policy validate rules, evaluated with Kyverno's own semantics."""
