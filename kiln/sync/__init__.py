"""Folder ↔ snapshot synchronisation on the client side: walking, hashing with a stat cache, pushing only
the missing blobs, and restoring a snapshot exactly."""
