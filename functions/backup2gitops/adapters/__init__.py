"""Thin I/O adapters at the edges: storage, git, Kubernetes, HTTP receivers."""
