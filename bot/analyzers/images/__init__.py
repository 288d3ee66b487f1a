"""Image checks: references pinned, registries allowed, signatures verified."""
