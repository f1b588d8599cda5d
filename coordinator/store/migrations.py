"""Schema migrations, applied in order on start; the version reached is kept in `schema_version`."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: identity, projects, snapshots, audit
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users(name),
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        revoked_at REAL NOT NULL DEFAULT 0,
        last_used_at REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX tokens_user ON tokens(user);
    CREATE TABLE projects (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL,
        created_at REAL NOT NULL,
        archived_at REAL NOT NULL DEFAULT 0
    );
    CREATE TABLE members (
        project TEXT NOT NULL REFERENCES projects(name),
        user TEXT NOT NULL REFERENCES users(name),
        role TEXT NOT NULL,
        PRIMARY KEY (project, user)
    );
    CREATE INDEX members_user ON members(user);
    CREATE TABLE blobs (
        digest TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE project_blobs (
        project TEXT NOT NULL REFERENCES projects(name),
        digest TEXT NOT NULL REFERENCES blobs(digest),
        PRIMARY KEY (project, digest)
    ) WITHOUT ROWID;
    CREATE TABLE snapshots (
        project TEXT NOT NULL REFERENCES projects(name),
        id TEXT NOT NULL,
        parent TEXT NOT NULL DEFAULT '',
        message TEXT NOT NULL DEFAULT '',
        author TEXT NOT NULL,
        created_at REAL NOT NULL,
        files INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        manifest BLOB NOT NULL,
        PRIMARY KEY (project, id)
    );
    CREATE INDEX snapshots_id ON snapshots(id);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        time REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details_json TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    """,
    # 2: nodes, join tokens, runs, their events and logs
    """
    CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        cert_fingerprint TEXT NOT NULL,
        labels_json TEXT NOT NULL DEFAULT '{}',
        runtimes_json TEXT NOT NULL DEFAULT '{}',
        inventory_json TEXT NOT NULL DEFAULT '{}',
        drained INTEGER NOT NULL DEFAULT 0,
        last_seen REAL NOT NULL DEFAULT 0,
        version TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        removed_at REAL NOT NULL DEFAULT 0,
        rate_per_hour REAL NOT NULL DEFAULT 0
    );
    CREATE TABLE join_tokens (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL UNIQUE,
        uses_left INTEGER NOT NULL,
        expires_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL REFERENCES projects(name),
        user TEXT NOT NULL,
        spec_json TEXT NOT NULL,
        state TEXT NOT NULL,
        priority INTEGER NOT NULL,
        node TEXT NOT NULL DEFAULT '',
        runtime TEXT NOT NULL DEFAULT '',
        attempt INTEGER NOT NULL DEFAULT 0,
        gpu_uuids_json TEXT NOT NULL DEFAULT '[]',
        exit_code INTEGER,
        reason TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        started_at REAL NOT NULL DEFAULT 0,
        finished_at REAL NOT NULL DEFAULT 0,
        output_snapshot TEXT NOT NULL DEFAULT '',
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        retries_left INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_project ON runs(project, created_at);
    CREATE INDEX runs_state ON runs(state);
    CREATE INDEX runs_node ON runs(node, state);
    CREATE TABLE run_events (
        run_id TEXT NOT NULL REFERENCES runs(id),
        seq INTEGER NOT NULL,
        time REAL NOT NULL,
        state TEXT NOT NULL,
        cause TEXT NOT NULL,
        node TEXT NOT NULL DEFAULT '',
        attempt INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE logs (
        run_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        stream TEXT NOT NULL,
        data BLOB NOT NULL,
        time REAL NOT NULL,
        PRIMARY KEY (run_id, attempt, seq)
    ) WITHOUT ROWID;
    """,
    # 3: tracking (params, metrics, tags, artifacts, environment), datasets, models and approvals,
    #    comments, lineage
    """
    CREATE TABLE run_params (
        run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, value_num REAL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX run_params_key ON run_params(key, value_num);
    CREATE TABLE run_tags (
        run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE metrics (
        run_id TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL, value REAL, timestamp REAL NOT NULL,
        PRIMARY KEY (run_id, key, step)
    ) WITHOUT ROWID;
    CREATE TABLE metric_summary (
        run_id TEXT NOT NULL, key TEXT NOT NULL, last_step INTEGER NOT NULL, last_value REAL,
        min_value REAL, max_value REAL, points INTEGER NOT NULL, PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX metric_summary_key ON metric_summary(key, last_value);
    CREATE TABLE track_batches (
        run_id TEXT NOT NULL, attempt INTEGER NOT NULL, pid INTEGER NOT NULL, seq INTEGER NOT NULL,
        PRIMARY KEY (run_id, attempt, pid, seq)
    ) WITHOUT ROWID;
    CREATE TABLE run_outputs (
        run_id TEXT NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
        flavor TEXT NOT NULL DEFAULT '', PRIMARY KEY (run_id, kind, path)
    ) WITHOUT ROWID;
    CREATE TABLE run_environment (
        run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE datasets (
        project TEXT NOT NULL REFERENCES projects(name), name TEXT NOT NULL, version INTEGER NOT NULL,
        snapshot TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL,
        created_at REAL NOT NULL, PRIMARY KEY (project, name, version)
    );
    CREATE TABLE model_versions (
        project TEXT NOT NULL REFERENCES projects(name), name TEXT NOT NULL, version INTEGER NOT NULL,
        run_id TEXT NOT NULL, path TEXT NOT NULL, snapshot TEXT NOT NULL, created_by TEXT NOT NULL,
        created_at REAL NOT NULL, tags_json TEXT NOT NULL DEFAULT '{}', metrics_json TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (project, name, version)
    );
    CREATE TABLE alias_moves (
        project TEXT NOT NULL, name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
        time REAL NOT NULL, actor TEXT NOT NULL, request_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX alias_moves_model ON alias_moves(project, name, alias, time);
    CREATE TABLE alias_requests (
        id TEXT PRIMARY KEY, project TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
        alias TEXT NOT NULL, requester TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,
        required_approvals INTEGER NOT NULL, created_at REAL NOT NULL, decided_at REAL NOT NULL DEFAULT 0
    );
    CREATE TABLE reviews (
        request_id TEXT NOT NULL REFERENCES alias_requests(id), reviewer TEXT NOT NULL, approve INTEGER NOT NULL,
        message TEXT NOT NULL DEFAULT '', time REAL NOT NULL, PRIMARY KEY (request_id, reviewer)
    );
    CREATE TABLE policies (
        project TEXT PRIMARY KEY REFERENCES projects(name), required_approvals INTEGER NOT NULL
    );
    ALTER TABLE members ADD COLUMN validator INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE comments (
        id TEXT PRIMARY KEY, entity TEXT NOT NULL, project TEXT NOT NULL, author TEXT NOT NULL,
        text TEXT NOT NULL, time REAL NOT NULL
    );
    CREATE INDEX comments_entity ON comments(entity, time);
    CREATE TABLE lineage (
        src TEXT NOT NULL, dst TEXT NOT NULL, relation TEXT NOT NULL, time REAL NOT NULL,
        PRIMARY KEY (src, dst, relation)
    ) WITHOUT ROWID;
    CREATE INDEX lineage_dst ON lineage(dst, src);
    """,
    # 4: agent messages set aside after repeated failures to apply them (poison messages), for inspection.
    """
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
        message TEXT NOT NULL, error TEXT NOT NULL, failures INTEGER NOT NULL, time REAL NOT NULL
    );
    CREATE INDEX quarantine_node ON quarantine(node, id);
    """,
    # 5: the audit seal: each record's Ed25519 signature and the id of the key that made it (coordinator/pki.py)
    """
    ALTER TABLE audit ADD COLUMN signature TEXT NOT NULL DEFAULT '';
    ALTER TABLE audit ADD COLUMN signed_by TEXT NOT NULL DEFAULT '';
    """,
    # 6: connections refused because the node's identity was already connected (a copied identity?)
    """
    ALTER TABLE nodes ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE nodes ADD COLUMN duplicate_at REAL NOT NULL DEFAULT 0;
    ALTER TABLE nodes ADD COLUMN duplicate_from TEXT NOT NULL DEFAULT '';
    """,
    # 7: comments are read by thread, (project, entity): one snapshot id in two projects has two threads. Each
    #    comment already carries the project it was written in, which stays its thread.
    """
    DROP INDEX comments_entity;
    CREATE INDEX comments_thread ON comments(project, entity, time, id);
    """,
    # 8: environments: versions of a project's Python environments and Docker images, and its default one
    """
    CREATE TABLE environments (
        project TEXT NOT NULL REFERENCES projects(name), name TEXT NOT NULL, version INTEGER NOT NULL,
        kind TEXT NOT NULL, definition TEXT NOT NULL, python TEXT NOT NULL, context TEXT NOT NULL,
        digest TEXT NOT NULL, state TEXT NOT NULL, source TEXT NOT NULL, created_by TEXT NOT NULL,
        created_at REAL NOT NULL, build_run TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
        python_version TEXT NOT NULL DEFAULT '', packages TEXT NOT NULL DEFAULT '',
        image_id TEXT NOT NULL DEFAULT '', image_snapshot TEXT NOT NULL DEFAULT '',
        size_bytes INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project, name, version)
    );
    CREATE INDEX environments_digest ON environments(project, name, digest);
    CREATE INDEX environments_build ON environments(build_run);
    CREATE TABLE default_environments (
        project TEXT PRIMARY KEY REFERENCES projects(name), ref TEXT NOT NULL
    );
    """,
    # 9: runs' output moves out of the database into files (coordinator/store/logfiles.py). The table is
    #    renamed here; ComputeTables moves its rows into the files on start and then drops it. A run's record
    #    says how much of its output was dropped under the log cap, and the cap that applied.
    """
    ALTER TABLE logs RENAME TO logs_to_move;
    ALTER TABLE runs ADD COLUMN log_dropped_bytes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN log_cap_bytes INTEGER NOT NULL DEFAULT 0;
    """,
    # 10: deployments (model versions served behind /endpoints/NAME), their state history, their replicas
    #     (runs), endpoint-scoped tokens, the prediction ledger with its ground truth, and batch scorings.
    """
    CREATE TABLE deployments (
        name TEXT PRIMARY KEY, project TEXT NOT NULL REFERENCES projects(name), model TEXT NOT NULL,
        alias TEXT NOT NULL DEFAULT '', replicas INTEGER NOT NULL, state TEXT NOT NULL,
        traffic_json TEXT NOT NULL, serving_json TEXT NOT NULL DEFAULT '[]', serving_since REAL NOT NULL DEFAULT 0,
        cpus REAL NOT NULL DEFAULT 0, memory_bytes INTEGER NOT NULL DEFAULT 0, gpus INTEGER NOT NULL DEFAULT 0,
        environment TEXT NOT NULL DEFAULT '', sticky_header TEXT NOT NULL DEFAULT '',
        sample_rate REAL NOT NULL DEFAULT 1, created_by TEXT NOT NULL, created_at REAL NOT NULL
    );
    CREATE INDEX deployments_project ON deployments(project, name);
    CREATE TABLE deployment_events (
        deployment TEXT NOT NULL REFERENCES deployments(name), time REAL NOT NULL, state TEXT NOT NULL,
        cause TEXT NOT NULL, actor TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX deployment_events_by ON deployment_events(deployment, time);
    CREATE TABLE deployment_replicas (
        run_id TEXT PRIMARY KEY REFERENCES runs(id), deployment TEXT NOT NULL REFERENCES deployments(name),
        version INTEGER NOT NULL
    );
    CREATE INDEX deployment_replicas_by ON deployment_replicas(deployment, version);
    CREATE TABLE endpoint_tokens (
        id TEXT PRIMARY KEY, deployment TEXT NOT NULL REFERENCES deployments(name), name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE, created_by TEXT NOT NULL, created_at REAL NOT NULL,
        expires_at REAL NOT NULL, revoked_at REAL NOT NULL DEFAULT 0
    );
    CREATE TABLE predictions (
        id TEXT PRIMARY KEY, deployment TEXT NOT NULL, version INTEGER NOT NULL, time REAL NOT NULL,
        latency_ms REAL NOT NULL, status INTEGER NOT NULL, replica TEXT NOT NULL DEFAULT '',
        node TEXT NOT NULL DEFAULT '', shadow INTEGER NOT NULL DEFAULT 0, caller TEXT NOT NULL DEFAULT '',
        content_type TEXT NOT NULL DEFAULT '', request BLOB NOT NULL, response BLOB NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',
        label TEXT NOT NULL DEFAULT '', labelled_at REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX predictions_time ON predictions(deployment, time);
    CREATE TABLE scorings (
        run_id TEXT PRIMARY KEY REFERENCES runs(id), project TEXT NOT NULL, model TEXT NOT NULL,
        version INTEGER NOT NULL, input TEXT NOT NULL, output TEXT NOT NULL, settled INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 11: schedules (runs fired by cron or interval in an explicit zone, or on an event) and their fires, one
    #     row per nominal fire time: the primary key is what makes a fire claimed at most once.
    """
    CREATE TABLE schedules (
        id TEXT PRIMARY KEY, project TEXT NOT NULL REFERENCES projects(name), name TEXT NOT NULL,
        cron TEXT NOT NULL DEFAULT '', tz TEXT NOT NULL DEFAULT '', every_s INTEGER NOT NULL DEFAULT 0,
        anchor REAL NOT NULL DEFAULT 0, overlap TEXT NOT NULL, overlap_max INTEGER NOT NULL DEFAULT 1,
        catch_up TEXT NOT NULL, spec_json TEXT NOT NULL, rerun_of TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL, last_nominal REAL NOT NULL, next_fire REAL NOT NULL,
        created_by TEXT NOT NULL, created_at REAL NOT NULL, trigger TEXT NOT NULL DEFAULT '',
        UNIQUE (project, name)
    );
    CREATE INDEX schedules_due ON schedules(state, next_fire);
    CREATE TABLE schedule_fires (
        schedule TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE, nominal REAL NOT NULL,
        fired_at REAL NOT NULL, outcome TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '', PRIMARY KEY (schedule, nominal)
    );
    CREATE INDEX schedule_fires_run ON schedule_fires(run_id);
    CREATE INDEX schedule_fires_waiting ON schedule_fires(schedule) WHERE outcome = 'waiting';
    """,
    # 12: monitors over deployments' prediction ledgers, their results per window, the reference profiles
    #     frozen per model version, alerts, the channels that tell people, and the notifications outbox.
    """
    CREATE TABLE monitors (
        id TEXT PRIMARY KEY, project TEXT NOT NULL REFERENCES projects(name), name TEXT NOT NULL,
        deployment TEXT NOT NULL, every_s INTEGER NOT NULL, window_s INTEGER NOT NULL,
        config_json TEXT NOT NULL, state TEXT NOT NULL, next_at REAL NOT NULL,
        created_by TEXT NOT NULL, created_at REAL NOT NULL, UNIQUE (project, name)
    );
    CREATE INDEX monitors_due ON monitors(state, next_at);
    CREATE TABLE monitor_results (
        monitor TEXT NOT NULL REFERENCES monitors(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
        project TEXT NOT NULL, name TEXT NOT NULL, window_start REAL NOT NULL, window_end REAL NOT NULL,
        health REAL, drift_share REAL, drifted INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL,
        result_json TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (monitor, seq)
    );
    CREATE INDEX monitor_results_lineage ON monitor_results(project, name, seq);
    CREATE TABLE reference_profiles (
        project TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, source TEXT NOT NULL,
        profile_json TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (project, model, version)
    );
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY, project TEXT NOT NULL, monitor TEXT NOT NULL, rule TEXT NOT NULL,
        severity TEXT NOT NULL, state TEXT NOT NULL, title TEXT NOT NULL, summary TEXT NOT NULL,
        details_json TEXT NOT NULL, first_at REAL NOT NULL, last_at REAL NOT NULL, count INTEGER NOT NULL,
        acked_by TEXT NOT NULL DEFAULT '', acked_at REAL NOT NULL DEFAULT 0, resolved_at REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX alerts_open ON alerts(monitor, rule, state);
    CREATE INDEX alerts_project ON alerts(project, first_at);
    CREATE TABLE alert_channels (
        project TEXT NOT NULL REFERENCES projects(name), name TEXT NOT NULL, kind TEXT NOT NULL,
        channel_json TEXT NOT NULL, created_by TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (project, name)
    );
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT, alert TEXT NOT NULL, project TEXT NOT NULL, channel TEXT NOT NULL,
        payload_json TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL, last_error TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,
        sent_at REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX notifications_due ON notifications(state, next_at);
    """,
    # 13: the MLflow-compatible API (coordinator/mlflow/): experiments inside a project ("0" is the project
    # itself and has no row), runs' MLflow facts (experiment, name, deleted), artifacts uploaded through it
    # (blobs of the content-addressed store, per run or logged model), MLflow 3 logged models, and the
    # registered models' and versions' MLflow metadata beside Kiln's registry. And metric points are kept by
    # (step, time): MLflow's clients log many points at one step (every log_metric without a step is step
    # 0), and a point must not silently replace another
    """
    CREATE TABLE metrics_by_time (
        run_id TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL, value REAL, timestamp REAL NOT NULL,
        PRIMARY KEY (run_id, key, step, timestamp)
    ) WITHOUT ROWID;
    INSERT INTO metrics_by_time SELECT run_id, key, step, value, timestamp FROM metrics;
    DROP TABLE metrics;
    ALTER TABLE metrics_by_time RENAME TO metrics;
    CREATE TABLE mlflow_experiments (
        project TEXT NOT NULL REFERENCES projects(name), id TEXT NOT NULL, name TEXT NOT NULL,
        lifecycle TEXT NOT NULL, tags_json TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
        PRIMARY KEY (project, id)
    );
    CREATE UNIQUE INDEX mlflow_experiments_name ON mlflow_experiments(project, name);
    CREATE TABLE mlflow_runs (
        run_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, name TEXT NOT NULL, lifecycle TEXT NOT NULL
    );
    CREATE INDEX mlflow_runs_experiment ON mlflow_runs(experiment);
    CREATE TABLE mlflow_artifacts (
        owner TEXT NOT NULL, path TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,
        at REAL NOT NULL, PRIMARY KEY (owner, path)
    );
    CREATE TABLE mlflow_logged_models (
        id TEXT PRIMARY KEY, project TEXT NOT NULL, experiment TEXT NOT NULL, run_id TEXT NOT NULL,
        name TEXT NOT NULL, status TEXT NOT NULL, model_type TEXT NOT NULL, source_run TEXT NOT NULL,
        params_json TEXT NOT NULL, tags_json TEXT NOT NULL, created_by TEXT NOT NULL,
        created_at REAL NOT NULL, updated_at REAL NOT NULL, step INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX mlflow_logged_models_project ON mlflow_logged_models(project, experiment);
    CREATE TABLE mlflow_registered_models (
        project TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL, tags_json TEXT NOT NULL,
        created_at REAL NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (project, name)
    );
    CREATE TABLE mlflow_model_versions (
        project TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,
        source TEXT NOT NULL, tags_json TEXT NOT NULL, model_id TEXT NOT NULL DEFAULT '',
        updated_at REAL NOT NULL DEFAULT 0, PRIMARY KEY (project, name, version)
    );
    """,
    # 14: workspaces (coordinator/workspaces.py): one row per name in a project, naming its latest run
    """
    CREATE TABLE workspaces (
        project TEXT NOT NULL REFERENCES projects(name), name TEXT NOT NULL, run_id TEXT NOT NULL,
        tool TEXT NOT NULL, owner TEXT NOT NULL, created_at REAL NOT NULL, idle_limit_s REAL NOT NULL,
        last_active REAL NOT NULL, warned_at REAL NOT NULL DEFAULT 0, last_saved TEXT NOT NULL DEFAULT '',
        last_saved_at REAL NOT NULL DEFAULT 0, stop_reason TEXT NOT NULL DEFAULT '',
        shared INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (project, name)
    );
    CREATE INDEX workspaces_run ON workspaces(run_id);
    """,
]
