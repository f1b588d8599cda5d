"""Nodes, join tokens, runs with their state history, and run logs."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kiln.coordinator.store.base import Database
from kiln.coordinator.store.logfiles import LogFiles, LogKey, check_cap
from kiln.core import defaults
from kiln.core.link import Quarantined
from kiln.core.models import GpuInfo, Inventory, Node
from kiln.core.runs import ACTIVE, LogChunk, Priority, Resources, Run, RunEvent, RunSpec, RunState

RUN_FIELDS = {
    "state",
    "node",
    "runtime",
    "attempt",
    "gpu_uuids",
    "exit_code",
    "reason",
    "started_at",
    "finished_at",
    "output_snapshot",
    "cancel_requested",
    "retries_left",
    "log_dropped_bytes",
    "log_cap_bytes",
}


class ComputeTables(Database):
    # The node list is read on every submission and scheduling pass; it changes rarely (enrolment,
    # reconnection, drain, removal), so it is cached and the cache dropped on those changes.
    _nodes_cache: list[Node] | None = None

    # -- nodes ------------------------------------------------------------------------------------------

    def add_node(self, name: str, fingerprint: str, labels: dict[str, str], at: float) -> None:
        self._exec(
            "INSERT INTO nodes (name, cert_fingerprint, labels_json, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET cert_fingerprint = excluded.cert_fingerprint, "
            "labels_json = excluded.labels_json, removed_at = 0, drained = 0",
            [name, fingerprint, json.dumps(labels), at],
        )
        self._nodes_changed()

    def node_fingerprint(self, name: str) -> str | None:
        """The certificate fingerprint a node enrolled with; None if unknown or removed."""
        row = self._one("SELECT cert_fingerprint FROM nodes WHERE name = ? AND removed_at = 0", [name])
        return row["cert_fingerprint"] if row else None

    def node_exists(self, name: str) -> bool:
        return self._one("SELECT 1 AS x FROM nodes WHERE name = ? AND removed_at = 0", [name]) is not None

    def nodes(self) -> list[Node]:
        cached = self._nodes_cache
        if cached is None:
            cached = [_node(r) for r in self._rows("SELECT * FROM nodes WHERE removed_at = 0 ORDER BY name")]
            self._nodes_cache = cached
        return cached

    def _nodes_changed(self) -> None:
        self._nodes_cache = None

    def node(self, name: str) -> Node | None:
        row = self._one("SELECT * FROM nodes WHERE name = ? AND removed_at = 0", [name])
        return _node(row) if row else None

    def update_node(self, name: str, at: float, **fields: Any) -> None:
        """Records what a node said about itself (labels, runtimes, inventory, version) and when."""
        sets: list[str] = ["last_seen = ?"]
        params: list[Any] = [at]
        for key in ("labels", "runtimes", "inventory"):
            if key in fields:
                sets.append(f"{key}_json = ?")
                value = fields[key]
                params.append(json.dumps(dataclasses.asdict(value) if key == "inventory" else value))
        if "version" in fields:
            sets.append("version = ?")
            params.append(fields["version"])
        self._exec(f"UPDATE nodes SET {', '.join(sets)} WHERE name = ?", [*params, name])
        if fields.keys() & {"labels", "runtimes", "version"}:  # a (re)connection: capacity may have changed
            self._nodes_changed()

    def set_node_drained(self, name: str, drained: bool) -> None:
        self._exec("UPDATE nodes SET drained = ? WHERE name = ?", [int(drained), name])
        self._nodes_changed()

    def remove_node(self, name: str, at: float) -> None:
        self._exec("UPDATE nodes SET removed_at = ? WHERE name = ?", [at, name])
        self._nodes_changed()

    def reset_node(self, name: str) -> None:
        """Revokes the node's certificate (no certificate matches an empty fingerprint); the record stays,
        and the name may be enrolled again."""
        self._exec("UPDATE nodes SET cert_fingerprint = '' WHERE name = ?", [name])
        self._nodes_changed()

    def add_duplicate(self, name: str, at: float, address: str) -> None:
        """Counts a connection refused because the node's identity was already connected."""
        self._exec(
            "UPDATE nodes SET duplicates = duplicates + 1, duplicate_at = ?, duplicate_from = ? WHERE name = ?",
            [at, address, name],
        )
        self._nodes_changed()

    # -- quarantined agent messages ---------------------------------------------------------------------

    def quarantine(self, q: Quarantined) -> None:
        self._exec(
            "INSERT INTO quarantine (node, seq, kind, message, error, failures, time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [q.node, q.seq, q.kind, q.message, q.error, q.failures, q.time],
        )

    def quarantined(self, node: str = "", limit: int = 1000) -> list[Quarantined]:
        """The messages set aside from `node` (every node when ""), oldest first."""
        return [q for _, q in self.quarantined_after(node, 0, limit)]

    def quarantined_after(self, node: str, after: int, limit: int) -> list[tuple[int, Quarantined]]:
        """(place in the order they were set aside, message) for those after place `after`."""
        sql = "SELECT id, node, seq, kind, message, error, failures, time FROM quarantine WHERE id > ?"
        params: list[Any] = [after]
        if node:
            sql += " AND node = ?"
            params.append(node)
        rows = self._rows(sql + " ORDER BY id LIMIT ?", [*params, limit])
        return [(r.pop("id"), Quarantined(**r)) for r in rows]

    def quarantine_counts(self) -> dict[str, int]:
        return {r["node"]: r["n"] for r in self._rows("SELECT node, count(*) AS n FROM quarantine GROUP BY node")}

    # -- join tokens ------------------------------------------------------------------------------------

    def add_join_token(self, token_id: str, secret_hash: str, uses: int, expires_at: float, by: str, at: float) -> None:
        self._exec(
            "INSERT INTO join_tokens (id, secret_hash, uses_left, expires_at, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [token_id, secret_hash, uses, expires_at, by, at],
        )

    def join_token(self, secret_hash: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM join_tokens WHERE secret_hash = ?", [secret_hash])

    def use_join_token(self, token_id: str) -> None:
        self._exec("UPDATE join_tokens SET uses_left = uses_left - 1 WHERE id = ?", [token_id])

    # -- runs -------------------------------------------------------------------------------------------

    def add_run(self, run: Run) -> None:
        self._exec(
            "INSERT INTO runs (id, project, user, spec_json, state, priority, created_at, retries_left) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run.id,
                run.spec.project,
                run.user,
                json.dumps(spec_to_dict(run.spec)),
                str(run.state),
                int(run.spec.priority),
                run.created_at,
                run.spec.retries,
            ],
        )

    def run(self, run_id: str, with_events: bool = True) -> Run | None:
        row = self._one("SELECT * FROM runs WHERE id = ?", [run_id])
        if row is None:
            return None
        return _run(row, self.run_events(run_id) if with_events else ())

    def retries_left(self, run_id: str) -> int:
        row = self._one("SELECT retries_left FROM runs WHERE id = ?", [run_id])
        return int(row["retries_left"]) if row else 0

    def runs(
        self,
        projects: Iterable[str] | None = None,
        states: Iterable[str] = (),
        node: str = "",
        limit: int = 0,
        before: tuple[float, str] | None = None,
    ) -> list[Run]:
        """Runs newest first, filtered by project set (None: all), states and node; with `before`
        (created_at, id), only those older than that run (the next page)."""
        sql, params = "SELECT * FROM runs WHERE 1", list[Any]()
        if before is not None:
            sql += " AND (created_at, id) < (?, ?)"
            params += before
        if projects is not None:
            names = list(projects)
            sql += f" AND project IN ({','.join('?' * len(names)) or 'NULL'})"
            params += names
        wanted = [str(s) for s in states]
        if wanted:
            sql += f" AND state IN ({','.join('?' * len(wanted))})"
            params += wanted
        if node:
            sql += " AND node = ?"
            params.append(node)
        sql += " ORDER BY created_at DESC, id DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return [_run(r, ()) for r in self._rows(sql, params)]

    def runs_matching(self, prefix: str, projects: Iterable[str] | None = None, limit: int = 20) -> list[Run]:
        """Runs of `projects` (None: all) whose id starts with `prefix` (ids are r- and hex digits, so the
        range ends before "g"), without their events; at most `limit`, enough to say a prefix is ambiguous."""
        sql, params = "SELECT * FROM runs WHERE id >= ? AND id < ?", [prefix, prefix + "g"]
        if projects is not None:
            names = list(projects)
            sql += f" AND project IN ({','.join('?' * len(names)) or 'NULL'})"
            params += names
        rows = self._rows(sql + " ORDER BY id LIMIT ?", [*params, limit])
        return [_run(r, ()) for r in rows]

    def runs_by_id(self, ids: list[str]) -> list[Run]:
        found: list[Run] = []
        for i in range(0, len(ids), 500):
            batch = ids[i : i + 500]
            found += [
                _run(r, ()) for r in self._rows(f"SELECT * FROM runs WHERE id IN ({','.join('?' * len(batch))})", batch)
            ]
        return found

    def active_runs(self, node: str = "") -> list[Run]:
        return self.runs(states=ACTIVE, node=node)

    def update_run(self, run_id: str, **fields: Any) -> None:
        unknown = set(fields) - RUN_FIELDS
        assert not unknown, f"not run fields: {unknown}"
        if "gpu_uuids" in fields:
            fields["gpu_uuids_json"] = json.dumps(list(fields.pop("gpu_uuids")))
        if "state" in fields:
            fields["state"] = str(fields["state"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._exec(f"UPDATE runs SET {sets} WHERE id = ?", [*fields.values(), run_id])

    def add_run_event(self, run_id: str, event: RunEvent) -> None:
        with self.transaction():
            row = self._one("SELECT coalesce(max(seq), 0) AS n FROM run_events WHERE run_id = ?", [run_id])
            self.db.execute(
                "INSERT INTO run_events (run_id, seq, time, state, cause, node, attempt) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    (row["n"] if row else 0) + 1,
                    event.time,
                    str(event.state),
                    event.cause,
                    event.node,
                    event.attempt,
                ],
            )

    def run_events(self, run_id: str) -> tuple[RunEvent, ...]:
        rows = self._rows("SELECT * FROM run_events WHERE run_id = ? ORDER BY seq", [run_id])
        return tuple(RunEvent(r["time"], RunState(r["state"]), r["cause"], r["node"], r["attempt"]) for r in rows)

    # -- logs: the chunks live in files beside the database (store/logfiles.py); a run's record says how
    #    much of its output was dropped under the cap ------------------------------------------------------

    _log_files: LogFiles | None = None
    _log_tmp: str = ""  # the folder of an in-memory database's logs, removed on close

    @property
    def log_files(self) -> LogFiles:
        if self._log_files is None:
            if self.path == ":memory:":
                self._log_tmp = tempfile.mkdtemp(prefix="kiln-logs-")
                folder = Path(self._log_tmp)
            else:
                folder = Path(self.path).parent / "logs"
            self._log_files = LogFiles(folder, defaults.LOG_CAP_BYTES)
        return self._log_files

    def set_log_cap(self, cap_bytes: int) -> None:
        """The most of a run's output kept (kiln coordinator --log-cap-bytes): beyond it the middle goes."""
        self.log_files.cap_bytes = check_cap(cap_bytes)

    def migrate(self) -> None:
        super().migrate()
        self._move_old_logs()

    def _move_old_logs(self) -> None:
        """Migration 9 renamed the old `logs` table (chunks as rows) to logs_to_move: its rows go to the
        files, run by run in order, then the table is dropped and the space given back (VACUUM). A crash
        part way leaves the table: the next start moves on from where the files end (re-adding is a no-op)."""
        if not self.db["logs_to_move"].exists():
            return
        moved = 0
        for (run_id,) in self.db.conn.execute("SELECT DISTINCT run_id FROM logs_to_move").fetchall():
            after: LogKey = (0, 0)
            while rows := self.db.conn.execute(
                "SELECT attempt, seq, stream, data, time FROM logs_to_move "
                "WHERE run_id = ? AND (attempt, seq) > (?, ?) ORDER BY attempt, seq LIMIT 1000",
                [run_id, after[0], after[1]],
            ).fetchall():
                self.add_logs(run_id, [LogChunk(*r) for r in rows])
                after, moved = (rows[-1][0], rows[-1][1]), moved + len(rows)
        self.log_files.close()  # synced
        self.db.execute("DROP TABLE logs_to_move")
        if moved:
            self.db.execute("VACUUM")

    def add_logs(self, run_id: str, chunks: Iterable[LogChunk]) -> None:
        """Stores log chunks; a chunk already stored (same attempt and seq, or any before the last one
        stored: chunks come in order) is ignored."""
        log = self.log_files.add(run_id, chunks)
        dropped = log.dropped
        if dropped != log.recorded_dropped:
            with self.transaction():
                self.db.execute(
                    "UPDATE runs SET log_dropped_bytes = ?, log_cap_bytes = ? WHERE id = ?",
                    [dropped, self.log_files.cap_bytes if dropped else 0, run_id],
                )
                self.after_commit(lambda: setattr(log, "recorded_dropped", dropped))

    def logs(
        self,
        run_id: str,
        after: LogKey = (0, 0),
        limit: int = 1000,
        before: LogKey | None = None,
        max_bytes: int = 16 * 1024 * 1024,
    ) -> list[LogChunk]:
        """Chunks after (attempt, seq), and before `before` when given, in order, each with its offset
        (logfiles.py: its place in all the run printed, dropped output included); at most `limit`, and
        none past the first beyond `max_bytes`."""
        return self.log_files.chunks(run_id, after, before, limit, max_bytes)

    def log_tail_start(self, run_id: str, tail_bytes: int, before: LogKey | None = None) -> LogKey:
        """The chunk after which the last `tail_bytes` of the output before `before` begin, in whole chunks
        (the fewest last ones holding at least that much); (0, 0) when that is all of it. Found by binary
        search on the index, without reading the output."""
        return self.log_files.tail_start(run_id, tail_bytes, before)

    def close(self) -> None:
        if self._log_files is not None:
            self._log_files.close()
        if self._log_tmp:
            shutil.rmtree(self._log_tmp, ignore_errors=True)
        super().close()


def spec_to_dict(spec: RunSpec) -> dict[str, Any]:
    data = dataclasses.asdict(spec)
    data["priority"] = str(spec.priority)
    data["command"] = list(spec.command)
    return data


def spec_from_dict(data: dict[str, Any]) -> RunSpec:
    return RunSpec(
        **{
            **data,
            "command": tuple(data["command"]),
            "datasets": tuple(data.get("datasets", ())),
            "priority": Priority.parse(data["priority"]),
            "resources": Resources(**data["resources"]),
        }
    )


# A run's spec never changes once stored, and every listing, tick and report reads it again: parsed ones
# are kept, by run, with the text they were parsed from (so a changed text is never answered from here).
_SPECS: dict[str, tuple[str, RunSpec]] = {}
SPECS_KEPT = 50_000


def _spec(run_id: str, text: str) -> RunSpec:
    found = _SPECS.get(run_id)
    if found is not None and found[0] == text:
        return found[1]
    if len(_SPECS) >= SPECS_KEPT:
        _SPECS.clear()
    spec = spec_from_dict(json.loads(text))
    _SPECS[run_id] = (text, spec)
    return spec


def _run(row: dict[str, Any], events: tuple[RunEvent, ...]) -> Run:
    return Run(
        id=row["id"],
        spec=_spec(row["id"], row["spec_json"]),
        user=row["user"],
        state=RunState(row["state"]),
        created_at=row["created_at"],
        node=row["node"],
        attempt=row["attempt"],
        gpu_uuids=tuple(json.loads(row["gpu_uuids_json"])),
        exit_code=row["exit_code"],
        reason=row["reason"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        output_snapshot=row["output_snapshot"],
        cancel_requested=bool(row["cancel_requested"]),
        events=events,
        runtime=row["runtime"],
        log_dropped_bytes=row["log_dropped_bytes"],
        log_cap_bytes=row["log_cap_bytes"],
    )


def _node(row: dict[str, Any]) -> Node:
    inv = json.loads(row["inventory_json"]) or {}
    held = tuple(inv.get("environments", ()))
    gpus = tuple(GpuInfo(**g) for g in inv.get("gpus", ()))
    inventory = Inventory(**{**inv, "gpus": gpus, "environments": held}) if inv else Inventory()
    return Node(
        name=row["name"],
        state="draining" if row["drained"] else "ready",
        labels=json.loads(row["labels_json"]),
        runtimes=json.loads(row["runtimes_json"]),
        inventory=inventory,
        drained=bool(row["drained"]),
        last_seen=row["last_seen"],
        created_at=row["created_at"],
        version=row["version"],
        duplicates=row["duplicates"],
        duplicate_at=row["duplicate_at"],
        duplicate_from=row["duplicate_from"],
    )
