"""Packages: the files a package job stored, and each project's latest package.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE rm_package_files (
    job_id      uuid NOT NULL,
    project_id  uuid NOT NULL,
    path        text NOT NULL,
    blob_key    text NOT NULL,
    size        bigint NOT NULL,
    md5sum      text NOT NULL,
    sha256      text NOT NULL,
    stored_at   timestamptz NOT NULL,
    PRIMARY KEY (job_id, path)
);
CREATE INDEX rm_package_files_project_idx ON rm_package_files (project_id);

ALTER TABLE rm_projects
    ADD COLUMN last_package_job_id uuid,
    ADD COLUMN last_package_layers jsonb,
    ADD COLUMN last_package_inputs_hash text;
"""

DOWNGRADE = r"""
ALTER TABLE rm_projects DROP COLUMN last_package_job_id, DROP COLUMN last_package_layers,
    DROP COLUMN last_package_inputs_hash;
DROP TABLE rm_package_files;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
