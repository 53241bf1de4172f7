"""Scale (issue 26): `vitrina batch` on Ray against `vitrina import`, and similar items
served by PostgreSQL + pgvector against the desktop's hnswlib index.

batch: the same real catalog photos tagged by `vitrina import` (one thread, as one Ray
worker has; and every core, as a user runs it) and by `vitrina batch` on a local Ray with
one and with two single-threaded workers, each into a fresh SQLite catalog, in one run,
alternated round by round. Photos/s is counted from the first photo written to the last
(the steady rate), and the wall time adds the start (Ray, actors, bundle); the scaling
ratio is two workers' steady rate over one's. The CPU time of this process per photo is
all of an import's work, and for Ray the driver's (listing, Ray Data, writing the
catalog): the one process every photo passes through. The 1-minute load average before
and after each variant is recorded: the ratio only means something on a machine with two
cores free.

vectors: synthetic clustered unit vectors of the bundle's embedding dimension (as
bench.similarity makes them) at each count; queries from outside the set. hnswlib as the
desktop builds it (app.core.similarity) and pgvector as the catalog serves it (a fresh
database on the server, migrated by Catalog.open, rows loaded by COPY, then the HNSW index
of app.core.catalog.vectors built; queries through ServerIndex, the app's path):
build time, query p50/p99, recall@10 against exact search, memory on the desktop (RSS
growth), the server's sizes, and the cost of writing a photo's vector with the index in
place (a catalog batch of 16, as import and batch write them); then recall@10 and
p50/p99 for hnsw.ef_search 40, 64, 100, 200 and 400 (the app's is search_width: 200 for k = 10).
The server's backends that load and index get this process's niceness (a local server),
so `nice -n 10 python -m bench.scale vectors` yields the CPU for all of the work.

    python -m bench.scale batch --photos 600 --rounds 2
    eval "$(.ci/postgres.sh start-pgvector)"        # a server with pgvector for `vectors`
    python -m bench.scale vectors --counts 100000,1000000
    python -m bench.scale vectors --counts 1000000 --engines pgvector   # one engine
    python -m bench.scale --quick                    # both, small: under 3 minutes
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench.common import Timer, catalog_photos, percentile_ms, report, rss_mb
from bench.models import default_bundle
from bench.similarity import K, built_index, clustered, exact_top

KEY = "bench@1/{dim}/000000000000"
EF_SWEEP = (40, 64, 100, 200, 400)  # hnsw.ef_search for k = 10, set through search_width's floor


# --- batch ---------------------------------------------------------------------------------


def _tag(kind: str, photos: list[Path], bundle: Path, workdir: Path) -> dict:
    """One variant into a fresh catalog: wall time, steady rate, photos written."""
    from app.core.batch import run_batch
    from app.core.context import AppContext
    from app.core.importer import import_paths

    os.environ["VITRINA_HOME"] = str(workdir / "home")
    db = workdir / f"{kind}-{uuid.uuid4().hex[:8]}.sqlite"
    ticks: list[float] = []

    def progress(done: int, total: int, path: Path) -> None:
        ticks.append(time.perf_counter())

    load_before = os.getloadavg()[0]
    cpu_before = time.process_time()
    threads = None if kind == "import-all-cores" else 1
    with AppContext.open(db, bundle, inference_threads=threads) as ctx, Timer() as wall:
        if kind.startswith("import"):
            decode = 1 if threads == 1 else None
            extra = {"decode_workers": decode} if decode else {}
            result = import_paths(photos, ctx, progress=progress, **extra)
        else:
            workers = int(kind.split("-")[1])
            result = run_batch(photos, ctx, workers=workers, threads=1, progress=progress)
    cpu = time.process_time() - cpu_before  # this process: all of import; Ray's driver
    written = len(result.added)
    steady = (len(ticks) - 1) / (ticks[-1] - ticks[0]) if len(ticks) > 1 else 0.0
    return {
        "variant": kind,
        "photos": len(ticks),
        "written": written,
        "wall_s": round(wall.seconds, 2),
        "steady_photos_per_s": round(steady, 2),
        "start_s": round(wall.seconds - (ticks[-1] - ticks[0]) if ticks else wall.seconds, 2),
        "this_process_cpu_ms_per_photo": round(cpu / max(len(ticks), 1) * 1000, 2),
        "load_1m_before": round(load_before, 2),
        "load_1m_after": round(os.getloadavg()[0], 2),
    }


def batch(count: int, rounds: int, bundle: Path) -> dict:
    # Ray starts its workers at niceness 15 (so that the driver and raylet come first): on a
    # machine with other work they would then lose to it while `import` does not. The
    # workers get this process's niceness instead, as import's threads have it.
    os.environ["RAY_worker_niceness"] = str(os.getpriority(os.PRIO_PROCESS, 0))  # noqa: SIM112
    photos = catalog_photos(count)
    variants = ["import-1-thread", "ray-1-worker", "ray-2-workers", "import-all-cores"]
    runs: dict[str, list[dict]] = {kind: [] for kind in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            for kind in variants if round_ % 2 == 0 else variants[::-1]:
                run = _tag(kind, photos, bundle, Path(tmp))
                print(json.dumps(run), flush=True)
                runs[kind].append(run)

    def median(kind: str, field: str) -> float:
        return float(np.median([run[field] for run in runs[kind]]))

    one, two = (
        median("ray-1-worker", "steady_photos_per_s"),
        median("ray-2-workers", "steady_photos_per_s"),
    )
    single = median("import-1-thread", "steady_photos_per_s")
    count = len(photos)
    ratios = [
        b["steady_photos_per_s"] / a["steady_photos_per_s"]
        for a, b in zip(runs["ray-1-worker"], runs["ray-2-workers"], strict=True)
    ]
    return {
        "photos": len(photos),
        "rounds": rounds,
        "runs": runs,
        "steady_photos_per_s": {kind: median(kind, "steady_photos_per_s") for kind in variants},
        "wall_s": {kind: median(kind, "wall_s") for kind in variants},
        "scaling_2_vs_1_worker": round(two / one, 3),
        "scaling_per_round": [round(r, 3) for r in ratios],
        # Steady: a Ray worker only tags, the driver writes beside it (negative = faster).
        "ray_1_worker_steady_ms_per_photo_minus_import_1_thread": round(
            1000 / one - 1000 / single, 2
        ),
        # Whole run, start included, spread over the photos.
        "ray_1_worker_wall_ms_per_photo_minus_import_1_thread": round(
            (median("ray-1-worker", "wall_s") - median("import-1-thread", "wall_s")) / count * 1000,
            2,
        ),
        "ray_start_s": median("ray-1-worker", "start_s"),
        # The one process that writes every photo: import's all, Ray's driver (the catalog).
        "this_process_cpu_ms_per_photo": {
            kind: median(kind, "this_process_cpu_ms_per_photo") for kind in variants
        },
    }


# --- vectors -------------------------------------------------------------------------------


def _hnswlib(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict:
    with built_index(vectors, KEY.format(dim=vectors.shape[1])) as built:
        times, found = _queries(lambda q: built.index.nearest(q, K), queries)
    grown, file_mb = built.grown_mb, built.file_bytes / 2**20
    return {
        "build_s": round(built.build.seconds, 1),
        "p50_ms": round(percentile_ms(times, 50), 3),
        "p99_ms": round(percentile_ms(times, 99), 3),
        "recall@10": _recall(found, truth),
        "desktop_rss_growth_mb": round(grown, 1),
        "index_file_mb": round(file_mb, 1),
    }


def _queries(nearest, queries: np.ndarray) -> tuple[list[float], list[list[int]]]:
    times, found = [], []
    for query in queries:
        start = time.perf_counter()
        hits = nearest(query)
        times.append(time.perf_counter() - start)
        found.append([photo_id for photo_id, _ in hits])
    return times, found


def _recall(found: list[list[int]], truth: np.ndarray) -> float:
    shared = [len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]
    return round(float(np.mean(shared)), 4)


def _server_pids(url: str, pids: list[int]) -> list[int]:
    """Those of ``pids`` that are PostgreSQL processes on this machine (none for a server
    elsewhere: its process ids mean nothing here)."""
    from sqlalchemy.engine import make_url

    if make_url(url).host not in (None, "", "localhost", "127.0.0.1", "::1"):
        return []
    local = []
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if command.startswith(b"postgres"):
            local.append(pid)
    return local


def _renice(url: str, pids: list[int]) -> None:
    """Give a local server's processes that work for this bench this process's niceness:
    `nice -n 10 python -m bench.scale` then yields the CPU for the server's share too
    (loading rows and building the index run in the server's backends, not here)."""
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    for pid in _server_pids(url, pids):
        with contextlib.suppress(OSError):
            if os.getpriority(os.PRIO_PROCESS, pid) < mine:
                os.setpriority(os.PRIO_PROCESS, pid, mine)


@contextlib.contextmanager
def _niced_helpers(url: str, leader: int) -> Iterator[None]:
    """While an index builds: renice the parallel workers the server starts for it."""
    from sqlalchemy import create_engine, text

    done = threading.Event()
    engine = create_engine(url)

    def watch() -> None:
        with engine.connect() as connection:
            while not done.wait(0.5):
                rows = connection.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE leader_pid = :pid"),
                    {"pid": leader},
                )
                _renice(url, [row[0] for row in rows])
                connection.rollback()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        engine.dispose()


