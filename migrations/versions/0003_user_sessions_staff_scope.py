"""per-device sessions (user_session) and an explicit staff scope (city_wide)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00

The per-user session_token goes: every cookie now names one user_session row,
so existing cookies stop working and everyone logs in once more. Staff
accounts without a region were city-wide; they get city_wide = true.
"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = '0002'
branch_labels = None
depends_on = None

STAFF_SCOPE_CHECK = (
    "(role = 'staff') = (city_wide OR staff_region_code IS NOT NULL) "
    "AND NOT (city_wide AND staff_region_code IS NOT NULL)"
)


def upgrade():
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_user_session_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("token", name=op.f("uq_user_session_token")),
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_session_user_id"), ["user_id"], unique=False
        )

    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "city_wide", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    user = sa.table(
        "user",
        sa.column("role", sa.String),
        sa.column("staff_region_code", sa.String),
        sa.column("city_wide", sa.Boolean),
    )
    op.execute(
        user.update()
        .where(user.c.role == "staff", user.c.staff_region_code.is_(None))
        .values(city_wide=True)
    )
    op.execute(
        user.update().where(user.c.role != "staff").values(staff_region_code=None)
    )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_user_staff_scope"), STAFF_SCOPE_CHECK)
        batch_op.drop_column("session_token")


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "session_token", sa.String(length=64), nullable=False, server_default=""
            )
        )
        batch_op.drop_constraint(op.f("ck_user_staff_scope"), type_="check")
        batch_op.drop_column("city_wide")
    # A fresh random token per user: no old cookie works after the downgrade.
    conn = op.get_bind()
    user = sa.table("user", sa.column("id", sa.Integer), sa.column("session_token"))
    for (uid,) in conn.execute(sa.select(user.c.id)).all():
        conn.execute(
            user.update()
            .where(user.c.id == uid)
            .values(session_token=secrets.token_urlsafe(24))
        )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_session_user_id"))
    op.drop_table("user_session")
