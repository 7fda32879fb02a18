"""`sluice inspect` against files written by independent writers (pyarrow, DuckDB):
metadata and --head values are checked against pyarrow's own reading of each file;
broken files (truncated, garbage, empty, corrupt footer) must exit 8; a bounded fuzz
run of the ASan build must never crash. Needs no MariaDB."""
import datetime
import decimal
import json
import math
import os
import random
import struct
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, run_sluice

ASAN_SLUICE = ROOT / "build" / "asan" / "sluice"


def sample_table(n=300):
    rnd = random.Random(7)
    def maybe(v, i):
        return None if i % 5 == 3 else v
    return pa.table({
        "id": pa.array(range(n), pa.int64()),
        "i32": pa.array([maybe(rnd.randint(-2**31, 2**31 - 1), i) for i in range(n)], pa.int32()),
        "u64": pa.array([maybe(rnd.choice([0, 1, 2**63, 2**64 - 1, rnd.randint(0, 2**64 - 1)]), i) for i in range(n)],
                        pa.uint64()),
        "name": pa.array([maybe(f"name-{i % 17}-é", i) for i in range(n)], pa.string()),
        "bin": pa.array([maybe(bytes([i % 256, 255 - i % 256]) * (i % 3), i) for i in range(n)], pa.binary()),
        "dec": pa.array([maybe(decimal.Decimal(rnd.randint(-10**12, 10**12)).scaleb(-4), i) for i in range(n)],
                        pa.decimal128(18, 4)),
        "dec38": pa.array([maybe(decimal.Decimal(rnd.randint(-10**37, 10**37)).scaleb(-10), i) for i in range(n)],
                          pa.decimal128(38, 10)),
        "ts": pa.array([maybe(datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=rnd.randint(-2**52, 2**52)), i)
                        for i in range(n)], pa.timestamp("us", tz="UTC")),
        "day": pa.array([maybe(datetime.date(1900, 1, 1) + datetime.timedelta(days=rnd.randint(0, 80000)), i)
                         for i in range(n)], pa.date32()),
        "dbl": pa.array([maybe(rnd.uniform(-1e9, 1e9), i) for i in range(n)], pa.float64()),
        "flag": pa.array([maybe(i % 3 == 0, i) for i in range(n)], pa.bool_()),
    })


