"""Incremental loads (issue 15): `sluice export --incremental COLUMN` against the local
MariaDB and moto. Expected rows always come from MariaDB (pymysql, SQL the server runs);
the files are read with pyarrow and DuckDB, and the manifests' files are checked by size
and SHA-256 with hashlib.

Covered: the first run copies everything; inserts, updates that move updated_at forward
and rows committed late (with --lookback) are picked up by the next run and nothing else
is read (the manifests' rows and the server's Handler_read_* counters show it); the union
of all runs deduplicated by key (the README's DuckDB query) equals the table; a failed
run leaves the watermark and the files where they were; a run reads inside its snapshot;
integer, DATE and TIMESTAMP columns; NULLs (error, include, skip); --full; the errors;
two runs of one date append and the date's _SUCCESS lists both; S3; --layout hive read
back by DuckDB with hive_partitioning (export and run)."""
import datetime
import hashlib
import io
import json
import subprocess
import time
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SLUICE, run_sluice

DATE = "2026-01-15"
T0 = datetime.datetime(2026, 1, 1)


# ---------------------------------------------------------------------------------------
# helpers

def export(mariadb, db, out, *args, check=0, date=DATE, env=None):
    e = mariadb.sluice_env(db, **(env or {}))
    return run_sluice(["export", "--output", str(out), "--date", date, "--progress", "off", *map(str, args)], env=e,
                      check=check)


def sql(mariadb, db, stmt, args=None):
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("SET SESSION time_zone = '+00:00'")
        cur.execute(stmt, args)
        return cur.fetchall()


def check_files(folder, m):
    """Every file the manifest lists is there with its size and SHA-256; nothing else."""
    folder = Path(folder)
    for f in m["files"]:
        data = (folder / f["name"]).read_bytes()
        assert len(data) == f["bytes"] and f["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest(), f["name"]
        assert pq.ParquetFile(folder / f["name"]).metadata.num_rows == f["rows"]
    assert sorted(p.name for p in folder.iterdir()) == sorted([f["name"] for f in m["files"]] + ["_SUCCESS"])
    assert m["total_rows"] == sum(f["rows"] for f in m["files"])
    assert sorted(sum((r["files"] for r in m["runs"]), [])) == sorted(f["name"] for f in m["files"])


def manifest(out, table="t", date=DATE, folder=None):
    folder = Path(out) / "raw" / table / (folder or date)
    m = json.loads((folder / "_SUCCESS").read_text())
    check_files(folder, m)
    return m


def run_table(out, m, run_id, table="t", date=DATE):
    """The rows one run wrote (its entry in the date's "runs"), as one pyarrow table."""
    folder = Path(out) / "raw" / table / date
    run = next(r for r in m["runs"] if r["run_id"] == run_id)
    tables = [pq.read_table(folder / n) for n in run["files"]]
    return pa.concat_tables(tables) if tables else None


def ids_of(t):
    return sorted(t.column("id").to_pylist()) if t is not None else []


def latest_rows(root, table, key="id", order="updated_at"):
    """The README's DuckDB query: the latest version of every row over all committed
    partitions (only the files the _SUCCESS manifests list)."""
    con = duckdb.connect()
    con.execute(f"SET VARIABLE files = (SELECT list('{root}/' || f.key) FROM "
                f"(SELECT unnest(files) AS f FROM read_json('{root}/raw/{table}/*/_SUCCESS')))")
    return con.execute(f"SELECT * EXCLUDE (filename) FROM read_parquet(getvariable('files'), filename = true) "
                       f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {order} DESC, filename DESC) = 1 "
                       f"ORDER BY {key}").fetchall()


def table_rows(mariadb, db, table="t", key="id"):
    rows = sql(mariadb, db, f"SELECT * FROM `{table}` ORDER BY `{key}`")
    return [tuple(v.replace(tzinfo=datetime.timezone.utc) if isinstance(v, datetime.datetime) else v for v in r)
            for r in rows]


