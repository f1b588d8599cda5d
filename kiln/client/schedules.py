"""The client's calls of schedules.proto."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln.client.base import Connection

if TYPE_CHECKING:
    from kiln.core.runs import RunSpec
    from kiln.core.schedules import Schedule
    from kiln.proto.v1 import schedules_pb2, schedules_pb2_grpc
    from kiln.serde import runs as runs_wire
    from kiln.serde import schedules as schedules_wire
else:
    from kiln.client.base import runs_wire, schedules_pb2, schedules_pb2_grpc, schedules_wire


class ScheduleCalls(Connection):
    def _schedules(self) -> schedules_pb2_grpc.SchedulesStub:
        return self._stub(schedules_pb2_grpc.SchedulesStub)

    def create_schedule(
        self,
        project: str,
        name: str,
        spec: RunSpec | None = None,
        *,
        cron: str = "",
        tz: str = "",
        every: str = "",
        overlap: str = "",
        catch_up: str = "",
        rerun_of: str = "",
        on: str = "",
        dry_run: bool = False,
    ) -> Schedule:
        """A schedule firing `spec` (or a rerun of `rerun_of`) by `cron` in zone `tz`, `every` interval, or `on`
        an event; `dry_run` checks it and says what would fire, storing nothing."""
        req = schedules_pb2.CreateScheduleRequest(
            project=project, name=name, cron=cron, tz=tz, every=every, overlap=overlap, catch_up=catch_up,
            rerun_of=rerun_of, on=on, dry_run=dry_run,
        )  # fmt: skip
        if spec is not None:
            req.spec.CopyFrom(runs_wire.run_spec_to_proto(spec))
        return schedules_wire.schedule_from_proto(self._call(self._schedules().CreateSchedule, req))

    def list_schedules(self, project: str) -> list[Schedule]:
        return self._listing(
            self._schedules().ListSchedules,
            schedules_pb2.ListSchedulesRequest(project=project),
            "schedules",
            schedules_wire.schedule_from_proto,
        )

    def get_schedule(self, project: str, name: str) -> Schedule:
        req = schedules_pb2.ScheduleRef(project=project, name=name)
        return schedules_wire.schedule_from_proto(self._call(self._schedules().GetSchedule, req))

    def pause_schedule(self, project: str, name: str) -> Schedule:
        req = schedules_pb2.ScheduleRef(project=project, name=name)
        return schedules_wire.schedule_from_proto(self._call(self._schedules().PauseSchedule, req))

    def resume_schedule(self, project: str, name: str) -> Schedule:
        req = schedules_pb2.ScheduleRef(project=project, name=name)
        return schedules_wire.schedule_from_proto(self._call(self._schedules().ResumeSchedule, req))

    def delete_schedule(self, project: str, name: str) -> None:
        self._call(self._schedules().DeleteSchedule, schedules_pb2.ScheduleRef(project=project, name=name))