def fmt(v):
    """The text sluice prints for a value as pyarrow returns it."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, datetime.date):
        return f"{v.year:04d}-{v.month:02d}-{v.day:02d}"
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    return str(v)


def same(ours, v):
    if isinstance(v, float):
        return ours is not None and float(ours) == v
    return ours == fmt(v)


def inspect_json(path, *extra):
    p = run_sluice(["inspect", "--json", *extra, str(path)], env=os.environ)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert len(doc["files"]) == 1
    return doc["files"][0]


def check_against_pyarrow(path, head=None):
    got = inspect_json(path, *(["--head", str(head)] if head is not None else []))
    md = pq.ParquetFile(path).metadata
    assert got["num_rows"] == md.num_rows
    assert got["created_by"] == md.created_by
    assert len(got["row_groups"]) == md.num_row_groups
    leaves = [s for s in got["schema"][1:]]
    for i in range(md.num_columns):
        assert leaves[i]["name"] == md.schema.column(i).name
        assert leaves[i]["physical_type"] == md.schema.column(i).physical_type
    for g in range(md.num_row_groups):
        rg, ours = md.row_group(g), got["row_groups"][g]
        assert ours["num_rows"] == rg.num_rows
        assert ours["total_byte_size"] == rg.total_byte_size
        for c in range(rg.num_columns):
            col, oc = rg.column(c), ours["columns"][c]
            assert oc["path"] == col.path_in_schema
            assert oc["physical_type"] == col.physical_type
            assert oc["codec"] == col.compression
            assert oc["num_values"] == col.num_values
            assert oc["total_compressed_size"] == col.total_compressed_size
            assert oc["total_uncompressed_size"] == col.total_uncompressed_size
            assert oc["data_page_offset"] == col.data_page_offset
            assert set(oc["encodings"]) == set(col.encodings)
            st = col.statistics
            if st is not None and st.has_min_max:
                assert same(oc["statistics"]["min"], st.min), (oc, st)
                assert same(oc["statistics"]["max"], st.max), (oc, st)
            if st is not None and st.has_null_count:
                assert oc["statistics"]["null_count"] == st.null_count
    kv = {k.decode(): v.decode() for k, v in (md.metadata or {}).items()}
    assert {e["key"]: e["value"] for e in got["key_value_metadata"]} == kv
    if head is not None:
        table = pq.read_table(path)
        rows = got["head"]["rows"]
        assert got["head"]["columns"] == table.column_names
        assert len(rows) == min(head, table.num_rows)
        for c, name in enumerate(table.column_names):
            want = table.column(name).to_pylist()[:head]
            for r, v in enumerate(want):
                assert same(rows[r][c], v), (name, r, rows[r][c], v)
    return got


@pytest.mark.parametrize("compression", ["none", "snappy", "gzip", "zstd"])
@pytest.mark.parametrize("dictionary", [True, False])
@pytest.mark.parametrize("page_version", ["1.0", "2.0"])
def test_pyarrow_files(tmp_path, compression, dictionary, page_version):
    f = tmp_path / "t.parquet"
    pq.write_table(sample_table(), f, compression=compression, use_dictionary=dictionary,
                   data_page_version=page_version, row_group_size=120, data_page_size=512)
    got = check_against_pyarrow(f, head=250)
    assert len(got["row_groups"]) == 3


def test_pyarrow_delta_encodings(tmp_path):
    f = tmp_path / "delta.parquet"
    pq.write_table(sample_table(), f, compression="snappy", use_dictionary=False,
                   column_encoding={"id": "DELTA_BINARY_PACKED", "i32": "DELTA_BINARY_PACKED",
                                    "u64": "DELTA_BINARY_PACKED", "name": "DELTA_LENGTH_BYTE_ARRAY"})
    got = check_against_pyarrow(f, head=300)
    encs = {c["path"]: c["encodings"] for c in got["row_groups"][0]["columns"]}
    assert "DELTA_BINARY_PACKED" in encs["i32"] and "DELTA_LENGTH_BYTE_ARRAY" in encs["name"]


def test_pyarrow_delta_byte_array_and_byte_stream_split(tmp_path):
    f = tmp_path / "dba.parquet"
    pq.write_table(sample_table(), f, compression="zstd", use_dictionary=False,
                   column_encoding={"name": "DELTA_BYTE_ARRAY", "bin": "DELTA_BYTE_ARRAY", "dbl": "BYTE_STREAM_SPLIT",
                                    "i32": "BYTE_STREAM_SPLIT", "ts": "BYTE_STREAM_SPLIT",
                                    "dec38": "BYTE_STREAM_SPLIT"})
    got = check_against_pyarrow(f, head=300)
    encs = {c["path"]: c["encodings"] for c in got["row_groups"][0]["columns"]}
    assert "DELTA_BYTE_ARRAY" in encs["name"] and "BYTE_STREAM_SPLIT" in encs["dbl"]
    assert "BYTE_STREAM_SPLIT" in encs["dec38"]


def test_schema_logical_types_and_origin(tmp_path):
    f = tmp_path / "o.parquet"
    t = sample_table(10).replace_schema_metadata({"sluice.origin.u64": "bigint unsigned",
                                                  "sluice.origin.dec": "decimal(18,4)"})
    pq.write_table(t, f)
    got = check_against_pyarrow(f)
    by = {s["name"]: s for s in got["schema"]}
    assert by["u64"]["origin"] == "bigint unsigned"
    assert by["u64"]["logical_type"] == {"type": "INTEGER", "bits": 64, "signed": False}
    assert by["dec"]["logical_type"] == {"type": "DECIMAL", "precision": 18, "scale": 4}
    assert by["ts"]["logical_type"] == {"type": "TIMESTAMP", "unit": "MICROS", "utc": True}
    assert by["day"]["logical_type"]["type"] == "DATE"
    assert by["name"]["logical_type"]["type"] == "STRING"
    assert "origin" not in by["id"]
    p = run_sluice(["inspect", "--head", "2", str(f)], env=os.environ, check=0)
    assert "origin=bigint unsigned" in p.stdout
    assert "logical=DECIMAL(precision=18,scale=4)" in p.stdout
    assert "head: 2 rows" in p.stdout


@pytest.mark.parametrize("compression", ["snappy", "zstd"])
def test_duckdb_files(tmp_path, compression):
    duckdb = pytest.importorskip("duckdb")
    f = tmp_path / "d.parquet"
    duckdb.sql(f"""COPY (SELECT i AS id, 'name' || (i % 7) AS s, i * 1.5 AS dbl, DATE '2020-01-01' + i::INT AS dt,
                 CAST(i AS DECIMAL(18,3)) / 7 AS dec, CASE WHEN i % 3 = 0 THEN NULL ELSE i END AS nul,
                 CASE WHEN i % 2 = 0 THEN 'x' || i END AS nstr, i % 2 = 0 AS b, i::UBIGINT * 1000000007 AS ub,
                 TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (i) SECOND AS tsz
                 FROM range(20000) t(i)) TO '{f}' (FORMAT parquet, COMPRESSION {compression})""")
    check_against_pyarrow(f, head=1000)


def test_multiple_files_and_usage(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(sample_table(5), a)
    pq.write_table(sample_table(7), b)
    p = run_sluice(["inspect", "--json", str(a), str(b)], env=os.environ, check=0)
    assert [f["num_rows"] for f in json.loads(p.stdout)["files"]] == [5, 7]
    p = run_sluice(["inspect", "--help"], env=os.environ, check=0)
    assert "Usage: sluice inspect" in p.stdout
    assert run_sluice(["inspect"], env=os.environ).returncode == 2
    assert run_sluice(["inspect", "--head", "x", str(a)], env=os.environ).returncode == 2
    assert run_sluice(["inspect", "--bogus", str(a)], env=os.environ).returncode == 2
    p = run_sluice(["inspect", str(tmp_path / "missing.parquet")], env=os.environ)
    assert p.returncode != 0 and "missing.parquet" in p.stderr


def broken_files(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(sample_table(50), good, compression="snappy")
    data = good.read_bytes()
    flen = int.from_bytes(data[-8:-4], "little")
    out = {
        "zero-length": b"",
        "garbage": bytes(random.Random(1).randrange(256) for _ in range(5000)),
        "truncated": data[: len(data) // 2],
        "truncated-tail": data[:-1],
        "no-head-magic": b"XXXX" + data[4:],
        "huge-footer-length": data[:-8] + (2**31).to_bytes(4, "little") + b"PAR1",
        "zero-footer-length": data[:-8] + (0).to_bytes(4, "little") + b"PAR1",
        # The footer's first byte is FileMetaData's first field header; 0xff is no valid type.
        "corrupt-footer-byte": data[: len(data) - 8 - flen] + b"\xff" + data[len(data) - 8 - flen + 1:],
        "footer-cut": data[: len(data) - 8 - flen] + data[len(data) - 8 - flen // 2:],
        "just-magic": b"PAR1PAR1PAR1",
    }
    return good, out


def test_broken_files_exit_8(tmp_path):
    _, files = broken_files(tmp_path)
    for name, content in files.items():
        f = tmp_path / f"{name}.parquet"
        f.write_bytes(content)
        for args in (["inspect", str(f)], ["inspect", "--json", "--head", "5", str(f)]):
            p = run_sluice(args, env=os.environ)
            assert p.returncode == 8, (name, p.returncode, p.stderr)
            assert f"{name}.parquet" in p.stderr and "error:" in p.stderr, (name, p.stderr)
            assert len(p.stderr.splitlines()) == 1, p.stderr
    p = run_sluice(["inspect", str(tmp_path / "garbage.parquet")], env=os.environ)
    assert "not a Parquet file" in p.stderr


def test_fuzz_asan(tmp_path):
    if not ASAN_SLUICE.exists():
        subprocess.run(["make", "asan"], cwd=ROOT, check=True, capture_output=True)
    good = tmp_path / "good.parquet"
    pq.write_table(sample_table(200), good, compression="snappy", row_group_size=100, data_page_size=256)
    gz = tmp_path / "good2.parquet"
    pq.write_table(sample_table(200), gz, compression="zstd", use_dictionary=False, data_page_version="2.0",
                   column_encoding={"id": "DELTA_BINARY_PACKED", "name": "DELTA_LENGTH_BYTE_ARRAY"})
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98")
    rnd = random.Random(20261202)
    f = tmp_path / "fuzz.parquet"
    seen = {0: 0, 8: 0}
    for it in range(300):
        data = bytearray((good if it % 2 else gz).read_bytes())
        flen = int.from_bytes(data[-8:-4], "little")
        footer0 = len(data) - 8 - flen
        for _ in range(rnd.randint(1, 4)):
            # Half the flips hit the footer, half the page data before it.
            pos = rnd.randrange(footer0, len(data) - 8) if rnd.random() < 0.5 else rnd.randrange(4, footer0)
            data[pos] = rnd.randrange(256) if rnd.random() < 0.5 else data[pos] ^ (1 << rnd.randrange(8))
        f.write_bytes(bytes(data))
        p = subprocess.run([str(ASAN_SLUICE), "inspect", "--json", "--head", "200", str(f)], env=env,
                           capture_output=True, text=True, timeout=30)
        assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
        # 1 is allowed only for a valid-looking input we do not decode (e.g. a flipped encoding id).
        ok = p.returncode in (0, 8) or (p.returncode == 1 and "not supported" in p.stderr)
        assert ok, (it, p.returncode, p.stderr)
        seen[p.returncode] = seen.get(p.returncode, 0) + 1
        if p.returncode == 0:
            json.loads(p.stdout)
    assert seen[8] > 0


def significant_digits(text):
    """The significant digits of a number's text: '1e+06' and '1000000.0' both give '1'."""
    mantissa = text.lstrip("-").lower().split("e")[0].replace(".", "")
    return mantissa.lstrip("0").rstrip("0") or "0"


def test_doubles_print_in_their_shortest_form(tmp_path):
    # Python's repr is the oracle of the shortest text that reads back as the same double
    rnd = random.Random(13)
    values = [0.0, -0.0, 0.1, 1 / 3, 2 / 3, 1e6, 1e20, 1e-7, 123456789012345678.0, 5e-324, 1e-310,
              -2.2250738585072014e-308, 1.7976931348623157e308, 47.33333333333333, 0.30000000000000004]
    values += [rnd.uniform(-1e9, 1e9) for _ in range(300)] + [round(rnd.uniform(0, 100), 2) for _ in range(300)]
    values += [struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(300)]
    values = [v for v in values if math.isfinite(v)]
    f = tmp_path / "doubles.parquet"
    pq.write_table(pa.table({"d": pa.array(values, pa.float64())}), f, use_dictionary=False)
    rows = inspect_json(f, "--head", str(len(values)))["head"]["rows"]
    assert len(rows) == len(values)
    for (ours,), v in zip(rows, values):
        assert float(ours) == v and math.copysign(1, float(ours)) == math.copysign(1, v), (ours, v)
        assert significant_digits(ours) == significant_digits(repr(v)), (ours, repr(v))
