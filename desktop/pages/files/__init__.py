"""The Files page: a linked folder's changes and pushing them, the project's snapshots, and pulling one."""
