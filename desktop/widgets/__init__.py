"""Widgets more than one screen uses: tables over plain rows, messages, lazy tabs, progress, comments."""