def handler_reads(mariadb):
    return int(sql(mariadb, None, "SELECT SUM(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS "
                                  "WHERE VARIABLE_NAME LIKE 'HANDLER_READ%'")[0][0])


def make_table(mariadb, db, n, ts_type="DATETIME(6)"):
    """t(id, v, updated_at): row i updated at T0 + i seconds, updated_at indexed."""
    sql(mariadb, db, f"CREATE TABLE t (id BIGINT PRIMARY KEY, v VARCHAR(40), updated_at {ts_type} NOT NULL, "
                     "KEY (updated_at))")
    sql(mariadb, db, f"INSERT INTO t SELECT seq, CONCAT('v', seq), TIMESTAMP'2026-01-01 00:00:00' + INTERVAL seq SECOND "
                     f"FROM seq_1_to_{n}")


def max_ts(mariadb, db, table="t", col="updated_at"):
    return sql(mariadb, db, f"SELECT DATE_FORMAT(MAX({col}), '%Y-%m-%d %H:%i:%s') FROM {table}")[0][0]


# ---------------------------------------------------------------------------------------
# the main flow

def test_first_run_then_only_changes_then_union_equals_table(mariadb, fresh_db, tmp_path):
    db, out = fresh_db, tmp_path / "out"
    make_table(mariadb, db, 3000)
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--partitions", 3)
    m1 = manifest(out)
    inc1 = m1["incremental"]
    assert (inc1["column"], inc1["mode"], inc1["full_reason"], inc1["from"]) == ("updated_at", "full", "first run", None)
    assert inc1["to"] == max_ts(mariadb, db)
    assert inc1["rows"] == 3000 == m1["total_rows"] and inc1["sequence"] == 1 and inc1["null_rows"] == 0
    assert ids_of(run_table(out, m1, m1["run_id"])) == list(range(1, 3001))

    # inserts, updates moving updated_at forward, an update that does not touch it
    sql(mariadb, db, "INSERT INTO t SELECT seq, 'new', TIMESTAMP'2026-01-02 00:00:00' + INTERVAL seq SECOND "
                     "FROM seq_3001_to_3040")
    sql(mariadb, db, "UPDATE t SET v = 'changed', updated_at = updated_at + INTERVAL 1 DAY WHERE id % 100 = 7")
    expected = [r[0] for r in sql(mariadb, db, "SELECT id FROM t WHERE updated_at > %s ORDER BY id", (inc1["to"],))]
    assert len(expected) == 40 + 30
    before = handler_reads(mariadb)
    p = export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--partitions", 1)
    reads = handler_reads(mariadb) - before
    m2 = manifest(out)
    inc2 = m2["incremental"]
    assert (inc2["mode"], inc2["from"], inc2["to"]) == ("incremental", inc1["to"], max_ts(mariadb, db))
    assert inc2["previous_run"] == m1["run_id"] and inc2["sequence"] == 2 and inc2["rows"] == 70
    assert ids_of(run_table(out, m2, m2["run_id"])) == expected  # nothing else was read
    assert [r["run_id"] for r in m2["runs"]] == [m1["run_id"], m2["run_id"]]
    assert m2["total_rows"] == 3070
    # the server read about the changed rows, not the table (a full read is >= 3000)
    assert reads < 600, reads
    assert "70 rows" in p.stdout

    # nothing changed: nothing read, the watermark stays
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--partitions", 2)
    m3 = manifest(out)
    assert (m3["incremental"]["from"], m3["incremental"]["to"], m3["incremental"]["rows"]) == (inc2["to"], inc2["to"], 0)

    # the union of every run, deduplicated by key with the README's query, is the table
    assert latest_rows(out, "t") == table_rows(mariadb, db)


