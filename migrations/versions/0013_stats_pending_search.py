"""staff rollups past open attempts (stats_pending), county search indexes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 12:00:00

stats_pending lists attempts at or below a contest's stats cursor that were
open when a refresh passed them (their finish is folded once they finish).
It starts empty, which is right for rollups folded by 0011's rule: that
cursor only ever passed finished attempts. The two `user` indexes serve the
county participant search (a number's last four digits, a name's
beginning); on a million accounts they take a few seconds to build.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "stats_pending",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempt.id"],
            name=op.f("fk_stats_pending_attempt_id_attempt"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contest_id"],
            ["contest.id"],
            name=op.f("fk_stats_pending_contest_id_contest"),
        ),
        sa.PrimaryKeyConstraint(
            "contest_id", "attempt_id", name=op.f("pk_stats_pending")
        ),
    )
    op.create_index(
        "ix_user_phone_tail", "user", [sa.text("substr(phone, 8, 4)")], unique=False
    )
    op.create_index(
        "ix_user_name_prefix",
        "user",
        ["name"],
        unique=False,
        postgresql_ops={"name": "varchar_pattern_ops"},
    )


def downgrade():
    op.drop_index("ix_user_name_prefix", table_name="user")
    op.drop_index("ix_user_phone_tail", table_name="user")
    op.drop_table("stats_pending")
