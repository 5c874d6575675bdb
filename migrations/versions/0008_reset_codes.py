"""password recovery: SMS reset codes and the must-change-password flag

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00

reset_code keeps only a keyed hash of each code. Existing accounts get
must_change_password = false.
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reset_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("voided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_reset_code_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reset_code")),
    )
    with op.batch_alter_table("reset_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reset_code_user_id"), ["user_id"], unique=False
        )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
    with op.batch_alter_table("reset_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reset_code_user_id"))
    op.drop_table("reset_code")
