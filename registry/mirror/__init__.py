"""A verifier's offline copy of a registry's trust list, kept current from its change feed."""
