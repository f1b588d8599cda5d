"""Comparing runs: the experiment comparison view."""