def _load(url: str, vectors: np.ndarray, key: str) -> float:
    """Photos and embeddings rows by COPY (ids = row + 1): seconds taken."""
    import psycopg
    from pgvector.psycopg import register_vector
    from sqlalchemy.engine import make_url

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    now = datetime.datetime.now(datetime.UTC)
    dim = vectors.shape[1]
    with Timer() as took, psycopg.connect(plain) as connection:
        _renice(url, [connection.info.backend_pid])
        register_vector(connection)
        with connection.cursor() as cursor:
            photos = "COPY photos (id, path, sha256, size_bytes, width, height, added_at, "
            photos += "review_state, bundle) FROM STDIN"
            with cursor.copy(photos) as copy:
                for i in range(1, len(vectors) + 1):
                    copy.write_row((i, f"/bench/{i}.jpg", f"{i:064x}", 1, 1, 1, now, "new", None))
            rows = "COPY embeddings (photo_id, bundle_key, dim, vector, embedding) FROM STDIN "
            rows += "WITH (FORMAT BINARY)"
            with cursor.copy(rows) as copy:
                copy.set_types(["int4", "varchar", "int4", "bytea", "vector"])
                for i, vector in enumerate(vectors, start=1):
                    copy.write_row((i, key, dim, vector.astype("<f4").tobytes(), vector))
            cursor.execute("SELECT setval('photos_id_seq', %s)", (len(vectors),))
    return took.seconds


