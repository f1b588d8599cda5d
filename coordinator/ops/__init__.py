"""Operating a coordinator: backup and restore, blob garbage collection, and the Prometheus exporter."""
