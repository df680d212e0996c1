"""Pure core: no I/O, no SDK imports (checked by import-linter)."""
