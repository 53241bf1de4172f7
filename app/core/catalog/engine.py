"""Opening a catalog database: URL or path, SQLite settings, migrations, clear errors."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.pool import NullPool, StaticPool

from app.core import paths
from app.core.errors import CatalogError

MIGRATIONS = Path(__file__).with_name("migrations")
WRITE_OPTION = "vitrina_write"


def catalog_url(url_or_path: str | Path | None) -> str:
    """Any SQLAlchemy URL as is; a plain path becomes a SQLite file URL; ``None`` the default."""
    if url_or_path is None:
        url_or_path = paths.default_catalog_path()
    if isinstance(url_or_path, str) and "://" in url_or_path:
        return url_or_path
    return f"sqlite:///{Path(url_or_path).expanduser().resolve()}"


def display_url(url: str) -> str:
    """The file of a SQLite catalog, else the URL without its password, for messages."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            return parsed.database
        return parsed.render_as_string(hide_password=True)
    except ArgumentError:
        return url


def check_sqlite_file(url: str) -> None:
    """Refuse a path that is a folder or cannot be created, before SQLite does.

    Whether the file is a SQLite database is left to SQLite itself (its "not a database"
    becomes a clear CatalogError): reading the file here would open and close it in this
    process, and closing any descriptor of a file drops every POSIX lock the process holds
    on it, those of a catalog already open included."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    if path.is_dir():
        raise CatalogError(f"{path} is a folder, not a catalog file; pass the path of a file.")
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CatalogError(
                f"Cannot create the catalog {path}: {error.strerror}; choose a writable folder."
            ) from error
    elif not os.access(path, os.R_OK | os.W_OK):
        raise CatalogError(f"Cannot read and write the catalog {path}; check its permissions.")


def create_catalog_engine(url: str, busy_timeout_ms: int) -> Engine:
    """An engine with the settings the catalog relies on (WAL, foreign keys, busy timeout)."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise CatalogError(f"{url} is not a database URL or path: {error}.") from error
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except (ArgumentError, ImportError) as error:
            raise CatalogError(
                f"Cannot use the catalog {display_url(url)}: {error}. For PostgreSQL install "
                "the 'postgres' extra: pip install -e '.[postgres]' in Vitrina's folder."
            ) from error
    check_sqlite_file(url)
    memory = parsed.database in (None, "", ":memory:")
    engine = create_engine(
        parsed,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        poolclass=StaticPool if memory else NullPool,
    )
    _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Real transactions: SQLAlchemy issues BEGIN itself, IMMEDIATE for writes.

    A write transaction takes the write lock before it reads, so two writers queue up
    (busy timeout) instead of failing late, and the version check happens under the lock.

    A file catalog has no connection pool: each transaction opens the file and closes it
    at its end. SQLite's locks are POSIX locks, owned by the process and dropped when *any*
    descriptor of the file closes in it (a file dialog showing the catalog's folder does
    that). A connection kept open for hours would go on without its locks, and another
    program closing the catalog would then checkpoint and delete the WAL still in use,
    losing every edit made after (docs/architecture.md, "One catalog, several programs").
    Holding the files only for a transaction's milliseconds leaves nothing to lose.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def migrate(engine: Engine, url: str) -> None:
    """Bring the schema to the newest revision; refuse a catalog from a newer Vitrina."""
    script = ScriptDirectory(str(MIGRATIONS))
    heads = set(script.get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
        connection.rollback()
    unknown = current - {rev.revision for rev in script.walk_revisions()}
    if unknown:
        raise CatalogError(
            f"The catalog {display_url(url)} was written by a newer Vitrina (schema "
            f"{', '.join(sorted(unknown))}); update Vitrina to open it."
        )
    if current == heads:
        return
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.execution_options(**{WRITE_OPTION: True}).connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def database_errors(url: str, doing: str) -> Iterator[None]:
    """Turn driver errors into a CatalogError that says what happened and what to do."""
    try:
        yield
    except CatalogError:
        raise
    except DBAPIError as error:
        raise CatalogError(describe_error(url, doing, error)) from error


def describe_error(url: str, doing: str, error: DBAPIError) -> str:
    detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    where = display_url(url)
    lowered = detail.lower()
    if "locked" in lowered or "busy" in lowered:
        return (
            f"The catalog {where} is busy: another program (Vitrina window or command) is "
            f"writing to it, so {doing} did not go through. Nothing was lost; try again "
            "in a moment."
        )
    if "not a database" in lowered or "malformed" in lowered:
        return (
            f"The catalog {where} is damaged or not a Vitrina catalog ({detail}); "
            "restore it from a backup or choose another file."
        )
    if "unable to open" in lowered or "readonly" in lowered or "read-only" in lowered:
        return (
            f"Cannot open the catalog {where} for {doing} ({detail}); check that the file "
            "and its folder are writable."
        )
    if "connection" in lowered or "could not" in lowered or "timeout" in lowered:
        return (
            f"Cannot reach the catalog server {where} ({detail}); check that the server is "
            "running and the --db URL (host, port, user, password) is right."
        )
    if isinstance(error, OperationalError):
        return f"The catalog {where} failed during {doing}: {detail}. Nothing was changed."
    return (
        f"The catalog {where} refused {doing}: {detail}. Nothing was changed; "
        "if this repeats, check the catalog with `vitrina stats`."
    )
