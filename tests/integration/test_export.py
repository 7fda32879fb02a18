"""`sluice export` end to end against the local MariaDB (issue 4). Every expected value
comes from MariaDB itself (pymysql's text-protocol reads, or SQL the server runs), never
from sluice; the Parquet files are read with pyarrow and with DuckDB.

Covered: every MySQL type value by value, Parquet types and `sluice.origin.*` metadata,
the `_SUCCESS` manifest (files, checksums, schema, zero dates, run id, version); partition
correctness on awkward keys; the command's options and exit codes; reruns and failed
runs; one snapshot under a concurrent writer (with a control that shows the check can
fail); the fallback without the RELOAD privilege; connections killed mid-stream.

Mid-stream events are made deterministic with named locks: `--where` is SQL by design,
so a condition like `amount <> -1 OR COALESCE(GET_LOCK('g', 60), 1) >= 0` (always true)
makes the server stop on one chosen row of the stream until the test releases the lock
or kills the connection, which it finds in information_schema.PROCESSLIST."""
import datetime
import decimal
import hashlib
import json
import random
import re
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SLUICE, run_sluice

UTC = datetime.timezone.utc
DATE = "2026-01-15"


# ---------------------------------------------------------------------------------------
# helpers

def export(mariadb, db, out, *args, check=None, timeout=300, **env):
    """Runs `sluice export --output out ARGS` against database db."""
    return run_sluice(["export", "--output", str(out), *map(str, args)], env=mariadb.sluice_env(db, **env),
                      timeout=timeout, check=check)


def part_dir(out, table, date=DATE):
    return Path(out) / "raw" / table / date


