#!/usr/bin/env python3
"""Benchmark of `sluice run` (issue 5; target: within 1.5x of the wire floor, faster than
DuckDB). In one run, on the same seeded database of a local MariaDB:

  sluice    build/sluice run --output TMP --as-of AS_OF (the six datasets, snappy)
  floor     build/bench/run_floor: the same six SELECTs of the columns sluice reads, on
            the same three connections (the sales window's items beside the orders),
            binary protocol, rows discarded (bench/run_floor.c)
  duckdb    bench/run_duckdb.py: DuckDB's mysql extension reads the same columns once,
            SQL computes the six datasets, COPY TO writes snappy Parquet

each timed by /usr/bin/time -v (wall, user+sys CPU of the client process, peak RSS),
best wall time of --repeat runs. The server runs on the same 2 cores: its CPU is not in
the client's figures but competes with them.

  python3 bench/run_bench.py [--scale 1] [--scale5] [--repeat 3] [--reseed] [--no-duckdb]

Server: scripts/mariadb-local.sh with SLUICE_VAR=var/bench, SLUICE_MARIADB_PORT=3324
(override either in the environment). DuckDB runs in its own virtual environment,
var/bench/duckdb/, made on first use (pip: duckdb and duckdb-ext-mysql, whose wheel holds
the mysql extension for that DuckDB version: INSTALL mysql needs DuckDB's extension site,
which may be unreachable); when neither works the DuckDB column says why and is skipped."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANCHOR = "2026-12-01 00:00:00"
AS_OF = "2026-11-30 18:00:00"
DUCKDB_PIN = ["duckdb==1.4.4", "duckdb-ext-mysql==1.4.4.20260205"]


def sh(cmd, env=None, **kw):
    return subprocess.run(cmd, cwd=ROOT, env=env, check=True, text=True, capture_output=True, **kw)


def server_env(port="3324"):
    """The bench server (started if needed) and its client settings; SLUICE_VAR and
    SLUICE_MARIADB_PORT from the environment win over var/bench and port."""
    env = dict(os.environ)
    env.setdefault("SLUICE_VAR", "var/bench")
    env.setdefault("SLUICE_MARIADB_PORT", port)
    # a server without TLS, so that every client (sluice, the floors, the peers) reads in
    # plaintext alike: with it, sluice's PREFERRED mode would encrypt and the floors not
    # (TLS took about 10% of sluice run's client CPU at scale 5). A server already running
    # keeps its setting: `scripts/mariadb-local.sh restart` with SLUICE_MARIADB_TLS=0.
    env.setdefault("SLUICE_MARIADB_TLS", "0")
    # the tables of scale 5 stay in memory: with the script's default 1 GiB pool every
    # reader waited on the disk (bench/compare.py at scale 5, 2026-12-06: sluice 7.0 s and
    # Polars 17.5 s with 1 GiB, 4.9 s and 6.1 s with 6 GiB)
    env.setdefault("SLUICE_MARIADB_BUFFER_POOL", "6G")
    sh(["bash", "scripts/mariadb-local.sh", "start"], env=env)
    for line in sh(["bash", "scripts/mariadb-local.sh", "env"], env=env).stdout.splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    return env


def sql(env, db, query):
    """A query through the mariadb client on the socket (MYSQL_HOST unset: the client honours it)."""
    e = {k: v for k, v in env.items() if k not in ("MYSQL_HOST", "MYSQL_PORT")}
    e["MYSQL_PWD"] = env["MYSQL_PASSWORD"]
    cmd = ["mariadb", "--no-defaults", "--protocol=socket", f"--socket={env['MYSQL_SOCKET']}",
           f"-u{env['MYSQL_USER']}", "-N", "-e", query] + ([db] if db else [])
    return subprocess.run(cmd, env=e, check=True, text=True, capture_output=True).stdout.strip()


def ensure_seeded(env, scale, reseed):
    db = "bench_run_s" + str(scale).replace(".", "_")
    want = round(1_000_000 * scale)
    have = sql(env, None, f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{db}' "
                          f"AND table_name = 'orders'")
    if not reseed and have == "1" and sql(env, db, "SELECT COUNT(*) FROM orders") == str(want):
        return db, None
    sql(env, None, f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}")
    t0 = time.monotonic()
    sh(["build/sluice", "-q", "seed", "--scale", str(scale), "--anchor", ANCHOR], env=dict(env, MYSQL_DATABASE=db))
    return db, time.monotonic() - t0


def timed(cmd, env):
    """Runs cmd under /usr/bin/time -v: (wall s, user+sys s, peak RSS MiB, stdout); the
    wall time is measured around the process, CPU and RSS are time's."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-v", "-o", tf.name, *cmd], cwd=ROOT, env=env, text=True,
                           capture_output=True)
        secs = time.monotonic() - t0  # finer than time's m:ss.cc
        t = tf.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} exited {p.returncode}: {p.stderr[-2000:]}{p.stdout[-2000:]}")

    def field(name):
        return re.search(rf"{re.escape(name)}: (.*)", t).group(1).strip()

    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return secs, cpu, int(field("Maximum resident set size (kbytes)")) / 1024, p.stdout


