"""Job attempts, timeouts, retries and cancellation in the read model; runner leases.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE rm_jobs
    ADD COLUMN timeout_s double precision NOT NULL DEFAULT 600,
    ADD COLUMN max_attempts integer NOT NULL DEFAULT 3,
    ADD COLUMN attempt integer NOT NULL DEFAULT 0,
    ADD COLUMN retry_at timestamptz,
    ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;

-- Project settings that are Outpost's own (per-type job timeouts today).
ALTER TABLE rm_projects ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';

-- Liveness, not history: the runner of a started job renews its lease with heartbeats; the scheduler's
-- reaper acts on leases that ran out. Written in the same transaction as job.started.
CREATE TABLE job_leases (
    job_id      uuid PRIMARY KEY,
    project_id  uuid NOT NULL,
    runner_id   text NOT NULL,
    attempt     integer NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX job_leases_expiry_idx ON job_leases (expires_at);
"""

DOWNGRADE = r"""
DROP TABLE job_leases;
ALTER TABLE rm_projects DROP COLUMN settings;
ALTER TABLE rm_jobs DROP COLUMN timeout_s, DROP COLUMN max_attempts, DROP COLUMN attempt,
    DROP COLUMN retry_at, DROP COLUMN cancel_requested;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
