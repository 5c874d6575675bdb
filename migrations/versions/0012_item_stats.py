"""item statistics: additive per-revision sums per contest, refresh state

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 12:00:00

item_stat holds sums over counted attempt items; item_stat_state the
watermark and refresh time per contest; item_stat_pending the attempts at or
below the watermark that were still open. All start empty: the first refresh
(page view or `flask items refresh`) counts every finished attempt.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "item_stat_state",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("watermark", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=True),
        sa.Column("rebuilt_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"],
            ["contest.id"],
            name=op.f("fk_item_stat_state_contest_id_contest"),
        ),
        sa.PrimaryKeyConstraint("contest_id", name=op.f("pk_item_stat_state")),
    )
    op.create_table(
        "item_stat",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("exposures", sa.BigInteger(), nullable=False),
        sa.Column("answered", sa.BigInteger(), nullable=False),
        sa.Column("correct", sa.BigInteger(), nullable=False),
        sa.Column("sum_t", sa.BigInteger(), nullable=False),
        sa.Column("sum_tt", sa.BigInteger(), nullable=False),
        sa.Column("sum_xt", sa.BigInteger(), nullable=False),
        sa.Column("top_n", sa.BigInteger(), nullable=False),
        sa.Column("pick_a", sa.BigInteger(), nullable=False),
        sa.Column("pick_b", sa.BigInteger(), nullable=False),
        sa.Column("pick_c", sa.BigInteger(), nullable=False),
        sa.Column("pick_d", sa.BigInteger(), nullable=False),
        sa.Column("pick_e", sa.BigInteger(), nullable=False),
        sa.Column("pick_f", sa.BigInteger(), nullable=False),
        sa.Column("top_a", sa.BigInteger(), nullable=False),
        sa.Column("top_b", sa.BigInteger(), nullable=False),
        sa.Column("top_c", sa.BigInteger(), nullable=False),
        sa.Column("top_d", sa.BigInteger(), nullable=False),
        sa.Column("top_e", sa.BigInteger(), nullable=False),
        sa.Column("top_f", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"], ["contest.id"], name=op.f("fk_item_stat_contest_id_contest")
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["question.id"],
            name=op.f("fk_item_stat_question_id_question"),
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["question_revision.id"],
            name=op.f("fk_item_stat_revision_id_question_revision"),
        ),
        sa.PrimaryKeyConstraint("contest_id", "revision_id", name=op.f("pk_item_stat")),
    )
    with op.batch_alter_table("item_stat", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_item_stat_question_id"), ["question_id"], unique=False
        )

    op.create_table(
        "item_stat_pending",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempt.id"],
            name=op.f("fk_item_stat_pending_attempt_id_attempt"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contest_id"],
            ["contest.id"],
            name=op.f("fk_item_stat_pending_contest_id_contest"),
        ),
        sa.PrimaryKeyConstraint(
            "contest_id", "attempt_id", name=op.f("pk_item_stat_pending")
        ),
    )


def downgrade():
    op.drop_table("item_stat_pending")
    with op.batch_alter_table("item_stat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_stat_question_id"))

    op.drop_table("item_stat")
    op.drop_table("item_stat_state")
