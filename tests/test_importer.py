"""Importer: walking, duplicates, per-file failures, progress and cancel; index reconcile."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tinybundle import make_tiny_bundle

from app.core.context import AppContext
from app.core.importer import collect_files, import_paths, retag_photos
from app.core.similarity import SimilarityIndex


def test_collect_walks_sorted_and_reports_only_named_odd_files(photos_dir: Path) -> None:
    (photos_dir / "sub").mkdir()
    shutil.copy(photos_dir / "hat.jpg", photos_dir / "sub" / "b.PNG")
    (photos_dir / "notes.txt").write_text("skipped silently")
    (photos_dir / ".hidden.jpg").write_bytes(b"skipped")
    svg = photos_dir.parent / "logo.svg"
    svg.write_text("<svg/>")
    files, failures = collect_files([photos_dir, svg, photos_dir / "hat.jpg", "/no/such.jpg"])
    names = [p.relative_to(photos_dir).as_posix() for p in files]
    assert names == [
        "dress.jpg",
        "hat.jpg",
        "longsleeve.jpg",
        "pants.jpg",
        "shirt.jpg",
        "shoes.jpg",
        "skirt.jpg",
        "sub/b.PNG",
        "t-shirt.jpg",
    ]
    reasons = {f.path.name: f.reason for f in failures}
    assert set(reasons) == {"logo.svg", "such.jpg"}
    assert "not a photo type" in reasons["logo.svg"]
    assert "does not exist" in reasons["such.jpg"]


def test_collect_reports_broken_links_and_loops(tmp_path: Path) -> None:
    folder = tmp_path / "shoot"
    folder.mkdir()
    (folder / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    (folder / "self").symlink_to(folder / "self")
    (folder / "back").symlink_to(folder)
    files, failures = collect_files([folder])
    assert files == []
    reasons = {f.path.name: f.reason for f in failures}
    assert "broken symbolic link" in reasons["gone.jpg"]
    assert "loop" in reasons["self"]
    assert "links back" in reasons["back"]


def test_import_tags_writes_rows_and_grows_index(ctx: AppContext, photos_dir: Path) -> None:
    seen: list[tuple[int, int]] = []
    report = import_paths([photos_dir], ctx, progress=lambda d, t, p: seen.append((d, t)))
    assert report.ok and not report.cancelled
    assert len(report.added) == 8 and report.total == 8
    assert seen[-1] == (8, 8) and [d for d, _ in seen] == list(range(1, 9))
    photo = ctx.catalog.get_photo(report.added[0])
    assert Path(photo.path).is_absolute()
    families = {p.family for p in ctx.catalog.predictions(photo.id)}
    assert families == {"category", "colour"}
    assert ctx.catalog.embedding(photo.id, ctx.tagger.embedding_key) is not None
    assert ctx.index is not None and ctx.index.ids() == set(report.added)
    assert (ctx.index_dir / "index.json").exists()


def test_duplicates_are_reported_not_added(ctx: AppContext, photos_dir: Path) -> None:
    import_paths([photos_dir / "hat.jpg"], ctx)
    shutil.copy(photos_dir / "shirt.jpg", photos_dir / "shirt copy.jpg")
    report = import_paths([photos_dir], ctx)
    assert len(report.added) == 7
    duplicates = {d.path.name: d.original for d in report.duplicates}
    assert duplicates["hat.jpg"].endswith("hat.jpg")
    assert duplicates["shirt.jpg"].endswith("shirt copy.jpg")
    assert ctx.catalog.count() == 8


def test_a_moved_folder_is_found_again_with_its_tags(
    ctx: AppContext, photos_dir: Path, tmp_path: Path
) -> None:
    first = import_paths([photos_dir], ctx)
    dress = ctx.catalog.resolve(str(photos_dir / "dress.jpg"))
    ctx.catalog.set_tag(dress.id, "colour", "red")
    moved = photos_dir.rename(tmp_path / "renamed shoot")
    shutil.copy(moved / "hat.jpg", moved / "hat copy.jpg")
    report = import_paths([moved], ctx)
    assert report.added == [] and len(report.moved) == 8
    assert {m.path.name: m.was for m in report.moved}["dress.jpg"] == str(photos_dir / "dress.jpg")
    assert [(d.path.name, d.original) for d in report.duplicates] == [
        ("hat.jpg", str(moved / "hat copy.jpg"))
    ]
    assert ctx.catalog.get_photo(dress.id).path == str(moved / "dress.jpg")
    assert ctx.catalog.tags(dress.id)[0].value == "red"
    assert ctx.catalog.count() == len(first.added) and ctx.index.ids() == set(first.added)
    shutil.copytree(moved, tmp_path / "copy")
    again = import_paths([tmp_path / "copy"], ctx)
    assert again.moved == [] and len(again.duplicates) == 9


def test_bad_files_are_collected_and_the_batch_goes_on(ctx: AppContext, photos_dir: Path) -> None:
    good = (photos_dir / "hat.jpg").read_bytes()
    (photos_dir / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (photos_dir / "empty.png").write_bytes(b"")
    (photos_dir / "page.jpg").write_text("<!doctype html><html></html>")
    report = import_paths([photos_dir], ctx)
    failed = {f.path.name for f in report.failures}
    assert {"empty.png", "page.jpg"} <= failed
    assert all(f.reason.startswith(str(f.path)) for f in report.failures)
    assert len(report.added) + len(report.failures) == report.total
    assert len(report.added) >= 8


def test_unreadable_file_is_a_failure(ctx: AppContext, photos_dir: Path, lock) -> None:
    locked = photos_dir / "locked.jpg"
    shutil.copy(photos_dir / "hat.jpg", locked)
    lock(locked)
    report = import_paths([locked], ctx)
    assert [f.path for f in report.failures] == [locked]


def test_cancel_stops_between_files_and_keeps_index_in_line(
    ctx: AppContext, photos_dir: Path
) -> None:
    ctx.tagger.batch_size = 2  # a batch is written in one transaction: cancel lands between
    done: list[int] = []
    report = import_paths(
        [photos_dir], ctx, progress=lambda d, t, p: done.append(d), cancel=lambda: len(done) >= 3
    )
    assert report.cancelled
    assert 3 <= len(report.added) < 8
    assert ctx.catalog.count() == len(report.added)
    assert ctx.index.ids() == set(report.added)


def test_index_is_reconciled_and_rebuilt_on_open(
    tmp_path: Path, ctx: AppContext, photos_dir: Path
) -> None:
    report = import_paths([photos_dir], ctx)
    shutil.rmtree(ctx.index_dir)
    ctx.close()
    reopened = AppContext.open(tmp_path / "catalog.sqlite", ctx.bundle_path)
    assert reopened.index.ids() == set(report.added)
    reopened.catalog.remove_photos([report.added[0]])
    reopened.close()
    again = AppContext.open(tmp_path / "catalog.sqlite", ctx.bundle_path)
    assert again.index.ids() == set(report.added[1:])
    assert any("1 dropped" in notice for notice in again.notices)
    again.close()


def test_an_id_reused_for_another_photo_gets_that_photos_vector(
    tmp_path: Path, ctx: AppContext, photos_dir: Path
) -> None:
    """`vitrina remove` leaves the saved index alone; SQLite gives the highest id to the next
    photo; an import killed before its index save leaves the index with the old vector
    under that id. Reopening must replace it, not keep it because the id is known."""
    first = import_paths(sorted(photos_dir.glob("*.jpg"))[:7], ctx)
    last = max(first.added)
    ctx.close()
    with AppContext.open(tmp_path / "catalog.sqlite", ctx.bundle_path) as cli:
        cli.catalog.remove_photos([last])  # the index is not open in a CLI removal
        key = cli.tagger.embedding_key
        newcomer = cli.tagger.tag_file(photos_dir / "t-shirt.jpg")
        added = cli.catalog.add_tagged_photo(
            str(photos_dir / "t-shirt.jpg"),
            "f" * 64,
            1,
            1,
            1,
            "tiny@1",
            (),
            key,
            newcomer.embedding,
        )  # written, and killed before the index was saved
    assert added.id == last
    with AppContext.open(tmp_path / "catalog.sqlite", ctx.bundle_path) as window:
        (best, similarity), *_ = window.index.nearest(newcomer.embedding, 1)
    assert best == last and similarity == pytest.approx(1.0, abs=1e-5)


def test_removed_photos_leave_the_open_index(ctx: AppContext, photos_dir: Path) -> None:
    report = import_paths([photos_dir], ctx)
    gone = report.added[:2]
    assert ctx.remove_photos([*gone, 9999]).ids == gone
    assert ctx.index.ids() == set(report.added[2:])
    vector = ctx.catalog.embedding(report.added[2], ctx.tagger.embedding_key)
    found = {photo_id for photo_id, _ in ctx.index.nearest(vector, len(report.added))}
    assert found == set(report.added[2:])


def test_undone_removal_puts_photos_back_into_the_open_index(
    ctx: AppContext, photos_dir: Path
) -> None:
    report = import_paths([photos_dir], ctx)
    removed = ctx.remove_photos(report.added[:2])
    assert ctx.restore_photos(removed) == {i: i for i in report.added[:2]}
    assert ctx.index.ids() == set(report.added)
    vector = ctx.catalog.embedding(report.added[0], ctx.tagger.embedding_key)
    assert ctx.index.nearest(vector, 1)[0][0] == report.added[0]


def test_a_failed_index_save_is_a_notice_once_the_catalog_has_committed(
    ctx: AppContext, photos_dir: Path, monkeypatch
) -> None:
    """A full disk under the index folder: the import, the removal and its undo stand
    (the removed rows are returned, so nothing is lost), a notice says so, and the open
    index still answers."""

    def full(self) -> None:
        raise OSError(28, "No space left on device")

    assert ctx.index is not None  # opened (and saved) before the disk fills up
    monkeypatch.setattr(SimilarityIndex, "save", full)
    monkeypatch.setattr("app.core.importer.SAVE_EVERY", 2)
    report = import_paths([photos_dir], ctx)
    assert len(report.added) == 8 and ctx.catalog.count() == 8
    assert report.notices == ctx.notices  # once, though the import saved more than once
    assert ctx.notices[0].startswith("The similarity index could not be saved after importing")
    removed = ctx.remove_photos(report.added[:2])
    assert removed.ids == report.added[:2] and ctx.catalog.count() == 6
    assert ctx.restore_photos(removed) == {i: i for i in report.added[:2]}
    assert ctx.catalog.count() == 8
    assert len(ctx.notices) == 3 and all("No space left on device" in n for n in ctx.notices)
    assert "catches up the next time it opens" in ctx.notices[-1]
    assert ctx.index.ids() == set(report.added)


def test_other_bundle_rebuilds_index_and_reindex_retags(
    tmp_path: Path, ctx: AppContext, photos_dir: Path
) -> None:
    report = import_paths([photos_dir], ctx)
    ctx.close()
    other = make_tiny_bundle(tmp_path / "other", name="other", seed=3)
    second = AppContext.open(tmp_path / "catalog.sqlite", other)
    assert len(second.index) == 0
    assert any("built by bundle" in notice for notice in second.notices)
    missing = second.catalog.photos_missing_embedding(second.tagger.embedding_key)
    retagged = retag_photos(missing, second)
    assert retagged.ok and sorted(retagged.added) == sorted(report.added)
    assert second.index.ids() == set(report.added)
    assert {p.bundle for p in second.catalog.predictions(report.added[0])} == {"other@1"}
    second.close()


def test_import_with_a_bundle_set(
    tmp_path: Path, tiny_set_bundle: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    with AppContext.open(tmp_path / "set.sqlite", tiny_set_bundle) as context:
        report = import_paths([photos_dir], context)
        assert len(report.added) == 8
        assert context.index.dim == 16
