"""The Runs page: a project's runs, comparing them, and the launch dialog with what its fields mean."""