def duckdb_python():
    """The DuckDB environment's python, made on first use; (path, None) or (None, why)."""
    venv = ROOT / "var" / "bench" / "duckdb"
    py = venv / "bin" / "python"
    if py.exists():
        return py, None
    try:
        sh([sys.executable, "-m", "venv", str(venv)])
        sh([str(venv / "bin" / "pip"), "install", "-q", *DUCKDB_PIN], timeout=600)
        return py, None
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        shutil.rmtree(venv, ignore_errors=True)
        return None, f"cannot install {' '.join(DUCKDB_PIN)}: {getattr(e, 'stderr', '') or e}"[:300]


def bench_scale(env, scale, repeat, reseed, use_duckdb):
    db, seed_s = ensure_seeded(env, scale, reseed)
    env = dict(env, MYSQL_DATABASE=db)
    counts = {t: int(sql(env, db, f"SELECT COUNT(*) FROM {t}")) for t in
              ("customers", "products", "warehouses", "inventory", "orders", "order_items")}
    work = Path(tempfile.mkdtemp(prefix="sluice-bench-", dir=ROOT / "var" / "bench"))
    py, why = duckdb_python() if use_duckdb else (None, "--no-duckdb")
    best = {}
    runs = {"floor": lambda i: ["build/bench/run_floor", "--as-of", AS_OF],
            "sluice": lambda i: ["build/sluice", "run", "--output", str(work / f"sluice-{i}"), "--as-of", AS_OF,
                                 "--progress", "off"]}
    if py:
        runs["duckdb"] = lambda i: [str(py), "bench/run_duckdb.py", str(work / f"duckdb-{i}"), AS_OF]
    timed(runs["floor"](0), env)  # warm the buffer pool
    outs = {}
    for i in range(repeat):
        for name, cmd in runs.items():
            try:
                r = timed(cmd(i), env)
            except RuntimeError as e:
                if name != "duckdb":
                    raise
                why = str(e).replace(env.get("MYSQL_PASSWORD", "\0"), "***")[:300]
                runs = {k: v for k, v in runs.items() if k != "duckdb"}
                break
            if name not in best or r[0] < best[name][0]:
                best[name] = r[:3]
                outs[name] = r[3]
    # the same job: DuckDB's datasets have sluice's row counts
    same = None
    if "duckdb" in best:
        d = json.loads(outs["duckdb"].strip().splitlines()[-1])
        m = json.loads((work / "sluice-0" / "business_insights" / AS_OF[:10] / "_SUCCESS").read_text())
        same = {k: (v["rows"], d["rows"][k]) for k, v in m["datasets"].items()}
        best["duckdb_info"] = d
    shutil.rmtree(work, ignore_errors=True)
    return {"scale": scale, "db": db, "seed_seconds": seed_s, "rows": counts, "best": best, "duckdb_why": why,
            "same_rows": same, "floor_out": outs.get("floor", "")}


def report(r):
    b = r["best"]
    total = sum(r["rows"].values())
    print(f"\nscale {r['scale']}: {total:,} source rows ({', '.join(f'{k} {v:,}' for k, v in r['rows'].items())})")
    print(f"{'':8} {'wall s':>8} {'cpu s':>8} {'peak RSS MiB':>13} {'rows/s':>12}")
    for name in ("sluice", "floor", "duckdb"):
        if name in b:
            w, c, m = b[name]
            print(f"{name:8} {w:8.2f} {c:8.2f} {m:13.1f} {total / w:12,.0f}")
        else:
            print(f"{name:8} skipped: {r['duckdb_why']}")
    s = b["sluice"][0]
    print(f"sluice / floor  = {s / b['floor'][0]:.2f}  (target <= 1.5)")
    if "duckdb" in b:
        d = b["duckdb_info"]
        inproc = d["read_seconds"] + d["compute_write_seconds"]
        print(f"sluice / DuckDB = {s / b['duckdb'][0]:.2f}  (target < 1); "
              f"against DuckDB's in-process time alone ({inproc:.2f} s, without Python's start and import): "
              f"{s / inproc:.2f}")
        print(f"  DuckDB {d['duckdb']}, {d['threads']} threads: read {d['read_seconds']} s, "
              f"compute and write {d['compute_write_seconds']} s; mysql extension from {d['extension']}")
        diff = {k: v for k, v in r["same_rows"].items() if v[0] != v[1]}
        print("DuckDB's datasets have sluice's row counts" if not diff else f"ROW COUNTS DIFFER: {diff}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, action="append")
    ap.add_argument("--scale5", action="store_true", help="also scale 5")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reseed", action="store_true")
    ap.add_argument("--no-duckdb", action="store_true")
    a = ap.parse_args()
    scales = a.scale or [1]
    scales = [int(s) if s == int(s) else s for s in scales] + ([5] if a.scale5 else [])
    sh(["make", "-s", "all", "bench"])
    env = server_env()
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    print(f"sluice run benchmark, as-of {AS_OF}, data seeded with --anchor '{ANCHOR}'; "
          f"{os.cpu_count()} CPUs; best of {a.repeat}")
    for s in scales:
        report(bench_scale(env, s, a.repeat, a.reseed, not a.no_duckdb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
