"""Verifiers of others, run in our boxes against our packages."""
