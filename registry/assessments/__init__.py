"""assessments domain."""
