"""The client's calls of tracking.proto and registry.proto: run records, metrics, search, datasets, models and
approvals, comments, lineage."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from kiln.client.base import Connection

if TYPE_CHECKING:
    from kiln.core.lineage import LineageGraph
    from kiln.core.models import (
        AliasMove,
        AliasRequest,
        Comment,
        DatasetVersion,
        MetricSeries,
        Model,
        ModelVersion,
        RunKeys,
        RunPage,
        RunRecord,
        RunValues,
    )
    from kiln.core.runs import Run
    from kiln.proto.v1 import (
        registry_pb2,
        registry_pb2_grpc,
        runs_pb2,
        tracking_pb2,
        tracking_pb2_grpc,
    )
    from kiln.serde import registry as registry_wire
    from kiln.serde import runs as runs_wire
    from kiln.serde import tracking as tracking_wire
else:
    from kiln.client.base import (
        registry_pb2,
        registry_pb2_grpc,
        registry_wire,
        runs_pb2,
        runs_wire,
        tracking_pb2,
        tracking_pb2_grpc,
        tracking_wire,
    )


class RecordCalls(Connection):
    # -- tracking ---------------------------------------------------------------------------------------

    def run_record(self, run_id: str) -> RunRecord:
        reply = self._call(self._stub(tracking_pb2_grpc.TrackingStub).GetRunRecord, runs_pb2.RunRef(id=run_id))
        return tracking_wire.run_record_from_proto(reply)

    def metrics(
        self,
        run_id: str,
        keys: list[str] | None = None,
        max_points: int = 1000,
        after_step: Mapping[str, int] | None = None,
    ) -> list[MetricSeries]:
        """Each metric (or those named) with at most `max_points` points, downsampled by the coordinator;
        for a key in `after_step`, only its points after that step (what a live chart has not shown yet)."""
        after = dict(after_step or {})
        req = tracking_pb2.GetMetricsRequest(run_id=run_id, keys=keys or [], max_points=max_points, after_step=after)
        return self._listing(
            self._stub(tracking_pb2_grpc.TrackingStub).GetMetrics,
            req,
            "series",
            lambda m: tracking_wire.metric_series_from_proto(m, after.get(m.key)),
        )

    def search_runs(self, project: str = "", filter: str = "", sort: str = "", limit: int = 100) -> list[Run]:
        return [run for run, _ in self.search_table(project, filter, sort, limit)]

    def search_table(
        self, project: str = "", filter: str = "", sort: str = "", limit: int = 100, columns: Iterable[str] = ()
    ) -> list[tuple[Run, RunValues]]:
        """Runs as `search_runs` finds them (newest first when neither filter nor sort is given), each with
        the values of `columns` (params.NAME, metrics.NAME, tags.NAME) it has: `limit` of them (0: all)."""
        return [row for page in self.search_pages(project, filter, sort, limit, columns) for row in page]

    def search_pages(
        self, project: str = "", filter: str = "", sort: str = "", limit: int = 100, columns: Iterable[str] = ()
    ) -> Iterator[list[tuple[Run, RunValues]]]:
        """The pages of a search. They are cut by position in the sorted result, so a run that a newer one
        pushes into the next page would come twice: it is given once."""
        from kiln.core.models import RunValues

        seen: set[str] = set()

        def rows(reply: Any) -> list[tuple[Run, RunValues]]:
            values = dict(tracking_wire.run_values_from_proto(v) for v in reply.values)
            found = [run for run in map(runs_wire.run_from_proto, reply.runs) if run.id not in seen]
            seen.update(run.id for run in found)
            return [(run, values.get(run.id, RunValues())) for run in found]

        req = tracking_pb2.SearchRunsRequest(project=project, filter=filter, sort=sort, limit=limit, columns=columns)
        return self._pages(self._stub(tracking_pb2_grpc.TrackingStub).SearchRuns, req, rows, limit)

    def search_page(
        self,
        project: str,
        filter: str = "",
        sort: str = "",
        columns: Iterable[str] = (),
        size: int = 0,
        token: str = "",
        count: bool = False,
    ) -> RunPage:
        """One page of a search, for a caller that shows pages as someone asks for them (a table's
        "Load more"): `size` runs at most (0: the coordinator's cap), from where `token` (a page's
        `next_token`) says; `count` also counts every matching run. Pages are cut by position, so a run
        pushed into the next one by newer runs comes again: the caller keeps one of each."""
        from kiln.core.models import RunPage, RunValues

        req = tracking_pb2.SearchRunsRequest(
            project=project, filter=filter, sort=sort, columns=columns, page_size=size, page_token=token, count=count
        )
        reply = self._call(self._stub(tracking_pb2_grpc.TrackingStub).SearchRuns, req)
        values = dict(tracking_wire.run_values_from_proto(v) for v in reply.values)
        rows = [(run, values.get(run.id, RunValues())) for run in map(runs_wire.run_from_proto, reply.runs)]
        more = reply.next_page_token if reply.next_page_token != token else ""
        return RunPage(rows, more, reply.total if reply.HasField("total") else None)

    def run_keys(self, project: str) -> RunKeys:
        """The params, metrics and tags keys `project`'s runs logged (what a table may show as columns)."""
        req = tracking_pb2.RunKeysRequest(project=project)
        return tracking_wire.run_keys_from_proto(
            self._call(self._stub(tracking_pb2_grpc.TrackingStub).ListRunKeys, req)
        )

    # -- datasets, models, comments, lineage ------------------------------------------------------------

    def add_dataset_version(self, project: str, name: str, snapshot: str, description: str = "") -> DatasetVersion:
        req = registry_pb2.AddDatasetVersionRequest(
            project=project, name=name, snapshot=snapshot, description=description
        )
        return registry_wire.dataset_version_from_proto(
            self._call(self._stub(registry_pb2_grpc.DatasetsStub).AddDatasetVersion, req)
        )

    def list_datasets(self, project: str) -> list[DatasetVersion]:
        stub = self._stub(registry_pb2_grpc.DatasetsStub)
        return self._listing(
            stub.ListDatasets,
            registry_pb2.ListDatasetsRequest(project=project),
            "versions",
            registry_wire.dataset_version_from_proto,
        )

    def register_model(self, run_id: str, path: str, name: str, tags: dict[str, str] | None = None) -> ModelVersion:
        req = registry_pb2.RegisterModelRequest(run_id=run_id, path=path, name=name, tags=tags or {})
        return registry_wire.model_version_from_proto(
            self._call(self._stub(registry_pb2_grpc.ModelsStub).RegisterModel, req)
        )

    def list_models(self, project: str) -> list[Model]:
        """Every model of the project with all its versions (pages are cut between versions: a model that
        goes on in the next page is joined up here)."""
        stub = self._stub(registry_pb2_grpc.ModelsStub)
        pages = self._pages(
            stub.ListModels,
            registry_pb2.ListModelsRequest(project=project),
            lambda r: [registry_wire.model_from_proto(m) for m in r.models],
        )
        return _joined(m for page in pages for m in page)

    def get_model(self, project: str, name: str) -> Model:
        """The model's versions (read in pages), where its aliases point, and the approvals production needs."""
        pages = self._pages(
            self._stub(registry_pb2_grpc.ModelsStub).GetModel,
            registry_pb2.ModelRef(project=project, name=name),
            lambda r: [registry_wire.model_from_proto(r)],
        )
        return _joined(m for page in pages for m in page)[0]

    def request_alias(self, project: str, name: str, version: int, alias: str, message: str = "") -> AliasRequest:
        req = registry_pb2.RequestAliasRequest(
            project=project, name=name, version=version, alias=alias, message=message
        )
        return registry_wire.alias_request_from_proto(
            self._call(self._stub(registry_pb2_grpc.ModelsStub).RequestAlias, req)
        )

    def review(self, project: str, name: str, version: int, approve: bool, message: str = "") -> AliasRequest:
        req = registry_pb2.ReviewRequest(project=project, name=name, version=version, approve=approve, message=message)
        return registry_wire.alias_request_from_proto(self._call(self._stub(registry_pb2_grpc.ModelsStub).Review, req))

    def alias_requests(self, project: str, name: str) -> list[AliasRequest]:
        stub = self._stub(registry_pb2_grpc.ModelsStub)
        return self._listing(
            stub.ListRequests,
            registry_pb2.ListRequestsRequest(project=project, name=name),
            "requests",
            registry_wire.alias_request_from_proto,
        )

    def alias_history(self, project: str, name: str, at: float = 0) -> list[AliasMove]:
        req = registry_pb2.HistoryRequest(project=project, name=name, at=at)
        return self._listing(
            self._stub(registry_pb2_grpc.ModelsStub).History, req, "moves", registry_wire.alias_move_from_proto
        )

    def set_policy(self, project: str, required_approvals: int) -> int:
        req = registry_pb2.SetPolicyRequest(project=project, required_approvals=required_approvals)
        return self._call(self._stub(registry_pb2_grpc.ModelsStub).SetPolicy, req).required_approvals

    def add_comment(self, entity: str, text: str, project: str = "") -> Comment:
        """Comments on `entity` in `project`'s thread (needed only for content several of the caller's
        projects hold: a snapshot, an environment)."""
        req = registry_pb2.AddCommentRequest(entity=entity, text=text, project=project)
        return registry_wire.comment_from_proto(self._call(self._stub(registry_pb2_grpc.CommentsStub).AddComment, req))

    def list_comments(self, entity: str, project: str = "") -> list[Comment]:
        """The thread on `entity` in `project` (as for `add_comment`), oldest first."""
        stub = self._stub(registry_pb2_grpc.CommentsStub)
        return self._listing(
            stub.ListComments,
            registry_pb2.ListCommentsRequest(id=entity, project=project),
            "comments",
            registry_wire.comment_from_proto,
        )

    def lineage(self, entity: str, direction: str = "", depth: int = 5) -> LineageGraph:
        req = registry_pb2.LineageRequest(id=entity, direction=direction, depth=depth)
        return registry_wire.lineage_graph_from_proto(
            self._call(self._stub(registry_pb2_grpc.LineageStub).GetLineage, req)
        )

    def export_openlineage(self, project: str = "") -> Iterator[str]:
        for event in self._stream(
            self._stub(registry_pb2_grpc.LineageStub).ExportOpenLineage, registry_pb2.ExportRequest(project=project)
        ):
            yield event.json


def _joined(models: Iterable[Model]) -> list[Model]:
    """Models as pages of versions gave them, each model's parts (in a row) made one."""
    found: list[Model] = []
    for m in models:
        if found and found[-1].name == m.name:
            m = dataclasses.replace(m, versions=found.pop().versions + m.versions)
        found.append(m)
    return found
