"""backup-complete: decides whether a written object completes a backup, and checks the backup."""
