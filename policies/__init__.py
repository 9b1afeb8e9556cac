"""Retention and access rules: pure functions, no I/O; the clock is a parameter."""