def manifest(folder):
    """The partition's _SUCCESS, after checking it against the folder: every listed file
    exists with the listed size, SHA-256 (hashlib over the file's bytes) and row count
    (pyarrow), carries the run id in its name, and nothing else is in the folder."""
    folder = Path(folder)
    m = json.loads((folder / "_SUCCESS").read_text())
    run_id = m["run_id"]
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", run_id), run_id
    names = []
    for f in m["files"]:
        data = (folder / f["name"]).read_bytes()
        assert len(data) == f["bytes"], f["name"]
        assert f["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest(), f["name"]
        assert pq.ParquetFile(folder / f["name"]).metadata.num_rows == f["rows"], f["name"]
        assert re.fullmatch(r"part-\d{5}-" + re.escape(run_id) + r"\.(snappy|zstd|gzip|none)\.parquet", f["name"])
        names.append(f["name"])
    assert names == sorted(names)
    assert sorted(p.name for p in folder.iterdir()) == sorted(names + ["_SUCCESS"]), "files not in the manifest"
    assert m["total_rows"] == sum(f["rows"] for f in m["files"])
    assert m["total_bytes"] == sum(f["bytes"] for f in m["files"])
    return m


def table_of(folder, m=None):
    """The rows of every file the manifest lists, as one pyarrow table."""
    folder = Path(folder)
    m = m or manifest(folder)
    return pa.concat_tables([pq.read_table(folder / f["name"]) for f in m["files"]])


def check_chunks(mariadb, db, table, key, m, folder):
    """The plan's chunks tile the key space (open at both ends, contiguous, in key order);
    every chunk is in exactly one file or was empty; each file holds its chunks in key
    order, and each chunk's rows are the rows MariaDB counts in its range."""
    plan = m["plan"]["chunks"]
    assert "from" not in plan[0] and "to_before" not in plan[-1]
    assert all(a["to_before"] == b["from"] for a, b in zip(plan, plan[1:]))
    held = [(c.get("from"), c.get("to_before")) for p in m["partitions"] for c in p["chunks"]]
    assert len(held) == len(set(held))
    for c in plan:
        if (c.get("from"), c.get("to_before")) not in held:
            assert c["rows"] == 0, c
    for p in m["partitions"]:
        assert sum(c["rows"] for c in p["chunks"]) == p["rows"]
        lows = [c.get("from", -2**63) for c in p["chunks"]]
        assert lows == sorted(lows)
        keys = pq.read_table(Path(folder) / p["file"], columns=[key]).column(key).to_pylist()
        nonnull = [k for k in keys if k is not None]
        assert nonnull == sorted(nonnull), "a file's rows are in key order"
        for c in p["chunks"]:
            lo, hi = c.get("from"), c.get("to_before")
            cond = " AND ".join([f"`{key}` >= {lo}"] * (lo is not None) + [f"`{key}` < {hi}"] * (hi is not None))
            if lo is None:
                cond = f"({cond or '1'} OR `{key}` IS NULL)"
            assert query(mariadb, db, f"SELECT COUNT(*) FROM `{table}` WHERE {cond or '1'}")[0][0] == c["rows"]


def listed_paths(folder, m):
    return [str(Path(folder) / f["name"]) for f in m["files"]]


def all_files(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())


def query(mariadb, db, sql, args=None):
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("SET SESSION time_zone = '+00:00'")
        cur.execute(sql, args)
        return cur.fetchall()


class Gate:
    """Named locks held by the test's own session: a read whose --where calls GET_LOCK on
    one of them waits on that row until release() or until its connection is killed."""

    def __init__(self, mariadb, *names):
        self.mariadb = mariadb
        self.conn = mariadb.connect()
        self.names = {n: f"sl_{n}_{uuid.uuid4().hex[:10]}" for n in names}
        with self.conn.cursor() as cur:
            for lock in self.names.values():
                cur.execute("SELECT GET_LOCK(%s, 10)", (lock,))
                assert cur.fetchone()[0] == 1

    def cond(self, name, column, value):
        """An always-true SQL condition that waits on the lock at rows where column = value."""
        return f"({column} <> {value} OR COALESCE(GET_LOCK('{self.names[name]}', 60), 1) >= 0)"

    def waiting(self, name, table=None, timeout=60):
        """The id of the connection waiting on a gate, found in PROCESSLIST by its query
        text (the gate's lock name, and FROM `table` if given)."""
        deadline = time.monotonic() + timeout
        pattern = "%" + (f"FROM `{table}`%" if table else "") + self.names[name] + "%"
        with self.conn.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute("SELECT ID, STATE, INFO FROM information_schema.PROCESSLIST "
                            "WHERE ID <> CONNECTION_ID() AND COMMAND = 'Execute' AND INFO LIKE %s", (pattern,))
                for cid, state, info in cur.fetchall():
                    if state == "User lock" and info.startswith("SELECT"):
                        return cid
                time.sleep(0.01)
        raise AssertionError(f"no read waited on gate {name} within {timeout} s")

    def kill(self, cid):
        with self.conn.cursor() as cur:
            cur.execute(f"KILL CONNECTION {int(cid)}")

    def release(self, name):
        with self.conn.cursor() as cur:
            cur.execute("SELECT RELEASE_LOCK(%s)", (self.names[name],))

    def close(self):
        self.conn.close()


class Background:
    """Runs sluice in a thread so the test can act while it reads."""

    def __init__(self, mariadb, db, out, *args, **env):
        self.result = None
        self.thread = threading.Thread(target=self._run, args=(mariadb, db, out, args, env))
        self.thread.start()

    def _run(self, mariadb, db, out, args, env):
        self.result = export(mariadb, db, out, *args, timeout=180, **env)

    def join(self):
        self.thread.join(200)
        assert not self.thread.is_alive()
        return self.result


# ---------------------------------------------------------------------------------------
# every type

DDL = """CREATE TABLE alltypes (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, b BOOL, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d5 DECIMAL(5,2), d9 DECIMAL(9,4), d18 DECIMAL(18,6), d30 DECIMAL(30,10), d38 DECIMAL(38,0),
  d39 DECIMAL(39,5), d65 DECIMAL(65,0), d65s DECIMAL(65,30), du DECIMAL(10,2) UNSIGNED,
  f FLOAT, db DOUBLE, bt1 BIT(1), bt13 BIT(13), bt64 BIT(64), y YEAR,
  dt DATE, dtm0 DATETIME, dtm1 DATETIME(1), dtm2 DATETIME(2), dtm3 DATETIME(3), dtm4 DATETIME(4),
  dtm5 DATETIME(5), dtm6 DATETIME(6),
  ts0 TIMESTAMP NULL, ts1 TIMESTAMP(1) NULL, ts2 TIMESTAMP(2) NULL, ts3 TIMESTAMP(3) NULL,
  ts4 TIMESTAMP(4) NULL, ts5 TIMESTAMP(5) NULL, ts6 TIMESTAMP(6) NULL,
  tm TIME, tm3 TIME(3), tm6 TIME(6),
  c CHAR(5), vc VARCHAR(300), tx TEXT, mt MEDIUMTEXT, bn BINARY(4), vb VARBINARY(50), bl BLOB,
  en ENUM('a','bé','c'), st SET('x','y','z'), js JSON, g GEOMETRY
) CHARSET utf8mb4"""

NINES = "9" * 65
ROWS = [
    # maxima (and the negative limits of the wide decimals)
    "(1, 127, 255, 1, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,"
    " 9223372036854775807, 18446744073709551615,"
    " 999.99, 99999.9999, 999999999999.999999, -99999999999999999999.9999999999, " + "9" * 38 + ","
    " -" + "9" * 34 + "." + "9" * 5 + ", " + NINES + ", -" + "9" * 35 + "." + "9" * 30 + ", 99999999.99,"
    " 3.40282e38, 1.7976931348623157e308, b'1', b'1111111111111', b'" + "1" * 64 + "', 2155,"
    " '9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.9', '9999-12-31 23:59:59.99',"
    " '9999-12-31 23:59:59.999', '9999-12-31 23:59:59.9999', '9999-12-31 23:59:59.99999',"
    " '9999-12-31 23:59:59.999999',"
    " '2038-01-19 03:14:07', '2038-01-19 03:14:07.9', '2038-01-19 03:14:07.99', '2038-01-19 03:14:07.999',"
    " '2038-01-19 03:14:07.9999', '2038-01-19 03:14:07.99999', '2038-01-19 03:14:07.999999',"
    " '838:59:59', '-838:59:59.000', '838:59:58.999999',"
    " 'abcde', 'héllo wörld ✓ 😀 漢字', REPEAT('ü✓', 5000), REPEAT('x', 70000), x'00ff10ab', x'00', x'deadbeef00ff',"
    " 'bé', 'x,z', '{\"a\": [1, 2, {\"b\": null}], \"ü\": \"✓\"}', ST_GeomFromText('POINT(1 2)'))",
    # minima
    "(2, -128, 0, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,"
    " -999.99, -99999.9999, -999999999999.999999, 0.0000000001, -" + "9" * 38 + ", 0.00001, -" + NINES + ","
    " 0.000000000000000000000000000001, 0.00,"
    " -3.40282e38, -1.7976931348623157e308, b'0', b'0', b'0', 1901,"
    " '1000-01-01', '1000-01-01 00:00:00', '1000-01-01 00:00:00.1', '1000-01-01 00:00:00.01',"
    " '1000-01-01 00:00:00.001', '1000-01-01 00:00:00.0001', '1000-01-01 00:00:00.00001',"
    " '1000-01-01 00:00:00.000001',"
    " '1970-01-01 00:00:01', '1970-01-01 00:00:01.1', '1970-01-01 00:00:01.01', '1970-01-01 00:00:01.001',"
    " '1970-01-01 00:00:01.0001', '1970-01-01 00:00:01.00001', '1970-01-01 00:00:01.000001',"
    " '-838:59:59', '-00:00:00.001', '-00:00:00.000001',"
    " '', '', '', '', x'00000000', x'', x'',"
    " 'a', '', '[]', ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))'))",
    # every column NULL
    "(3" + ", NULL" * 55 + ")",
    # ordinary values around the epoch, small magnitudes, >24 h times
    "(4, -1, 1, 2, -1, 1, -1, 1, -1, 1, -1, 1, 0.01, -0.0001, 0.000001, 1.5, 1, -1.00001, 1,"
    " -0.000000000000000000000000000001, 0.01,"
    " 1.1, 2.2250738585072014e-308, b'1', b'1010101010101', b'1000000000000000000000000000000000000000000000000000000000000001', 2024,"
    " '1969-12-31', '1969-12-31 23:59:59', '1969-12-31 23:59:59.9', '2024-02-29 12:00:00.01',"
    " '2024-02-29 12:00:00.001', '2024-02-29 12:00:00.0001', '2024-02-29 12:00:00.00001', '1969-12-31 23:59:59.999999',"
    " '2024-02-29 12:34:56', '2024-02-29 12:34:56.1', '2024-02-29 12:34:56.12', '2024-02-29 12:34:56.123',"
    " '2024-02-29 12:34:56.1234', '2024-02-29 12:34:56.12345', '2024-02-29 12:34:56.123456',"
    " '25:00:00', '100:00:00.5', '-25:30:00.250001',"
    " 'ab  ', ' lead', 'tab\\tnew\\nline', 'NUL\\0byte', x'41', x'ff', x'00000000000000',"
    " 'c', 'x,y,z', '{\"n\": 1.5e300, \"s\": \"\\\\u00e9\"}', ST_GeomFromText('LINESTRING(0 0, 1 1, 2 5)'))",
    # zero dates in every date column (allowed only with sql_mode = '')
    "(5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'0', b'0', b'0', 0,"
    " '0000-00-00'" + ", '0000-00-00 00:00:00'" * 14 + ", '00:00:00', '00:00:00', '00:00:00',"
    " 'z', 'z', 'z', 'z', x'7a', x'7a', x'7a', 'a', 'x', '{}', ST_GeomFromText('POINT(0 0)'))",
    # partial dates (a zero month or day); TIMESTAMP cannot hold them and stores a zero date
    "(6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'0', b'0', b'0', 0,"
    " '2024-00-10', '2024-05-00 10:00:00', '2024-00-00 00:00:00.5', '0000-01-01 00:00:00', NULL, NULL, NULL,"
    " '2024-01-10 10:00:00.000006', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
]
DATE_COLS = ["dt"] + [f"dtm{n}" for n in range(7)] + [f"ts{n}" for n in range(7)]
WIDE_DECIMALS = ["d39", "d65", "d65s"]   # above 38 digits: text by default (--wide-decimal string)


def fill_rows(cur, n):
    """n generated rows (ids 100..) so the table spans several files and pages."""
    cur.execute(
        "INSERT INTO alltypes (id, ti, tiu, b, si, siu, mi, miu, i, iu, bi, biu, d5, d9, d18, d30, d38, d39, d65,"
        " d65s, du, f, db, bt1, bt13, bt64, y, dt, dtm0, dtm3, dtm6, ts0, ts6, tm, tm6, c, vc, tx, bn, vb, bl, en, st,"
        " js, g)"
        " SELECT 99 + seq, seq % 256 - 128, seq % 256, seq % 2, seq % 65536 - 32768, seq % 65536,"
        "  seq * 97 % 16777216 - 8388608, seq * 97 % 16777216, seq * 7919 - 2147483648, seq * 7919,"
        "  seq * 1000000007 * IF(seq % 2, 1, -1), 18446744073709551615 - seq * 1000000007,"
        "  (seq % 199999) / 100 - 999.99, seq / 10000, seq * 1.000001, seq * -123456789.0123456789,"
        "  seq * 100000000000000000000000000000, seq / 100000 - 5000,"
        "  CAST(CONCAT(IF(seq % 3, '-', ''), seq, REPEAT('7', 50)) AS DECIMAL(65,0)),"
        "  CAST(CONCAT(seq, '.', LPAD(seq, 30, '0')) AS DECIMAL(65,30)), seq / 100,"
        "  seq / 7, seq / 3.0e10, seq % 2, seq % 8192, CAST(CONV(LEFT(MD5(seq), 16), 16, 10) AS UNSIGNED),"
        "  1901 + seq % 255,"
        "  '1970-01-01' + INTERVAL (seq * 37) DAY, '2000-01-01' + INTERVAL (seq * 9876) SECOND,"
        "  '2000-01-01' + INTERVAL (seq * 9876543) MICROSECOND, '1999-12-31' + INTERVAL (seq * 123457) MICROSECOND,"
        "  FROM_UNIXTIME(seq * 86399), FROM_UNIXTIME(seq * 86399.123456),"
        "  SEC_TO_TIME(seq * 97 - 100000), SEC_TO_TIME(seq * 9.000001 - 9000),"
        "  CONCAT('c', seq % 100), CONCAT('vé', seq, REPEAT('✓', seq % 7)), REPEAT(CHAR(65 + seq % 26), seq % 300),"
        "  UNHEX(LPAD(HEX(seq), 8, '0')), UNHEX(HEX(seq * 31)), UNHEX(SHA2(seq, 256)),"
        "  ELT(1 + seq % 3, 'a', 'bé', 'c'), ELT(1 + seq % 4, '', 'x', 'y,z', 'x,y,z'),"
        "  JSON_OBJECT('k', seq, 'v', CONCAT('é', seq)), POINT(seq, -seq)"
        f" FROM (SELECT CAST(seq AS SIGNED) AS seq FROM seq_1_to_{n}) q")


@pytest.fixture(scope="module")
def alltypes(mariadb, tmp_path_factory):
    """A table of every type, exported once with --partitions 3; what pymysql reads."""
    db = mariadb.create_database()
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("SET SESSION sql_mode = '', time_zone = '+00:00'")
        cur.execute(DDL)
        for r in ROWS:
            cur.execute("INSERT INTO alltypes VALUES " + r)
        fill_rows(cur, 3000)
    out = tmp_path_factory.mktemp("alltypes")
    p = export(mariadb, db, out, "--table", "alltypes", "--partitions", 3, "--date", DATE, "--batch-rows", 700,
               check=0)
    folder = part_dir(out, "alltypes")
    m = manifest(folder)
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("SET SESSION time_zone = '+00:00'")
        cur.execute("SELECT * FROM alltypes ORDER BY id")
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        # exact float32 values (the text protocol rounds FLOAT to 6 digits), the WKB
        cur.execute("SELECT id, CAST(f AS DOUBLE), ST_AsBinary(g) FROM alltypes ORDER BY id")
        extra = {r[0]: r[1:] for r in cur.fetchall()}
        cur.execute("SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION,"
                    " IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'alltypes'"
                    " ORDER BY ORDINAL_POSITION", (db,))
        info = cur.fetchall()
        zero = {}
        for col in DATE_COLS:
            cur.execute(f"SELECT COUNT(*) FROM alltypes WHERE {col} IS NOT NULL AND (YEAR({col}) = 0 OR"
                        f" MONTH({col}) = 0 OR DAYOFMONTH({col}) = 0)")
            zero[col] = cur.fetchone()[0]
    yield dict(db=db, out=out, folder=folder, manifest=m, stderr=p.stderr, names=names, rows=rows, extra=extra,
               info=info, zero=zero)
    mariadb.drop_database(db)


def is_zero_date(v):
    """pymysql hands back a date it cannot represent (zero or partial) as its text."""
    return isinstance(v, str) and v[:4].isdigit() and v[4:5] == "-"


def expected_value(name, v, row_id, extra):
    """What the export must hold for pymysql's value v of column `name` (pyarrow's view)."""
    if v is None or is_zero_date(v):
        return None
    if name in WIDE_DECIMALS:
        return format(v, "f")   # the server's exact text: pymysql's Decimal keeps its exponent
    if name == "f":
        return extra[row_id][0]
    if name == "g":
        return bytes(extra[row_id][1])
    if name.startswith("tm"):
        return v // datetime.timedelta(microseconds=1)
    if name.startswith("bt"):
        return int.from_bytes(v, "big")
    if name.startswith(("dtm", "ts")):
        return v.replace(tzinfo=UTC)
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, set):
        return ",".join(sorted(v))
    return v


def test_every_type_matches_pymysql(alltypes):
    """Every value of every row, read back with pyarrow, equals what pymysql reads."""
    t = table_of(alltypes["folder"], alltypes["manifest"]).sort_by("id")
    assert t.column_names == alltypes["names"]
    got = t.to_pylist()
    assert len(got) == len(alltypes["rows"]) == 3006
    for g, w in zip(got, alltypes["rows"]):
        rid = w[0]
        for name, v in zip(alltypes["names"], w):
            e = expected_value(name, v, rid, alltypes["extra"])
            x = g[name]
            if name == "js" and e is not None:
                assert json.loads(x) == json.loads(e), (rid, name)
            assert x == e, (rid, name, x, e)
            assert type(x) is type(e) or e is None or isinstance(e, decimal.Decimal), (rid, name, type(x), type(e))


