"""cluster-backup: a scheduled or requested backup of every object in a cluster, manifest last."""
