"""The pure core: no I/O, no SDK imports; stdlib, pydantic and PyYAML only."""
