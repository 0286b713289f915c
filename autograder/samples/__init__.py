"""Sample submissions material: the original blog post's code, kept as a known-buggy implementation."""
