"""attempt disqualification: who cancelled a result, when and why

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:00:00

A disqualified attempt keeps its score but loses its rank key, so every
board, the SQL fallback and "best attempt" skip it.
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disqualified_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("disqualified_reason", sa.String(length=200), nullable=True)
        )
        batch_op.add_column(sa.Column("disqualified_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_attempt_disqualified_by_user"),
            "user",
            ["disqualified_by"],
            ["id"],
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_attempt_disqualified"),
            "disqualified_at IS NULL OR "
            "(finished_at IS NOT NULL AND rank_key IS NULL)",
        )


def downgrade():
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_attempt_disqualified"), type_="check"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_attempt_disqualified_by_user"), type_="foreignkey"
        )
        batch_op.drop_column("disqualified_by")
        batch_op.drop_column("disqualified_reason")
        batch_op.drop_column("disqualified_at")
