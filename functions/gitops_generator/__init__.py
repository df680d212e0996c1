"""gitops-generator: a completed backup becomes one reviewed-ready commit in the GitOps repository."""
