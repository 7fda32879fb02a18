"""Files every reader opens as its users expect (issue 14): the every-type table of
test_export.py, exported by sluice, read with Spark (pyspark, local mode), pyarrow, Polars
and DuckDB, each value compared with what pymysql reads from MariaDB, and each reader's
type for each column checked against the README's type table ("Parquet output").

One Spark session serves the whole module (starting the JVM is the slow part)."""
import datetime
import decimal
import json
import os
import sys
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from test_export import DDL, ROWS, WIDE_DECIMALS, expected_value, export, fill_rows, manifest, part_dir

DATE = "2026-01-15"
UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
DEC = decimal.Context(prec=100)

# What each reader sees, by column of the every-type table (README, "Parquet output").
ARROW = {"tiu": "uint8", "siu": "uint16", "miu": "uint32", "iu": "uint32", "biu": "uint64", "bt64": "uint64",
         "d38": "decimal128(38, 0)", "d65": "string", "dt": "date32[day]", "dtm6": "timestamp[us, tz=UTC]",
         "tm6": "int64", "en": "string", "st": "string", "js": "string", "bl": "binary", "f": "float"}
POLARS = {"tiu": "UInt8", "siu": "UInt16", "miu": "UInt32", "iu": "UInt32", "biu": "UInt64", "bt64": "UInt64",
          "d38": "Decimal(precision=38, scale=0)", "d65": "String", "dt": "Date",
          "dtm6": "Datetime(time_unit='us', time_zone='UTC')", "tm6": "Int64", "en": "String", "st": "String",
          "js": "String", "bl": "Binary", "f": "Float32"}
DUCKDB = {"tiu": "UTINYINT", "siu": "USMALLINT", "miu": "UINTEGER", "iu": "UINTEGER", "biu": "UBIGINT",
          "bt64": "UBIGINT", "d38": "DECIMAL(38,0)", "d65": "VARCHAR", "dt": "DATE", "dtm6": "TIMESTAMP WITH TIME ZONE",
          "tm6": "BIGINT", "en": "VARCHAR", "st": "VARCHAR", "js": "VARCHAR", "bl": "BLOB", "f": "FLOAT"}
SPARK = {"tiu": "smallint", "siu": "int", "miu": "bigint", "iu": "bigint", "biu": "decimal(20,0)",
         "bt64": "decimal(20,0)", "d38": "decimal(38,0)", "d65": "string", "dt": "date", "dtm6": "timestamp",
         "tm6": "bigint", "en": "string", "st": "string", "js": "string", "bl": "binary", "f": "float"}


@pytest.fixture(scope="module")
def every_type(mariadb, tmp_path_factory):
    """The every-type table (six edge rows and 300 generated ones), exported with the
    defaults in two ranges; what pymysql reads, in the canonical form of test_export."""
    db = mariadb.create_database()
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("SET SESSION sql_mode = '', time_zone = '+00:00'")
        cur.execute(DDL)
        for r in ROWS:
            cur.execute("INSERT INTO alltypes VALUES " + r)
        fill_rows(cur, 300)
        cur.execute("SELECT * FROM alltypes ORDER BY id")
        names = [d[0] for d in cur.description]
        raw = cur.fetchall()
        cur.execute("SELECT id, CAST(f AS DOUBLE), ST_AsBinary(g) FROM alltypes ORDER BY id")
        extra = {r[0]: r[1:] for r in cur.fetchall()}
    out = tmp_path_factory.mktemp("readers")
    export(mariadb, db, out, "--table", "alltypes", "--partitions", 2, "--date", DATE, check=0)
    folder = part_dir(out, "alltypes")
    m = manifest(folder)
    files = [str(folder / f["name"]) for f in m["files"]]
    want = [{n: expected_value(n, v, r[0], extra) for n, v in zip(names, r)} for r in raw]
    yield dict(db=db, names=names, want=want, files=files)
    mariadb.drop_database(db)


def same(name, got, want):
    """got (a reader's value, already in the canonical form) equals want."""
    if want is None or got is None:
        return got is None and want is None
    if name == "js":
        return json.loads(got) == json.loads(want)
    if isinstance(want, decimal.Decimal) or isinstance(got, decimal.Decimal):
        return decimal.Decimal(got) == decimal.Decimal(want)
    if isinstance(want, bytes):
        return bytes(got) == want
    return got == want and (type(got) is type(want) or isinstance(want, (int, float)))


