"""audit log indexes and the bank import staging table

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:00:00

audit_event gets one index per audit-log filter (time; actor then time;
action then time). import_staging holds an uploaded bank file's checked rows
between the preview and the confirm.
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(
            "ix_audit_event_actor_at", ["actor_id", "at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_event_action_at", ["action", "at"], unique=False
        )
    op.create_table(
        "import_staging",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("bank_digest", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_import_staging_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_staging")),
        sa.UniqueConstraint("token", name=op.f("uq_import_staging_token")),
    )
    with op.batch_alter_table("import_staging", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_import_staging_user_id"), ["user_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("import_staging", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_staging_user_id"))
    op.drop_table("import_staging")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_action_at")
        batch_op.drop_index("ix_audit_event_actor_at")
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))
