"""Benchmark of the Parquet writer against pyarrow and DuckDB, single-threaded, on the
same orders-like data (bench/pq_write_bench.c generates it; its --dump gives pyarrow and
DuckDB the identical values as Arrow buffers). Every writer starts from data already in
memory and only the writing is timed: sluice into its memory sink (and, as
"sluice+fsync", into its local-file sink, which fsyncs and renames at the end), pyarrow's
`pq.write_table` and DuckDB's `COPY ... TO` into files (the page cache). Prints rows/s,
MB/s (of the in-memory Arrow table, the same input for all three), file size and the
sluice/pyarrow ratios, then checks the files hold the same values (DuckDB aggregates).

    make bench && .venv/bin/python bench/pq_bench.py [--rows 5000000] [--repeat 3]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "build" / "bench" / "pq_write_bench"
ZSTD_LEVEL = 3  # sluice's default; pyarrow's and DuckDB's are set to the same


def load_dump(d, rows):
    def buf(name):
        return pa.py_buffer((d / name).read_bytes())
    return pa.table({
        "id": pa.Array.from_buffers(pa.int64(), rows, [None, buf("id.i64")]),
        "customer_id": pa.Array.from_buffers(pa.int32(), rows, [None, buf("customer_id.i32")]),
        "ts": pa.Array.from_buffers(pa.timestamp("us", tz="UTC"), rows, [None, buf("ts.i64")]),
        "amount": pa.Array.from_buffers(pa.decimal128(12, 2), rows, [None, buf("amount.d128")]),
        "status": pa.Array.from_buffers(pa.string(), rows, [None, buf("status.off"), buf("status.dat")]),
        "discount": pa.Array.from_buffers(pa.float64(), rows, [buf("discount.valid"), buf("discount.f64")]),
    }, schema=pa.schema([pa.field("id", pa.int64(), False), pa.field("customer_id", pa.int32(), False),
                         pa.field("ts", pa.timestamp("us", tz="UTC"), False),
                         pa.field("amount", pa.decimal128(12, 2), False), pa.field("status", pa.string(), False),
                         pa.field("discount", pa.float64(), True)]))


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def checksums(path):
    with duckdb.connect() as c:
        return c.execute(f"""SELECT count(*), sum(id), sum(customer_id), sum(epoch_us(ts)), sum(amount),
                                 sum(length(status)), count(DISTINCT status), count(discount),
                                 round(sum(discount), 2), bit_xor(hash(id, customer_id, epoch_us(ts), amount,
                                 status, discount))
                              FROM read_parquet('{path}')""").fetchone()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs per writer")
    ap.add_argument("--codecs", default="snappy,zstd")
    args = ap.parse_args()
    if not BENCH.exists():
        sys.exit(f"{BENCH} missing: run make bench")
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    work = Path(tempfile.mkdtemp(prefix="pq_bench."))
    try:
        dump = work / "dump"
        dump.mkdir()
        subprocess.run([str(BENCH), str(args.rows), "none", str(work / "gen.parquet"), "--dump", str(dump)],
                       check=True, capture_output=True)
        table = load_dump(dump, args.rows)
        mb = table.nbytes / 1e6
        con = duckdb.connect()
        con.execute("SET threads=1")
        con.register("orders_arrow", table)
        con.execute("CREATE TABLE orders AS SELECT * FROM orders_arrow")
        print(f"{args.rows:,} rows, {mb:.0f} MB in memory (Arrow), best of {args.repeat}, one thread each")
        print(f"{'codec':7} {'writer':12} {'seconds':>8} {'rows/s':>12} {'MB/s':>8} {'file MB':>8} "
              f"{'time vs pyarrow':>15} {'size vs pyarrow':>15}")
        sums = {}
        for codec in args.codecs.split(","):
            res = {}
            out = {w: work / f"{w}-{codec}.parquet" for w in ("sluice", "pyarrow", "duckdb")}
            level = ["--level", str(ZSTD_LEVEL)] if codec == "zstd" else []
            runs = []
            for _ in range(args.repeat):
                p = subprocess.run([str(BENCH), str(args.rows), codec, str(out["sluice"]), *level], check=True,
                                   capture_output=True, text=True)
                runs.append(json.loads(p.stdout))
            res["sluice"] = min(r["mem_seconds"] for r in runs)
            # the same through the local-file sink, whose finish fsyncs and renames
            res["sluice+fsync"] = min(r["file_seconds"] for r in runs)
            out["sluice+fsync"] = out["sluice"]
            kw = {"compression_level": ZSTD_LEVEL} if codec == "zstd" else {}
            res["pyarrow"] = best(lambda: pq.write_table(table, out["pyarrow"], compression=codec, **kw), args.repeat)
            opt = f", COMPRESSION_LEVEL {ZSTD_LEVEL}" if codec == "zstd" else ""
            res["duckdb"] = best(lambda: con.execute(
                f"COPY orders TO '{out['duckdb']}' (FORMAT parquet, COMPRESSION {codec}{opt})"), args.repeat)
            for w in ("sluice", "sluice+fsync", "pyarrow", "duckdb"):
                s, size = res[w], out[w].stat().st_size
                ratio_t = s / res["pyarrow"]
                ratio_s = size / out["pyarrow"].stat().st_size
                print(f"{codec:7} {w:12} {s:8.3f} {args.rows / s:12,.0f} {mb / s:8.0f} {size / 1e6:8.1f} "
                      f"{ratio_t:15.2f} {ratio_s:15.2f}")
                if w != "sluice+fsync":
                    sums[w, codec] = checksums(out[w])
        ref = sums["pyarrow", args.codecs.split(",")[0]]
        bad = {k: v for k, v in sums.items() if v != ref}
        print("values:", "identical in every file (count, sums, distinct, row-hash xor)" if not bad else f"DIFFER: {bad} vs {ref}")
        con.close()
        return 1 if bad else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
