"""Alerts: entities that fire, are acknowledged and resolve, and the channels that tell people."""
