"""A replay Kubernetes API server for tests: real HTTP, real response shapes."""