def test_every_type_matches_pymysql_through_duckdb(alltypes):
    """The same comparison through DuckDB, for the types DuckDB represents; decimals over
    38 digits are text by default, which DuckDB reads as VARCHAR."""
    files = listed_paths(alltypes["folder"], alltypes["manifest"])
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    desc = {r[0]: r[1] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [files]).fetchall()}
    assert desc["biu"] == "UBIGINT" and desc["bt64"] == "UBIGINT" and desc["tiu"] == "UTINYINT"
    assert desc["d38"] == "DECIMAL(38,0)" and desc["d65"] == "VARCHAR" and desc["d5"] == "DECIMAL(5,2)"
    assert desc["dtm6"] == "TIMESTAMP WITH TIME ZONE" and desc["dt"] == "DATE" and desc["bl"] == "BLOB"
    cols = []
    for name in alltypes["names"]:
        if desc[name] == "TIMESTAMP WITH TIME ZONE":
            cols.append(f"epoch_us({name})")
        elif desc[name] == "JSON":
            cols.append(f"CAST({name} AS VARCHAR)")
        else:
            cols.append(name)
    got = con.execute(f"SELECT {', '.join(cols)} FROM read_parquet(?) ORDER BY id", [files]).fetchall()
    assert len(got) == len(alltypes["rows"])
    epoch = datetime.datetime(1970, 1, 1, tzinfo=UTC)
    for g, w in zip(got, alltypes["rows"]):
        rid = w[0]
        for name, x, v in zip(alltypes["names"], g, w):
            e = expected_value(name, v, rid, alltypes["extra"])
            if e is None:
                assert x is None, (rid, name, x)
            elif isinstance(e, datetime.datetime):
                assert x == (e - epoch) // datetime.timedelta(microseconds=1), (rid, name)
            elif desc[name] == "DOUBLE" and isinstance(e, decimal.Decimal):
                assert x == pytest.approx(float(e), rel=1e-12), (rid, name)
            elif name == "js":
                assert json.loads(x) == json.loads(e), (rid, name)
            else:
                assert x == e, (rid, name, x, e)


def expected_origin(data_type, column_type, prec, scale, dt_prec):
    """The MySQL type sluice records, from information_schema (MariaDB's JSON is a
    LONGTEXT, so it is recorded as text; lengths of strings are not part of it)."""
    uns = " unsigned" if "unsigned" in column_type else ""
    if data_type == "tinyint":
        return column_type.replace(" unsigned", "") + uns
    if data_type in ("smallint", "mediumint", "int", "bigint"):
        return data_type + uns
    if data_type == "decimal":
        return f"decimal({prec},{scale}){uns}"
    if data_type in ("datetime", "timestamp", "time"):
        return f"{data_type}({dt_prec})"
    if data_type == "bit":
        return column_type
    if data_type in ("tinytext", "text", "mediumtext", "longtext"):
        return "text"
    if data_type in ("tinyblob", "blob", "mediumblob", "longblob"):
        return "blob"
    return data_type


def test_parquet_types_and_origin_metadata(alltypes):
    folder, m = alltypes["folder"], alltypes["manifest"]
    f = pq.ParquetFile(folder / m["files"][0]["name"])
    s = f.schema_arrow
    want = {
        "ti": pa.int8(), "tiu": pa.uint8(), "b": pa.int8(), "si": pa.int16(), "siu": pa.uint16(),
        "mi": pa.int32(), "miu": pa.uint32(), "i": pa.int32(), "iu": pa.uint32(), "bi": pa.int64(),
        "biu": pa.uint64(), "d5": pa.decimal128(5, 2), "d9": pa.decimal128(9, 4), "d18": pa.decimal128(18, 6),
        "d30": pa.decimal128(30, 10), "d38": pa.decimal128(38, 0), "d39": pa.string(),
        "d65": pa.string(), "d65s": pa.string(), "du": pa.decimal128(10, 2),
        "f": pa.float32(), "db": pa.float64(), "bt1": pa.uint64(), "bt13": pa.uint64(), "bt64": pa.uint64(),
        "y": pa.int16(), "tm3": pa.int64(),
        "dt": pa.date32(), "tm": pa.int64(), "tm6": pa.int64(), "c": pa.string(), "vc": pa.string(),
        "tx": pa.string(), "mt": pa.string(), "bn": pa.binary(), "vb": pa.binary(), "bl": pa.binary(),
        "st": pa.string(), "js": pa.string(), "g": pa.binary(),
    }
    want.update({f"dtm{n}": pa.timestamp("us", tz="UTC") for n in range(7)})
    want.update({f"ts{n}": pa.timestamp("us", tz="UTC") for n in range(7)})
    assert set(want) | {"id", "en"} == set(s.names)
    for name, typ in want.items():
        assert s.field(name).type == typ, (name, s.field(name).type, typ)
    assert s.field("id").type == pa.int32() and not s.field("id").nullable
    assert all(s.field(n).nullable for n in DATE_COLS)   # zero dates become NULL
    kv = {k.decode(): v.decode() for k, v in f.metadata.metadata.items()}
    origins = {}
    for name, data_type, column_type, prec, scale, dt_prec, _ in alltypes["info"]:
        origins[name] = expected_origin(data_type, column_type, prec, scale, dt_prec)
        assert kv[f"sluice.origin.{name}"] == origins[name], name
    assert kv["sluice.run_id"] == m["run_id"] and kv["sluice.as_of"] == DATE
    assert kv["sluice.consistency"] == "snapshot"
    assert kv["sluice.source"] == f"mysql:{alltypes['db']}/alltypes"
    assert f.metadata.created_by.startswith("sluice version ")
    # every file carries the same schema and metadata
    for entry in m["files"][1:]:
        other = pq.ParquetFile(folder / entry["name"])
        assert other.schema_arrow == s
        assert {k.decode(): v.decode() for k, v in other.metadata.metadata.items()} == kv


def test_enum_is_written_as_string(alltypes):
    """MySQL ENUM is written as BYTE_ARRAY with the STRING (UTF8) annotation, not Parquet's
    ENUM (which pyarrow, so pandas and Polars, reads as bytes): every reader sees text; the
    MySQL type stays in sluice.origin.en."""
    path = alltypes["folder"] / alltypes["manifest"]["files"][0]["name"]
    f = pq.ParquetFile(path)
    assert f.schema_arrow.field("en").type == pa.string()
    col = f.schema.column(f.schema_arrow.names.index("en"))
    assert str(col.logical_type) == "String" and col.converted_type == "UTF8"
    kv = {k.decode(): v.decode() for k, v in f.metadata.metadata.items()}
    assert kv["sluice.origin.en"] == "enum"
    assert duckdb.connect().execute(f"SELECT typeof(en) FROM read_parquet('{path}') LIMIT 1").fetchone()[0] == "VARCHAR"


def test_wide_decimals_as_exact_text(alltypes):
    """--wide-decimal string (the default): a DECIMAL above 38 digits is BYTE_ARRAY with
    the STRING annotation holding the server's exact digits (compared in
    test_every_type_matches_pymysql), the MySQL type kept in sluice.origin; 38 digits and
    fewer stay DECIMAL."""
    f = pq.ParquetFile(alltypes["folder"] / alltypes["manifest"]["files"][0]["name"])
    names = f.schema_arrow.names
    kv = {k.decode(): v.decode() for k, v in f.metadata.metadata.items()}
    for name, want in [("d39", "decimal(39,5)"), ("d65", "decimal(65,0)"), ("d65s", "decimal(65,30)")]:
        col = f.schema.column(names.index(name))
        assert col.physical_type == "BYTE_ARRAY" and str(col.logical_type) == "String", name
        assert kv[f"sluice.origin.{name}"] == want
    d38 = f.schema.column(names.index("d38"))
    assert d38.physical_type == "FIXED_LEN_BYTE_ARRAY" and str(d38.logical_type) == "Decimal(precision=38, scale=0)"
    schema = {c["name"]: c for c in alltypes["manifest"]["schema"]}
    assert schema["d65s"]["type"] == "string" and schema["d65s"]["mysql_type"] == "decimal(65,30)"


def test_wide_decimal_decimal_keeps_decimal256(alltypes, mariadb, tmp_path):
    """--wide-decimal decimal keeps FIXED_LEN_BYTE_ARRAY DECIMAL(p > 38), value for value."""
    p = export(mariadb, alltypes["db"], tmp_path, "--table", "alltypes", "--columns", "id,d39,d65,d65s",
               "--date", DATE, "--wide-decimal", "decimal", check=0)
    t = table_of(part_dir(tmp_path, "alltypes")).sort_by("id")
    assert t.schema.field("d39").type == pa.decimal256(39, 5)
    assert t.schema.field("d65").type == pa.decimal256(65, 0)
    assert t.schema.field("d65s").type == pa.decimal256(65, 30)
    idx = [alltypes["names"].index(n) for n in ("id", "d39", "d65", "d65s")]
    want = [tuple(None if is_zero_date(r[i]) else r[i] for i in idx) for r in alltypes["rows"]]
    got = [(r["id"], r["d39"], r["d65"], r["d65s"]) for r in t.to_pylist()]
    assert got == want
    bad = export(mariadb, alltypes["db"], tmp_path / "x", "--table", "alltypes", "--wide-decimal", "float")
    assert bad.returncode == 2 and "--wide-decimal takes string or decimal" in bad.stderr


