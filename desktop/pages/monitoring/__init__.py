"""The Monitoring page: monitors of the project's endpoints, their alerts, and the project's schedules."""
