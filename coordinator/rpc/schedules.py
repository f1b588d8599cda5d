"""schedules.proto: create, list, read, pause, resume and delete schedules."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.rpc.link import AgentLink
from kiln.coordinator.rpc.paging import encoded
from kiln.coordinator.schedules import manage
from kiln.core import paging
from kiln.core.schedules import Schedule
from kiln.proto.v1 import schedules_pb2, schedules_pb2_grpc
from kiln.serde.runs import run_spec_from_proto
from kiln.serde.schedules import schedule_to_proto

Ctx: TypeAlias = grpc.aio.ServicerContext


class SchedulesServicer(schedules_pb2_grpc.SchedulesServicer):
    def __init__(self, ctx: Coordinator, link: AgentLink) -> None:
        self.ctx = ctx
        self.link = link

    def _changed(self, s: Schedule) -> schedules_pb2.Schedule:
        """A schedule's times changed: the tick learns its next wake-up now, not at its next pass."""
        self.link.wake_threadsafe()
        return schedule_to_proto(s)

    def CreateSchedule(self, request: schedules_pb2.CreateScheduleRequest, context: Ctx) -> schedules_pb2.Schedule:
        new = manage.NewSchedule(
            project=request.project,
            name=request.name,
            spec=run_spec_from_proto(request.spec) if request.HasField("spec") else None,
            cron=request.cron or None,
            tz=request.tz or None,
            every=request.every or None,
            overlap=request.overlap or "skip",
            catch_up=request.catch_up or "none",
            rerun_of=request.rerun_of,
            on=request.on or None,
            dry_run=request.dry_run,
        )
        return self._changed(manage.create(self.ctx, principal(), new))

    def ListSchedules(self, request: schedules_pb2.ListSchedulesRequest, context: Ctx) -> schedules_pb2.ScheduleList:
        page = paging.request("ListSchedules", request.page_size, request.page_token)
        found = manage.list_page(self.ctx, principal(), request.project, page)
        rows, token = encoded("ListSchedules", found, schedule_to_proto)
        return schedules_pb2.ScheduleList(schedules=rows, next_page_token=token)

    def GetSchedule(self, request: schedules_pb2.ScheduleRef, context: Ctx) -> schedules_pb2.Schedule:
        return schedule_to_proto(manage.get(self.ctx, principal(), request.project, request.name))

    def PauseSchedule(self, request: schedules_pb2.ScheduleRef, context: Ctx) -> schedules_pb2.Schedule:
        return self._changed(manage.pause(self.ctx, principal(), request.project, request.name))

    def ResumeSchedule(self, request: schedules_pb2.ScheduleRef, context: Ctx) -> schedules_pb2.Schedule:
        return self._changed(manage.resume(self.ctx, principal(), request.project, request.name))

    def DeleteSchedule(self, request: schedules_pb2.ScheduleRef, context: Ctx) -> schedules_pb2.ScheduleRef:
        manage.delete(self.ctx, principal(), request.project, request.name)
        self.link.wake_threadsafe()
        return request