def test_manifest(alltypes, mariadb):
    m, info = alltypes["manifest"], alltypes["info"]
    assert m["partition"] == f"raw/alltypes/{DATE}/" and m["as_of"] == DATE
    assert m["kind"] == "export" and m["compression"] == "snappy"
    assert m["total_rows"] == m["rows"] == 3006
    # one file per chunk of the plan, listing the chunk it holds
    assert len(m["files"]) == len(m["plan"]["chunks"]) > 3 and len(m["partitions"]) == len(m["files"])
    assert [p["file"] for p in m["partitions"]] == [f["name"] for f in m["files"]]
    assert [p["rows"] for p in m["partitions"]] == [f["rows"] for f in m["files"]]
    assert all(p["attempts"] == 1 for p in m["partitions"])
    check_chunks(mariadb, alltypes["db"], "alltypes", "id", m, part_dir(alltypes["out"], "alltypes"))
    assert m["source"] == {"database": alltypes["db"], "table": "alltypes", "partition_column": "id"}
    assert m["snapshot"]["consistency"] == "snapshot" and m["snapshot"]["connections"] == 3
    assert "fallback_reason" not in m["snapshot"]
    assert [c["name"] for c in m["schema"]] == [r[0] for r in info]
    for c, (name, data_type, column_type, prec, scale, dt_prec, nullable) in zip(m["schema"], info):
        assert c["mysql_type"] == expected_origin(data_type, column_type, prec, scale, dt_prec), name
        assert c["nullable"] == (nullable == "YES" or name in DATE_COLS), name
    # zero and partial dates: NULLed and counted per column, as MariaDB counts them
    want_zero = {k: v for k, v in alltypes["zero"].items() if v}
    assert want_zero["dt"] == 2 and want_zero["dtm0"] == 2 and want_zero["ts0"] == 1
    assert m["zero_dates"] == want_zero
    version = run_sluice(["--version"], env={}, check=0).stdout
    assert m["sluice_version"] and m["sluice_version"] in version
    assert m["timings"]["seconds"] >= 0 and m["timings"]["started_at"][:4] == m["created_at"][:4]


def test_zero_dates_error_fails_naming_table_and_column(alltypes, mariadb, tmp_path):
    p = export(mariadb, alltypes["db"], tmp_path, "--table", "alltypes", "--zero-dates", "error", "--date", DATE,
               "--partitions", 3)
    assert p.returncode == 6, p.stderr
    assert "alltypes" in p.stderr and "column dt " in p.stderr and "0000-00-00" in p.stderr
    assert not list(tmp_path.rglob("_SUCCESS")) and not [f for f in tmp_path.rglob("*") if f.is_file()]


def test_zero_dates_error_names_the_key(mariadb, fresh_db, tmp_path):
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("CREATE TABLE z (id INT PRIMARY KEY, d DATE)")
        cur.execute("INSERT INTO z SELECT seq, '2024-01-01' FROM seq_1_to_1000")
        cur.execute("UPDATE z SET d = '0000-00-00' WHERE id = 777")
    p = export(mariadb, fresh_db, tmp_path, "--table", "z", "--zero-dates", "error", "--partitions", 2)
    assert p.returncode == 6
    assert re.search(r"\b(id|key)\b\D{0,10}777\b", p.stderr), p.stderr


# ---------------------------------------------------------------------------------------
# partitions

KEYS = {
    "dense": "SELECT seq AS x FROM seq_1_to_3000",
    "gaps": "SELECT seq * seq AS x FROM seq_1_to_700 UNION ALL SELECT 1000000000000 + seq * 977 FROM seq_1_to_300",
    "negative": "SELECT CAST(seq AS SIGNED) * 13 - 20000 AS x FROM seq_1_to_1999",
    # 90% of the rows in a narrow range, the rest spread up to 9e18
    "skew": "SELECT 5000 + seq AS x FROM seq_1_to_2700 UNION ALL SELECT seq * 30000000000000000 FROM seq_1_to_300",
    "tiny": "SELECT CAST(seq AS SIGNED) * 3 - 7 AS x FROM seq_1_to_5",
    # one huge dense range among a few keys spread over the whole signed 64-bit space
    "hugedense": "SELECT 77777 + seq AS x FROM seq_1_to_6000 UNION ALL "
                 "SELECT (CAST(seq AS SIGNED) - 20) * 450000000000000000 FROM seq_1_to_40",
    "one": "SELECT -9223372036854775808 AS x",
}


@pytest.fixture(scope="module")
def keyed(mariadb):
    db = mariadb.create_database()
    with mariadb.connect(db) as c, c.cursor() as cur:
        for name, sel in KEYS.items():
            cur.execute(f"CREATE TABLE {name} (k BIGINT PRIMARY KEY, v VARCHAR(30), n INT)")
            cur.execute(f"INSERT INTO {name} SELECT x, CONCAT('v', x), x % 7 FROM ({sel}) t")
    yield db
    mariadb.drop_database(db)


def rows_of(mariadb, db, sql):
    return sorted(query(mariadb, db, sql))


@pytest.mark.parametrize("n", [1, 2, 7, 50])
@pytest.mark.parametrize("table", sorted(KEYS))
def test_union_of_parts_is_the_table(mariadb, keyed, tmp_path, table, n):
    export(mariadb, keyed, tmp_path, "--table", table, "--partitions", n, "--date", DATE, check=0)
    folder = part_dir(tmp_path, table)
    m = manifest(folder)
    want = rows_of(mariadb, keyed, f"SELECT k, v, n FROM {table}")
    t = table_of(folder, m)
    got = sorted(zip(*(t.column(c).to_pylist() for c in ("k", "v", "n"))))
    assert len(got) == len(set(got))            # no duplicates
    assert got == want                          # no loss
    # one file per chunk; never more connections than asked for or than chunks
    if n == 1:
        assert len(m["files"]) == 1 and m["snapshot"]["connections"] == 1
    else:
        assert len(m["files"]) == len(m["plan"]["chunks"])
        assert m["snapshot"]["connections"] == min(n, len(m["plan"]["chunks"]))
        check_chunks(mariadb, keyed, table, "k", m, folder)
    if table == "skew" and n == 7:
        # quantile-like chunks, not equal key widths: no chunk holds most of the rows
        assert max(c["rows"] for c in m["plan"]["chunks"]) <= 2 * len(want) / 7


AHEAD = re.compile(r"table (\w+), chunk (\d+): read started as its connection's previous read ended")


def test_next_chunk_is_read_while_the_last_file_closes(mariadb, fresh_db, tmp_path):
    """A connection's next chunk is read as soon as its previous read ends, not after that
    chunk's file is closed. With chunks of many batches (--batch-rows 64) a chunk's read
    cannot end before its worker takes it, so every chunk but each connection's first
    starts that way (--verbose names them), across two tables; each file still holds
    exactly its chunk's rows, as MariaDB counts them."""
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE big (k INT PRIMARY KEY, v VARCHAR(20), n DECIMAL(9,2))")
        cur.execute("INSERT INTO big SELECT seq, CONCAT('v', seq), seq / 7 FROM seq_1_to_30000")
        cur.execute("CREATE TABLE small (k INT PRIMARY KEY, d DATE)")
        cur.execute("INSERT INTO small SELECT seq, '2024-01-01' + INTERVAL seq DAY FROM seq_1_to_9000")
    p = export(mariadb, fresh_db, tmp_path, "--partitions", 2, "--batch-rows", 64, "--date", DATE, "-v", check=0)
    ahead = [(t, int(c)) for t, c in AHEAD.findall(p.stderr)]
    assert len(ahead) == len(set(ahead))
    nchunks = 0
    for table in ("big", "small"):
        folder = part_dir(tmp_path, table)
        m = manifest(folder)
        check_chunks(mariadb, fresh_db, table, "k", m, folder)
        assert len(m["files"]) == len(m["plan"]["chunks"]) > 3
        t = table_of(folder, m)
        assert sorted(t.column("k").to_pylist()) == [r[0] for r in rows_of(mariadb, fresh_db, f"SELECT k FROM {table}")]
        nchunks += len(m["plan"]["chunks"])
    # the queue runs big's chunks, then small's: only the two connections' first chunks
    # were started otherwise
    assert m["snapshot"]["connections"] == 2
    assert len(ahead) == nchunks - 2, p.stderr
    assert {t for t, _ in ahead} == {"big", "small"}


def test_the_last_chunks_handed_out_are_halves(mariadb, fresh_db, tmp_path):
    """The connections take the biggest table's chunks first; the run's last 2 chunks (at
    2 partitions) are halved, so that the connections' last reads end close together:
    the smaller table, handed out last, has 4 chunks per connection plus 2, its last 4
    of half the key width (and about half the rows, as MariaDB counts them); the bigger
    table keeps 4 per connection, all of one width."""
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE big (k INT PRIMARY KEY, v INT)")
        cur.execute("INSERT INTO big SELECT seq, seq % 13 FROM seq_1_to_400000")
        cur.execute("CREATE TABLE small (k INT PRIMARY KEY, v INT)")
        cur.execute("INSERT INTO small SELECT seq, seq % 11 FROM seq_1_to_200000")
        cur.execute("ANALYZE TABLE big, small")
    export(mariadb, fresh_db, tmp_path, "--partitions", 2, "--date", DATE, check=0)
    widths = {}
    for table in ("big", "small"):
        folder = part_dir(tmp_path, table)
        m = manifest(folder)
        check_chunks(mariadb, fresh_db, table, "k", m, folder)
        assert m["rows"] == query(mariadb, fresh_db, f"SELECT COUNT(*) FROM {table}")[0][0]
        plan = m["plan"]
        bounds = [plan["min"]] + [c["to_before"] for c in plan["chunks"][:-1]] + [plan["max"] + 1]
        widths[table] = [b - a for a, b in zip(bounds, bounds[1:])]
        rows = [c["rows"] for c in plan["chunks"]]
        if table == "small":
            assert all(abs(r - 2 * s) <= 2 for r in rows[:6] for s in rows[6:]), rows
    assert len(widths["big"]) == 8 and max(widths["big"]) - min(widths["big"]) <= 1, widths
    w = widths["small"]
    assert len(w) == 10, w
    assert all(abs(a - 2 * b) <= 2 for a in w[:6] for b in w[6:]), w


