"""Offline sources: what a cluster held, read back from files."""
