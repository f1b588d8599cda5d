"""The Models page: the registry's models and versions, their forms, alias requests, history and policy."""
