"""Migrations equal the models; opening odd files or locked catalogs gives clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from catalog_fixtures import add_sample
from sqlalchemy import create_engine, inspect, text

from app.core.catalog import Catalog
from app.core.catalog.models import Base
from app.core.errors import CatalogError

pytest_plugins = ("catalog_fixtures",)


def test_migrated_schema_equals_the_models(catalog: Catalog) -> None:
    engine = create_engine(catalog.url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            indexes = {ix["name"] for ix in inspect(connection).get_indexes("tags")}
    finally:
        engine.dispose()
    assert {"ix_tags_value", "ix_tags_family_value", "uq_tags_family_slot"} <= indexes


def test_open_twice_is_idempotent_and_refuses_a_newer_schema(catalog_url: str) -> None:
    Catalog.open(catalog_url).close()
    Catalog.open(catalog_url).close()
    engine = create_engine(catalog_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(CatalogError, match="newer Vitrina"):
        Catalog.open(catalog_url)


def test_sqlite_settings(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "c.sqlite") as catalog:
        engine = catalog._engine
        with engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 5000
            assert pragma("synchronous") == 1  # NORMAL
    assert catalog.url == f"sqlite:///{(tmp_path / 'c.sqlite').resolve()}"


def test_default_catalog_is_in_the_data_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    with Catalog.open(None) as catalog:
        assert catalog.url.endswith("/home/catalog.sqlite")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html>not a database</html>", "not a Vitrina catalog"),
        (b"SQLite format 3\x00" + b"\xff" * 200, "damaged or not a Vitrina catalog"),
    ],
)
def test_a_file_that_is_not_a_catalog_is_refused(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(CatalogError, match=message) as caught:
        Catalog.open(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="is a folder"):
        Catalog.open(tmp_path)


def test_an_unreadable_file_is_refused(tmp_path: Path, lock) -> None:
    path = tmp_path / "c.sqlite"
    Catalog.open(path).close()
    lock(path)
    with pytest.raises(CatalogError, match="check its permissions"):
        Catalog.open(path)


def test_a_bad_url_is_refused() -> None:
    with pytest.raises(CatalogError, match="nosuchdb"):
        Catalog.open("nosuchdb://x/y")


def test_unreachable_server_is_explained() -> None:
    with pytest.raises(CatalogError, match="Cannot reach the catalog server") as caught:
        Catalog.open("postgresql+psycopg://me:secret@127.0.0.1:1/nothing?connect_timeout=2")
    assert "secret" not in str(caught.value)


def test_write_while_another_program_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog.open(path) as catalog:
        photo = add_sample(catalog, 1)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with Catalog.open(path, busy_timeout_ms=200) as catalog:
            assert catalog.tags(photo.id) == []  # readers are not blocked (WAL)
            with pytest.raises(CatalogError, match="another program") as caught:
                catalog.accept(photo.id, "colour", "red", "alice")
            assert "Nothing was lost" in str(caught.value)
            other.execute("ROLLBACK")
            assert catalog.accept(photo.id, "colour", "red", "alice") is not None
    finally:
        other.close()


def test_upgrading_recomputes_review_states_older_versions_set_too_eagerly(
    catalog_url: str,
) -> None:
    """Before 0002, accepting the confident tags marked a photo reviewed even with a family
    left undecided; the upgrade applies the rule of slots.refresh_review_state."""
    from alembic import command
    from alembic.config import Config

    from app.core.catalog.engine import MIGRATIONS

    engine = create_engine(catalog_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        photos = "INSERT INTO photos (id, path, sha256, size_bytes, width, height, added_at, "
        photos += "review_state) VALUES (:id, :p, :s, 1, 1, 1, CURRENT_TIMESTAMP, 'reviewed')"
        tags = "INSERT INTO tags (photo_id, family, value, source, status, updated_at, "
        tags += "updated_by, version_id) VALUES (:id, :f, 'x', 'human', 'accepted', "
        tags += "CURRENT_TIMESTAMP, 'me', 1)"
        prediction = "INSERT INTO predictions (photo_id, bundle, family, label, confidence, "
        prediction += "rank, threshold) VALUES (:id, 'b', :f, 'x', 0.9, 1, 0.5)"
        for photo_id in (1, 2, 3):
            connection.execute(text(photos), {"id": photo_id, "p": f"/{photo_id}", "s": photo_id})
        for photo_id, family in ((1, "colour"), (1, "category"), (2, "colour"), (2, "category")):
            connection.execute(text(prediction), {"id": photo_id, "f": family})
        for photo_id, family in ((1, "colour"), (1, "category"), (2, "colour")):
            connection.execute(text(tags), {"id": photo_id, "f": family})
    engine.dispose()
    with Catalog.open(catalog_url) as catalog:
        states = {p.id: p.review_state for p in catalog.list_photos(limit=10)}
    assert states == {1: "reviewed", 2: "suggested", 3: "new"}
