"""The Parquet writer (issue 3), proven by the reference readers: files written through
the public API by build/tools/pq_write (from a JSON spec) are read back by pyarrow AND
DuckDB, and every value, the schema both readers report, the per-row-group statistics,
encodings, key-value metadata and created_by are compared with what the test itself
computed from the spec (never with anything the writer reports about itself).

Random cases are drawn from Python's `random` with the seeds in the parametrisation, so a
failure reproduces with `-k 'seed-N'`; each case's spec stays in the test's tmp_path
(NAME.json beside NAME.parquet) for `build/tools/pq_write NAME.json x.parquet`. The fuzz of
the writer's inputs (tests/tools/pq_fuzz_write.c) runs against the ASan+UBSan build
(`make asan`). Needs no MariaDB."""
import datetime
import decimal
import json
import math
import os
import random
import re
import struct
import subprocess

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, TOOLS, run_sluice

PQ_WRITE = TOOLS / "pq_write"
STATS_TRUNCATE = 64  # the writer keeps statistics of at most this many bytes (a bound, see check_stats)

INT_RANGES = {
    "int8": (-2**7, 2**7 - 1), "int16": (-2**15, 2**15 - 1), "int32": (-2**31, 2**31 - 1),
    "int64": (-2**63, 2**63 - 1), "uint8": (0, 2**8 - 1), "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1), "uint64": (0, 2**64 - 1),
}
EPOCH = datetime.date(1970, 1, 1)
DATE_RANGE = ((datetime.date.min - EPOCH).days, (datetime.date.max - EPOCH).days)  # 0001-01-01 .. 9999-12-31
TS_RANGE = (DATE_RANGE[0] * 86400 * 10**6, (DATE_RANGE[1] + 1) * 86400 * 10**6 - 1)  # .. 23:59:59.999999 UTC
TIME_RANGE = (0, 86400 * 10**6)                                                  # 00:00 .. 24:00 (Parquet TIME)
ALL_TYPES = ["bool", *INT_RANGES, "float", "double", "decimal", "date", "timestamp", "time",
             "string", "binary", "json", "enum"]
DECIMAL_PRECISIONS = [1, 9, 10, 18, 19, 38, 39, 65, 76]
VAR_TYPES = {"string", "binary", "json", "enum"}
CODECS = ["none", "snappy", "gzip", "zstd"]
DEC = decimal.Context(prec=200)  # exact for every decimal here (the default rounds to 28 digits)
PYARROW_CODEC = {"none": "UNCOMPRESSED", "snappy": "SNAPPY", "gzip": "GZIP", "zstd": "ZSTD"}

# What a correct file looks like to each reader, from parquet-format's LogicalTypes.md
# and the readers' documented mappings (an enum batch column is written as STRING, so
# every reader sees text; DuckDB has no decimal wider than 38 digits and reads those as
# DOUBLE).
ARROW_TYPE = {
    "bool": pa.bool_(), "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
    "uint8": pa.uint8(), "uint16": pa.uint16(), "uint32": pa.uint32(), "uint64": pa.uint64(),
    "float": pa.float32(), "double": pa.float64(), "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC"),
    "time": pa.time64("us"), "string": pa.string(), "binary": pa.binary(), "enum": pa.string(),
}
DUCKDB_TYPE = {
    "bool": "BOOLEAN", "int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT",
    "uint8": "UTINYINT", "uint16": "USMALLINT", "uint32": "UINTEGER", "uint64": "UBIGINT", "float": "FLOAT",
    "double": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP WITH TIME ZONE", "time": "TIME",
    "string": "VARCHAR", "binary": "BLOB", "json": "JSON", "enum": "VARCHAR",
}
PHYSICAL = {
    "bool": "BOOLEAN", "int8": "INT32", "int16": "INT32", "int32": "INT32", "int64": "INT64", "uint8": "INT32",
    "uint16": "INT32", "uint32": "INT32", "uint64": "INT64", "float": "FLOAT", "double": "DOUBLE",
    "date": "INT32", "timestamp": "INT64", "time": "INT64", "string": "BYTE_ARRAY", "binary": "BYTE_ARRAY",
    "json": "BYTE_ARRAY", "enum": "BYTE_ARRAY",
}


def decimal_width(p):
    """Minimal bytes of a two's-complement integer holding 10^p - 1 (LogicalTypes.md)."""
    n = 1
    while 10**p - 1 > 2**(8 * n - 1) - 1:
        n += 1
    return n


class Col:
    def __init__(self, name, type, nullable=False, precision=0, scale=0, origin=None):
        self.name, self.type, self.nullable = name, type, nullable
        self.precision, self.scale, self.origin = precision, scale, origin

    def spec(self):
        d = {"name": self.name, "type": self.type, "nullable": self.nullable}
        if self.type == "decimal":
            d.update(precision=self.precision, scale=self.scale)
        if self.origin is not None:
            d["origin"] = self.origin
        return d

    def __repr__(self):
        extra = f"({self.precision},{self.scale})" if self.type == "decimal" else ""
        return f"{self.name}:{self.type}{extra}{'?' if self.nullable else ''}"


# ---- values: Python holds each value in one canonical form ----
#   ints, date (days), timestamp and time (microseconds) as int; decimal as its unscaled
#   int; float and double as float (float values are float32-exact); string, json and
#   enum as str; binary as bytes; NULL as None.

def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def to_spec_value(col, v, rnd):
    """The JSON spec form of a canonical value (both accepted forms, chosen at random)."""
    t = col.type
    if v is None:
        return None
    if t in INT_RANGES or t in ("date", "timestamp", "time"):
        return v if -2**63 <= v < 2**63 and rnd.random() < 0.7 else str(v)
    if t in ("float", "double"):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if t == "decimal":
        digits = str(abs(v)).rjust(col.scale + 1, "0")
        text = digits if col.scale == 0 else digits[:-col.scale] + "." + digits[-col.scale:]
        if col.scale and rnd.random() < 0.3:
            text = text.rstrip("0").rstrip(".") or "0"  # the tool pads the fraction to the scale
        text = ("-" if v < 0 else "") + text
        if col.scale == 0 and -2**63 <= v < 2**63 and rnd.random() < 0.3:
            return v
        return text
    if t == "binary":
        return v.hex()
    if t in VAR_TYPES and rnd.random() < 0.1:
        return {"hex": v.encode().hex()}
    return v


STR_PIECES = ["a", "b", "z", "Z", "0", " ", "é", "ß", "Ω", "日本", "語", "😀", "𝄞", "\t", "'", '"', "\\"]


def rand_text(rnd, n):
    return "".join(rnd.choice(STR_PIECES) for _ in range(n))


