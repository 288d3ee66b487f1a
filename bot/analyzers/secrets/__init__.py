"""Secret scanning that understands Kubernetes and GitOps (work in progress, not wired yet)."""