def test_error_in_a_read_started_ahead_fails_the_export(mariadb, fresh_db, tmp_path):
    """A zero date under --zero-dates=error in the last chunk, whose read a previous chunk's
    end started: the export fails naming the table and the key, and leaves no file."""
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("CREATE TABLE z (id INT PRIMARY KEY, d DATE)")
        cur.execute("INSERT INTO z SELECT seq, '2024-01-01' FROM seq_1_to_20000")
        cur.execute("UPDATE z SET d = '0000-00-00' WHERE id = 19990")
    p = export(mariadb, fresh_db, tmp_path, "--table", "z", "--partitions", 2, "--batch-rows", 64,
               "--zero-dates", "error", "--date", DATE, "-v")
    assert p.returncode == 6, p.stderr
    assert "table z" in p.stderr and re.search(r"\b(id|key)\b\D{0,10}19990\b", p.stderr), p.stderr
    chunks = [int(c) for t, c in AHEAD.findall(p.stderr)]
    assert max(chunks) >= 6, p.stderr      # the last chunks' reads were started ahead
    assert not [f for f in tmp_path.rglob("*") if f.is_file()]


def test_empty_table_with_partitions(mariadb, fresh_db, tmp_path):
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE e (k BIGINT PRIMARY KEY, v VARCHAR(3))")
    export(mariadb, fresh_db, tmp_path, "--table", "e", "--partitions", 4, "--date", DATE, check=0)
    m = manifest(part_dir(tmp_path, "e"))
    assert len(m["files"]) == 1 and m["rows"] == 0 and len(m["plan"]["chunks"]) == 1
    assert pq.read_table(part_dir(tmp_path, "e") / m["files"][0]["name"]).schema.names == ["k", "v"]


def test_nullable_indexed_partition_column(mariadb, fresh_db, tmp_path):
    """NULL keys are read once, with the first chunk; the other chunks are cut from the
    column's index."""
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE n (id INT PRIMARY KEY, k BIGINT NULL, KEY (k))")
        cur.execute("INSERT INTO n SELECT seq, IF(seq % 4 = 0, NULL, 5000 - CAST(seq AS SIGNED) * 3) FROM seq_1_to_4000")
    export(mariadb, fresh_db, tmp_path, "--table", "n", "--partitions", 3, "--partition-column", "k",
           "--date", DATE, check=0)
    folder = part_dir(tmp_path, "n")
    m = manifest(folder)
    assert m["plan"]["indexed"] and len(m["plan"]["chunks"]) > 3
    t = table_of(folder, m)
    assert sorted(zip(t.column("id").to_pylist(), t.column("k").to_pylist())) == rows_of(
        mariadb, fresh_db, "SELECT id, k FROM n")
    check_chunks(mariadb, fresh_db, "n", "k", m, folder)
    assert m["plan"]["chunks"][0]["rows"] >= 1000           # the NULLs


def test_unsigned_key_at_2_64_is_read_whole(mariadb, fresh_db, tmp_path):
    """A BIGINT UNSIGNED key with values of 2^63 and more cannot be cut into signed ranges:
    one connection reads it whole (with a warning), still every row."""
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE u (k BIGINT UNSIGNED PRIMARY KEY, v INT)")
        cur.execute("INSERT INTO u SELECT seq, seq FROM seq_1_to_1000")
        cur.execute("INSERT INTO u VALUES (9223372036854775808, -1), (18446744073709551615, -2)")
    p = export(mariadb, fresh_db, tmp_path, "--table", "u", "--partitions", 4, "--date", DATE, check=0)
    assert "2^63" in p.stderr
    m = manifest(part_dir(tmp_path, "u"))
    assert len(m["files"]) == 1
    t = table_of(part_dir(tmp_path, "u"), m)
    assert t.schema.field("k").type == pa.uint64()
    assert sorted(zip(t.column("k").to_pylist(), t.column("v").to_pylist())) == rows_of(
        mariadb, fresh_db, "SELECT k, v FROM u")


def test_tables_without_an_integer_key_are_read_whole(mariadb, fresh_db, tmp_path):
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE nopk (a INT, b VARCHAR(10))")
        cur.execute("CREATE TABLE strpk (s VARCHAR(20) PRIMARY KEY, a INT)")
        cur.execute("CREATE TABLE twopk (a INT, b INT, c INT, PRIMARY KEY (a, b))")
        for t in ("nopk", "strpk", "twopk"):
            cols = {"nopk": "seq % 10, CONCAT('b', seq)", "strpk": "CONCAT('s', seq), seq",
                    "twopk": "seq % 10, seq, seq * 2"}[t]
            cur.execute(f"INSERT INTO {t} SELECT {cols} FROM seq_1_to_500")
    export(mariadb, fresh_db, tmp_path, "--partitions", 4, "--date", DATE, check=0)
    for t in ("nopk", "strpk", "twopk"):
        m = manifest(part_dir(tmp_path, t))
        assert len(m["files"]) == 1 and m["rows"] == 500, t
        assert "partition_column" not in m["source"]
        tab = table_of(part_dir(tmp_path, t), m)
        assert sorted(zip(*(tab.column(i).to_pylist() for i in range(tab.num_columns)))) == rows_of(
            mariadb, fresh_db, f"SELECT * FROM {t}")


def test_partition_column_non_unique_with_nulls(mariadb, fresh_db, tmp_path):
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE dup (id INT PRIMARY KEY, g INT NULL)")
        cur.execute("INSERT INTO dup SELECT seq, CASE WHEN seq % 10 = 0 THEN NULL WHEN seq < 800 THEN 7 ELSE -seq END"
                    " FROM seq_1_to_1000")
    export(mariadb, fresh_db, tmp_path, "--table", "dup", "--partitions", 6, "--partition-column", "g",
           "--date", DATE, check=0)
    m = manifest(part_dir(tmp_path, "dup"))
    assert m["source"]["partition_column"] == "g"
    assert len(m["files"]) == 6 and not m["plan"]["indexed"]   # g leads no index: equal key widths
    t = table_of(part_dir(tmp_path, "dup"), m)
    assert sorted(zip(t.column("id").to_pylist(), t.column("g").to_pylist()), key=lambda r: r[0]) == sorted(
        query(mariadb, fresh_db, "SELECT id, g FROM dup"))
    p = export(mariadb, fresh_db, tmp_path, "--table", "dup", "--partition-column", "nope")
    assert p.returncode == 5 and "nope" in p.stderr
    p = export(mariadb, fresh_db, tmp_path, "--table", "dup", "--partition-column", "g`; DROP TABLE dup; --")
    assert p.returncode == 5
    assert query(mariadb, fresh_db, "SELECT COUNT(*) FROM dup")[0][0] == 1000


# ---------------------------------------------------------------------------------------
# options

@pytest.fixture(scope="module")
def shop(mariadb):
    db = mariadb.create_database()
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40), country CHAR(2), born DATE)")
        cur.execute("INSERT INTO customers SELECT seq, CONCAT('Zoë ', seq), ELT(1 + seq % 3, 'DE', 'FR', 'PL'),"
                    " '1950-01-01' + INTERVAL seq DAY FROM seq_1_to_2000")
        cur.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id INT, amount DECIMAL(12,2))")
        cur.execute("INSERT INTO orders SELECT seq, 1 + seq % 2000, seq / 4 FROM seq_1_to_5000")
        cur.execute("CREATE TABLE empty (id INT PRIMARY KEY, x VARCHAR(3))")
        cur.execute("CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100")
    yield db
    mariadb.drop_database(db)


def test_columns_selects_and_orders_columns(mariadb, shop, tmp_path):
    export(mariadb, shop, tmp_path, "--table", "customers", "--columns", "country, id", "--date", DATE, check=0)
    folder = part_dir(tmp_path, "customers")
    m = manifest(folder)
    t = table_of(folder, m)
    assert t.column_names == ["country", "id"]
    assert [c["name"] for c in m["schema"]] == ["country", "id"]
    assert sorted(zip(t.column("country").to_pylist(), t.column("id").to_pylist())) == rows_of(
        mariadb, shop, "SELECT country, id FROM customers")


def test_where_filters_every_range(mariadb, shop, tmp_path):
    cond = "country = 'PL' AND id % 7 <> 0"
    export(mariadb, shop, tmp_path, "--table", "customers", "--where", cond, "--partitions", 3, "--date", DATE,
           check=0)
    folder = part_dir(tmp_path, "customers")
    m = manifest(folder)
    assert m["source"]["where"] == cond and len(m["files"]) == len(m["plan"]["chunks"])
    t = table_of(folder, m)
    assert sorted(t.column("id").to_pylist()) == [r[0] for r in rows_of(
        mariadb, shop, f"SELECT id FROM customers WHERE {cond}")]


def test_query_with_name(mariadb, shop, tmp_path):
    sql = ("SELECT c.country, COUNT(*) AS n, SUM(o.amount) AS total FROM orders o JOIN customers c"
           " ON c.id = o.customer_id GROUP BY c.country")
    export(mariadb, shop, tmp_path, "--query", sql, "--name", "sales_by_country", "--date", DATE, "--partitions", 4,
           check=0)
    folder = part_dir(tmp_path, "sales_by_country")
    m = manifest(folder)
    assert len(m["files"]) == 1 and m["source"]["query"] == sql
    t = table_of(folder, m)
    assert sorted(zip(*(t.column(c).to_pylist() for c in ("country", "n", "total")))) == rows_of(mariadb, shop, sql)
    assert pa.types.is_decimal(t.schema.field("total").type)
    # without --name the folder is "query"
    export(mariadb, shop, tmp_path, "--query", "SELECT 1 AS one", "--date", DATE, check=0)
    assert table_of(part_dir(tmp_path, "query")).column("one").to_pylist() == [1]
    # a query is SQL, but combining it with table options is a usage error
    p = export(mariadb, shop, tmp_path, "--query", "SELECT 1", "--where", "1=1")
    assert p.returncode == 2
    p = export(mariadb, shop, tmp_path, "--query", "SELECT 1", "--table", "orders")
    assert p.returncode == 2


