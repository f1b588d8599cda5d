"""Persistent state of the coordinator. Nothing here sees a protobuf type."""

from kiln.coordinator.store.sqlite import SchemaTooNew, SqliteStore

__all__ = ["SchemaTooNew", "SqliteStore"]
