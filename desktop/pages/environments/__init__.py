"""The Environments page: a project's environments and their versions, and the run pages' environment bar."""