def gen_base(rnd, col, long_strings):
    """One random non-NULL value of col, a mix of full-range, small and edge values."""
    t = col.type
    r = rnd.random()
    if t == "bool":
        return rnd.random() < 0.5
    if t in INT_RANGES:
        lo, hi = INT_RANGES[t]
        if r < 0.2:
            return rnd.choice([lo, hi, 0, 1, lo + 1, hi - 1] + ([-1] if lo else []))
        if r < 0.6:
            return rnd.randint(lo, hi)
        return max(lo, min(hi, rnd.randint(-1000, 1000)))
    if t == "float":
        if r < 0.15:
            return rnd.choice([math.nan, math.inf, -math.inf, 0.0, -0.0, f32(3.4028234663852886e38),
                               -f32(3.4028234663852886e38), 1.401298464324817e-45, 1.1754943508222875e-38])
        if r < 0.5:
            return struct.unpack("<f", struct.pack("<I", rnd.getrandbits(32)))[0]
        return f32(rnd.uniform(-1e6, 1e6))
    if t == "double":
        if r < 0.15:
            return rnd.choice([math.nan, math.inf, -math.inf, 0.0, -0.0, 1.7976931348623157e308,
                               -1.7976931348623157e308, 5e-324, 2.2250738585072014e-308])
        if r < 0.5:
            return struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0]
        return rnd.uniform(-1e9, 1e9)
    if t == "decimal":
        m = 10**col.precision - 1
        if r < 0.25:
            return rnd.choice([m, -m, 0, 1, -1, 10**(col.precision - 1), -(10**(col.precision - 1))])
        if r < 0.7:
            return rnd.randint(-m, m)
        return rnd.randint(-min(m, 10**4), min(m, 10**4))
    if t in ("date", "timestamp", "time"):
        lo, hi = {"date": DATE_RANGE, "timestamp": TS_RANGE, "time": TIME_RANGE}[t]
        if r < 0.2:
            return rnd.choice([lo, hi, 0, -1, 1] if lo < 0 else [lo, hi, 1, hi - 1])
        return rnd.randint(lo, hi)
    if t == "binary":
        n = rnd.choice([0, 1, 3, 8, 20, 70]) if not (long_strings and r < 0.05) else rnd.randint(2000, 20000)
        return bytes(rnd.getrandbits(8) for _ in range(n))
    if t == "json":
        return json.dumps({"k": rand_text(rnd, rnd.randint(0, 5)), "n": rnd.randint(-10**6, 10**6)},
                          ensure_ascii=False)
    if t == "enum":
        return rnd.choice(["pending", "paid", "shipped", "délivré", "", "returned"])
    if t == "string":
        if long_strings and r < 0.05:
            return rand_text(rnd, rnd.randint(1500, 12000))
        return rand_text(rnd, rnd.choice([0, 1, 2, 5, 12, 40, 80]))
    raise AssertionError(t)


def gen_column(rnd, col, n, long_strings=False):
    """n values of col: a null rate (0, some, most or all) and either random values or
    a small pool of repeated ones (which a dictionary should catch)."""
    null_rate = rnd.choice([0.0, 0.1, 0.6, 1.0]) if col.nullable else 0.0
    pool = None
    if rnd.random() < 0.35 or col.type == "enum":
        pool = [gen_base(rnd, col, long_strings) for _ in range(rnd.randint(1, 6))]
    out = []
    for _ in range(n):
        if null_rate and rnd.random() < null_rate:
            out.append(None)
        else:
            out.append(rnd.choice(pool) if pool else gen_base(rnd, col, long_strings))
    return out, pool is not None


