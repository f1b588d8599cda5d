"""`kiln schedule create/list/show/pause/resume/delete`: runs fired on a timetable."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from kiln.cli.common import add_json, add_project, command, group, project_of
from kiln.cli.output import emit_json, info, table, when
from kiln.cli.runs import add_run_options, spec_from_args
from kiln.cli.session import connect
from kiln.core.errors import InvalidArgument
from kiln.core.schedules import overlap_text

CREATE_HELP = """\
examples:
  kiln schedule create nightly -p demo --cron "0 6 * * 1-5" --tz Europe/Berlin -- python train.py
  kiln schedule create refresh -p demo --every 30m --dataset events -- python refresh.py
  kiln schedule create again -p demo --every 1h --rerun r-1a2b3c4d5e6f --overlap allow:2
  kiln schedule create retrain -p demo --on alert:churn-watch --dataset customers -- python train.py
  kiln schedule create fresh -p demo --on dataset:events --dry-run -- python refresh.py

The command is pushed once, now (like kiln run); a --dataset NAME without a version is the latest version
at each fire. Each fire is a normal run tagged kiln.schedule (the schedule's id) and kiln.schedule.nominal
(its nominal time), with $KILN_SCHEDULE and $KILN_SCHEDULE_TIME set.
overlap (a fire while earlier runs are active): skip (default), queue (wait for them; one waits at most),
allow:N (up to N at once). catch-up (fires missed while the coordinator was down): none (default), latest.
"""


def register(sub: Any) -> None:
    g = group(sub, "schedule", "runs fired on a timetable: cron in a time zone, or every interval")
    p = command(
        g,
        "create",
        "a schedule firing a command (or a rerun) by cron or interval",
        create,
        epilog=CREATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name")
    _create_options(p)
    # everything after NAME, options included (argparse would give a command after an option to NAME's
    # neighbour otherwise); create() parses the options and takes the command after --
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="[OPTIONS] -- CMD…", help="the command each fire runs")
    p = command(g, "list", "a project's schedules, their state and next fire time", schedule_list)
    add_project(p)
    add_json(p)
    p = command(g, "show", "a schedule: its timing, the next five fire times, its recent fires", show)
    p.add_argument("name")
    add_project(p)
    add_json(p)
    for name, func, text in (
        ("pause", pause, "stop firing until resumed"),
        ("resume", resume, "fire again from now (times passed while paused do not fire)"),
        ("delete", delete, "remove a schedule and its fire history (the runs it fired stay)"),
    ):
        p = command(g, name, text, func)
        p.add_argument("name")
        add_project(p)
        add_json(p)


def _create_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cron", default=None, help='five fields, e.g. "0 6 * * 1-5" (needs --tz)')
    p.add_argument("--tz", default=None, help="IANA time zone the cron times are read in, e.g. Europe/Berlin")
    p.add_argument("--every", default=None, help="an interval instead of cron: 30s, 30m, 1h30m, 2d")
    p.add_argument(
        "--on",
        default=None,
        metavar="EVENT",
        help="an event instead of a time: dataset:NAME, model-approved:MODEL, alert:MONITOR, metric:KEY<OP>VALUE",
    )
    p.add_argument("--dry-run", action="store_true", help="check it and show what would fire; store nothing")
    p.add_argument("--overlap", default="skip", help="skip (default), queue or allow:N")
    p.add_argument("--catch-up", default="none", choices=["none", "latest"], help="after downtime (default none)")
    p.add_argument("--rerun", default="", metavar="RUN", help="fire reruns of this run instead of a command")
    add_project(p)
    add_run_options(p)
    add_json(p)


def create(args: argparse.Namespace) -> int:
    rest = list(args.rest)
    cut = rest.index("--") if "--" in rest else len(rest)
    options = argparse.ArgumentParser(prog="kiln schedule create NAME", add_help=False)
    _create_options(options)
    options.parse_args(rest[:cut], namespace=args)
    words = rest[cut + 1 :]
    if bool(words) == bool(args.rerun):
        raise InvalidArgument("give what each fire runs: -- CMD… or --rerun RUN (one of them)")
    project = project_of(args)
    with connect() as client:
        spec = spec_from_args(client, args, project, words) if words else None
        s = client.create_schedule(
            project,
            args.name,
            spec,
            cron=args.cron or "",
            tz=args.tz or "",
            every=args.every or "",
            overlap=args.overlap,
            catch_up=args.catch_up,
            rerun_of=args.rerun,
            on=args.on or "",
            dry_run=args.dry_run,
        )
    if args.json:
        emit_json({**schedule_dict(s), "dry_run": args.dry_run, "would_fire": list(s.would_fire)})
        return 0
    if args.dry_run:
        print(f"dry run: schedule {s.name} in {s.project} ({s.description}) would fire:")
        for line in s.would_fire:
            print(f"  {line}")
        print("nothing was stored; run it again without --dry-run to make it")
        return 0
    print(f"schedule {s.name} ({s.id}) in {s.project}: {s.description}")
    _print_next(s)
    info(f"see it: kiln schedule show {s.name} -p {s.project}")
    return 0


def schedule_list(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_schedules(project_of(args))
    if args.json:
        emit_json([schedule_dict(s) for s in found])
        return 0
    table(
        ["NAME", "STATE", "TIMING", "NEXT FIRE (UTC)", "OVERLAP", "CATCH-UP", "RUNS"],
        [
            (
                s.name,
                s.state,
                s.description,
                when(s.next_fires[0]) if s.next_fires else "-",
                overlap_text(s.overlap, s.overlap_max),
                s.catch_up,
                s.rerun_of and f"rerun {s.rerun_of}" or " ".join(s.spec.command),
            )
            for s in found
        ],
        empty="no schedules (kiln schedule create NAME --every 1h -- python job.py)",
    )
    return 0


def show(args: argparse.Namespace) -> int:
    with connect() as client:
        s = client.get_schedule(project_of(args), args.name)
    if args.json:
        emit_json(schedule_dict(s))
        return 0
    print(f"schedule {s.name} ({s.id}) in {s.project}, {s.state}, made by {s.created_by} at {when(s.created_at)}")
    print(f"  timing:   {s.description}")
    print(f"  runs:     {'a rerun of ' + s.rerun_of if s.rerun_of else ' '.join(s.spec.command)}")
    print(f"  overlap:  {overlap_text(s.overlap, s.overlap_max)}; catch-up: {s.catch_up}")
    _print_next(s)
    print()
    table(
        ["NOMINAL (UTC)", "FIRED AT", "OUTCOME", "RUN", "RUN STATE", "REASON"],
        [(when(f.nominal), when(f.fired_at), f.outcome, f.run_id, f.run_state, f.reason) for f in s.fires],
        empty="no fires yet",
    )
    if s.fire_count > len(s.fires):
        print(f"({s.fire_count} fires in all; the most recent {len(s.fires)} shown)")
    return 0


def pause(args: argparse.Namespace) -> int:
    return _changed(args, "pause_schedule", "paused")


def resume(args: argparse.Namespace) -> int:
    return _changed(args, "resume_schedule", "active again")


def delete(args: argparse.Namespace) -> int:
    project = project_of(args)
    with connect() as client:
        client.delete_schedule(project, args.name)
    if args.json:
        emit_json({"project": project, "name": args.name, "deleted": True})
    else:
        print(f"schedule {args.name} deleted; the runs it fired stay (tagged kiln.schedule)")
    return 0


def _changed(args: argparse.Namespace, call: str, said: str) -> int:
    with connect() as client:
        s = getattr(client, call)(project_of(args), args.name)
    if args.json:
        emit_json(schedule_dict(s))
    else:
        print(f"schedule {s.name} {said}")
        _print_next(s)
    return 0


def _print_next(s: Any) -> None:
    if not s.next_fires:
        print("  next fires: none" + (" (paused)" if s.state == "paused" else ""))
        return
    zone = _zone(s.tz)
    print(f"  next fires ({s.tz or 'UTC'}  |  this machine's time):")
    for t in s.next_fires:
        there = datetime.fromtimestamp(t, zone).isoformat(timespec="seconds")
        here = datetime.fromtimestamp(t, UTC).astimezone().isoformat(timespec="seconds")
        print(f"    {there}  |  {here}")


def _zone(name: str) -> Any:
    if not name:
        return UTC
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # a zone this machine's database lacks: show UTC rather than fail
        return UTC


def schedule_dict(s: Any) -> dict[str, object]:
    zone = _zone(s.tz)
    return {
        "id": s.id,
        "project": s.project,
        "name": s.name,
        "state": s.state,
        "cron": s.cron,
        "tz": s.tz,
        "every_s": s.every_s,
        "trigger": s.trigger,
        "description": s.description,
        "overlap": overlap_text(s.overlap, s.overlap_max),
        "catch_up": s.catch_up,
        "rerun_of": s.rerun_of,
        "command": list(s.spec.command),
        "snapshot": s.spec.snapshot,
        "datasets": list(s.spec.datasets),
        "created_by": s.created_by,
        "created_at": when(s.created_at),
        "next_fires": [
            {"utc": when(t), "zone": datetime.fromtimestamp(t, zone).isoformat(timespec="seconds"), "epoch": t}
            for t in s.next_fires
        ],
        "fires": [
            {
                "nominal": when(f.nominal),
                "fired_at": when(f.fired_at),
                "outcome": f.outcome,
                "run": f.run_id,
                "run_state": f.run_state,
                "reason": f.reason,
            }
            for f in s.fires
        ],  # fmt: skip
        "fire_count": s.fire_count,
    }