def test_full_read_vs_incremental_handler_reads(mariadb, fresh_db, tmp_path):
    """The server's own counters: an incremental run after 20 of 20,000 rows changed reads
    about 20 rows; a full export of the same table reads all of them."""
    db, out = fresh_db, tmp_path / "out"
    make_table(mariadb, db, 20000)
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--partitions", 1)
    sql(mariadb, db, "UPDATE t SET updated_at = updated_at + INTERVAL 1 DAY WHERE id % 1000 = 0")
    before = handler_reads(mariadb)
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--partitions", 1)
    incremental = handler_reads(mariadb) - before
    sql(mariadb, db, "UPDATE t SET updated_at = updated_at + INTERVAL 2 DAY WHERE id % 1000 = 1")
    before = handler_reads(mariadb)
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--partitions", 4)
    chunked = handler_reads(mariadb) - before  # the chunks' plan and reads stay near the changes too
    before = handler_reads(mariadb)
    export(mariadb, db, tmp_path / "full", "--table", "t", "--partitions", 1)
    full = handler_reads(mariadb) - before
    assert [r["rows"] for r in manifest(out)["runs"]] == [20000, 20, 20]
    assert full >= 20000 and incremental < 1000 and chunked < 1000, (incremental, chunked, full)


def test_late_rows_need_the_lookback(mariadb, fresh_db, tmp_path):
    """A row committed late with an updated_at below the watermark is missed without
    --lookback and read with it; the margin's rows are counted as read twice."""
    db, out = fresh_db, tmp_path / "out"
    make_table(mariadb, db, 500)
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at")
    to1 = manifest(out)["incremental"]["to"]  # 2026-01-01 00:08:20
    # a transaction that began before the run commits now, its updated_at 30 s old
    sql(mariadb, db, "INSERT INTO t VALUES (9001, 'late', TIMESTAMP %s - INTERVAL 30 SECOND)", (to1,))
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at")
    m = manifest(out)
    assert m["incremental"]["rows"] == 0 and m["incremental"]["to"] == to1  # missed
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--lookback", "1m")
    m = manifest(out)
    inc = m["incremental"]
    assert (inc["lookback"], inc["from"], inc["reread_from"]) == ("1m", to1, "2026-01-01 00:07:20")
    margin = sql(mariadb, db, "SELECT id FROM t WHERE updated_at > %s - INTERVAL 60 SECOND AND updated_at <= %s "
                              "ORDER BY id", (to1, to1))
    got = ids_of(run_table(out, m, m["run_id"]))
    assert got == sorted(r[0] for r in margin) and 9001 in got
    assert inc["reread_rows"] == len(margin) == inc["rows"] == 61
    assert latest_rows(out, "t") == table_rows(mariadb, db)


def test_failed_run_leaves_the_watermark(mariadb, fresh_db, tmp_path):
    """A run that fails mid-read (a zero date with --zero-dates error) commits nothing: the
    manifest stays byte for byte, its files are gone, and the next run starts from the
    watermark the failed one would have moved."""
    db, out = fresh_db, tmp_path / "out"
    sql(mariadb, db, "CREATE TABLE t (id INT PRIMARY KEY, d DATETIME NULL, updated_at DATETIME NOT NULL, "
                     "KEY (updated_at))")
    sql(mariadb, db, "INSERT INTO t SELECT seq, NULL, TIMESTAMP'2026-01-01 00:00:00' + INTERVAL seq MINUTE "
                     "FROM seq_1_to_100")
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at")
    folder = out / "raw/t" / DATE
    before = (folder / "_SUCCESS").read_bytes()
    to1 = json.loads(before)["incremental"]["to"]
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("INSERT INTO t VALUES (101, '2026-01-01 00:00:00', '2026-02-01 00:00:00'), "
                    "(102, '0000-00-00 00:00:00', '2026-02-02 00:00:00')")
    p = export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--zero-dates", "error", check=6)
    assert "0000-00-00" in p.stderr or "zero" in p.stderr
    assert (folder / "_SUCCESS").read_bytes() == before
    check_files(folder, json.loads(before))
    sql(mariadb, db, "UPDATE t SET d = NULL WHERE id = 102")
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--zero-dates", "error")
    m = manifest(out)
    assert m["incremental"]["from"] == to1 and m["incremental"]["to"] == "2026-02-02 00:00:00"
    assert ids_of(run_table(out, m, m["run_id"])) == [101, 102]


