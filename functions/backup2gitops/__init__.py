"""backup2gitops: Kubernetes backups in object storage to a clean GitOps repository."""
