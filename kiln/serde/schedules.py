"""schedules.proto: schedules and their fires."""

from __future__ import annotations

from kiln.core.schedules import Schedule, ScheduleFire
from kiln.proto.v1 import schedules_pb2
from kiln.serde.runs import run_spec_from_proto, run_spec_to_proto


def fire_to_proto(f: ScheduleFire) -> schedules_pb2.ScheduleFire:
    return schedules_pb2.ScheduleFire(
        nominal=f.nominal, fired_at=f.fired_at, outcome=f.outcome, run_id=f.run_id, reason=f.reason,
        run_state=f.run_state,
    )  # fmt: skip


def fire_from_proto(m: schedules_pb2.ScheduleFire) -> ScheduleFire:
    return ScheduleFire(m.nominal, m.fired_at, m.outcome, m.run_id, m.reason, m.run_state)


def schedule_to_proto(s: Schedule) -> schedules_pb2.Schedule:
    return schedules_pb2.Schedule(
        id=s.id,
        project=s.project,
        name=s.name,
        spec=run_spec_to_proto(s.spec),
        cron=s.cron,
        tz=s.tz,
        every_s=s.every_s,
        anchor=s.anchor,
        overlap=s.overlap,
        overlap_max=s.overlap_max,
        catch_up=s.catch_up,
        rerun_of=s.rerun_of,
        state=s.state,
        created_by=s.created_by,
        created_at=s.created_at,
        last_nominal=s.last_nominal,
        description=s.description,
        next_fires=list(s.next_fires),
        fires=[fire_to_proto(f) for f in s.fires],
        fire_count=s.fire_count,
        trigger=s.trigger,
        would_fire=list(s.would_fire),
    )


def schedule_from_proto(m: schedules_pb2.Schedule) -> Schedule:
    return Schedule(
        id=m.id,
        project=m.project,
        name=m.name,
        spec=run_spec_from_proto(m.spec),
        cron=m.cron,
        tz=m.tz,
        every_s=m.every_s,
        anchor=m.anchor,
        overlap=m.overlap,
        overlap_max=m.overlap_max,
        catch_up=m.catch_up,
        rerun_of=m.rerun_of,
        state=m.state,
        created_by=m.created_by,
        created_at=m.created_at,
        last_nominal=m.last_nominal,
        description=m.description,
        next_fires=tuple(m.next_fires),
        fires=tuple(fire_from_proto(f) for f in m.fires),
        fire_count=m.fire_count,
        trigger=m.trigger,
        would_fire=tuple(m.would_fire),
    )
