"""Tests of the desktop app (kiln.desktop), offscreen, against a real coordinator."""
