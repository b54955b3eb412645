"""Project thumbnails (made by process_projectfile, or uploaded by a manager).

Revision ID: 0006
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE rm_projects ADD COLUMN thumbnail_blob_key text, ADD COLUMN thumbnail_type text")


def downgrade() -> None:
    op.execute("ALTER TABLE rm_projects DROP COLUMN thumbnail_blob_key, DROP COLUMN thumbnail_type")
