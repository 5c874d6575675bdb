"""contest_best: each citizen's best finished attempt per contest

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:00:00

Filled from the finished attempts already stored: per contest and citizen the
attempt with the highest rank key (on a tie, the lower attempt id).
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contest_best',
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('rank_key', sa.BigInteger(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.BigInteger(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempt.id'], name=op.f('fk_contest_best_attempt_id_attempt'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contest_id'], ['contest.id'], name=op.f('fk_contest_best_contest_id_contest')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_contest_best_user_id_user')),
    sa.PrimaryKeyConstraint('contest_id', 'user_id', name=op.f('pk_contest_best'))
    )
    with op.batch_alter_table('contest_best', schema=None) as batch_op:
        batch_op.create_index('ix_contest_best_rank', ['contest_id', sa.text('rank_key DESC'), 'user_id'], unique=False)
        batch_op.create_index('ix_contest_best_region_rank', ['contest_id', 'region_code', sa.text('rank_key DESC'), 'user_id'], unique=False)
        batch_op.create_index('ix_contest_best_attempt', ['attempt_id'], unique=False)
    op.execute(
        """
        INSERT INTO contest_best (contest_id, user_id, region_code, rank_key,
                                  score, duration_ms, finished_at, attempt_id)
        SELECT a.contest_id, a.user_id, u.region_code, a.rank_key,
               a.score, a.duration_ms, a.finished_at, a.id
        FROM attempt a JOIN "user" u ON u.id = a.user_id
        WHERE a.rank_key IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM attempt b
            WHERE b.user_id = a.user_id AND b.contest_id = a.contest_id
              AND b.rank_key IS NOT NULL
              AND (b.rank_key > a.rank_key
                   OR (b.rank_key = a.rank_key AND b.id < a.id)))
        """
    )


def downgrade():
    with op.batch_alter_table('contest_best', schema=None) as batch_op:
        batch_op.drop_index('ix_contest_best_attempt')
        batch_op.drop_index('ix_contest_best_region_rank')
        batch_op.drop_index('ix_contest_best_rank')
    op.drop_table('contest_best')
