"""The pure core: no I/O; only the standard library, pydantic and PyYAML."""
