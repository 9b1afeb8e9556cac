"""Monitoring: healthchecks-style pings and the Prometheus textfile (ids, counts, sizes only)."""
