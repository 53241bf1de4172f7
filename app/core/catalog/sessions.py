"""Transactions of a catalog: read sessions, write sessions, and the errors they raise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.core.catalog.engine import WRITE_OPTION, database_errors, display_url
from app.core.errors import ConflictError


class CatalogSessions:
    """Owns the engine; every public catalog method runs inside ``_read`` or ``_write``."""

    def __init__(self, engine: Engine, url: str) -> None:
        self._engine = engine
        self.url = url
        self.dialect = engine.dialect.name
        self._read_sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> CatalogSessions:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({display_url(self.url)!r})"

    @contextmanager
    def _read(self, doing: str) -> Iterator[Session]:
        with database_errors(self.url, doing), self._read_sessions() as session:
            yield session
            session.rollback()

    @contextmanager
    def _write(self, doing: str) -> Iterator[Session]:
        """One transaction: everything in it is saved, or nothing is.

        On SQLite it starts with BEGIN IMMEDIATE (waits up to the busy timeout for
        another writer); on PostgreSQL the edits lock the photo rows they change.
        """
        try:
            with database_errors(self.url, doing), self._write_sessions.begin() as session:
                yield session
        except StaleDataError as error:
            raise ConflictError(
                f"Someone else changed this tag in the catalog {display_url(self.url)} at the "
                f"same moment, so {doing} was not saved. Reload the photo and edit again."
            ) from error
