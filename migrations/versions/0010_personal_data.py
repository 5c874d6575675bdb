"""personal data: when ranking consent was given, anonymised accounts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:00:00

user.public_ranking_at records when the current consent value was set;
existing accounts get their registration time. user.deleted_at marks an
account whose identity was removed (deleted by its owner or purged).
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_ranking_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
    op.execute(sa.text('UPDATE "user" SET public_ranking_at = created_at'))


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("public_ranking_at")
