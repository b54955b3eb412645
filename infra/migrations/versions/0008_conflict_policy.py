"""The project's conflict policy (QFieldCloud's ``overwrite_conflicts``: last wins, or manual).

Revision ID: 0008
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE rm_projects ADD COLUMN overwrite_conflicts boolean NOT NULL DEFAULT true")


def downgrade() -> None:
    op.execute("ALTER TABLE rm_projects DROP COLUMN overwrite_conflicts")
