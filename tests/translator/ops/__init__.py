"""Tests of the layer families and their registries (no framework)."""
