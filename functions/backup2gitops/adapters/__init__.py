"""Thin I/O adapters at the edges: the only modules that import SDKs."""