def test_reads_inside_the_snapshot(mariadb, fresh_db, tmp_path):
    """Rows written while the run reads (an insert past the maximum, an update moving a
    row forward) are neither read (the readers' snapshot) nor hidden under the watermark
    (it is the maximum before them), and the next run reads them."""
    db, out = fresh_db, tmp_path / "out"
    make_table(mariadb, db, 200)
    lock = "sl_incr_" + uuid.uuid4().hex[:10]
    holder = mariadb.connect()
    with holder.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 10)", (lock,))
    gate = f"(id <> 150 OR COALESCE(GET_LOCK('{lock}', 60), 1) >= 0)"
    proc = subprocess.Popen([str(SLUICE), "export", "--output", str(out), "--date", DATE, "--progress", "off",
                             "--table", "t", "--incremental", "updated_at", "--partitions", "1", "--where", gate],
                            env=mariadb.sluice_env(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        with holder.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = 'User lock' "
                            "AND INFO LIKE %s", ("%" + lock + "%",))
                if cur.fetchone()[0]:
                    break
                time.sleep(0.02)
            else:
                raise AssertionError("the read never reached the gate")
        max_before = max_ts(mariadb, db)
        sql(mariadb, db, "INSERT INTO t VALUES (500, 'during', '2026-03-01 00:00:00')")
        sql(mariadb, db, "UPDATE t SET v = 'moved', updated_at = '2026-03-02 00:00:00' WHERE id = 10")
    finally:
        with holder.cursor() as cur:
            cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))
        holder.close()
    outp, errp = proc.communicate(timeout=120)
    assert proc.returncode == 0, errp
    m = manifest(out)
    assert m["incremental"]["to"] == max_before
    first = run_table(out, m, m["run_id"])
    assert ids_of(first) == list(range(1, 201))
    assert first.filter(pa.compute.equal(first.column("id"), 10)).column("v").to_pylist() == ["v10"]
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at")
    m = manifest(out)
    assert ids_of(run_table(out, m, m["run_id"])) == [10, 500]
    assert latest_rows(out, "t") == table_rows(mariadb, db)


# ---------------------------------------------------------------------------------------
# column types, NULLs, --full, errors

def test_integer_column_with_a_count_lookback(mariadb, fresh_db, tmp_path):
    """An auto-increment key as the column (append-only tables), partitioned on itself."""
    db, out = fresh_db, tmp_path / "out"
    sql(mariadb, db, "CREATE TABLE t (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, v INT)")
    sql(mariadb, db, "INSERT INTO t (v) SELECT seq FROM seq_1_to_1000")
    export(mariadb, db, out, "--table", "t", "--incremental", "id", "--partitions", 3)
    assert manifest(out)["incremental"]["to"] == 1000
    sql(mariadb, db, "INSERT INTO t (v) SELECT seq FROM seq_1_to_25")
    export(mariadb, db, out, "--table", "t", "--incremental", "id", "--partitions", 3, "--lookback", 10)
    m = manifest(out)
    inc = m["incremental"]
    # INSERT ... SELECT leaves auto-increment gaps: the ids come from the server
    ids = [r[0] for r in sql(mariadb, db, "SELECT id FROM t WHERE id > 990 ORDER BY id")]
    assert (inc["from"], inc["to"], inc["reread_from"], inc["reread_rows"]) == (1000, ids[-1], 990, 10)
    assert ids_of(run_table(out, m, m["run_id"])) == ids and len(ids) == 35
    # one file per chunk of the plan, each read with the incremental condition
    assert len(m["partitions"]) == len(m["plan"]["chunks"]) > 3
    assert sum(c["rows"] for c in m["plan"]["chunks"]) == 35
    assert latest_rows(out, "t", order="id") == table_rows(mariadb, db)
    # a duration makes no sense for an integer column
    p = export(mariadb, db, out, "--table", "t", "--incremental", "id", "--lookback", "2h", check=2)
    assert "count" in p.stderr and "id" in p.stderr


