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
]
