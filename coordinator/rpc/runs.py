"""runs.proto: submitting, listing and cancelling runs, and reading (following) their output."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from kiln.coordinator import logs, runs
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.rpc.link import AgentLink
from kiln.coordinator.rpc.paging import encoded
from kiln.coordinator.rpc.workers import Workers
from kiln.core import paging
from kiln.proto.v1 import runs_pb2, runs_pb2_grpc
from kiln.serde import runs as wire

Ctx: TypeAlias = grpc.aio.ServicerContext
FOLLOW_POLL_S = 1.0


class RunsServicer(runs_pb2_grpc.RunsServicer):
    def __init__(self, ctx: Coordinator, workers: Workers, link: AgentLink) -> None:
        self.ctx, self.workers, self.link = ctx, workers, link

    def SubmitRun(self, request: runs_pb2.RunSpec, context: Ctx) -> runs_pb2.Run:
        run = runs.submit(self.ctx, principal(), wire.run_spec_from_proto(request))
        self.link.wake_threadsafe()
        return wire.run_to_proto(run)

    def ListRuns(self, request: runs_pb2.ListRunsRequest, context: Ctx) -> runs_pb2.RunList:
        page = paging.request("ListRuns", request.page_size or request.limit, request.page_token)
        found = runs.list_runs(self.ctx, principal(), request.project, request.state, page)
        rows, token = encoded("ListRuns", found, wire.run_to_proto)
        return runs_pb2.RunList(runs=rows, next_page_token=token)

    def GetRun(self, request: runs_pb2.RunRef, context: Ctx) -> runs_pb2.Run:
        return wire.run_to_proto(runs.get_run(self.ctx, principal(), request.id))

    def CancelRun(self, request: runs_pb2.RunRef, context: Ctx) -> runs_pb2.Run:
        run = runs.cancel(self.ctx, principal(), request.id)
        self.link.wake_threadsafe()
        return wire.run_to_proto(run)

    def RerunRun(self, request: runs_pb2.RunRef, context: Ctx) -> runs_pb2.Run:
        run = runs.rerun(self.ctx, principal(), request.id)
        self.link.wake_threadsafe()
        return wire.run_to_proto(run)

    async def ReadLogs(self, request: runs_pb2.ReadLogsRequest, context: Ctx) -> AsyncIterator[runs_pb2.LogChunk]:
        who = principal()
        asked = logs.LogRange(
            after=(request.after_attempt, request.after_seq),
            before=(request.before_attempt, request.before_seq),
            tail_bytes=request.tail_bytes,
            follow=request.follow,
        ).check()
        run_id, after = await self.workers.run("quick", logs.start, self.ctx, who, request.id, asked)
        while True:
            ended, chunks = await self.workers.run("quick", logs.page, self.ctx, who, run_id, after, asked)
            for c in chunks:
                yield wire.log_chunk_to_proto(c)
            if chunks:
                after = (chunks[-1].attempt, chunks[-1].seq)
                continue
            if not request.follow or ended:  # the run had ended before this read: nothing more will come
                return
            await self.link.changed(FOLLOW_POLL_S)
