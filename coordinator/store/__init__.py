"""Persistent state of the coordinator. Nothing here sees a protobuf type."""

from kiln.coordinator.store.audit import AuditTables
from kiln.coordinator.store.base import SchemaTooNew
from kiln.coordinator.store.compute import ComputeTables
from kiln.coordinator.store.deployments import DeploymentTables
from kiln.coordinator.store.environments import EnvironmentTables
from kiln.coordinator.store.identity import IdentityTables
from kiln.coordinator.store.mlflow import MlflowTables
from kiln.coordinator.store.monitoring import MonitoringTables
from kiln.coordinator.store.placement import PlacementTables
from kiln.coordinator.store.projects import ProjectTables
from kiln.coordinator.store.registry import RegistryTables
from kiln.coordinator.store.schedules import ScheduleTables
from kiln.coordinator.store.tracking import TrackingTables
from kiln.coordinator.store.workspaces import WorkspaceTables


class SqliteStore(
    IdentityTables,
    ProjectTables,
    AuditTables,
    ComputeTables,
    PlacementTables,
    TrackingTables,
    RegistryTables,
    EnvironmentTables,
    DeploymentTables,
    ScheduleTables,
    MonitoringTables,
    MlflowTables,
    WorkspaceTables,
):
    """The coordinator's store on SQLite: every table family, one connection, one transaction at a time."""


__all__ = ["SchemaTooNew", "SqliteStore"]
