"""Teams of an organization (QFieldCloud's teams): a team collaborates on the organization's projects as
``@<organization>/<team>`` and its members get that role.

Revision ID: 0010
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE teams (
            id               serial PRIMARY KEY,
            organization_id  integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            name             text NOT NULL,
            created_at       timestamptz NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX teams_name_key ON teams (organization_id, lower(name));
        CREATE TABLE team_members (
            team_id     integer NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
            user_id     integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            created_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (team_id, user_id)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE team_members, teams")