def random_schema(rnd, ncols):
    cols = [Col("id", "int64", origin="bigint(20)")]
    for i in range(ncols):
        t = rnd.choice(ALL_TYPES)
        c = Col(f"c{i}_{t}", t, nullable=rnd.random() < 0.6)
        if t == "decimal":
            c.precision = rnd.choice(DECIMAL_PRECISIONS)
            c.scale = rnd.choice(sorted({0, 1, c.precision // 2, c.precision}))
            c.name = f"c{i}_dec{c.precision}_{c.scale}"
        if rnd.random() < 0.4:
            c.origin = rnd.choice(["bigint(20) unsigned", "varchar(255)", "decimal(12,2)", "datetime(6)", "json",
                                   "enum('a','b')", "tinyint(4)"])
        cols.append(c)
    return cols


# ---- writing ----

def write(tmp_path, cols, columns, options=None, batch_rows=1000, empty_batches=False, name="out", seed=0):
    """Writes the values (one list per column) through pq_write; returns (path, info)."""
    assert PQ_WRITE.exists(), f"{PQ_WRITE} is not built; run make"
    rnd = random.Random(seed)
    n = len(columns[0]) if columns else 0
    spec = {"options": options or {}, "batch_rows": batch_rows, "empty_batches": empty_batches,
            "columns": [c.spec() for c in cols],
            "rows": [[to_spec_value(c, columns[j][i], rnd) for j, c in enumerate(cols)] for i in range(n)]}
    spec_path = tmp_path / f"{name}.json"
    spec_path.write_text(json.dumps(spec, ensure_ascii=False))
    out = tmp_path / f"{name}.parquet"
    p = subprocess.run([str(PQ_WRITE), str(spec_path), str(out)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"pq_write {spec_path} exited {p.returncode}: {p.stderr}"
    info = json.loads(p.stdout)
    assert info["rows"] == n
    assert info["bytes"] == out.stat().st_size
    return out, info


# ---- checking ----

def same(t, got, want):
    if want is None or got is None:
        return got is None and want is None
    if t in ("float", "double"):
        if math.isnan(want):
            return isinstance(got, float) and math.isnan(got)
        return struct.pack("<d", got) == struct.pack("<d", want)  # -0.0 stays -0.0
    if t == "bool":
        return isinstance(got, bool) and got == want
    return type(got) is type(want) and got == want


def expected_logical(col, v):
    """A canonical value as pyarrow returns it (after arrow_values' casts)."""
    if v is None:
        return None
    if col.type == "decimal":
        return decimal.Decimal(v).scaleb(-col.scale, DEC)
    return v


def arrow_values(arr, col):
    if col.type == "date":
        arr = arr.cast(pa.int32())
    elif col.type in ("timestamp", "time"):
        arr = arr.cast(pa.int64())
    elif isinstance(arr.type, pa.BaseExtensionType):
        arr = arr.storage
    return arr.to_pylist()


def check_arrow_type(field, col):
    assert field.nullable == col.nullable, (col, field)
    if col.type == "decimal":
        want = pa.decimal128(col.precision, col.scale) if col.precision <= 38 else pa.decimal256(col.precision, col.scale)
        assert field.type == want, (col, field.type)
    elif col.type == "json":
        # pyarrow reads the JSON logical type as its arrow.json extension (or plain string)
        storage = field.type.storage_type if isinstance(field.type, pa.BaseExtensionType) else field.type
        assert storage == pa.string(), (col, field.type)
        if isinstance(field.type, pa.BaseExtensionType):
            assert field.type.extension_name == "arrow.json"
    else:
        assert field.type == ARROW_TYPE[col.type], (col, field.type)


def check_parquet_schema(md, cols):
    """Physical and logical types, as pyarrow's ColumnDescriptor reports them."""
    assert md.num_columns == len(cols)
    for j, col in enumerate(cols):
        d = md.schema.column(j)
        assert d.name == col.name
        lt = str(d.logical_type)
        if col.type == "decimal":
            assert lt == f"Decimal(precision={col.precision}, scale={col.scale})", lt
            if col.precision <= 9:
                assert d.physical_type in ("INT32", "INT64", "FIXED_LEN_BYTE_ARRAY")
            elif col.precision <= 18:
                assert d.physical_type in ("INT64", "FIXED_LEN_BYTE_ARRAY")
            else:
                assert d.physical_type == "FIXED_LEN_BYTE_ARRAY"
            if d.physical_type == "FIXED_LEN_BYTE_ARRAY":
                assert d.length == decimal_width(col.precision), (col, d.length)
            continue
        assert d.physical_type == PHYSICAL[col.type], (col, d.physical_type)
        if col.type in INT_RANGES:
            bits = int(re.sub(r"\D", "", col.type))
            assert lt == f"Int(bitWidth={bits}, isSigned={'false' if col.type[0] == 'u' else 'true'})", lt
        elif col.type == "timestamp":
            assert lt.startswith("Timestamp(isAdjustedToUTC=true, timeUnit=microseconds"), lt
            assert d.converted_type == "TIMESTAMP_MICROS"
        elif col.type == "time":
            assert lt.startswith("Time(") and "timeUnit=microseconds" in lt, lt
        else:
            want = {"date": "Date", "string": "String", "json": "JSON", "enum": "String"}.get(col.type, "None")
            assert lt == want, (col, lt)


def stat_value(col, st, which):
    """pyarrow's min or max in the canonical form (raw values where boxing would lose
    information: pyarrow boxes TIME 24:00 as 00:00, and a truncated UTF-8 bound may not
    decode)."""
    if col.type in ("date", "timestamp", "time") or col.type in VAR_TYPES:
        return st.min_raw if which == "min" else st.max_raw
    v = st.min if which == "min" else st.max
    if col.type == "decimal":
        return int(v.scaleb(col.scale, DEC))
    return v


def stat_key(col, v):
    """The sort order of parquet.thrift's TypeDefinedOrder, as a Python sort key."""
    if col.type == "binary":
        return v
    if col.type in VAR_TYPES:
        return v.encode()
    return v


def check_stats(col, st, values, duck_exact=None):
    nulls = sum(v is None for v in values)
    assert st is not None, col
    assert st.has_null_count and st.null_count == nulls, (col, st.null_count, nulls)
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not present:
        assert not st.has_min_max, (col, st)  # all NULL (or all NaN): no bounds at all
        return
    assert st.has_min_max, col
    keys = sorted(stat_key(col, v) for v in present)
    lo, hi = keys[0], keys[-1]
    smin, smax = stat_value(col, st, "min"), stat_value(col, st, "max")
    if col.type in VAR_TYPES:
        # Bounds may be truncated: then still a lower and an upper bound, never longer
        # than the truncation length, and exact when the values are short.
        assert smin <= lo and smax >= hi, (col, smin[:80], lo[:80], smax[:80], hi[:80])
        if len(lo) <= STATS_TRUNCATE:
            assert smin == lo, (col, smin, lo)
        if len(hi) <= STATS_TRUNCATE:
            assert smax == hi, (col, smax, hi)
        # exact, or cut short (when an upper bound can be made: not for 0xff... bytes)
        assert smin == lo or len(smin) <= STATS_TRUNCATE, (col, len(smin))
        assert smax == hi or len(smax) <= STATS_TRUNCATE, (col, len(smax))
        if duck_exact is not None:
            min_exact, max_exact = duck_exact
            if min_exact:
                assert smin == lo, col
            if max_exact:
                assert smax == hi, col
    else:
        if col.type in ("float", "double"):
            assert smin == lo and smax == hi, (col, smin, lo, smax, hi)  # -0.0 == 0.0 here
        else:
            assert type(smin) is type(lo) and smin == lo, (col, smin, lo)
            assert type(smax) is type(hi) and smax == hi, (col, smax, hi)


DUCK_EXPR = {"date": "\"{0}\" - DATE '1970-01-01'", "timestamp": "epoch_us(\"{0}\")", "time": "epoch_us(\"{0}\")"}


def duck_expected(col, v):
    if v is None:
        return None
    if col.type == "decimal":
        d = decimal.Decimal(v).scaleb(-col.scale, DEC)
        return d if col.precision <= 38 else float(d)
    return v


def duck_same(col, got, want):
    if col.type == "decimal" and col.precision > 38:
        if got is None or want is None:
            return got is None and want is None
        return math.isclose(got, want, rel_tol=1e-12, abs_tol=0.0) or got == want
    if col.type == "enum":
        return got == want
    return same(col.type, got, want)


def check_duckdb(path, cols, columns, row_groups):
    con = duckdb.connect()
    con.execute("SET threads=1")
    desc = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
    assert [r[0] for r in desc] == [c.name for c in cols]
    for (name, typ, *_), col in zip(desc, cols):
        if col.type == "decimal":
            want = f"DECIMAL({col.precision},{col.scale})" if col.precision <= 38 else "DOUBLE"
        else:
            want = DUCKDB_TYPE[col.type]
        assert typ == want, (col, typ)
    sch = con.execute(f"SELECT name, type, type_length, precision, scale FROM parquet_schema('{path}')").fetchall()
    assert [r[0] for r in sch[1:]] == [c.name for c in cols]
    for r, col in zip(sch[1:], cols):
        if col.type == "decimal":
            assert (r[3], r[4]) == (col.precision, col.scale), (col, r)
        else:
            assert r[1] == PHYSICAL[col.type], (col, r)
    meta = con.execute(f"SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata('{path}') "
                       "ORDER BY row_group_id").fetchall()
    assert [m[1] for m in meta] == row_groups
    exprs = ", ".join(DUCK_EXPR.get(c.type, '"{0}"').format(c.name) for c in cols)
    rows = con.execute(f"SELECT {exprs} FROM read_parquet('{path}')").fetchall()
    n = len(columns[0]) if columns else 0
    assert len(rows) == n
    for j, col in enumerate(cols):
        want = columns[j]
        for i in range(n):
            w = duck_expected(col, want[i])
            assert duck_same(col, rows[i][j], w), (col, i, rows[i][j], w)
    exact = con.execute(f"SELECT row_group_id, column_id, min_is_exact, max_is_exact FROM parquet_metadata('{path}')"
                        ).fetchall()
    con.close()
    return {(g, c): (mi, ma) for g, c, mi, ma in exact}


# ---- the page index, read by the test's own thrift compact decoder ----
# pyarrow and DuckDB do not show ColumnIndex/OffsetIndex contents, so they are decoded
# here from parquet.thrift's definitions (compact protocol: field-id deltas, zigzag
# varints, list headers with the element type in the low nibble).

class Thrift:
    def __init__(self, data, pos=0):
        self.d, self.p = data, pos

    def varint(self):
        shift = result = 0
        while True:
            b = self.d[self.p]
            self.p += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    def zigzag(self):
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def value(self, t):
        if t in (1, 2):            # bool as a field: the type is the value
            return t == 1
        if t == 3:
            self.p += 1
            return struct.unpack("b", self.d[self.p - 1:self.p])[0]
        if t in (4, 5, 6):
            return self.zigzag()
        if t == 7:
            self.p += 8
            return struct.unpack("<d", self.d[self.p - 8:self.p])[0]
        if t == 8:
            n = self.varint()
            self.p += n
            return bytes(self.d[self.p - n:self.p])
        if t in (9, 10):
            h = self.d[self.p]
            self.p += 1
            n, et = h >> 4, h & 0x0F
            if n == 15:
                n = self.varint()
            if et in (1, 2):      # bools in a list: one byte each, 1 = true
                self.p += n
                return [b == 1 for b in self.d[self.p - n:self.p]]
            return [self.value(et) for _ in range(n)]
        if t == 12:
            return self.struct()
        raise AssertionError(f"thrift type {t} at {self.p}")

    def struct(self):
        out, fid = {}, 0
        while True:
            h = self.d[self.p]
            self.p += 1
            if h == 0:
                return out
            delta, t = h >> 4, h & 0x0F
            fid = fid + delta if delta else self.zigzag()
            out[fid] = self.value(t)


def plain_stat(col, physical, raw):
    """A ColumnIndex bound (PLAIN bytes, no length prefix) in the canonical form."""
    if col.type in VAR_TYPES:
        return raw
    if col.type == "bool":
        return raw == b"\x01"
    if physical == "FIXED_LEN_BYTE_ARRAY":
        return int.from_bytes(raw, "big", signed=True)
    fmt = {"INT32": "<i", "INT64": "<q", "FLOAT": "<f", "DOUBLE": "<d"}[physical]
    if col.type[0] == "u" and col.type in INT_RANGES:
        fmt = fmt.upper()
    return struct.unpack(fmt, raw)[0]


def check_page_index(path, md, cols, columns, sizes):
    data = path.read_bytes()
    con = duckdb.connect()
    locs = con.execute(f"SELECT row_group_id, column_id, column_index_offset, column_index_length, "
                       f"offset_index_offset, offset_index_length FROM parquet_metadata('{path}')").fetchall()
    con.close()
    locs = {(g, c): rest for g, c, *rest in locs}
    start = 0
    for g, size in enumerate(sizes):
        rg = md.row_group(g)
        for j, col in enumerate(cols):
            cc = rg.column(j)
            ci_off, ci_len, oi_off, oi_len = locs[g, j]
            vals = columns[j][start:start + size]
            oi = Thrift(data, oi_off).struct()
            assert Thrift(data, oi_off).struct() and oi_len > 0
            pages = oi[1]
            firsts = [pl[3] for pl in pages]
            assert firsts[0] == 0 and firsts == sorted(set(firsts)) and firsts[-1] < max(size, 1), (col, firsts)
            chunk_start = cc.dictionary_page_offset if cc.has_dictionary_page else cc.data_page_offset
            assert pages[0][1] == cc.data_page_offset, (col, pages[0], cc.data_page_offset)
            for a, b in zip(pages, pages[1:]):
                assert a[1] + a[2] == b[1], (col, a, b)  # data pages back to back
            assert pages[-1][1] + pages[-1][2] == chunk_start + cc.total_compressed_size, col
            bounds = firsts[1:] + [size]
            for pl, lo, hi in zip(pages, firsts, bounds):
                t = Thrift(data, pl[1])
                ph = t.struct()
                assert ph[1] in (0, 3), (col, ph)  # DATA_PAGE or DATA_PAGE_V2
                assert (t.p - pl[1]) + ph[3] == pl[2], (col, pl, ph)  # location size = header + body
                page_values = ph[5][1] if ph[1] == 0 else ph[8][3]
                assert page_values == hi - lo, (col, ph, lo, hi)
            if ci_off is None:
                assert col.type in ("float", "double") and any(isinstance(v, float) and math.isnan(v) for v in vals)
                continue
            ci = Thrift(data, ci_off).struct()
            null_pages, mins, maxs, order = ci[1], ci[2], ci[3], ci[4]
            assert len(null_pages) == len(mins) == len(maxs) == len(pages), col
            page_bounds = []
            for k, (lo, hi) in enumerate(zip(firsts, bounds)):
                pv = vals[lo:hi]
                nulls = sum(v is None for v in pv)
                if 5 in ci:
                    assert ci[5][k] == nulls, (col, k, ci[5][k], nulls)
                assert null_pages[k] == (nulls == len(pv)), (col, k)
                present = [v for v in pv if v is not None and not (isinstance(v, float) and math.isnan(v))]
                if null_pages[k] or not present:
                    continue
                keys = sorted(stat_key(col, v) for v in present)
                smin = plain_stat(col, cc.physical_type, mins[k])
                smax = plain_stat(col, cc.physical_type, maxs[k])
                if col.type in VAR_TYPES:
                    assert smin <= keys[0] and smax >= keys[-1], (col, k)
                    if len(keys[0]) <= STATS_TRUNCATE:
                        assert smin == keys[0], (col, k)
                    if len(keys[-1]) <= STATS_TRUNCATE:
                        assert smax == keys[-1], (col, k)
                else:
                    assert smin == keys[0] and smax == keys[-1], (col, k, smin, keys[0], smax, keys[-1])
                page_bounds.append((smin, smax))
            if order == 1:   # ASCENDING claimed: the bounds must not decrease
                assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(page_bounds, page_bounds[1:])), col
            elif order == 2:  # DESCENDING
                assert all(a[0] >= b[0] and a[1] >= b[1] for a, b in zip(page_bounds, page_bounds[1:])), col
        start += size


def check_file(path, info, cols, columns, options):
    """Everything pyarrow and DuckDB can tell about the file, against the spec."""
    n = len(columns[0]) if columns else 0
    f = pq.ParquetFile(path)
    md = f.metadata
    assert md.num_rows == n and info["row_groups"] == md.num_row_groups
    check_parquet_schema(md, cols)
    for field, col in zip(f.schema_arrow, cols):
        check_arrow_type(field, col)

    # values, through pyarrow
    table = f.read()
    assert table.num_rows == n and table.column_names == [c.name for c in cols]
    for j, col in enumerate(cols):
        got = arrow_values(table.column(j).combine_chunks(), col)
        for i in range(n):
            w = expected_logical(col, columns[j][i])
            assert same(col.type, got[i], w), (col, i, got[i], w)

    # row groups: cut after row_group_rows (the byte target is far away in these cases)
    sizes = [md.row_group(g).num_rows for g in range(md.num_row_groups)]
    assert sum(sizes) == n
    rgr = options.get("row_group_rows", 0)
    if rgr and options.get("row_group_size") is None and n:
        assert sizes == [rgr] * (n // rgr) + ([n % rgr] if n % rgr else []), sizes

    exact = check_duckdb(path, cols, columns, sizes)

    codec = PYARROW_CODEC[options.get("codec", "snappy")]
    dictionary, delta = options.get("dictionary", 1), options.get("delta", 1)
    page_index = options.get("page_index", 1)
    start = 0
    for g, size in enumerate(sizes):
        rg = md.row_group(g)
        assert rg.num_rows == size
        for j, col in enumerate(cols):
            cc = rg.column(j)
            vals = columns[j][start:start + size]
            assert cc.num_values == size, (col, g)
            assert cc.compression == codec, (col, cc.compression)
            check_stats(col, cc.statistics, vals, exact.get((g, j)))
            encs = set(cc.encodings)
            if not delta:
                assert "DELTA_BINARY_PACKED" not in encs, (col, encs)
            if not dictionary:
                assert not encs & {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} and not cc.has_dictionary_page, (col, encs)
            assert cc.has_offset_index == bool(page_index), (col, g)
            # A page of only NaN has no min/max, so a ColumnIndex cannot describe it:
            # the writer may leave the chunk's ColumnIndex out then (parquet-cpp does).
            nan_page = col.type in ("float", "double") and any(isinstance(v, float) and math.isnan(v) for v in vals)
            if not page_index or not nan_page:
                assert cc.has_column_index == bool(page_index), (col, g)
        start += size
    if page_index and n:
        check_page_index(path, md, cols, columns, sizes)
    return md


def check_kv(md, cols, extra_kv=None):
    kv = {k.decode(): v.decode() for k, v in (md.metadata or {}).items()}
    for c in cols:
        key = f"sluice.origin.{c.name}"
        if c.origin is not None:
            assert kv.get(key) == c.origin, (key, kv)
        else:
            assert key not in kv, (key, kv)
    for k, v in (extra_kv or {}).items():
        assert kv.get(k) == v, (k, kv)
    version = re.search(r'^VERSION\s*:=\s*(\S+)', (ROOT / "Makefile").read_text(), re.M).group(1)
    assert re.fullmatch(rf"sluice version {re.escape(version)} \(build [0-9a-zA-Z]+\)", md.created_by), md.created_by
    return kv


# ---- the tests ----

PROPERTY_SEEDS = list(range(11, 21))


@pytest.mark.parametrize("seed", PROPERTY_SEEDS, ids=lambda s: f"seed-{s}")
@pytest.mark.parametrize("delta", [1, 0], ids=["delta", "nodelta"])
@pytest.mark.parametrize("dictionary", [1, 0], ids=["dict", "nodict"])
@pytest.mark.parametrize("codec", CODECS)
def test_roundtrip_random(tmp_path, codec, dictionary, delta, seed):
    """Random schema over every type, random data and batch/page/row-group shapes."""
    rnd = random.Random(f"{seed}-{codec}-{dictionary}-{delta}")
    cols = random_schema(rnd, rnd.randint(1, 12))
    n = rnd.choice([0, 1, 2, 17, 300, 1000, 2500, 6000])
    long_strings = rnd.random() < 0.3
    columns = [list(range(-5, n - 5))]
    pooled = [False]
    for c in cols[1:]:
        vals, pool = gen_column(rnd, c, n, long_strings)
        columns.append(vals)
        pooled.append(pool)
    options = {"codec": codec, "dictionary": dictionary, "delta": delta, "page_index": rnd.choice([0, 1])}
    if rnd.random() < 0.5:
        options["page_size"] = rnd.choice([1024, 2000, 8192])
        if rnd.random() < 0.3:
            options["row_group_size"] = rnd.choice([8192, 65536])
    if dictionary and rnd.random() < 0.3:
        options["dictionary_max"] = rnd.choice([16, 300, 4096])  # fallback to PLAIN mid-chunk
    if rnd.random() < 0.6:
        options["row_group_rows"] = rnd.choice([1, 7, 100, 999])
    if codec == "zstd" and rnd.random() < 0.5:
        options["zstd_level"] = rnd.choice([1, 9, 19])
    if codec == "gzip" and rnd.random() < 0.5:
        options["gzip_level"] = rnd.choice([1, 9])
    path, info = write(tmp_path, cols, columns, options, batch_rows=rnd.choice([1, 3, 100, 1000, 5000]),
                       empty_batches=rnd.random() < 0.2, seed=seed)
    md = check_file(path, info, cols, columns, options)
    check_kv(md, cols)

    # Encodings a correct choice must show: DELTA_BINARY_PACKED for the sorted ids when
    # delta is on (in row groups large enough for it to beat PLAIN and a dictionary),
    # a dictionary for repeated values of dictionary-first types when it is on.
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        if delta and rg.num_rows >= 64:
            assert "DELTA_BINARY_PACKED" in rg.column(0).encodings, rg.column(0).encodings
        if not dictionary or "dictionary_max" in options:
            continue
        start = sum(md.row_group(k).num_rows for k in range(g))
        for j, c in enumerate(cols):
            vals = [v for v in columns[j][start:start + rg.num_rows] if v is not None]
            dict_first = c.type not in INT_RANGES and c.type not in ("bool", "date", "timestamp", "time") \
                and not (c.type == "decimal" and c.precision <= 18)
            if dict_first and pooled[j] and len(vals) > len(set(vals)) + 1:
                assert "RLE_DICTIONARY" in rg.column(j).encodings, (c, rg.column(j).encodings)


def test_every_type_required_and_optional(tmp_path):
    """One column of every type, required and optional, through both readers' schemas."""
    rnd = random.Random(5)
    cols = []
    for t in ALL_TYPES:
        for nullable in (False, True):
            c = Col(f"{t}_{'opt' if nullable else 'req'}", t, nullable)
            if t == "decimal":
                c.precision, c.scale = 12, 2
            cols.append(c)
    cols += [Col(f"dec_{p}_{s}", "decimal", True, p, s) for p in DECIMAL_PRECISIONS for s in sorted({0, p // 3, p})]
    columns = [gen_column(rnd, c, 200)[0] for c in cols]
    path, info = write(tmp_path, cols, columns, {"codec": "zstd"})
    md = check_file(path, info, cols, columns, {"codec": "zstd"})
    check_kv(md, cols)


def test_extremes(tmp_path):
    """Integer extremes, NaN and infinities, decimals at every precision limit, the
    first and last representable days and microseconds, 24:00, in several row groups."""
    cols, columns = [], []
    for t, (lo, hi) in INT_RANGES.items():
        cols.append(Col(t, t, True))
        columns.append([lo, hi, 0, None, lo + 1, hi - 1, 1, (lo + hi) // 2])
    for t, (lo, hi) in {"date": DATE_RANGE, "timestamp": TS_RANGE, "time": TIME_RANGE}.items():
        cols.append(Col(t, t, True))
        columns.append([lo, hi, 0, None, hi - 1, lo + 1, 1, (lo + hi) // 2])
    cols.append(Col("float", "float", True))
    columns.append([math.nan, math.inf, -math.inf, None, -0.0, 0.0, 1.401298464324817e-45, f32(-3.4e38)])
    cols.append(Col("double", "double", True))
    columns.append([math.nan, -math.inf, math.inf, None, 5e-324, -0.0, -1.7976931348623157e308, 1.5])
    cols.append(Col("zeros", "double", False))  # statistics: min -0.0, max +0.0 (parquet.thrift)
    columns.append([0.0, -0.0, 0.0, 0.0, -0.0, 0.0, 0.0, -0.0])
    cols.append(Col("all_nan", "double", False))
    columns.append([math.nan] * 8)
    for p in DECIMAL_PRECISIONS:
        for s in sorted({0, 1, p // 2, p - 1, p} - {-1}):
            m = 10**p - 1
            cols.append(Col(f"d{p}_{s}", "decimal", True, p, s))
            columns.append([m, -m, 0, None, 1, -1, 10**(p - 1), -(10**(p - 1)) if p > 1 else -9])
    for rgr in (0, 3):
        options = {"codec": "snappy", "row_group_rows": rgr, "dictionary": 1}
        path, info = write(tmp_path, cols, columns, options, batch_rows=3, name=f"x{rgr}")
        md = check_file(path, info, cols, columns, options)
        assert md.num_row_groups == (1 if rgr == 0 else 3)
        # parquet.thrift: a zero min is written as -0.0, a zero max as +0.0
        st = md.row_group(0).column([c.name for c in cols].index("zeros")).statistics
        assert math.copysign(1, st.min) == -1 and math.copysign(1, st.max) == 1, (st.min, st.max)


@pytest.mark.parametrize("n", [0, 1])
def test_zero_and_one_row(tmp_path, n):
    rnd = random.Random(n)
    cols = [Col(f"c_{t}_{nullable:d}", t, nullable) for t in ALL_TYPES if t != "decimal" for nullable in (False, True)]
    cols.append(Col("dec", "decimal", True, 38, 38))
    columns = [gen_column(rnd, c, n)[0] for c in cols]
    for codec in CODECS:
        options = {"codec": codec}
        path, info = write(tmp_path, cols, columns, options, empty_batches=True, name=codec)
        md = check_file(path, info, cols, columns, options)
        assert sum(md.row_group(g).num_rows for g in range(md.num_row_groups)) == n


def test_strings_longer_than_a_page(tmp_path):
    """Multibyte strings and blobs far larger than the page size, in one batch and in
    many; statistics of long values are truncated bounds."""
    rnd = random.Random(3)
    long_text = [rand_text(rnd, k) for k in (1000, 5000, 40000)]
    cols = [Col("s", "string", True), Col("b", "binary", False), Col("j", "json", True)]
    s = ["", None, "é" * 3000, long_text[2], "a", long_text[0], "😀" * 20000, "short", long_text[1], None]
    b = [bytes(rnd.getrandbits(8) for _ in range(k)) for k in (0, 1, 5000, 70000, 3, 100, 64, 65, 63, 0)]
    b[4] = b"\xff" * 200  # an upper bound cannot be made by incrementing 0xff bytes
    j = [json.dumps({"t": t}) if t is not None else None for t in s]
    columns = [s, b, j]
    for page_size in (1024, 1 << 20):
        for batch_rows in (1, 4, 100):
            options = {"codec": "zstd", "page_size": page_size, "dictionary": 0}
            path, info = write(tmp_path, cols, columns, options, batch_rows=batch_rows, name=f"p{page_size}-{batch_rows}")
            check_file(path, info, cols, columns, options)


def test_many_row_groups(tmp_path):
    rnd = random.Random(8)
    cols = [Col("id", "int64"), Col("u", "uint64", True), Col("s", "string", True), Col("ts", "timestamp", True),
            Col("d", "decimal", True, 19, 4), Col("f", "double", True)]
    n = 2000
    columns = [list(range(n))] + [gen_column(rnd, c, n)[0] for c in cols[1:]]
    options = {"codec": "gzip", "row_group_rows": 9, "page_size": 1024}
    path, info = write(tmp_path, cols, columns, options, batch_rows=250)
    md = check_file(path, info, cols, columns, options)
    assert md.num_row_groups == math.ceil(n / 9)


def test_row_group_size_bytes(tmp_path):
    """row_group_size is a byte target: data many times larger makes many row groups."""
    rnd = random.Random(9)
    cols = [Col("id", "int64"), Col("s", "string"), Col("x", "double", True)]
    n = 5000
    columns = [list(range(n)), [rand_text(rnd, 30) for _ in range(n)], [rnd.random() for _ in range(n)]]
    options = {"codec": "none", "row_group_size": 16384, "page_size": 1024}
    path, info = write(tmp_path, cols, columns, options, batch_rows=100)
    md = check_file(path, info, cols, columns, options)
    assert md.num_row_groups >= 10, md.num_row_groups
    for g in range(md.num_row_groups - 1):
        assert md.row_group(g).total_byte_size < 4 * 16384, md.row_group(g).total_byte_size


def test_dictionary_and_delta_encodings(tmp_path):
    rnd = random.Random(10)
    n = 20000
    cols = [Col("id", "int64"), Col("status", "string"), Col("amount", "decimal", True, 12, 2),
            Col("price", "double"), Col("tag", "binary", True), Col("code", "int32")]
    columns = [list(range(10**12, 10**12 + n)),
               [rnd.choice(["pending", "paid", "shipped", "delivered"]) for _ in range(n)],
               [rnd.choice([199, 2999, None, 10**10]) for _ in range(n)],
               [rnd.choice([1.5, 2.25, -0.0]) for _ in range(n)],
               [rnd.choice([b"\x00", b"\xff\x01", None]) for _ in range(n)],
               [rnd.choice([7, -7, 2**31 - 1]) for _ in range(n)]]
    enc = {}
    for dictionary in (0, 1):
        for delta in (0, 1):
            options = {"codec": "snappy", "dictionary": dictionary, "delta": delta}
            path, info = write(tmp_path, cols, columns, options, batch_rows=4096, name=f"e{dictionary}{delta}")
            md = check_file(path, info, cols, columns, options)
            enc[dictionary, delta] = {c.name: set(md.row_group(0).column(j).encodings) for j, c in enumerate(cols)}
            rg = md.row_group(0)
            for j, c in enumerate(cols):
                assert rg.column(j).has_dictionary_page == ("RLE_DICTIONARY" in enc[dictionary, delta][c.name])
    for delta in (0, 1):
        for name in ("status", "price", "tag", "code", "amount"):
            assert "RLE_DICTIONARY" in enc[1, delta][name], (name, enc[1, delta])
    assert "DELTA_BINARY_PACKED" in enc[1, 1]["id"] and "DELTA_BINARY_PACKED" in enc[0, 1]["id"]
    assert enc[0, 0]["id"] == {"PLAIN"} or enc[0, 0]["id"] == {"PLAIN", "RLE"}, enc[0, 0]["id"]


def wrap64(v):
    v &= 2**64 - 1
    return v - 2**64 if v >= 2**63 else v


def deltas_of_width(start, w, n, bits):
    """n values after start whose differences alternate between the two ends of a span of
    w bits (wrapped at the column's width): every miniblock of them packs at exactly w bits."""
    lo, hi = (-(2 ** (w - 1)), 2 ** (w - 1) - 1) if w else (3, 3)
    out, v = [], start
    for i in range(n):
        v += lo if i % 2 == 0 else hi
        v &= 2**bits - 1
        if v >= 2 ** (bits - 1):
            v -= 2**bits
        out.append(v)
    return out


def test_delta_and_dictionary_every_bit_width(tmp_path):
    """DELTA_BINARY_PACKED miniblocks of every width (0..64 for INT64, 0..32 for INT32) and
    dictionary indices of widths 1..13, read back by pyarrow and DuckDB (check_file)."""
    per = 128  # one delta block per width, aligned: the first value is the header's
    v64, v32 = [0], [0]
    for w in range(65):
        v64 += deltas_of_width(v64[-1], w, per, 64)
    while len(v32) < len(v64):
        w = (len(v32) - 1) // per % 33
        v32 += deltas_of_width(v32[-1], w, per, 32)
    v32 = v32[:len(v64)]
    cols = [Col("d64", "int64"), Col("d32", "int32")]
    options = {"codec": "none", "dictionary": 0, "delta": 1}
    path, info = write(tmp_path, cols, [v64, v32], options, batch_rows=1000, name="widths")
    md = check_file(path, info, cols, [v64, v32], options)
    for j in range(2):
        assert "DELTA_BINARY_PACKED" in md.row_group(0).column(j).encodings

    # row group g holds 2^(g) + 1 distinct values: its dictionary indices are g + 1 bits wide
    rows, vals = 8192, []
    for g in range(13):
        k = 2**g + 1
        vals += [(i * 7919) % k - 5 for i in range(rows)]
    cols = [Col("k", "int32"), Col("s", "string", True)]
    strs = [None if i % 97 == 0 else f"s{v}" for i, v in enumerate(vals)]
    options = {"codec": "snappy", "dictionary": 1, "delta": 0, "row_group_rows": rows}
    path, info = write(tmp_path, cols, [vals, strs], options, batch_rows=3000, name="dict")
    md = check_file(path, info, cols, [vals, strs], options)
    for g in range(md.num_row_groups):
        assert "RLE_DICTIONARY" in md.row_group(g).column(0).encodings, g


def test_dictionary_fallback_mid_chunk(tmp_path):
    """A dictionary that outgrows dictionary_max falls back to PLAIN in the same chunk."""
    rnd = random.Random(12)
    n = 6000
    cols = [Col("s", "string", True), Col("d", "double"), Col("big", "decimal", False, 30, 5)]
    columns = [[None if i % 11 == 0 else f"value-{i % 100 if i < 3000 else i}" for i in range(n)],
               [float(i % 50) if i < 3000 else rnd.random() for i in range(n)],
               [i % 20 if i < 3000 else rnd.randint(-10**29, 10**29) for i in range(n)]]
    options = {"codec": "zstd", "dictionary_max": 4096, "page_size": 1024}
    path, info = write(tmp_path, cols, columns, options, batch_rows=512)
    md = check_file(path, info, cols, columns, options)
    for j in range(3):
        encs = set(md.row_group(0).column(j).encodings)
        assert {"RLE_DICTIONARY", "PLAIN"} <= encs, (cols[j], encs)


def test_dictionary_given_up_after_a_first_page_it_does_not_pay(tmp_path):
    """A chunk whose first page is no smaller under its dictionary (entries and indices)
    than PLAIN is PLAIN from that page on: distinct doubles and e-mail addresses, with
    NULLs among them, get no dictionary page (before, they were hashed up to
    dictionary_max, 1 MiB: this whole file would have been dictionary-encoded); a column
    of a few values beside them keeps its dictionary. Values, statistics and page index
    are checked by pyarrow and DuckDB (check_file)."""
    rnd = random.Random(77)
    n = 50000
    cols = [Col("x", "double", True), Col("email", "string", True), Col("tag", "string")]
    columns = [[None if i % 13 == 0 else rnd.random() * 1e6 for i in range(n)],
               [None if i % 17 == 0 else f"user{i}.{rnd.randrange(10**6)}@example.com" for i in range(n)],
               [rnd.choice(["north", "south", "east", "west"]) for _ in range(n)]]
    for codec in ("snappy", "none"):
        options = {"codec": codec, "row_group_rows": 30000}
        path, info = write(tmp_path, cols, columns, options, batch_rows=4096, name=f"first-{codec}")
        md = check_file(path, info, cols, columns, options)
        assert md.num_row_groups == 2
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            for j in (0, 1):
                encs = set(rg.column(j).encodings)
                assert "RLE_DICTIONARY" not in encs and not rg.column(j).has_dictionary_page, (cols[j], g, encs)
            assert "RLE_DICTIONARY" in rg.column(2).encodings, (g, rg.column(2).encodings)


def test_key_value_metadata_and_names(tmp_path):
    cols = [Col("id", "int64", origin="bigint(20) unsigned"), Col("prix €", "decimal", True, 10, 2, "decimal(10,2)"),
            Col("名前", "string", True, origin="varchar(64) CHARACTER SET utf8mb4"), Col("plain", "int8")]
    columns = [[1, 2, 3], [12345, None, -1], ["a", None, "日本"], [1, 2, 3]]
    kv = {"pipeline": "orders", "sluice.run": "2026-12-02T00:00:00Z", "empty": ""}
    options = {"codec": "snappy", "kv": kv}
    path, info = write(tmp_path, cols, columns, options)
    md = check_file(path, info, cols, columns, options)
    got = check_kv(md, cols, kv)
    assert set(got) == set(kv) | {f"sluice.origin.{c.name}" for c in cols if c.origin}, got


def test_spec_errors_are_reported(tmp_path):
    """The tool refuses what it cannot pass on exactly (so no test silently writes
    something else than it believes)."""
    cases = {
        "codec": {"options": {"codec": "lz4"}, "columns": [{"name": "a", "type": "int8"}]},
        "digits": {"columns": [{"name": "a", "type": "decimal", "precision": 3, "scale": 1}], "rows": [["123.4"]]},
        "fraction": {"columns": [{"name": "a", "type": "decimal", "precision": 5, "scale": 1}], "rows": [["1.25"]]},
        "range": {"columns": [{"name": "a", "type": "uint64"}], "rows": [["18446744073709551616"]]},
        "int8": {"columns": [{"name": "a", "type": "int8"}], "rows": [[128]]},
        "null": {"columns": [{"name": "a", "type": "string"}], "rows": [[None]]},
        "option": {"options": {"page_sise": 10}, "columns": [{"name": "a", "type": "int8"}]},
    }
    for name, spec in cases.items():
        f = tmp_path / f"{name}.json"
        f.write_text(json.dumps(spec))
        out = tmp_path / f"{name}.parquet"
        p = subprocess.run([str(PQ_WRITE), str(f), str(out)], capture_output=True, text=True)
        assert p.returncode != 0 and "pq_write" in p.stderr, (name, p.returncode, p.stderr)
        assert not out.exists(), name
        assert not list(tmp_path.glob(f"{name}.parquet.tmp-*")), name  # aborted, nothing left


# ---- sluice inspect on our files and on pyarrow's and DuckDB's ----

def inspect_files(tmp_path):
    rnd = random.Random(21)
    cols = [Col("id", "int64", origin="bigint(20)"), Col("u", "uint64", True), Col("name", "string", True),
            Col("amount", "decimal", True, 12, 2), Col("big", "decimal", True, 40, 10), Col("ts", "timestamp", True),
            Col("day", "date", True), Col("flag", "bool", True), Col("blob", "binary", True), Col("x", "double", True)]
    n = 400
    columns = [list(range(n))] + [gen_column(rnd, c, n)[0] for c in cols[1:]]
    # test_inspect's formatting of pyarrow's values covers years 1000-9999 and no NaN
    # (and compares floats as doubles, hence a double column)
    columns[5] = [None if v is None else rnd.randint(-2208988800000000, 4102444800000000) for v in columns[5]]
    columns[6] = [None if v is None else rnd.randint(-25567, 47482) for v in columns[6]]
    columns[9] = [None if v is None or math.isnan(v) else v for v in columns[9]]
    files = []
    for codec in ("zstd", "gzip"):
        path, _ = write(tmp_path, cols, columns, {"codec": codec, "row_group_rows": 150, "page_size": 1024},
                        name=f"ours-{codec}")
        files.append((path, [c.name for c in cols]))
    t = pa.table({"id": pa.array(range(50), pa.int64()), "s": pa.array([f"s{i}" for i in range(50)])})
    pa_file = tmp_path / "pyarrow.parquet"
    pq.write_table(t, pa_file, compression="zstd")
    files.append((pa_file, ["id", "s"]))
    dd_file = tmp_path / "duckdb.parquet"
    duckdb.sql(f"COPY (SELECT i AS id, 'x' || i AS s, i * 0.5 AS d FROM range(100) t(i)) TO '{dd_file}' (FORMAT parquet)")
    files.append((dd_file, ["id", "s", "d"]))
    return files


def test_inspect_written_files(tmp_path):
    from test_inspect import check_against_pyarrow  # sluice's own reader, held to pyarrow's reading
    for path, names in inspect_files(tmp_path):
        p = run_sluice(["inspect", str(path)], env=os.environ, check=0)
        for name in names:
            assert name in p.stdout, (path, name)
        p = run_sluice(["inspect", "--head", "5", str(path)], env=os.environ, check=0)
        assert "head: 5 rows" in p.stdout, p.stdout
        got = check_against_pyarrow(path, head=5)
        assert [s["name"] for s in got["schema"][1:]] == names
        if path.name.startswith("ours"):
            by = {s["name"]: s for s in got["schema"]}
            assert by["id"]["origin"] == "bigint(20)"
            assert by["u"]["logical_type"] == {"type": "INTEGER", "bits": 64, "signed": False}
            assert by["big"]["logical_type"] == {"type": "DECIMAL", "precision": 40, "scale": 10}


def test_nulls_do_not_count_in_statistics(tmp_path):
    """NULL rows hold zeros (or empty strings) in the batch: the bounds must ignore them,
    so every value here lies away from zero and the empty string."""
    cols = [Col(f"c_{t}", t, True) for t in ALL_TYPES if t not in ("decimal", "bool")]
    cols += [Col("d9", "decimal", True, 9, 2), Col("d30", "decimal", True, 30, 0), Col("neg", "int64", True)]
    def away(c, i):
        if c.name == "neg":
            return -10 - i
        if c.type in ("float", "double"):
            return 1.5 + i
        if c.type == "binary":
            return b"\x05" + bytes([i])
        if c.type == "json":
            return f'"m{i}"'
        if c.type in ("string", "enum"):
            return f"m{i}"
        return 5 + i
    columns = [[None if i % 3 == 1 else away(c, i) for i in range(30)] for c in cols]
    for dictionary in (0, 1):
        options = {"codec": "none", "dictionary": dictionary, "row_group_rows": 10}
        path, info = write(tmp_path, cols, columns, options, name=f"n{dictionary}")
        check_file(path, info, cols, columns, options)


# ---- the writer's inputs fuzzed under ASan + UBSan ----

ASAN_TOOLS = ROOT / "build" / "asan" / "tools"
SAN_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98")



def asan_tool(name):
    if not (ASAN_TOOLS / name).exists():
        subprocess.run(["make", "asan"], cwd=ROOT, check=True, capture_output=True)
    return ASAN_TOOLS / name


FUZZ_SEEDS = list(range(1, 21))


def test_fuzz_writer_asan(tmp_path):
    tool = asan_tool("pq_fuzz_write")
    lines = []
    for seed in FUZZ_SEEDS:
        p = subprocess.run([str(tool), str(seed), "30", str(tmp_path), "0"], env=SAN_ENV, capture_output=True,
                           text=True, timeout=300)
        lines += p.stdout.splitlines()
        assert p.returncode == 0, (seed, p.returncode, p.stderr[-4000:])
        assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr[-4000:]
    # the files the fuzz wrote (at most 4 MiB each), read by pyarrow and DuckDB
    assert len(lines) > 100, len(lines)
    con = duckdb.connect()
    for line in lines:
        d = json.loads(line)
        f = pq.ParquetFile(d["file"])
        assert [x.name for x in f.schema_arrow] == [c["name"] for c in d["columns"]]
        assert [x.nullable for x in f.schema_arrow] == [c["nullable"] for c in d["columns"]]
        t = f.read()
        assert t.num_rows == d["rows"], d["file"]
        for c, col in zip(d["columns"], t.columns):
            assert col.null_count == c["nulls"], (d["file"], c, col.null_count)
        # (DuckDB parses JSON columns, and the fuzz's strings are not JSON: left out)
        other = [c for c in d["columns"] if c["type"] != "json"]
        counts = con.execute("SELECT count(*)" + "".join(f', count("{c["name"]}")' for c in other) +
                             f" FROM read_parquet('{d['file']}')").fetchone()
        assert list(counts) == [d["rows"]] + [d["rows"] - c["nulls"] for c in other], d["file"]
    con.close()
    print(f"fuzz: {len(lines)} files checked")


def test_asan_chunk_of_empty_bounds(tmp_path):
    """A chunk whose min and max are both empty strings (a fuzz find: memcpy from NULL)."""
    spec = tmp_path / "empty.json"
    spec.write_text(json.dumps({"columns": [{"name": "s", "type": "string"}], "rows": [[""], [""]]}))
    p = subprocess.run([str(asan_tool("pq_write")), str(spec), str(tmp_path / "e.parquet")], env=SAN_ENV,
                       capture_output=True, text=True, timeout=60)
    assert "runtime error" not in p.stderr and p.returncode == 0, p.stderr


def test_delta_with_extreme_jumps(tmp_path):
    """DELTA_BINARY_PACKED is chosen on a chunk's first page (here a gentle ramp, where
    it wins); later pages then jump between the type's extremes, so deltas overflow the
    type and must wrap (Encodings.md: the arithmetic is modulo 2^bits)."""
    rnd = random.Random(31)
    types = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "date", "timestamp", "time",
             "decimal"]
    cols = [Col(f"c_{t}", t, t in ("int32", "uint64", "timestamp"), 18 if t == "decimal" else 0,
                3 if t == "decimal" else 0) for t in types]
    n = 12000
    columns = []
    for c in cols:
        lo, hi = INT_RANGES.get(c.type) or {"date": DATE_RANGE, "timestamp": TS_RANGE, "time": TIME_RANGE,
                                            "decimal": (-(10**18 - 1), 10**18 - 1)}[c.type]
        ramp = [max(lo, min(hi, lo + i // 64 if c.type[0] == "u" or c.type == "time" else i // 64)) for i in range(4000)]
        wild = [rnd.choice([lo, hi, lo + 1, hi - 1, 0 if lo <= 0 else lo, rnd.randint(lo, hi)]) for _ in range(n - 4000)]
        vals = ramp + wild
        if c.nullable:
            vals = [None if i % 7 == 3 else v for i, v in enumerate(vals)]
        columns.append(vals)
    for dictionary in (0, 1):
        options = {"codec": "zstd", "delta": 1, "dictionary": dictionary, "page_size": 1024}
        path, info = write(tmp_path, cols, columns, options, batch_rows=3000, name=f"d{dictionary}")
        md = check_file(path, info, cols, columns, options)
        for j, c in enumerate(cols):
            assert "DELTA_BINARY_PACKED" in md.row_group(0).column(j).encodings, (c, md.row_group(0).column(j).encodings)


def test_pages_cut_by_rows_and_wide_dictionaries(tmp_path):
    """Tens of thousands of narrow values per page (cut by row count, not bytes), and a
    dictionary of 40,000 entries (16-bit indices) next to one of 2 entries (1 bit)."""
    rnd = random.Random(41)
    n = 60000
    cols = [Col("flag", "bool", True), Col("tiny", "int8"), Col("word", "string"), Col("two", "string", True),
            Col("x", "double")]
    columns = [[None if i % 5 == 0 else rnd.random() < 0.5 for i in range(n)],
               [rnd.randint(-128, 127) for _ in range(n)],
               [f"w{rnd.randrange(40000)}" for _ in range(n)],
               [None if i % 3 == 0 else ("yes" if i % 2 else "no") for i in range(n)],
               [float(rnd.randrange(1000)) / 8 for _ in range(n)]]
    options = {"codec": "snappy", "page_size": 1 << 20}
    path, info = write(tmp_path, cols, columns, options, batch_rows=8192)
    md = check_file(path, info, cols, columns, options)
    encs = [set(md.row_group(0).column(j).encodings) for j in range(len(cols))]
    assert "RLE_DICTIONARY" in encs[2] and "RLE_DICTIONARY" in encs[3], encs


def test_many_columns(tmp_path):
    """A wide file: 400 columns of every type, so the footer and page index are large."""
    rnd = random.Random(51)
    cols = []
    for i in range(400):
        t = ALL_TYPES[i % len(ALL_TYPES)]
        c = Col(f"col{i:03d}", t, i % 3 != 0, origin=f"origin {i}" if i % 2 else None)
        if t == "decimal":
            c.precision = DECIMAL_PRECISIONS[i % len(DECIMAL_PRECISIONS)]
            c.scale = c.precision // 2
        cols.append(c)
    columns = [gen_column(rnd, c, 40)[0] for c in cols]
    options = {"codec": "zstd", "row_group_rows": 15}
    path, info = write(tmp_path, cols, columns, options, batch_rows=7)
    md = check_file(path, info, cols, columns, options)
    check_kv(md, cols)
