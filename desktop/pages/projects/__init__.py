"""The Projects page: the projects you can see, creating one, and a project's members."""
