"""deadlines domain."""
