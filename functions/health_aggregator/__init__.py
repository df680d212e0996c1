"""health-aggregator: measure the flow; answer /health, /status, /metrics; announce changes."""
