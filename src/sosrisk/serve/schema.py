"""The review queue's tables (SQLAlchemy Core), shared by the store, the service and the migrations.

Times are naive UTC ``DateTime`` values (SQLite keeps no time zone). JSON-shaped values (probabilities,
explanations, model information, audit details) are stored as JSON text so that the same schema works on
SQLite and PostgreSQL. Text columns never hold secrets in clear: passwords, API tokens and session ids are
stored as hashes.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", DateTime, nullable=False),
    # a removed reviewer keeps the row so that decisions and the audit trail keep naming them
    Column("removed_at", DateTime, nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),
    Column("last_used_at", DateTime, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

posts = Table(
    "posts",
    metadata,
    Column("id", Integer, primary_key=True),
    # '' when the client gave no source: (source, external_id) must be unique, and NULLs never collide
    Column("source", String(100), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("text_sha256", String(64), nullable=False),
    Column("author", String(200), nullable=True),
    Column("posted_at", DateTime, nullable=True),
    Column("received_at", DateTime, nullable=False),
    # the model's assessment (None where the model of that task was not given)
    Column("risk_level", Integer, nullable=True),
    Column("tier", String(16), nullable=True),
    Column("level_probabilities", Text, nullable=True),
    Column("expected_level", Float, nullable=True),
    Column("high_risk", Boolean, nullable=True),
    Column("high_risk_probability", Float, nullable=True),
    Column("explanations", Text, nullable=True),
    Column("model_info", Text, nullable=False),
    # the scope stage's decision (None where the models had no scope stage, or the post was queued before
    # revision 0002): in scope or not (a post out of scope is never queued), the gate's probability, why
    # ("in_scope", "recovered", "rule"), and the safety-net rules that fired (JSON list of {family, rule, floor,
    # start, end})
    Column("in_scope", Boolean, nullable=True),
    Column("scope_probability", Float, nullable=True),
    Column("scope_reason", String(16), nullable=True),
    Column("rule_hits", Text, nullable=True),
    # urgency sort keys: the level (or -1; at least the floor of any safety-net rule that fired, so that with a
    # binary model only a rule-raised post still comes first) and the high-risk probability (or -1): NULLs last
    Column("urgency_level", Integer, nullable=False),
    Column("urgency_probability", Float, nullable=False),
    Column("sort_time", DateTime, nullable=False),
    # review state: 'pending' until a reviewer decides, then 'reviewed'
    Column("status", String(16), nullable=False),
    Column("reviewed_level", Integer, nullable=True),
    Column("reviewed_high_risk", Boolean, nullable=True),
    Column("reviewed_action", String(16), nullable=True),
    Column("reviewed_at", DateTime, nullable=True),
    Column("reviewed_by", Integer, ForeignKey("users.id"), nullable=True),
    # one reviewer at a time: the claim and when it lapses
    Column("assigned_to", Integer, ForeignKey("users.id"), nullable=True),
    Column("assigned_until", DateTime, nullable=True),
    UniqueConstraint("source", "external_id", name="uq_posts_source_external_id"),
    Index("ix_posts_queue_order", "status", "urgency_level", "urgency_probability", "sort_time"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("post_id", Integer, ForeignKey("posts.id"), nullable=False, index=True),
    Column("reviewer_id", Integer, ForeignKey("users.id"), nullable=False),
    # the username at the time, kept even if the account is removed later
    Column("reviewer", String(64), nullable=False),
    Column("decided_at", DateTime, nullable=False),
    Column("level_before", Integer, nullable=True),
    Column("level_after", Integer, nullable=False),
    Column("high_risk_before", Boolean, nullable=True),
    Column("high_risk_after", Boolean, nullable=True),
    Column("action", String(16), nullable=False),
    Column("note", Text, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, nullable=False, index=True),
    # who: 'user:<name>', 'token:<name>', 'cli' or 'batch'
    Column("actor", String(100), nullable=False),
    Column("event", String(32), nullable=False, index=True),
    Column("post_id", Integer, ForeignKey("posts.id"), nullable=True, index=True),
    # JSON; never the post text
    Column("detail", Text, nullable=False),
)
