"""question revisions, exclusion groups, cache epoch, frozen rank codec

Every existing question becomes revision 1 of itself and every drawn item
points at that revision, so open and finished attempts keep exactly what they
showed. Contests get the rank-key codec parameters they were using (computed
from their current window), frozen from now on.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WINDOW_SLACK_MS = 60_000
EXACT_LIMIT = 2**53


def _codec_params(max_score, time_limit_s, starts_at, ends_at):
    """The parameters leaderboard.ranking.make_codec chose for this contest
    (copied here so the migration never changes when that code does)."""
    window_ms = int((ends_at - starts_at).total_seconds() * 1000) + WINDOW_SLACK_MS
    d = time_limit_s * 1000 + 1
    unit = 1
    while unit <= 10**9:
        f = window_ms // unit + 1
        if (max_score + 1) * d * f - 1 < EXACT_LIMIT:
            return window_ms, unit
        unit *= 10
    raise ValueError("contest too long for an exact ranking key")


def upgrade():
    op.create_table(
        "question_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("stem", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "type IN ('single', 'multiple', 'judge')",
            name=op.f("ck_question_revision_type"),
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["question.id"],
            name=op.f("fk_question_revision_question_id_question"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user.id"],
            name=op.f("fk_question_revision_created_by_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_revision")),
        sa.UniqueConstraint(
            "question_id", "number", name=op.f("uq_question_revision_question_id_number")
        ),
    )
    op.execute(
        "INSERT INTO question_revision "
        "(question_id, number, type, stem, options, answer, explanation, created_at) "
        "SELECT id, 1, type, stem, options, answer, explanation, updated_at "
        "FROM question"
    )
    op.create_table(
        "cache_epoch",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_epoch")),
    )
    op.execute("INSERT INTO cache_epoch (name, value) VALUES ('content', 0)")

    with op.batch_alter_table("question") as batch_op:
        batch_op.add_column(
            sa.Column("revision", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("exclusion_group", sa.String(length=64), nullable=True)
        )
        batch_op.drop_constraint(op.f("ck_question_type"), type_="check")
        for column in ("type", "stem", "options", "answer", "explanation"):
            batch_op.drop_column(column)

    with op.batch_alter_table("attempt_answer") as batch_op:
        batch_op.add_column(sa.Column("revision_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE attempt_answer SET revision_id = (SELECT r.id FROM question_revision r"
        " WHERE r.question_id = attempt_answer.question_id AND r.number = 1)"
    )
    with op.batch_alter_table("attempt_answer") as batch_op:
        batch_op.alter_column("revision_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_attempt_answer_revision_id_question_revision"),
            "question_revision",
            ["revision_id"],
            ["id"],
        )

    with op.batch_alter_table("contest") as batch_op:
        batch_op.add_column(
            sa.Column(
                "multiple_scoring",
                sa.String(length=16),
                nullable=False,
                server_default="exact",
            )
        )
        batch_op.add_column(
            sa.Column(
                "excellent_min", sa.Integer(), nullable=False, server_default="80"
            )
        )
        batch_op.add_column(sa.Column("rank_max_score", sa.Integer(), nullable=True))
        for name in ("rank_max_duration_ms", "rank_window_ms", "rank_unit_ms"):
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("rank_window_start", sa.DateTime(), nullable=True)
        )
    conn = op.get_bind()
    contests = conn.execute(
        sa.text(
            "SELECT id, starts_at, ends_at, time_limit_s, questions_per_attempt,"
            " points_per_question FROM contest"
        ).columns(starts_at=sa.DateTime(), ends_at=sa.DateTime())
    ).all()
    for c in contests:
        max_score = c.questions_per_attempt * c.points_per_question
        window_ms, unit = _codec_params(
            max_score, c.time_limit_s, c.starts_at, c.ends_at
        )
        conn.execute(
            sa.text(
                "UPDATE contest SET rank_max_score = :s, rank_max_duration_ms = :d,"
                " rank_window_start = starts_at, rank_window_ms = :w,"
                " rank_unit_ms = :u WHERE id = :id"
            ),
            {
                "s": max_score,
                "d": c.time_limit_s * 1000,
                "w": window_ms,
                "u": unit,
                "id": c.id,
            },
        )
    with op.batch_alter_table("contest") as batch_op:
        batch_op.create_check_constraint(
            "multiple_scoring", "multiple_scoring IN ('exact')"
        )
        batch_op.alter_column(
            "rank_max_score", existing_type=sa.Integer(), nullable=False
        )
        for name in ("rank_max_duration_ms", "rank_window_ms", "rank_unit_ms"):
            batch_op.alter_column(name, existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column(
            "rank_window_start", existing_type=sa.DateTime(), nullable=False
        )


def downgrade():
    with op.batch_alter_table("contest") as batch_op:
        batch_op.drop_constraint(op.f("ck_contest_multiple_scoring"), type_="check")
        for name in (
            "multiple_scoring",
            "excellent_min",
            "rank_max_score",
            "rank_max_duration_ms",
            "rank_window_ms",
            "rank_unit_ms",
            "rank_window_start",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("attempt_answer") as batch_op:
        batch_op.drop_constraint(
            op.f("fk_attempt_answer_revision_id_question_revision"), type_="foreignkey"
        )
        batch_op.drop_column("revision_id")
    with op.batch_alter_table("question") as batch_op:
        batch_op.add_column(sa.Column("type", sa.String(16), server_default="single"))
        batch_op.add_column(sa.Column("stem", sa.Text(), server_default=""))
        batch_op.add_column(sa.Column("options", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("answer", sa.String(8), server_default="A"))
        batch_op.add_column(sa.Column("explanation", sa.Text(), server_default=""))
    # The current revision's content goes back onto the question row.
    for column in ("type", "stem", "options", "answer", "explanation"):
        op.execute(
            f"UPDATE question SET {column} = (SELECT r.{column} FROM "
            "question_revision r WHERE r.question_id = question.id "
            "AND r.number = question.revision)"
        )
    with op.batch_alter_table("question") as batch_op:
        batch_op.drop_column("exclusion_group")
        batch_op.drop_column("revision")
        batch_op.create_check_constraint(
            "type", "type IN ('single', 'multiple', 'judge')"
        )
    op.drop_table("cache_epoch")
    op.drop_table("question_revision")
