"""kiln.desktop: the PySide6 app analysts use. It talks to the coordinator only through kiln.client, and
imports Qt only through kiln.desktop.qt."""