def _pgvector(
    url: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, ef_construction: int
) -> dict:
    from sqlalchemy import text

    from app.core.catalog import Catalog, NewPhoto
    from app.core.catalog import vectors as vectors_module
    from app.core.catalog.vectors import create_index, index_name, search_width
    from app.core.server_index import ServerIndex

    count, dim = vectors.shape
    key = KEY.format(dim=dim)
    with Catalog.open(url) as catalog:
        assert catalog.server_vectors, f"{url}: the server has no pgvector"
        load_s = _load(url, vectors, key)
        with catalog._engine.begin() as connection:
            connection.execute(text("SET maintenance_work_mem = '4GB'"))
            connection.execute(text("SET max_parallel_maintenance_workers = 1"))  # 2 processes
            backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            _renice(url, [backend])
            default_build = vectors_module.HNSW_EF_CONSTRUCTION
            vectors_module.HNSW_EF_CONSTRUCTION = ef_construction
            try:
                with _niced_helpers(url, backend), Timer() as build:
                    create_index(connection, key, dim)
            finally:
                vectors_module.HNSW_EF_CONSTRUCTION = default_build
        with catalog._engine.connect() as connection:
            sizes = connection.execute(
                text(
                    "SELECT pg_relation_size(:index), pg_table_size('embeddings'), "
                    "pg_total_relation_size('embeddings'), pg_total_relation_size('photos')"
                ),
                {"index": index_name(key)},
            ).one()
        with catalog._engine.execution_options(isolation_level="AUTOCOMMIT").connect() as c:
            c.execute(text("VACUUM ANALYZE embeddings"))
        server = ServerIndex(catalog, key, dim)
        before = rss_mb()
        server.nearest(queries[0], K)  # the first query opens the connection
        times, found = _queries(lambda q: server.nearest(q, K), queries)
        grown = rss_mb() - before
        sweep = {}
        default_floor = vectors_module.EF_SEARCH_MIN
        try:
            for floor in EF_SWEEP:  # k = 10 asks for 4 * 10 = 40: the floor is the width
                vectors_module.EF_SEARCH_MIN = floor
                swept, hits = _queries(lambda q: server.nearest(q, K), queries)
                sweep[search_width(K)] = {
                    "recall@10": _recall(hits, truth),
                    "p50_ms": round(percentile_ms(swept, 50), 3),
                    "p99_ms": round(percentile_ms(swept, 99), 3),
                }
        finally:
            vectors_module.EF_SEARCH_MIN = default_floor
        extra = clustered(320, 10, dim, seed=7)
        items = [
            NewPhoto(f"/bench/new-{i}.jpg", f"{count + 10 + i:064x}", 1, 1, 1, None, (), key, v)
            for i, v in enumerate(extra)
        ]
        with Timer() as writes:
            for first in range(0, len(items), 16):
                catalog.add_tagged_photos(items[first : first + 16])
    return {
        "m": vectors_module.HNSW_M,
        "ef_construction": ef_construction,
        "load_copy_s": round(load_s, 1),
        "build_s": round(build.seconds, 1),
        "p50_ms": round(percentile_ms(times, 50), 3),
        "p99_ms": round(percentile_ms(times, 99), 3),
        "recall@10": _recall(found, truth),
        "desktop_rss_growth_mb": round(grown, 1),
        "server_index_mb": round(sizes[0] / 2**20, 1),
        "server_embeddings_table_mb": round(sizes[1] / 2**20, 1),  # rows and TOAST
        "server_embeddings_total_mb": round(sizes[2] / 2**20, 1),  # with its indexes
        "server_photos_total_mb": round(sizes[3] / 2**20, 1),
        "write_ms_per_photo_with_index": round(writes.seconds / len(items) * 1000, 2),
        "ef_search": search_width(K),
        "ef_search_sweep": sweep,
    }


