"""Deterministic fixes for code-scanning rules, one module per rule (SPEC §8)."""
