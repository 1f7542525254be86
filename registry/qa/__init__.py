"""qa domain."""
