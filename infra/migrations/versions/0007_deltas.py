"""Deltas: QField's field edits, as pushed, with their apply status.

Revision ID: 0007
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE rm_deltas (
    id                uuid PRIMARY KEY,
    deltafile_id      uuid NOT NULL,
    project_id        uuid NOT NULL,
    position          bigint NOT NULL,
    client_id         uuid,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    last_status       text NOT NULL,
    last_feedback     jsonb,
    last_modified_pk  text,
    job_id            uuid,
    content           jsonb NOT NULL
);
CREATE INDEX rm_deltas_project_idx ON rm_deltas (project_id, position);
CREATE INDEX rm_deltas_deltafile_idx ON rm_deltas (deltafile_id, position);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP TABLE rm_deltas")