@pytest.mark.parametrize("ctype,values,expect_to", [
    ("DATE", ["2026-01-01", "2026-01-02", "2026-01-03"], "2026-01-03"),
    ("TIMESTAMP(3)", ["2026-01-01 10:00:00.125", "2026-01-01 11:00:00.250", "2026-01-01 12:00:00.500"],
     "2026-01-01 12:00:00.500000"),
])
def test_date_and_timestamp_columns(mariadb, fresh_db, tmp_path, ctype, values, expect_to):
    db, out = fresh_db, tmp_path / "out"
    sql(mariadb, db, f"CREATE TABLE t (id INT PRIMARY KEY, c {ctype} NOT NULL)")
    for i, v in enumerate(values[:2]):
        sql(mariadb, db, "INSERT INTO t VALUES (%s, %s)", (i + 1, v))
    export(mariadb, db, out, "--table", "t", "--incremental", "c")
    assert manifest(out)["incremental"]["to"] == (values[1] if ctype == "DATE" else values[1] + "000")
    sql(mariadb, db, "INSERT INTO t VALUES (3, %s)", (values[2],))
    lookback = "1d" if ctype == "DATE" else "30m"
    export(mariadb, db, out, "--table", "t", "--incremental", "c", "--lookback", lookback)
    m = manifest(out)
    assert m["incremental"]["to"] == expect_to
    # the lookback reaches back to the second value only (a day; 30 minutes)
    assert ids_of(run_table(out, m, m["run_id"])) == [2, 3]
    assert m["incremental"]["reread_rows"] == 1


def test_nulls_error_include_skip(mariadb, fresh_db, tmp_path):
    db = fresh_db
    sql(mariadb, db, "CREATE TABLE t (id INT PRIMARY KEY, updated_at DATETIME NULL, KEY (updated_at))")
    sql(mariadb, db, "INSERT INTO t VALUES (1, '2026-01-01 00:00:01'), (2, NULL), (3, '2026-01-01 00:00:03'), "
                     "(4, NULL)")
    p = export(mariadb, db, tmp_path / "e", "--table", "t", "--incremental", "updated_at", check=6)
    assert "NULL in 2 rows" in p.stderr and "updated_at" in p.stderr and "--incremental-nulls" in p.stderr
    assert not (tmp_path / "e" / "raw/t" / DATE / "_SUCCESS").exists()

    out = tmp_path / "inc"
    for _ in range(2):  # NULL rows have no place under a watermark: read on every run
        export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--incremental-nulls", "include")
        m = manifest(out)
        assert m["incremental"]["null_rows"] == 2 and m["incremental"]["nulls"] == "include"
    assert ids_of(run_table(out, m, m["runs"][0]["run_id"])) == [1, 2, 3, 4]
    assert ids_of(run_table(out, m, m["run_id"])) == [2, 4]

    out = tmp_path / "skip"
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--incremental-nulls", "skip")
    m = manifest(out)
    assert m["incremental"]["null_rows"] == 2 and ids_of(run_table(out, m, m["run_id"])) == [1, 3]


