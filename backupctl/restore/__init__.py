"""Approval-gated restores: the request model and its canonical bytes, signatures, the checks a
run must pass (pure), the restore staging and manifest, and their tables in state.db."""
