"""`check` (restic check with a rotating read subset) and `drill` (a sampled restore test)."""