def test_full_restarts_and_a_new_column_needs_it(mariadb, fresh_db, tmp_path):
    db, out = fresh_db, tmp_path / "out"
    make_table(mariadb, db, 100)
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at")
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--full")
    m = manifest(out)
    inc = m["incremental"]
    assert (inc["mode"], inc["full_reason"], inc["from"], inc["rows"], inc["sequence"]) == ("full", "--full", None, 100, 2)
    # another column without --full: refused, naming both
    p = export(mariadb, db, out, "--table", "t", "--incremental", "id", check=2)
    assert "updated_at" in p.stderr and "--full" in p.stderr
    export(mariadb, db, out, "--table", "t", "--incremental", "id", "--full")
    assert manifest(out)["incremental"]["column"] == "id"
    sql(mariadb, db, "INSERT INTO t VALUES (101, 'x', '2020-01-01 00:00:00')")  # old updated_at, new id
    export(mariadb, db, out, "--table", "t", "--incremental", "id")
    m = manifest(out)
    assert ids_of(run_table(out, m, m["run_id"])) == [101]


def test_columns_changed_within_a_date(mariadb, fresh_db, tmp_path):
    """A column added between two runs of one date: the run is flagged and warned about,
    and DuckDB with union_by_name reads both schemas."""
    db, out = fresh_db, tmp_path / "out"
    make_table(mariadb, db, 10)
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at")
    sql(mariadb, db, "ALTER TABLE t ADD COLUMN note VARCHAR(10) NULL")
    sql(mariadb, db, "INSERT INTO t VALUES (11, 'v11', '2026-02-01 00:00:00', 'added')")
    p = export(mariadb, db, out, "--table", "t", "--incremental", "updated_at")
    assert "columns changed" in p.stderr
    m = manifest(out)
    assert m["incremental"]["schema_changed"] is True and "schema_changed" not in m["runs"][0]["incremental"]
    got = duckdb.connect().execute(f"SELECT count(*), count(note) FROM read_parquet('{out}/raw/t/{DATE}/*.parquet', "
                                   "union_by_name = true)").fetchone()
    assert got == (11, 1)


def test_errors(mariadb, fresh_db, tmp_path):
    db, out = fresh_db, tmp_path / "out"
    sql(mariadb, db, "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(10), ts DATETIME)")
    p = export(mariadb, db, out, "--table", "t", "--incremental", "nope", check=5)
    assert "table t has no column nope" in p.stderr
    p = export(mariadb, db, out, "--table", "t", "--incremental", "name", check=5)
    assert "name" in p.stderr and "varchar(10)" in p.stderr and "integer, DATE, DATETIME or TIMESTAMP" in p.stderr
    p = export(mariadb, db, out, "--table", "t", "--incremental", "ts", "--lookback", "100", check=2)
    assert "duration" in p.stderr
    for args in (["--lookback", "2x"], ["--lookback", "h"], ["--incremental-nulls", "maybe"]):
        p = export(mariadb, db, out, "--table", "t", "--incremental", "ts", *args, check=2)
        assert args[1] in p.stderr
    p = export(mariadb, db, out, "--incremental", "ts", check=2)
    assert "--table" in p.stderr
    p = export(mariadb, db, out, "--table", "t", "--full", check=2)
    assert "--incremental" in p.stderr
    p = export(mariadb, db, out, "--table", "t", "--layout", "flat", check=2)
    assert "flat" in p.stderr
    assert not out.exists()
    h = run_sluice(["export", "--help"], env=mariadb.sluice_env(db), check=0).stdout
    for flag in ("--incremental COLUMN", "--lookback", "--incremental-nulls", "--full", "--layout"):
        assert flag in h


# ---------------------------------------------------------------------------------------
# dates, layouts, S3

