"""Kiln: an on-premises data science platform."""

__version__ = "0.1.0"
