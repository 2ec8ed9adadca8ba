"""Alembic environment: runs on a blocking connection (stdlib sqlite3 or psycopg)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine, pool

from syncengine.store.tables import Base, include_in_schema


def run_migrations() -> None:
    """Apply the pending revisions to the URL the caller put in the Alembic config."""
    config = context.config
    url: str = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or ""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        _run(engine)
    finally:
        engine.dispose()


def _run(engine: Engine) -> None:
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            # The pragma opened a transaction; end it so Alembic's own one commits.
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=include_in_schema,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