def check_rows(reader, names, got_rows, want_rows):
    assert len(got_rows) == len(want_rows) == 306, reader
    bad = []
    for g, w in zip(got_rows, want_rows):
        for n in names:
            if not same(n, g[n], w[n]):
                bad.append((w["id"], n, g[n], w[n]))
    assert not bad, f"{reader}: {len(bad)} values differ, first: {bad[:3]}"


def micros(ts):
    return None if ts is None else (ts - EPOCH) // datetime.timedelta(microseconds=1)


def canonical_timestamps(names, rows):
    """Timestamps as microseconds since the epoch (every reader's own datetime type
    differs; the instant must not)."""
    ts = [n for n in names if n.startswith(("dtm", "ts"))]
    for r in rows:
        for n in ts:
            if isinstance(r[n], datetime.datetime):
                r[n] = micros(r[n] if r[n].tzinfo else r[n].replace(tzinfo=UTC))
    return rows


def test_pyarrow(every_type):
    t = pa.concat_tables([pq.read_table(f) for f in every_type["files"]]).sort_by("id")
    assert {n: str(t.schema.field(n).type) for n in ARROW} == ARROW
    names = every_type["names"]
    check_rows("pyarrow", names, canonical_timestamps(names, t.to_pylist()),
               canonical_timestamps(names, [dict(w) for w in every_type["want"]]))


def test_polars(every_type):
    df = pl.read_parquet(every_type["files"]).sort("id")
    assert {n: str(df.schema[n]) for n in POLARS} == POLARS
    names = every_type["names"]
    check_rows("polars", names, canonical_timestamps(names, df.to_dicts()),
               canonical_timestamps(names, [dict(w) for w in every_type["want"]]))


def test_duckdb(every_type):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = every_type["files"]
    desc = {r[0]: r[1] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [files]).fetchall()}
    assert {n: desc[n] for n in DUCKDB} == DUCKDB
    names = every_type["names"]
    cols = [f"epoch_us({n}) AS {n}" if desc[n] == "TIMESTAMP WITH TIME ZONE" else n for n in names]
    cur = con.execute(f"SELECT {', '.join(cols)} FROM read_parquet(?) ORDER BY id", [files])
    got = [dict(zip(names, r)) for r in cur.fetchall()]
    check_rows("duckdb", names, got, canonical_timestamps(names, [dict(w) for w in every_type["want"]]))


@pytest.fixture(scope="module")
def spark():
    """A local Spark session (pyspark from the venv, Java 17), one per module."""
    pyspark = pytest.importorskip("pyspark")
    os.environ["SPARK_HOME"] = str(Path(pyspark.__file__).parent)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession
    s = (SparkSession.builder.master("local[1]").appName("sluice-readers")
         .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
         .config("spark.sql.shuffle.partitions", "1").config("spark.driver.memory", "512m").getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def test_spark(every_type, spark):
    df = spark.read.parquet(*every_type["files"])
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert {n: types[n] for n in SPARK} == SPARK
    names = every_type["names"]
    # instants as microseconds since the epoch, so the Python side's time zone plays no part
    cols = [f"unix_micros(`{n}`) AS `{n}`" if types[n] == "timestamp" else f"`{n}`" for n in names]
    rows = [r.asDict() for r in df.selectExpr(*cols).orderBy("id").collect()]
    check_rows("spark", names, rows, canonical_timestamps(names, [dict(w) for w in every_type["want"]]))
    # a query that does not select the wide decimals works too (with a DECIMAL(65) it failed)
    assert df.filter("en = 'bé'").count() == sum(1 for w in every_type["want"] if w["en"] == "bé")


def test_spark_refuses_a_decimal_above_38_digits(every_type, spark, mariadb, tmp_path):
    """Why --wide-decimal defaults to string: with `decimal`, Spark cannot read the file
    at all, even a query that leaves the wide column out."""
    export(mariadb, every_type["db"], tmp_path, "--table", "alltypes", "--columns", "id,d65", "--date", DATE,
           "--partitions", 1, "--wide-decimal", "decimal", check=0)
    folder = part_dir(tmp_path, "alltypes")
    f = str(folder / manifest(folder)["files"][0]["name"])
    assert pq.read_schema(f).field("d65").type == pa.decimal256(65, 0)
    with pytest.raises(Exception, match="(?i)precision"):
        spark.read.parquet(f).select("id").collect()
    with pytest.raises(Exception, match="(?i)decimal"):
        pl.read_parquet(f)
