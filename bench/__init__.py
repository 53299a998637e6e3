"""bench: measure variants and report (knows nothing of how a variant was made)."""
