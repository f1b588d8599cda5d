"""A run's page: its logs as written, metric charts, tracking record, activity and output."""