def test_repeated_tables(mariadb, shop, tmp_path):
    p = export(mariadb, shop, tmp_path, "--table", "orders", "--table", "customers", "--partitions", 2,
               "--date", DATE, check=0)
    assert sorted(x.name for x in (tmp_path / "raw").iterdir()) == ["customers", "orders"]
    for t, n in (("orders", 5000), ("customers", 2000)):
        m = manifest(part_dir(tmp_path, t))
        assert m["rows"] == n and len(m["files"]) == len(m["plan"]["chunks"])
    # one run: both manifests carry the same run id
    ids = {manifest(part_dir(tmp_path, t))["run_id"] for t in ("orders", "customers")}
    assert len(ids) == 1 and ids.pop() in p.stdout
    p = export(mariadb, shop, tmp_path, "--table", "orders", "--table", "orders")
    assert p.returncode == 2 and "orders" in p.stderr


def test_no_table_exports_every_base_table_and_skips_views(mariadb, shop, tmp_path):
    export(mariadb, shop, tmp_path, "--date", DATE, check=0)
    tables = [r[0] for r in query(mariadb, shop, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE"
                                                 " TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'")]
    assert sorted(x.name for x in (tmp_path / "raw").iterdir()) == sorted(tables) == ["customers", "empty", "orders"]
    for t in tables:
        m = manifest(part_dir(tmp_path, t))
        assert m["rows"] == query(mariadb, shop, f"SELECT COUNT(*) FROM {t}")[0][0]
    # an empty table is still a complete partition: one file, zero rows, the schema
    m = manifest(part_dir(tmp_path, "empty"))
    assert m["rows"] == 0 and len(m["files"]) == 1
    assert table_of(part_dir(tmp_path, "empty"), m).column_names == ["id", "x"]
    p = export(mariadb, shop, tmp_path, "--table", "big_orders")
    assert p.returncode == 5 and "big_orders" in p.stderr


def test_date_folder(mariadb, shop, tmp_path):
    export(mariadb, shop, tmp_path, "--table", "orders", "--date", "2024-02-29", check=0)
    m = manifest(part_dir(tmp_path, "orders", "2024-02-29"))
    assert m["as_of"] == "2024-02-29"
    # default: today's UTC date
    export(mariadb, shop, tmp_path, "--table", "empty", check=0)
    (folder,) = (tmp_path / "raw" / "empty").iterdir()
    assert folder.name in {(datetime.datetime.now(UTC) - datetime.timedelta(seconds=s)).date().isoformat()
                           for s in (0, 120)}


@pytest.mark.parametrize("codec,name", [("snappy", "SNAPPY"), ("zstd", "ZSTD"), ("gzip", "GZIP"),
                                        ("none", "UNCOMPRESSED")])
def test_compression(mariadb, shop, tmp_path, codec, name):
    export(mariadb, shop, tmp_path, "--table", "customers", "--compression", codec, "--partitions", 2,
           "--date", DATE, check=0)
    folder = part_dir(tmp_path, "customers")
    m = manifest(folder)
    assert m["compression"] == codec
    for f in m["files"]:
        assert f["name"].endswith(f".{codec}.parquet")
        md = pq.ParquetFile(folder / f["name"]).metadata
        for rg in range(md.num_row_groups):
            for c in range(md.num_columns):
                assert md.row_group(rg).column(c).compression == name
    con = duckdb.connect()
    got = con.execute("SELECT count(*), sum(id), count(DISTINCT name) FROM read_parquet(?)",
                      [listed_paths(folder, m)]).fetchone()
    assert got == tuple(query(mariadb, shop, "SELECT COUNT(*), SUM(id), COUNT(DISTINCT name) FROM customers")[0])


def test_row_group_and_page_sizes(mariadb, fresh_db, tmp_path):
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE w (id INT PRIMARY KEY, s VARCHAR(200))")
        cur.execute("INSERT INTO w SELECT seq, CONCAT(SHA2(seq, 256), SHA2(-seq, 256)) FROM seq_1_to_20000")
    export(mariadb, fresh_db, tmp_path, "--table", "w", "--partitions", 1, "--row-group-size", "256K",
           "--page-size", "16K", "--date", DATE, check=0)
    folder = part_dir(tmp_path, "w")
    m = manifest(folder)
    md = pq.ParquetFile(folder / m["files"][0]["name"]).metadata
    # 20,000 rows of ~130 incompressible bytes (2.6 MB) in groups of 256 KiB, cut at the
    # writer's 4,096-row slices: a group may pass the target by at most one slice
    sizes = [sum(md.row_group(i).column(c).total_compressed_size for c in range(md.num_columns))
             for i in range(md.num_row_groups)]
    slice_bytes = 4096 * sum(sizes) / 20000
    assert md.num_row_groups >= 4
    assert all(x <= 256 * 1024 + slice_bytes for x in sizes), sizes
    assert sum(md.row_group(i).num_rows for i in range(md.num_row_groups)) == 20000
    t = table_of(folder, m)
    assert sorted(zip(t.column("id").to_pylist(), t.column("s").to_pylist())) == rows_of(
        mariadb, fresh_db, "SELECT id, s FROM w")


def test_connection_and_storage_errors(mariadb, shop, tmp_path):
    p = export(mariadb, shop, tmp_path, "--table", "orders", MYSQL_PASSWORD="wrong")
    assert p.returncode == 4 and "wrong" not in p.stderr
    p = export(mariadb, shop, tmp_path, "--table", "orders", MYSQL_PORT=1, MYSQL_HOST="127.0.0.1")
    assert p.returncode == 4
    p = export(mariadb, "no_such_database_x", tmp_path, "--table", "orders")
    assert p.returncode == 3 and "no_such_database_x" in p.stderr
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    p = export(mariadb, shop, blocker, "--table", "orders")
    assert p.returncode == 3 and "not a folder" in p.stderr     # a bad --output setting
    assert blocker.read_text() == "not a folder"


def test_unwritable_local_output_exits_7(mariadb, shop, tmp_path):
    p = export(mariadb, shop, "/proc/sluice-cannot-write-here", "--table", "orders")
    assert p.returncode == 7, p.stderr


def test_missing_table_and_column(mariadb, shop, tmp_path):
    p = export(mariadb, shop, tmp_path, "--table", "orders", "--table", "no_such_table")
    assert p.returncode == 5 and "no_such_table" in p.stderr
    p = export(mariadb, shop, tmp_path, "--table", "orders", "--columns", "id,no_such_col")
    assert p.returncode == 5 and "no_such_col" in p.stderr
    assert not (tmp_path / "raw").exists() or not list(tmp_path.rglob("*.parquet"))


def test_identifiers_are_checked_and_quoted(mariadb, fresh_db, tmp_path):
    """Names with backticks, spaces and quotes work; SQL in a name never runs."""
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE `we``ird tab'le` (`i d` INT PRIMARY KEY, `co``l` VARCHAR(5), `sel;ect` INT)")
        cur.execute("INSERT INTO `we``ird tab'le` SELECT seq, 'x', seq FROM seq_1_to_100")
        cur.execute("CREATE TABLE victim (id INT PRIMARY KEY)")
    export(mariadb, fresh_db, tmp_path, "--table", "we`ird tab'le", "--columns", "co`l,i d", "--partitions", 3,
           "--date", DATE, check=0)
    (folder,) = (tmp_path / "raw").iterdir()
    assert "`" not in folder.name and " " not in folder.name and "/" not in folder.name
    m = manifest(folder / DATE)
    assert m["source"]["table"] == "we`ird tab'le" and len(m["files"]) == len(m["plan"]["chunks"]) and m["rows"] == 100
    assert len(m["plan"]["chunks"]) > 1 and m["plan"]["indexed"]    # planned on `i d`, quoted
    assert table_of(folder / DATE, m).column_names == ["co`l", "i d"]
    for bad in ("victim; DROP TABLE victim", "victim` WHERE 1; DROP TABLE victim; --", "../victim"):
        p = export(mariadb, fresh_db, tmp_path, "--table", bad)
        assert p.returncode == 5, (bad, p.stderr)
    p = export(mariadb, fresh_db, tmp_path, "--table", "victim", "--columns", "id` FROM victim; DROP TABLE victim; --")
    assert p.returncode == 5
    assert query(mariadb, fresh_db, "SHOW TABLES LIKE 'victim'")


@pytest.mark.parametrize("date", ["2024-02-30", "2024-13-01", "20240101", "2024-1-01", "yesterday", "2024-01- 1",
                                  "../../etc"])
def test_bad_date_is_a_usage_error(mariadb, shop, tmp_path, date):
    p = export(mariadb, shop, tmp_path, "--table", "orders", "--date", date)
    assert p.returncode == 2, p.stderr
    assert not tmp_path.joinpath("raw").exists()


def test_usage_errors(mariadb, shop, tmp_path):
    for args in (["--partitions", "0"], ["--partitions", "x"], ["--compression", "lz4"], ["--consistency", "weak"],
                 ["--zero-dates", "maybe"], ["--bogus"], ["--row-group-size", "1"], ["--batch-rows", "0"]):
        p = export(mariadb, shop, tmp_path, "--table", "orders", *args)
        assert p.returncode == 2, (args, p.stderr)
    p = run_sluice(["export", "--table", "orders"], env=mariadb.sluice_env(shop))
    assert p.returncode == 2 and "--output" in p.stderr


def test_help_mentions_every_flag(mariadb):
    p = run_sluice(["export", "--help"], env=mariadb.sluice_env("none"), check=0)
    flags = ["--table", "--query", "--name", "--where", "--columns", "--output", "--compression", "--partitions",
             "--partition-column", "--consistency", "--row-group-size", "--page-size", "--batch-rows", "--date",
             "--zero-dates", "--progress", "--zstd-level", "--help"]
    for f in flags:
        assert f in p.stdout, f
    for word in ("snappy", "zstd", "gzip", "none", "snapshot", "_SUCCESS", "raw/<table>/<YYYY-MM-DD>"):
        assert word in p.stdout, word


# ---------------------------------------------------------------------------------------
# reruns and failed runs

def test_rerun_replaces_the_partition(mariadb, shop, tmp_path):
    export(mariadb, shop, tmp_path, "--table", "orders", "--partitions", 3, "--date", DATE, check=0)
    folder = part_dir(tmp_path, "orders")
    first = manifest(folder)
    assert len(first["files"]) == 12                  # 4 chunks per connection
    export(mariadb, shop, tmp_path, "--table", "orders", "--partitions", 2, "--compression", "zstd",
           "--date", DATE, check=0)
    second = manifest(folder)       # also checks that nothing but its own files is left
    assert second["run_id"] != first["run_id"] and len(second["files"]) == 8
    assert all(second["run_id"] in f["name"] for f in second["files"])
    assert not any((folder / f["name"]).exists() for f in first["files"])
    assert second["rows"] == 5000


