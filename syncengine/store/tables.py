"""SQLAlchemy 2.x tables of the store (the data model of DESIGN.md).

Rows never leave the ``store`` package: repositories turn them into domain values.
Times are stored as UTC and always come back timezone-aware (:class:`UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "SEARCH_TABLES",
    "Attachment",
    "AttributeCount",
    "AttributeName",
    "AuditLog",
    "Base",
    "Comment",
    "EpochMillis",
    "ErrorGroup",
    "GroupDayCount",
    "GroupMinuteCount",
    "HealthCheck",
    "IssueLink",
    "JiraBudget",
    "JiraCredential",
    "JiraWebhook",
    "OutboxItem",
    "Project",
    "Sample",
    "SubmissionToken",
    "SupportRequest",
    "SyncCursor",
    "UTCDateTime",
    "WebSession",
    "WebhookDelivery",
    "from_epoch_ms",
    "include_in_schema",
    "to_epoch_ms",
]

# Constraint names are spelled out so migrations can alter them on both backends.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

# Outbox states by the literal SQL partial indexes and the claim share (literals, not
# bound parameters: a planner can match a partial index only against literals).
OUTBOX_UNFINISHED = "state IN ('pending', 'running', 'dead')"
OUTBOX_DONE = "state = 'done'"
OUTBOX_READY = "state IN ('pending', 'running') AND waits_for IS NULL"

# The text search index of groups (migration 0016) is no model: an FTS5 virtual table
# (and its shadow tables) on SQLite, a table with a pg_trgm index on PostgreSQL, both
# kept by triggers. Schema comparisons (Alembic autogenerate, the schema test) skip it.
SEARCH_TABLES = frozenset(
    {
        "group_search",
        "group_search_data",
        "group_search_idx",
        "group_search_docsize",
        "group_search_config",
        "group_search_content",
    }
)


def include_in_schema(name: str | None, type_: str, _parents: Any = None) -> bool:
    """Alembic ``include_name``: every object but the search index's own tables."""
    return not (type_ == "table" and name in SEARCH_TABLES)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC that always comes back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Project(Base):
    """A project: crash reports, groups, an integration and its Active/Passive switch."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    integration_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SubmissionToken(Base):
    """A project's submission token, stored only as its SHA-256 digest."""

    __tablename__ = "submission_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(32), default="config")
    hint: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime]