@contextlib.contextmanager
def _database(server: str) -> Iterator[str]:
    """A fresh database on ``server``, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(server)
    name = f"vitrina_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def vectors(
    counts: list[int],
    queries: int,
    dim: int,
    server: str,
    engines: list[str],
    ef_construction: int | None = None,
) -> list[dict]:
    from app.core.catalog.vectors import HNSW_EF_CONSTRUCTION

    build = ef_construction or HNSW_EF_CONSTRUCTION
    results = []
    for count in counts:
        data = clustered(count + queries, max(count // 100, 10), dim)
        stored, asked = data[:count], data[count:]
        truth = exact_top(stored, asked, None) + 1  # catalog ids start at 1
        result = {"count": count, "dim": dim, "queries": queries}
        if "hnswlib" in engines:
            result["hnswlib"] = _hnswlib(stored, asked, truth - 1)
        if "pgvector" in engines:
            with _database(server) as url:
                result["pgvector"] = _pgvector(url, stored, asked, truth, build)
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", choices=("batch", "vectors"), help="default: both")
    parser.add_argument("--quick", action="store_true", help="120 photos, 20,000 vectors")
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: models_onnx/default)")
    parser.add_argument("--photos", type=int, default=600, help="catalog photos for batch")
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds of batch")
    parser.add_argument("--counts", default="100000,1000000", help="vector counts")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--engines", default="hnswlib,pgvector", help="vectors: hnswlib, pgvector or both"
    )
    parser.add_argument(
        "--ef-construction",
        type=int,
        help="vectors: pgvector's HNSW ef_construction (default: the app's)",
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get("VITRINA_TEST_PGVECTOR_URL"),
        help="a PostgreSQL server with pgvector (default: $VITRINA_TEST_PGVECTOR_URL)",
    )
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    args = parser.parse_args()
    bundle = args.bundle or default_bundle()
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    dim = int(manifest["embedding"]["dim"])
    result: dict = {"bundle": str(bundle)}
    if args.part in (None, "batch"):
        photos, rounds = (120, 1) if args.quick else (args.photos, args.rounds)
        result["batch"] = batch(photos, rounds, bundle)
    if args.part in (None, "vectors"):
        engines = [engine.strip() for engine in args.engines.split(",")]
        if unknown := set(engines) - {"hnswlib", "pgvector"}:
            parser.error(f"--engines: unknown {', '.join(sorted(unknown))}")
        if not args.pg and "pgvector" in engines:
            parser.error("vectors needs a server with pgvector: --pg URL (.ci/postgres.sh)")
        counts = [20_000] if args.quick else [int(c) for c in args.counts.split(",")]
        result["vectors"] = vectors(
            counts, args.queries, dim, args.pg, engines, args.ef_construction
        )
    report("scale" + (f"-{args.part}" if args.part else ""), result, args.out)


if __name__ == "__main__":
    main()
