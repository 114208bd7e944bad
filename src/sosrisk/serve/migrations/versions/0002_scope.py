"""The scope stage of a queued post: whether it is in scope, the gate's probability, why, and the rules that fired.

Posts queued before this revision keep NULL in the four columns: their models had no scope stage, or it was
not recorded; the triage page then shows no scope line for them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("in_scope", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("scope_probability", sa.Float, nullable=True))
        batch.add_column(sa.Column("scope_reason", sa.String(16), nullable=True))
        batch.add_column(sa.Column("rule_hits", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("rule_hits")
        batch.drop_column("scope_reason")
        batch.drop_column("scope_probability")
        batch.drop_column("in_scope")
