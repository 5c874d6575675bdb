"""certificate: one verifiable certificate per citizen and contest

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00

Stores only who, which contest, the public code and the issue time; band and
score are read from contest_best when a certificate is shown.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"], ["contest.id"],
            name=op.f("fk_certificate_contest_id_contest"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_certificate_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
        sa.UniqueConstraint("code", name=op.f("uq_certificate_code")),
        sa.UniqueConstraint(
            "contest_id", "user_id", name=op.f("uq_certificate_contest_id_user_id")
        ),
    )


def downgrade():
    op.drop_table("certificate")
