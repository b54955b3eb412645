"""Project secrets, encrypted at rest. Values never enter the event store (events carry names only).

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE project_secrets (
    project_id  uuid NOT NULL,
    name        text NOT NULL,
    type        text NOT NULL CHECK (type IN ('envvar', 'pgservice')),
    ciphertext  bytea NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, name)
);
"""

DOWNGRADE = "DROP TABLE project_secrets;"


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
