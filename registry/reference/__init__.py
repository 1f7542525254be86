"""reference domain."""
