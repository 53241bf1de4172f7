"""Alembic environment: runs on the connection Catalog.open hands over (no alembic.ini)."""

from alembic import context
from sqlalchemy import text

from app.core.catalog.models import Base

target_metadata = Base.metadata
PG_MIGRATION_LOCK = 0x56495452  # "VITR": one migrating process at a time on a shared server


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
            )
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Vitrina migrations run online only (Catalog.open applies them).")
run_migrations_online()
