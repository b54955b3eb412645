"""Event store, outbox, read models, users and blobs.

Revision ID: 0001
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
-- The event store: append-only. The database itself refuses to change history.
CREATE TABLE events (
    position        bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    stream_id       text NOT NULL,
    stream_version  integer NOT NULL CHECK (stream_version >= 1),
    event_type      text NOT NULL,
    schema_version  integer NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    correlation_id  uuid NOT NULL,
    causation_id    uuid,
    data            jsonb NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_type_idx ON events (event_type);

CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

-- Messages committed with the events, published to JetStream by the relay, then deleted.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    msg_id      text NOT NULL,
    subject     text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- What each consumer has processed, written in the same transaction as the effect.
CREATE TABLE consumer_inbox (
    consumer    text NOT NULL,
    message_id  uuid NOT NULL,
    handled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

CREATE TABLE projection_checkpoints (
    name      text PRIMARY KEY,
    position  bigint NOT NULL DEFAULT 0
);

-- Read models: projections of the events, rebuilt by `outpost events replay`.
CREATE TABLE rm_projects (
    id                    uuid PRIMARY KEY,
    name                  text NOT NULL,
    owner                 text NOT NULL,
    description           text NOT NULL DEFAULT '',
    is_public             boolean NOT NULL DEFAULT false,
    created_by            text NOT NULL,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    project_file          text,
    project_details       jsonb,
    data_last_updated_at  timestamptz,
    data_last_packaged_at timestamptz
);
CREATE UNIQUE INDEX rm_projects_owner_name_key ON rm_projects (lower(owner), lower(name));

CREATE TABLE rm_files (
    project_id   uuid NOT NULL,
    path         text NOT NULL,
    version_id   uuid NOT NULL,
    position     bigint NOT NULL,
    blob_key     text NOT NULL,
    size         bigint NOT NULL,
    md5sum       text NOT NULL,
    sha256       text NOT NULL,
    uploaded_by  text NOT NULL,
    uploaded_at  timestamptz NOT NULL,
    PRIMARY KEY (project_id, path, version_id)
);
CREATE INDEX rm_files_latest_idx ON rm_files (project_id, path, position DESC);

CREATE TABLE rm_jobs (
    id             uuid PRIMARY KEY,
    project_id     uuid NOT NULL,
    type           text NOT NULL,
    status         text NOT NULL,
    created_by     text NOT NULL,
    created_by_id  integer NOT NULL,
    reason         text NOT NULL,
    params         jsonb NOT NULL DEFAULT '{}',
    enqueued_at    bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    started_at     timestamptz,
    finished_at    timestamptz,
    runner_id      text,
    steps          jsonb NOT NULL DEFAULT '[]',
    output         text NOT NULL DEFAULT '',
    feedback       jsonb
);
CREATE INDEX rm_jobs_project_idx ON rm_jobs (project_id, enqueued_at);
CREATE INDEX rm_jobs_pending_idx ON rm_jobs (project_id) WHERE status = 'pending';
-- Guarantee 1 in the database itself: at most one queued or started job per project.
CREATE UNIQUE INDEX rm_jobs_one_active_per_project ON rm_jobs (project_id)
    WHERE status IN ('queued', 'started');

-- Accounts and credentials: not events (see docs/adr/0003).
CREATE TABLE users (
    id             serial PRIMARY KEY,
    username       text NOT NULL,
    email          text NOT NULL DEFAULT '',
    password_hash  text NOT NULL,
    first_name     text NOT NULL DEFAULT '',
    last_name      text NOT NULL DEFAULT '',
    is_staff       boolean NOT NULL DEFAULT false,
    is_active      boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE auth_tokens (
    id            bigserial PRIMARY KEY,
    user_id       integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_hash      text NOT NULL UNIQUE,
    client_type   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    last_used_at  timestamptz
);

-- Blobs of the `postgres` storage backend: one large object per blob.
CREATE TABLE blobs (
    key         text PRIMARY KEY,
    oid         oid NOT NULL,
    size        bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
"""

DOWNGRADE = r"""
DROP TABLE blobs, auth_tokens, users, rm_jobs, rm_files, rm_projects, projection_checkpoints, consumer_inbox, outbox;
DROP TRIGGER events_no_truncate ON events;
DROP TRIGGER events_no_update_delete ON events;
DROP TABLE events;
DROP FUNCTION events_are_append_only();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
