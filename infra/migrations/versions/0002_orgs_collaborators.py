"""Organizations and their members; project collaborators read model.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- An organization is an account like a person (QFieldCloud's model): type 1 = person, 2 = organization.
ALTER TABLE users ADD COLUMN type smallint NOT NULL DEFAULT 1 CHECK (type IN (1, 2));
ALTER TABLE users ADD COLUMN organization_owner_id integer REFERENCES users (id);

CREATE TABLE organization_members (
    organization_id  integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id          integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role             text NOT NULL CHECK (role IN ('admin', 'member')),
    is_public        boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);

CREATE TABLE rm_collaborators (
    project_id    uuid NOT NULL,
    collaborator  text NOT NULL,
    role          text NOT NULL,
    created_by    text NOT NULL,
    updated_by    text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (project_id, collaborator)
);
"""

DOWNGRADE = r"""
DROP TABLE rm_collaborators, organization_members;
ALTER TABLE users DROP COLUMN organization_owner_id, DROP COLUMN type;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
