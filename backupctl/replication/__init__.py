"""Keep every location of a source holding the same repository files, verified by content hash."""