class ErrorGroup(Base):
    """All reports of one project that share one fingerprint."""

    __tablename__ = "error_groups"
    __table_args__ = (
        UniqueConstraint("project_id", "fingerprint"),
        # A page of a list by state is a range of one index; the unfiltered list
        # merges one page per state (migration 0016); ties in the id's order (0018).
        Index("ix_error_groups_project_state_last_seen", "project_id", "state", "last_seen", "id"),
        Index("ix_error_groups_project_state_count", "project_id", "state", "count", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default="open")
    assignee: Mapped[str | None] = mapped_column(String(320))
    classifier: Mapped[str] = mapped_column(String(512), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    first_version: Mapped[str | None] = mapped_column(String(128))
    last_version: Mapped[str | None] = mapped_column(String(128))
    first_version_ms: Mapped[int | None] = mapped_column(BigInteger)  # when those two were
    last_version_ms: Mapped[int | None] = mapped_column(BigInteger)  # seen (epoch ms)
    resolve_rule: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    resolved_at: Mapped[datetime | None]
    regression_count: Mapped[int] = mapped_column(Integer, default=0)
    last_regression_at: Mapped[datetime | None]
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    # Why the versions of reports for this resolved group cannot be ordered (None: they can).
    version_problem: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class EpochMillis(TypeDecorator[datetime]):
    """A UTC timestamp stored as integer milliseconds since the epoch.

    Used where rows are many and small (attribute counts): an integer keeps the
    row, and so the pages a batch dirties, about half the size of a text timestamp.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        return to_epoch_ms(value)

    def process_result_value(self, value: int | None, dialect: Dialect) -> datetime | None:
        return None if value is None else from_epoch_ms(value)


def to_epoch_ms(value: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    return (value - _EPOCH) // _MILLISECOND


def from_epoch_ms(value: int) -> datetime:
    """The aware UTC datetime of milliseconds since the epoch."""
    return _EPOCH + value * _MILLISECOND


class AttributeName(Base):
    """An attribute name, interned: count rows carry its small integer id, not the text."""

    __tablename__ = "attribute_names"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)


class AttributeCount(Base):
    """How often one attribute value was seen in one group: the source of ``$attribute``.

    A ``WITHOUT ROWID`` table on SQLite: the rows live in their primary-key B-tree,
    so an upsert dirties one tree instead of a table and an index.
    """

    __tablename__ = "attribute_counts"
    __table_args__ = {"sqlite_with_rowid": False}

    group_id: Mapped[int] = mapped_column(
        ForeignKey("error_groups.id", ondelete="CASCADE"), primary_key=True
    )
    attribute_id: Mapped[int] = mapped_column(
        ForeignKey("attribute_names.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(String(1024), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seen: Mapped[datetime] = mapped_column(EpochMillis)


class Sample(Base):
    """A raw report kept for the description: the first ones and the newest ones.

    ``slot`` numbers the kept reports of one kind: ``first`` samples take slots
    0..N-1 once; ``newest`` samples form a ring of M slots, each new report
    overwriting the oldest, so a group never holds more than N + M samples.
    """

    __tablename__ = "samples"
    __table_args__ = (UniqueConstraint("group_id", "kind", "slot"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("error_groups.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # "first" or "newest"
    slot: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]


class IssueLink(Base):
    """A group's Jira issue, by id and key, with the last synced snapshot (the merge base)."""

    __tablename__ = "issue_links"
    __table_args__ = (UniqueConstraint("project_id", "jira_issue_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(
        ForeignKey("error_groups.id", ondelete="CASCADE"), unique=True
    )
    jira_issue_id: Mapped[str] = mapped_column(String(32))
    jira_issue_key: Mapped[str] = mapped_column(String(64), index=True)
    snapshot_state: Mapped[str | None] = mapped_column(String(16))
    snapshot_status: Mapped[str | None] = mapped_column(String(128))
    snapshot_assignee: Mapped[str | None] = mapped_column(String(320))
    snapshot_fix_versions: Mapped[dict[str, Any] | None]
    jira_updated_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # The impact last written to the issue: {"facts": …, "fields": {field id: value}}
    # (what a person's later edit is told apart from), and when (migration 0014).
    impact_written: Mapped[dict[str, Any] | None]
    impact_written_at: Mapped[datetime | None]
    backlinked_at: Mapped[datetime | None]


class OutboxItem(Base):
    """One Jira action owed, durable until it succeeds or an operator drops it."""

    __tablename__ = "outbox"
    __table_args__ = (
        # Partial, so that no index but the ready one can serve the claim's state test.
        Index(
            "ix_outbox_done_updated",
            "updated_at",
            sqlite_where=text(OUTBOX_DONE),
            postgresql_where=text(OUTBOX_DONE),
        ),
        Index(
            "ix_outbox_unfinished_state",
            "state",
            "created_at",
            sqlite_where=text(OUTBOX_UNFINISHED),
            postgresql_where=text(OUTBOX_UNFINISHED),
        ),
        Index("ix_outbox_project_state", "project_id", "state"),
        # The claim reads only items that wait for nothing, in due order: O(batch),
        # however many are pending, blocked or dead (migration 0011).
        Index(
            "ix_outbox_ready",
            "next_attempt_at",
            "id",
            sqlite_where=text(OUTBOX_READY),
            postgresql_where=text(OUTBOX_READY),
        ),
        # "Is an earlier item of this subject unfinished?" is one index probe.
        Index(
            "ix_outbox_group_unfinished",
            "group_id",
            "id",
            sqlite_where=text(OUTBOX_UNFINISHED),
            postgresql_where=text(OUTBOX_UNFINISHED),
        ),
        Index(
            "ix_outbox_support_unfinished",
            "support_request_id",
            "id",
            sqlite_where=text(OUTBOX_UNFINISHED),
            postgresql_where=text(OUTBOX_UNFINISHED),
        ),
        Index(
            "ix_outbox_waits_for",
            "waits_for",
            sqlite_where=text("waits_for IS NOT NULL"),
            postgresql_where=text("waits_for IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("error_groups.id", ondelete="CASCADE"))
    support_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_requests.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The earlier unfinished item of the same group or support request this one
    # waits behind (None: it may run). Set on insert, handed on when that item finishes.
    waits_for: Mapped[int | None] = mapped_column(Id)


class SyncCursor(Base):
    """A project's JQL watermark and when Jira last spoke to us."""

    __tablename__ = "sync_cursors"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    watermark: Mapped[datetime | None]
    last_poll_at: Mapped[datetime | None]
    last_webhook_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookDelivery(Base):
    """A webhook delivery already handled (Jira retries deliveries for ~30 minutes)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("project_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(index=True)


class SupportRequest(Base):
    """A support request filed through the portal."""

    __tablename__ = "support_requests"
    __table_args__ = (Index("ix_support_requests_project_reporter", "project_id", "reporter"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    reporter: Mapped[str] = mapped_column(String(320))
    label: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(128), default="")
    api_product: Mapped[str] = mapped_column(String(200), default="")
    endpoint: Mapped[str] = mapped_column(String(500), default="")
    jira_issue_id: Mapped[str | None] = mapped_column(String(32))
    jira_issue_key: Mapped[str | None] = mapped_column(String(64), index=True)
    jira_status: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Attachment(Base):
    """A file attached to a support request (or a group), kept until Jira has it."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    support_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_requests.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("error_groups.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    jira_attachment_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class Comment(Base):
    """A comment on a linked Jira issue, pulled back for the portal and the dashboard, or a
    requester's reply from the portal on its way to Jira."""

    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("support_request_id", "jira_comment_id"),
        UniqueConstraint("group_id", "jira_comment_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    support_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_requests.id", ondelete="CASCADE")
    )
    group_id: Mapped[int | None] = mapped_column(ForeignKey("error_groups.id", ondelete="CASCADE"))
    jira_comment_id: Mapped[str | None] = mapped_column(String(32))
    author: Mapped[str] = mapped_column(String(320), default="")
    portal_author: Mapped[str | None] = mapped_column(String(320))
    """The portal user who wrote this reply (None: written in Jira); until it has a
    ``jira_comment_id`` it waits in the outbox (``support.comment``)."""
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuditLog(Base):
    """Who changed what, when: integration switches, conflicts, manual actions."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_group_created", "group_id", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(ForeignKey("error_groups.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class GroupMinuteCount(Base):
    """Occurrences of a group per arrival minute, kept only for projects whose ticket
    rules count within a time window (``rules.window_minutes``), and pruned past it."""

    __tablename__ = "group_minute_counts"
    __table_args__ = {"sqlite_with_rowid": False}

    group_id: Mapped[int] = mapped_column(
        ForeignKey("error_groups.id", ondelete="CASCADE"), primary_key=True
    )
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch minutes
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class GroupDayCount(Base):
    """Occurrences of a group per day (UTC, by report time) and version: its history.

    ``version`` is "" for reports without one. Written by the fold, so it is exact.
    """

    __tablename__ = "group_day_counts"
    __table_args__ = {"sqlite_with_rowid": False}

    group_id: Mapped[int] = mapped_column(
        ForeignKey("error_groups.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # days since 1970-01-01
    version: Mapped[str] = mapped_column(String(128), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class WebSession(Base):
    """A dashboard sign-in, kept server-side so that signing out (or a new password) ends it.

    The cookie carries a random token; only its SHA-256 digest is stored. The
    fingerprint is a digest of the user's password hash at sign-in: when the
    configured hash changes, the session no longer matches and is ended.
    """

    __tablename__ = "web_sessions"

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(128), index=True)
    password_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class JiraCredential(Base):
    """A project's OAuth credential for Jira: keys and tokens sealed (see ``store.secret_box``).

    Only the kind, the state of the connection and when it must be renewed are in clear;
    ``sealed`` is Fernet ciphertext of a JSON object. ``version`` grows with every write,
    so a refresh that lost a race sees that another process already rotated the token.
    """

    __tablename__ = "jira_credentials"

    project_slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    sealed: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class JiraWebhook(Base):
    """A webhook the engine registered in Jira by API, and when Jira lets it lapse.

    ``api`` is ``dynamic`` (Cloud, an OAuth 2.0 app's ``/rest/api/3/webhook``: expires
    30 days after registration or its last refresh) or ``admin`` (Data Center's
    ``/rest/webhooks/1.0/webhook``: no expiry). The URL holds no secret.
    """

    __tablename__ = "jira_webhooks"

    project_slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    api: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    jql: Mapped[str] = mapped_column(Text)
    events: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class HealthCheck(Base):
    """The last result of one periodic check of a project's Jira connection (any process
    reads it: the integration page and ``/metrics`` show what the job found)."""

    __tablename__ = "health_checks"

    project_slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
    fix: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime]


class JiraBudget(Base):
    """The request budget of one Jira site, shared by every process (``store.jira_budget``).

    Times are seconds since the epoch on the database's clock.
    """

    __tablename__ = "jira_budgets"

    site: Mapped[str] = mapped_column(String(512), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)
    paused_until: Mapped[float] = mapped_column(Float)
    near_limit_until: Mapped[float] = mapped_column(Float)
