"""gitops-gate: guards GitOps repositories on the pull request."""

__version__ = "0.1.0"
