"""backup2gitops: Kubernetes backups in object storage, turned into a GitOps repository."""