def test_two_dates_and_hive_layout(mariadb, fresh_db, tmp_path):
    """Runs of one date append (the date's _SUCCESS lists both); another date gets its own
    partition; the watermark carries over dates and layouts; DuckDB's hive_partitioning
    reads the date column from date=YYYY-MM-DD folders."""
    db, out = fresh_db, tmp_path / "out"
    make_table(mariadb, db, 100)
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--layout", "hive", date="2026-01-14")
    sql(mariadb, db, "UPDATE t SET updated_at = updated_at + INTERVAL 1 DAY WHERE id <= 10")
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--layout", "hive", date="2026-01-15")
    sql(mariadb, db, "UPDATE t SET updated_at = updated_at + INTERVAL 2 DAY WHERE id <= 3")
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--layout", "hive", date="2026-01-15")
    assert sorted(p.name for p in (out / "raw/t").iterdir()) == ["date=2026-01-14", "date=2026-01-15"]
    m14 = manifest(out, folder="date=2026-01-14")
    m15 = manifest(out, folder="date=2026-01-15")
    assert [r["rows"] for r in m14["runs"]] == [100]
    assert [r["rows"] for r in m15["runs"]] == [10, 3]
    assert m15["partition"] == "raw/t/date=2026-01-15/"
    got = duckdb.connect().execute(
        f"SELECT date, count(*) FROM read_parquet('{out}/raw/t/*/*.parquet', hive_partitioning = true) "
        "GROUP BY date ORDER BY date").fetchall()
    assert got == [(datetime.date(2026, 1, 14), 100), (datetime.date(2026, 1, 15), 13)]
    # the README's query sees the partition column too: the date each version was loaded
    latest = latest_rows(out, "t")
    assert [r[:-1] for r in latest] == table_rows(mariadb, db)
    assert [r[-1] for r in latest[:11]] == [datetime.date(2026, 1, 15)] * 10 + [datetime.date(2026, 1, 14)]


def test_run_with_hive_layout(mariadb, fresh_db, tmp_path):
    db = fresh_db
    run_sluice(["seed", "--scale", "0.005", "--anchor", "2026-06-30 00:00:00"], env=mariadb.sluice_env(db), check=0)
    run_sluice(["run", "--output", str(tmp_path), "--as-of", "2026-06-29 12:00:00", "--raw", "--layout", "hive",
                "--progress", "off"], env=mariadb.sluice_env(db), check=0)
    part = tmp_path / "business_insights" / "date=2026-06-29"
    m = json.loads((part / "_SUCCESS").read_text())
    assert m["partition"] == "business_insights/date=2026-06-29/"
    assert (tmp_path / "raw/orders/date=2026-06-29/_SUCCESS").exists()
    got = duckdb.connect().execute(
        f"SELECT DISTINCT date FROM read_parquet('{tmp_path}/business_insights/*/hourly_orders/*.parquet', "
        "hive_partitioning = true)").fetchall()
    assert got == [(datetime.date(2026, 6, 29),)]


def test_across_processes_plan_task_commit(mariadb, fresh_db, tmp_path):
    """The same incremental run split into `sluice plan`, one `sluice task` per chunk and
    `sluice commit` (what a Spark job runs): it finds the watermark of a run made by
    `sluice export`, reads only the changes, appends to the date, and a failed commit
    (a task's result missing) leaves the watermark where it was."""
    db, out = fresh_db, tmp_path / "out"
    env = mariadb.sluice_env(db)
    make_table(mariadb, db, 2000)
    export(mariadb, db, out, "--table", "t", "--incremental", "updated_at", "--partitions", 2)
    to1 = manifest(out)["incremental"]["to"]
    sql(mariadb, db, "UPDATE t SET v = 'spark', updated_at = updated_at + INTERVAL 1 DAY WHERE id % 40 = 0")

    def plan():
        p = run_sluice(["plan", "export", "--table", "t", "--incremental", "updated_at", "--partitions", "2",
                        "--output", str(out), "--date", DATE, "--json"], env=env, check=0)
        path = tmp_path / f"plan-{uuid.uuid4().hex[:6]}.json"
        path.write_text(p.stdout)
        return path, json.loads(p.stdout)

    def task(path, k):
        return run_sluice(["task", str(path), str(k)], env=env, check=0).stdout.strip().splitlines()[-1]

    path, pl = plan()
    lines = [task(path, k) for k in range(len(pl["tasks"]))]
    res = tmp_path / "results.jsonl"
    if len(lines) > 1:  # the commit refuses a run with a task missing: nothing moves
        res.write_text("\n".join(lines[1:]) + "\n")
        run_sluice(["commit", str(path), str(res)], env=env, check=1)
        # the tasks' files stay until the next commit of the date deletes them
        assert json.loads((out / "raw/t" / DATE / "_SUCCESS").read_text())["incremental"]["to"] == to1
        path, pl = plan()
        lines = [task(path, k) for k in range(len(pl["tasks"]))]
    res.write_text("\n".join(lines) + "\n")
    run_sluice(["commit", str(path), str(res), "--engine", "spark"], env=env, check=0)
    m = manifest(out)
    inc = m["incremental"]
    assert (inc["mode"], inc["from"], inc["to"], inc["rows"]) == ("incremental", to1, max_ts(mariadb, db), 50)
    assert ids_of(run_table(out, m, m["run_id"])) == list(range(40, 2001, 40))
    assert [r["rows"] for r in m["runs"]] == [2000, 50]
    assert latest_rows(out, "t") == table_rows(mariadb, db)


