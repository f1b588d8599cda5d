"""The main window's screens, one module or folder each: projects, files, runs, a run's page, lineage, models."""