def snapshot_of(root):
    """Every committed partition under root: its manifest and each file's bytes' hash."""
    out = {}
    for s in Path(root).rglob("_SUCCESS"):
        m = manifest(s.parent)
        out[str(s.parent.relative_to(root))] = (m["run_id"], [(f["name"], f["checksum"]) for f in m["files"]])
    return out


def test_failed_run_keeps_the_previous_output(mariadb, fresh_db, tmp_path):
    """A rerun that fails (a zero date under --zero-dates=error, in the last range of one
    of two tables, after the other files are complete) commits nothing: both previous
    partitions and their files stay, and none of the failed run's files remain."""
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("CREATE TABLE a (id INT PRIMARY KEY, d DATE)")
        cur.execute("INSERT INTO a SELECT seq, '2024-01-01' + INTERVAL seq DAY FROM seq_1_to_3000")
        cur.execute("CREATE TABLE b (id INT PRIMARY KEY, d DATE)")
        cur.execute("INSERT INTO b SELECT seq, '2024-01-01' FROM seq_1_to_3000")
        cur.execute("UPDATE b SET d = '0000-00-00' WHERE id = 2999")
    export(mariadb, fresh_db, tmp_path, "--partitions", 3, "--date", DATE, check=0)
    before = snapshot_of(tmp_path)
    files_before = all_files(tmp_path)
    assert set(before) == {f"raw/a/{DATE}", f"raw/b/{DATE}"}
    assert manifest(part_dir(tmp_path, "b"))["zero_dates"] == {"d": 1}
    p = export(mariadb, fresh_db, tmp_path, "--partitions", 3, "--date", DATE, "--zero-dates", "error")
    assert p.returncode == 6, p.stderr
    assert snapshot_of(tmp_path) == before
    assert all_files(tmp_path) == files_before


def test_table_dropped_mid_run_keeps_the_previous_output(mariadb, fresh_db, tmp_path):
    """One connection reads `first` (gated on one row), then `second`; the test drops
    `second` while the run waits. The run fails naming it and commits neither table."""
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        # MyISAM: exact row estimates, so `first` (bigger) is read first
        cur.execute("CREATE TABLE first (id INT PRIMARY KEY, v INT) ENGINE=MyISAM")
        cur.execute("INSERT INTO first SELECT seq, seq FROM seq_1_to_5000")
        cur.execute("UPDATE first SET v = -1 WHERE id = 2500")
        cur.execute("CREATE TABLE second (id INT PRIMARY KEY, v INT) ENGINE=MyISAM")
        cur.execute("INSERT INTO second SELECT seq, seq FROM seq_1_to_100")
    export(mariadb, fresh_db, tmp_path, "--date", DATE, "--partitions", 1, check=0)
    before, files_before = snapshot_of(tmp_path), all_files(tmp_path)
    gate = Gate(mariadb, "g")
    try:
        run = Background(mariadb, fresh_db, tmp_path, "--date", DATE, "--partitions", 1,
                         "--where", gate.cond("g", "v", -1))
        gate.waiting("g")
        with mariadb.connect(fresh_db) as c, c.cursor() as cur:
            cur.execute("DROP TABLE second")
        gate.release("g")
        p = run.join()
    finally:
        gate.close()
    assert p.returncode != 0 and "second" in p.stderr, p.stderr
    assert snapshot_of(tmp_path) == before
    assert all_files(tmp_path) == files_before


# ---------------------------------------------------------------------------------------
# one snapshot under a concurrent writer

class Writer(threading.Thread):
    """Moves 7 from an account in the low quarter of the keys to one in the top quarter,
    or to a new row above every key, in transactions: the sum never changes, and the
    ids present at any moment are 1..N+k."""

    def __init__(self, mariadb, db, n_acc, skip):
        super().__init__()
        self.mariadb, self.db, self.n_acc, self.skip = mariadb, db, n_acc, skip
        self.stop = threading.Event()
        self.commits = 0
        self.error = None

    def run(self):
        rnd = random.Random(4)
        next_id = self.n_acc + 1
        try:
            with self.mariadb.connect(self.db) as c, c.cursor() as cur:
                cur.execute("SET autocommit = 0")
                while not self.stop.is_set():
                    a = rnd.randint(self.skip, self.n_acc // 4)
                    cur.execute("UPDATE acct SET amount = amount - 7 WHERE id = %s", (a,))
                    if self.commits % 5 == 4:
                        cur.execute("INSERT INTO acct VALUES (%s, 7)", (next_id,))
                        next_id += 1
                    else:
                        b = rnd.randint(3 * self.n_acc // 4, self.n_acc)
                        cur.execute("UPDATE acct SET amount = amount + 7 WHERE id = %s", (b,))
                    c.commit()
                    self.commits += 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def finish(self):
        self.stop.set()
        self.join()
        assert self.error is None, self.error


GATE_1, GATE_2 = -999999901, -999999902   # amounts of the gated rows


def gated_export(mariadb, db, out, mode, writer):
    """A two-connection export of `gate_t` (MyISAM, read first) and `acct` (InnoDB), with
    the reads lined up so that the two halves of acct start their reads ~0.3 s apart
    while the writer commits: connection Y reads gate_t's second half, then starts acct's
    first half and waits on its row id=10 (gate L2); connection X waits on gate_t's first
    row (gate L1) until Y waits, then reads acct's second half, and only then is Y let
    go. With one snapshot both halves see the same moment; with `none` each half sees
    the moment its own connection first read InnoDB, so the sum breaks for certain."""
    gate = Gate(mariadb, "L1", "L2")
    where = f"{gate.cond('L1', 'amount', GATE_1)} AND {gate.cond('L2', 'amount', GATE_2)}"
    try:
        run = Background(mariadb, db, out, "--table", "gate_t", "--table", "acct", "--partitions", 2,
                         "--consistency", mode, "--date", DATE, "--where", where)
        gate.waiting("L1", "gate_t")
        gate.waiting("L2", "acct")               # Y's read of acct's first half has begun
        c0 = writer.commits
        time.sleep(0.3)
        assert writer.commits > c0 + 5, "the writer made no progress"
        gate.release("L1")                       # X: rest of gate_t, then acct's second half
        folder = part_dir(out, "acct")
        deadline = time.monotonic() + 60
        # Y's file has no row yet (its first batch waits on L2): a complete acct file is X's
        while not list(folder.glob("part-*.parquet")):
            assert time.monotonic() < deadline, "acct's second half was not written"
            time.sleep(0.01)
        gate.release("L2")
        p = run.join()
    finally:
        gate.close()
    assert p.returncode == 0, p.stderr
    return manifest(folder)


def test_one_snapshot_under_a_concurrent_writer(mariadb, fresh_db, tmp_path):
    n_acc, start = 2000, 1000
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE acct (id INT PRIMARY KEY, amount BIGINT NOT NULL) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO acct SELECT seq, {start} FROM seq_1_to_{n_acc}")
        cur.execute(f"UPDATE acct SET amount = {GATE_2} WHERE id = 10")   # gate L2's row; the writer skips it
        cur.execute("CREATE TABLE gate_t (id INT PRIMARY KEY, amount BIGINT NOT NULL) ENGINE=MyISAM")
        cur.execute(f"INSERT INTO gate_t SELECT seq, IF(seq = 1, {GATE_1}, 0) FROM seq_1_to_20000")
        cur.execute("ANALYZE TABLE acct")
        cur.execute("SELECT SUM(amount) FROM acct")
        total = cur.fetchone()[0]
    writer = Writer(mariadb, fresh_db, n_acc, skip=50)
    writer.start()
    try:
        while writer.commits < 20:              # some rows inserted before the snapshot
            assert writer.is_alive(), writer.error
            time.sleep(0.01)
        m = gated_export(mariadb, fresh_db, tmp_path / "snap", "snapshot", writer)
        t = table_of(part_dir(tmp_path / "snap", "acct"), m)
        ids = sorted(t.column("id").to_pylist())
        assert m["snapshot"]["consistency"] == "snapshot" and len(m["files"]) == len(m["plan"]["chunks"]) > 2
        assert sum(t.column("amount").to_pylist()) == total
        assert ids == list(range(1, len(ids) + 1)) and len(ids) > n_acc    # one moment's rows, inserts included
        # the control: the same reads without a shared snapshot see two moments
        m = gated_export(mariadb, fresh_db, tmp_path / "none", "none", writer)
        t = table_of(part_dir(tmp_path / "none", "acct"), m)
        assert m["snapshot"]["consistency"] == "none"
        control = sum(t.column("amount").to_pylist())
    finally:
        writer.finish()
    assert control != total, "the control read without a snapshot should see a moving sum"
    assert query(mariadb, fresh_db, "SELECT SUM(amount) FROM acct")[0][0] == total


# ---------------------------------------------------------------------------------------
# without the RELOAD privilege

@pytest.fixture
def select_only_user(mariadb, shop):
    user, pw = "ro_" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    with mariadb.connect() as c, c.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (pw,))
        cur.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY %s", (pw,))
        cur.execute(f"GRANT SELECT ON `{shop}`.* TO '{user}'@'127.0.0.1'")
        cur.execute(f"GRANT SELECT ON `{shop}`.* TO '{user}'@'localhost'")
    yield {"MYSQL_USER": user, "MYSQL_PASSWORD": pw}
    with mariadb.connect() as c, c.cursor() as cur:
        cur.execute(f"DROP USER '{user}'@'127.0.0.1', '{user}'@'localhost'")


def test_without_reload_falls_back_and_says_so(mariadb, shop, select_only_user, tmp_path):
    p = export(mariadb, shop, tmp_path, "--table", "orders", "--partitions", 3, "--date", DATE, check=0,
               **select_only_user)
    assert "RELOAD" in p.stderr and "warning" in p.stderr.lower()
    folder = part_dir(tmp_path, "orders")
    m = manifest(folder)
    assert m["snapshot"]["consistency"] == "none"
    assert "RELOAD" in m["snapshot"]["fallback_reason"]
    assert m["rows"] == 5000 and len(m["files"]) == len(m["plan"]["chunks"]) and m["snapshot"]["connections"] == 3
    md = pq.ParquetFile(folder / m["files"][0]["name"]).metadata.metadata
    assert md[b"sluice.consistency"] == b"none"
    # asked for explicitly, the snapshot is not given up: the run fails naming the privilege
    p = export(mariadb, shop, tmp_path / "x", "--table", "orders", "--partitions", 3, "--consistency", "snapshot",
               **select_only_user)
    assert p.returncode == 1 and "RELOAD" in p.stderr
    assert not (tmp_path / "x").exists() or not list((tmp_path / "x").rglob("*.parquet"))
    # one connection needs no lock: a consistent snapshot without the privilege
    p = export(mariadb, shop, tmp_path / "one", "--table", "orders", "--partitions", 1, "--date", DATE, check=0,
               **select_only_user)
    assert manifest(part_dir(tmp_path / "one", "orders"))["snapshot"]["consistency"] == "snapshot"


def test_a_refused_worker_connection_fails_cleanly(mariadb, shop, tmp_path):
    """The workers' connections and the lock's are opened at once: with room for 3
    connections, 3 partitions (3 readers and the lock's connection) are refused with the
    server's reason and exit 4, nothing written; 2 partitions (3 connections) succeed."""
    user, pw = "few_" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    with mariadb.connect() as c, c.cursor() as cur:
        for host in ("127.0.0.1", "localhost"):
            cur.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY %s WITH MAX_USER_CONNECTIONS 3", (pw,))
            cur.execute(f"GRANT SELECT, RELOAD ON *.* TO '{user}'@'{host}'")
    try:
        who = {"MYSQL_USER": user, "MYSQL_PASSWORD": pw}
        p = export(mariadb, shop, tmp_path / "x", "--table", "orders", "--partitions", 3, **who)
        assert p.returncode == 4 and "max_user_connections" in p.stderr, p.stderr
        assert not (tmp_path / "x").exists() or not list((tmp_path / "x").rglob("*.parquet"))
        p = export(mariadb, shop, tmp_path / "y", "--table", "orders", "--partitions", 2, "--date", DATE, check=0,
                   **who)
        m = manifest(part_dir(tmp_path / "y", "orders"))
        assert m["rows"] == 5000 and m["snapshot"]["consistency"] == "snapshot"
    finally:
        with mariadb.connect() as c, c.cursor() as cur:
            cur.execute(f"DROP USER '{user}'@'127.0.0.1', '{user}'@'localhost'")


# ---------------------------------------------------------------------------------------
# connections killed mid-stream

BIG_ROWS = 400_000
GATE_ID = 123_457        # in the first of two ranges, a quarter of the way through the table


@pytest.fixture(scope="module")
def big(mariadb):
    db = mariadb.create_database()
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE big (id INT PRIMARY KEY, amount BIGINT NOT NULL, pad VARCHAR(40)) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO big SELECT seq, seq % 1000, CONCAT('row ', seq, ' ', REPEAT('p', seq % 20))"
                    f" FROM seq_1_to_{BIG_ROWS}")
    want = tuple(query(mariadb, db, "SELECT COUNT(*), SUM(amount), SUM(id) FROM big")[0])
    yield db, want
    mariadb.drop_database(db)


