"""indexed group search (SQLite FTS5 trigram, PostgreSQL pg_trgm); list indexes led by the state

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 15:00:00

The dashboard's text search ("contains", any case, over fingerprint, classifier and
message) reads a trigram index instead of every group: on SQLite an external-content
FTS5 table ``group_search`` over ``error_groups`` (no second copy of the text), on
PostgreSQL a ``group_search`` table of lower-cased text with a GIN ``gin_trgm_ops``
index (its own table, so the fold's count updates never touch the trigram index).
Triggers keep both in step; they fire only when a group is created, deleted or has
its text changed, never for the fold's count and time updates.

The group list's indexes become (project, state, key): a list filtered by state reads
its page off the index, and the unfiltered list merges one page per state.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_SQLITE = [
    "CREATE VIRTUAL TABLE group_search USING fts5(fingerprint, classifier, message,"
    " content='error_groups', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER group_search_insert AFTER INSERT ON error_groups BEGIN"
    " INSERT INTO group_search (rowid, fingerprint, classifier, message)"
    " VALUES (new.id, new.fingerprint, new.classifier, new.message); END",
    "CREATE TRIGGER group_search_delete AFTER DELETE ON error_groups BEGIN"
    " INSERT INTO group_search (group_search, rowid, fingerprint, classifier, message)"
    " VALUES ('delete', old.id, old.fingerprint, old.classifier, old.message); END",
    "CREATE TRIGGER group_search_update AFTER UPDATE OF fingerprint, classifier, message"
    " ON error_groups BEGIN"
    " INSERT INTO group_search (group_search, rowid, fingerprint, classifier, message)"
    " VALUES ('delete', old.id, old.fingerprint, old.classifier, old.message);"
    " INSERT INTO group_search (rowid, fingerprint, classifier, message)"
    " VALUES (new.id, new.fingerprint, new.classifier, new.message); END",
    "INSERT INTO group_search (group_search) VALUES ('rebuild')",
]

_PG_BODY = "lower({p}.fingerprint || E'\\n' || {p}.classifier || E'\\n' || {p}.message)"

_POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE TABLE group_search (group_id BIGINT PRIMARY KEY"
    " REFERENCES error_groups (id) ON DELETE CASCADE, body TEXT NOT NULL)",
    "CREATE INDEX ix_group_search_body ON group_search USING gin (body gin_trgm_ops)",
    "CREATE FUNCTION group_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"  # noqa: S608 - constants
    f" INSERT INTO group_search (group_id, body) VALUES (NEW.id, {_PG_BODY.format(p='NEW')})"
    " ON CONFLICT (group_id) DO UPDATE SET body = excluded.body; RETURN NULL; END $$",
    "CREATE TRIGGER group_search_sync AFTER INSERT OR UPDATE OF fingerprint, classifier,"
    " message ON error_groups FOR EACH ROW EXECUTE FUNCTION group_search_sync()",
    f"INSERT INTO group_search (group_id, body) SELECT g.id, {_PG_BODY.format(p='g')}"  # noqa: S608 - constants
    " FROM error_groups AS g",
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES if postgres else _SQLITE:
        op.execute(sa.text(statement))
    op.create_index(
        "ix_error_groups_project_state_last_seen",
        "error_groups",
        ["project_id", "state", "last_seen"],
    )
    op.create_index(
        "ix_error_groups_project_state_count", "error_groups", ["project_id", "state", "count"]
    )
    for name in (
        "ix_error_groups_project_last_seen",
        "ix_error_groups_project_state",
        "ix_error_groups_project_count",
    ):
        op.drop_index(name, table_name="error_groups")


def downgrade() -> None:
    op.create_index(
        "ix_error_groups_project_last_seen", "error_groups", ["project_id", "last_seen"]
    )
    op.create_index("ix_error_groups_project_state", "error_groups", ["project_id", "state"])
    op.create_index("ix_error_groups_project_count", "error_groups", ["project_id", "count"])
    op.drop_index("ix_error_groups_project_state_count", table_name="error_groups")
    op.drop_index("ix_error_groups_project_state_last_seen", table_name="error_groups")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP TRIGGER group_search_sync ON error_groups"))
        op.execute(sa.text("DROP FUNCTION group_search_sync()"))
        op.execute(sa.text("DROP TABLE group_search"))
    else:
        for trigger in ("group_search_insert", "group_search_delete", "group_search_update"):
            op.execute(sa.text(f"DROP TRIGGER {trigger}"))
        op.execute(sa.text("DROP TABLE group_search"))
