"""Monitoring: drift, quality and health of deployed models."""