def no_temporaries(root):
    return not [p for p in Path(root).rglob("*") if ".tmp-" in p.name]


def test_kill_inside_the_snapshot_fails_cleanly(mariadb, big, tmp_path):
    db, want = big
    export(mariadb, db, tmp_path, "--table", "big", "--partitions", 2, "--date", DATE, check=0)
    before, files_before = snapshot_of(tmp_path), all_files(tmp_path)
    gate = Gate(mariadb, "k")
    try:
        run = Background(mariadb, db, tmp_path, "--table", "big", "--partitions", 2, "--date", DATE,
                         "--batch-rows", 256, "--where", gate.cond("k", "id", GATE_ID))
        cid = gate.waiting("k")
        # the read is under way: its file is being written
        assert [p for p in part_dir(tmp_path, "big").iterdir() if ".tmp-" in p.name]
        gate.kill(cid)
        gate.release("k")
        p = run.join()
    finally:
        gate.close()
    assert p.returncode == 1, p.stderr
    assert "lost" in p.stderr and "snapshot" in p.stderr
    assert snapshot_of(tmp_path) == before        # the previous _SUCCESS and its files
    assert all_files(tmp_path) == files_before    # nothing of the failed run
    assert no_temporaries(tmp_path)
    m = manifest(part_dir(tmp_path, "big"))
    assert (m["rows"], ) == want[:1]


def test_kill_without_snapshot_retries_the_partition(mariadb, big, tmp_path):
    db, want = big
    gate = Gate(mariadb, "k")
    try:
        run = Background(mariadb, db, tmp_path, "--table", "big", "--partitions", 2, "--date", DATE,
                         "--consistency", "none", "--batch-rows", 256, "--where", gate.cond("k", "id", GATE_ID))
        gate.kill(gate.waiting("k"))
        gate.release("k")
        p = run.join()
    finally:
        gate.close()
    assert p.returncode == 0, p.stderr
    assert "connection lost" in p.stderr and "retrying" in p.stderr
    folder = part_dir(tmp_path, "big")
    m = manifest(folder)
    attempts = sorted(x["attempts"] for x in m["partitions"])
    assert attempts[-1] == 2 and attempts.count(2) == 1 and len(attempts) > 2   # only the killed chunk again
    con = duckdb.connect()
    got = con.execute("SELECT count(*), sum(amount), sum(id), count(DISTINCT id) FROM read_parquet(?)",
                      [listed_paths(folder, m)]).fetchone()
    assert got[:3] == want and got[3] == want[0]   # every row once: nothing lost, nothing twice
    assert no_temporaries(tmp_path)


def test_kill_without_snapshot_gives_up_after_three_attempts(mariadb, big, tmp_path):
    db, _ = big
    gate = Gate(mariadb, "k")
    try:
        run = Background(mariadb, db, tmp_path, "--table", "big", "--partitions", 2, "--date", DATE,
                         "--consistency", "none", "--where", gate.cond("k", "id", GATE_ID))
        for _ in range(3):
            cid = gate.waiting("k")
            gate.kill(cid)
            deadline = time.monotonic() + 30     # wait until that connection is gone
            while [r for r in query(mariadb, None, "SELECT ID FROM information_schema.PROCESSLIST WHERE ID = %s",
                                    (cid,))]:
                assert time.monotonic() < deadline
                time.sleep(0.01)
        p = run.join()
    finally:
        gate.release("k")
        gate.close()
    assert p.returncode == 1, p.stderr
    assert "3 attempts" in p.stderr
    assert not list(tmp_path.rglob("_SUCCESS")) and not list(tmp_path.rglob("*.parquet"))
    assert no_temporaries(tmp_path)


def test_enum_codes_written_as_their_texts(mariadb, fresh_db, tmp_path):
    """ENUMs travel from the reader to the writer as codes of each batch's texts, and
    the writer looks each text up in its dictionary once a batch (append_coded): every
    value, '' and NULL as MariaDB has them (pymysql), in small pages and row groups; each
    row group's min, max and null count as computed here from its rows; `e` dictionary
    encoded; `l`, whose first page is larger as a dictionary than plain (every text once
    in a page of 1 KiB of indices), given up for PLAIN during a batch, the batch's rest
    written from its codes' texts."""
    import random
    rnd = random.Random(11)
    members = [f"a{i:03d}a" for i in range(200)] + [f"é{i}ü" for i in range(90)] + ["", "x", "zz", "q" * 40]
    members = [m for m in members if m]
    longs = [f"{i:04d}" + "l" * 16 for i in range(1000)]
    q = lambda ms: ", ".join("'" + m + "'" for m in ms)
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute(f"CREATE TABLE en (id INT PRIMARY KEY, e ENUM({q(members)}), l ENUM({q(longs)}) NOT NULL) "
                    "CHARSET utf8mb4")
        vals = []
        for i in range(30000):
            r = rnd.random()
            e = None if r < 0.05 else "not a member" if r < 0.08 else rnd.choice(members)
            vals.append((i, e, longs[(i * 7919) % len(longs)]))
        cur.executemany("INSERT INTO en VALUES (%s, %s, %s)", vals)
    export(mariadb, fresh_db, tmp_path, "--table", "en", "--partitions", 2, "--page-size", "1K",
           "--row-group-size", "512K", "--date", DATE, check=0)
    folder = part_dir(tmp_path, "en")
    m = manifest(folder)
    t = table_of(folder, m)
    got = sorted(zip(t.column("id").to_pylist(), t.column("e").to_pylist(), t.column("l").to_pylist()))
    want = rows_of(mariadb, fresh_db, "SELECT id, e, l FROM en")
    assert got == [tuple(r) for r in want]
    assert sum(1 for r in want if r[1] == "") > 500 and sum(1 for r in want if r[1] is None) > 1000
    groups = encodings = 0
    enc = {"e": set(), "l": set()}
    for f in m["files"]:
        pf = pq.ParquetFile(folder / f["name"])
        for g in range(pf.metadata.num_row_groups):
            rows = pf.read_row_group(g)
            groups += 1
            for j, name in enumerate(pf.schema_arrow.names):
                if name == "id":
                    continue
                col = pf.metadata.row_group(g).column(j)
                enc[name] |= set(col.encodings)
                vs = [v for v in rows.column(name).to_pylist() if v is not None]
                st = col.statistics
                assert st.null_count == rows.num_rows - len(vs), (f["name"], g, name)
                key = lambda s: s.encode()
                assert (st.min, st.max) == (min(vs, key=key), max(vs, key=key)), (f["name"], g, name)
    assert groups >= 4
    assert "RLE_DICTIONARY" in enc["e"]
    assert "PLAIN" in enc["l"] and "RLE_DICTIONARY" not in enc["l"], enc["l"]