def test_s3_behaves_the_same(mariadb, moto, bucket, fault_proxy, fresh_db, tmp_path):
    db = fresh_db
    make_table(mariadb, db, 1000)
    env = moto.env()
    url = f"s3://{bucket}/lake"
    export(mariadb, db, url, "--table", "t", "--incremental", "updated_at", "--partitions", 2, env=env)
    sql(mariadb, db, "UPDATE t SET updated_at = updated_at + INTERVAL 1 DAY WHERE id % 50 = 0")
    export(mariadb, db, url, "--table", "t", "--incremental", "updated_at", "--partitions", 2, env=env)
    keys = moto.keys(bucket, "lake/")

    def get(key):
        return moto.client.get_object(Bucket=bucket, Key="lake/" + key)["Body"].read()

    m = json.loads(get(f"raw/t/{DATE}/_SUCCESS"))
    assert sorted(keys) == sorted([f"lake/raw/t/{DATE}/_SUCCESS"] + ["lake/" + f["key"] for f in m["files"]])
    for f in m["files"]:
        data = get(f["key"])
        assert f["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
        (tmp_path / f["name"]).write_bytes(data)
    assert [r["rows"] for r in m["runs"]] == [1000, 20]
    assert m["incremental"]["from"] == "2026-01-01 00:16:40"
    second = pa.concat_tables([pq.read_table(tmp_path / n) for n in m["runs"][1]["files"]])
    assert ids_of(second) == list(range(50, 1001, 50))
    assert moto.uploads(bucket) == []

    # a run whose manifest cannot be written (every PUT of _SUCCESS fails) moves nothing
    before = get(f"raw/t/{DATE}/_SUCCESS")
    sql(mariadb, db, "UPDATE t SET updated_at = updated_at + INTERVAL 2 DAY WHERE id % 100 = 1")
    fault_proxy.rule = lambda n, method, path: "500" if method == "PUT" and path.endswith("/_SUCCESS") else None
    p = export(mariadb, db, url, "--table", "t", "--incremental", "updated_at",
               env=moto.env(endpoint=fault_proxy.endpoint, S3_MAX_ATTEMPTS=2), check=7)
    assert "_SUCCESS" in p.stderr
    assert get(f"raw/t/{DATE}/_SUCCESS") == before and moto.keys(bucket, "lake/") == keys
    export(mariadb, db, url, "--table", "t", "--incremental", "updated_at", env=env)
    m = json.loads(get(f"raw/t/{DATE}/_SUCCESS"))
    assert m["incremental"]["from"] == json.loads(before)["incremental"]["to"]
    assert [r["rows"] for r in m["runs"]] == [1000, 20, 10]
    assert moto.uploads(bucket) == []
