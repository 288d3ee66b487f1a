"""Helpers for image tests: what cosign writes to a registry (signing.py)."""
