"""The review queue: users, API tokens, sessions, posts, decisions and the audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("removed_at", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.Column("last_used_at", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("name", name="uq_api_tokens_name"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name="pk_sessions"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_sessions_user_id_users", ondelete="CASCADE"),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("author", sa.String(200), nullable=True),
        sa.Column("posted_at", sa.DateTime, nullable=True),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("risk_level", sa.Integer, nullable=True),
        sa.Column("tier", sa.String(16), nullable=True),
        sa.Column("level_probabilities", sa.Text, nullable=True),
        sa.Column("expected_level", sa.Float, nullable=True),
        sa.Column("high_risk", sa.Boolean, nullable=True),
        sa.Column("high_risk_probability", sa.Float, nullable=True),
        sa.Column("explanations", sa.Text, nullable=True),
        sa.Column("model_info", sa.Text, nullable=False),
        sa.Column("urgency_level", sa.Integer, nullable=False),
        sa.Column("urgency_probability", sa.Float, nullable=False),
        sa.Column("sort_time", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewed_level", sa.Integer, nullable=True),
        sa.Column("reviewed_high_risk", sa.Boolean, nullable=True),
        sa.Column("reviewed_action", sa.String(16), nullable=True),
        sa.Column("reviewed_at", sa.DateTime, nullable=True),
        sa.Column("reviewed_by", sa.Integer, nullable=True),
        sa.Column("assigned_to", sa.Integer, nullable=True),
        sa.Column("assigned_until", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_posts"),
        sa.UniqueConstraint("source", "external_id", name="uq_posts_source_external_id"),
        sa.ForeignKeyConstraint(["reviewed_by"], ["users.id"], name="fk_posts_reviewed_by_users"),
        sa.ForeignKeyConstraint(["assigned_to"], ["users.id"], name="fk_posts_assigned_to_users"),
    )
    op.create_index("ix_posts_queue_order", "posts", ["status", "urgency_level", "urgency_probability", "sort_time"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("post_id", sa.Integer, nullable=False),
        sa.Column("reviewer_id", sa.Integer, nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
        sa.Column("level_before", sa.Integer, nullable=True),
        sa.Column("level_after", sa.Integer, nullable=False),
        sa.Column("high_risk_before", sa.Boolean, nullable=True),
        sa.Column("high_risk_after", sa.Boolean, nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name="fk_decisions_post_id_posts"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], name="fk_decisions_reviewer_id_users"),
    )
    op.create_index("ix_decisions_post_id", "decisions", ["post_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("post_id", sa.Integer, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name="fk_audit_events_post_id_posts"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_event", "audit_events", ["event"])
    op.create_index("ix_audit_events_post_id", "audit_events", ["post_id"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("decisions")
    op.drop_table("posts")
    op.drop_table("sessions")
    op.drop_table("api_tokens")
    op.drop_table("users")
