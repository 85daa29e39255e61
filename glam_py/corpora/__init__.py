"""Corpus readers: manifests and the built-in synthetic demo corpus."""
