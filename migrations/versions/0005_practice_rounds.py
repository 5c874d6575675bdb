"""practice rounds: unscored practice questions and each first answer

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00

Two new tables, nothing existing changes. `practice_round.day` is the local
day the round's questions count against the daily practice cap.
"""
from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('practice_round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_practice_round_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_round'))
    )
    with op.batch_alter_table('practice_round', schema=None) as batch_op:
        batch_op.create_index('ix_practice_round_user_day', ['user_id', 'day'], unique=False)
    op.create_table('practice_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('option_order', sa.String(length=8), nullable=False),
    sa.Column('choices', sa.String(length=8), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('is_correct', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['question_id'], ['question.id'], name=op.f('fk_practice_item_question_id_question')),
    sa.ForeignKeyConstraint(['revision_id'], ['question_revision.id'], name=op.f('fk_practice_item_revision_id_question_revision')),
    sa.ForeignKeyConstraint(['round_id'], ['practice_round.id'], name=op.f('fk_practice_item_round_id_practice_round')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_item')),
    sa.UniqueConstraint('round_id', 'position', name=op.f('uq_practice_item_round_id_position'))
    )


def downgrade():
    op.drop_table('practice_item')
    with op.batch_alter_table('practice_round', schema=None) as batch_op:
        batch_op.drop_index('ix_practice_round_user_day')
    op.drop_table('practice_round')
