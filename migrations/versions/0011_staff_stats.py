"""staff dashboards: stats rollups and the registering network's keyed hash

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 12:00:00

stats_cursor / stats_day / stats_category / stats_signup are rollups that
`flask stats refresh` (and the dashboards, on read) fill from the attempts
and accounts; they can be emptied and rebuilt at any time. user.signup_net
stays NULL for accounts made before this revision.
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "stats_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_stats_cursor")),
    )
    op.create_table(
        "stats_day",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("new_participants", sa.Integer(), nullable=False),
        sa.Column("day_participants", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"], ["contest.id"], name=op.f("fk_stats_day_contest_id_contest")
        ),
        sa.PrimaryKeyConstraint(
            "contest_id", "region_code", "day", name=op.f("pk_stats_day")
        ),
    )
    op.create_table(
        "stats_category",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("category_code", sa.String(length=32), nullable=False),
        sa.Column("answered", sa.BigInteger(), nullable=False),
        sa.Column("correct", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"],
            ["contest.id"],
            name=op.f("fk_stats_category_contest_id_contest"),
        ),
        sa.PrimaryKeyConstraint(
            "contest_id", "region_code", "category_code", name=op.f("pk_stats_category")
        ),
    )
    op.create_table(
        "stats_signup",
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.DateTime(), nullable=False),
        sa.Column("registrations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "bucket", name=op.f("pk_stats_signup")),
    )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signup_net", sa.String(length=16), nullable=True))
        batch_op.create_index(
            "ix_user_signup_net", ["signup_net", "created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index("ix_user_signup_net")
        batch_op.drop_column("signup_net")
    op.drop_table("stats_signup")
    op.drop_table("stats_category")
    op.drop_table("stats_day")
    op.drop_table("stats_cursor")
