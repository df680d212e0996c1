"""backup2gitops: Kubernetes backups in object storage -> a clean GitOps repository."""
