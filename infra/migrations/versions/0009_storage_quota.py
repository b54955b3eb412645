"""Storage quotas per account (a user or an organization): NULL means the server's default.

Revision ID: 0009
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE users ADD COLUMN storage_quota_bytes bigint CHECK (storage_quota_bytes >= 0)")


def downgrade() -> None:
    op.execute("ALTER TABLE users DROP COLUMN storage_quota_bytes")
