"""The Deployments page: a project's model endpoints, their traffic, replicas, cards and predictions."""
