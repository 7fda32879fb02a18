#!/usr/bin/env python3
"""sluice side by side with what users would pick instead (issue 13). On the same seeded
MariaDB and the same as-of, in one run, each job computes the six datasets of `sluice run`
and writes them as snappy Parquet:

  sluice   build/sluice run (three connections, one snapshot)
  spark    bench/compare_spark.py: the original design, PySpark local[2] reading the six
           tables through JDBC (MariaDB's driver from Maven Central, jdbc:mysql: URL with
           permitMysqlScheme) with partitioned reads, the datasets in Spark SQL
  duckdb   bench/run_duckdb.py: DuckDB's mysql extension (the duckdb-extension-mysql wheel of
           DuckDB's version, loaded as mysql_scanner.duckdb_extension), the datasets in SQL
  polars   bench/compare_polars.py: ConnectorX partitioned reads into Polars, the datasets
           as Polars expressions

Each job is one process tree, sampled every 20 ms through /proc: wall time around it, CPU
time (user+sys of every process of the tree, the JVM that PySpark starts included) and peak
RSS (the largest sum of the tree's resident sets at one sample). Then each peer's six
datasets are compared with sluice's, value for value (doubles to 1e-9 relative).

  python3 bench/compare.py [--scale 1] [--scale 5] [--peers sluice,spark,duckdb,polars]

The peers are installed on first use into var/bench/compare-venv/ (PyPI: pyspark, duckdb and
duckdb-extension-mysql of the same version, polars, connectorx, pyarrow) and
var/bench/jars/ (Maven Central: org.mariadb.jdbc:mariadb-java-client, through `mvn`).
Server: scripts/mariadb-local.sh with SLUICE_VAR=var/bench, SLUICE_MARIADB_PORT=3324
(override either in the environment); data seeded as bench/run_bench.py seeds it."""
import argparse
import decimal
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_bench  # noqa: E402  (server_env, ensure_seeded, sql: the same database as the run bench)

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "var" / "bench" / "compare-venv"
JARS = ROOT / "var" / "bench" / "jars"
DUCKDB_VERSION = "1.5.5"
PIP = ["pyspark==4.3.0", f"duckdb=={DUCKDB_VERSION}", f"duckdb-extension-mysql=={DUCKDB_VERSION}", "polars==2.1.0",
       "connectorx==0.4.6", "pyarrow"]
JDBC = ("org.mariadb.jdbc", "mariadb-java-client", "3.5.6")
AS_OF = run_bench.AS_OF
DATASETS = ("inventory_analytics", "order_analytics", "hourly_orders", "warehouse_utilization", "product_turnover",
            "customer_segments")
KEYS = {"inventory_analytics": "inventory_id", "order_analytics": "customer_id", "hourly_orders": "hour",
        "warehouse_utilization": "warehouse_id", "product_turnover": "product_id",
        "customer_segments": "frequency_segment"}


def install():
    py = VENV / "bin" / "python"
    stamp = VENV / ".pins"
    if not py.exists() or not stamp.exists() or stamp.read_text() != "\n".join(PIP):
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *PIP], check=True)
        stamp.write_text("\n".join(PIP))
    jar = JARS / f"{JDBC[1]}-{JDBC[2]}.jar"
    if not jar.exists():
        JARS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mvn", "-q", "dependency:copy", f"-Dartifact={':'.join(JDBC)}", f"-DoutputDirectory={JARS}"],
                       check=True, cwd=tempfile.gettempdir())
    return py, jar


# -- process-tree measurement -------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def proc_tree(root):
    """pids of root and all its descendants (from /proc/*/stat parent links)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def sample(pid):
    """(cpu seconds of the process itself, RSS bytes) or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        with open(f"/proc/{pid}/statm") as f:
            rss = int(f.read().split()[1]) * PAGE
    except OSError:
        return None
    fields = st[st.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK, rss


def timed_tree(cmd, env, log):
    """Runs cmd; returns (wall s, cpu s of the whole tree, peak tree RSS MiB, stdout). CPU is the
    larger of the root's wait4 account (itself and all the descendants reaped below it) and the
    sum of the last sample of each process's own user+sys (a process's last < 20 ms unseen)."""
    with open(log, "w") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        cpu, peak = {}, 0
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                p.returncode = os.waitstatus_to_exitcode(status)
                break
            total = 0
            for pid in proc_tree(p.pid):
                s = sample(pid)
                if s:
                    cpu[pid] = s[0]
                    total += s[1]
            peak = max(peak, total)
            time.sleep(0.02)
        out = p.stdout.read()
        wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} {cmd[1] if len(cmd) > 1 else ''} exited {p.returncode}; see {log}")
    # wait4's account is exact for the root and every descendant reaped below it; the samples
    # also see processes that no one reaps (a JVM left to exit on its own)
    return wall, max(sum(cpu.values()), ru.ru_utime + ru.ru_stime), peak / 2**20, out


# -- comparison -----------------------------------------------------------------------------

def load(duck, path):
    """A dataset as {key: row dict}, from a Parquet file or folder, through DuckDB."""
    pattern = f"{path}/**/*.parquet" if path.is_dir() else str(path)
    rel = duck.sql(f"SELECT * FROM read_parquet('{pattern}')")
    cols = rel.columns
    return cols, rel.fetchall()


def norm(v):
    if isinstance(v, decimal.Decimal):
        return v if v != v.to_integral_value() or v.as_tuple().exponent < 0 else int(v)
    if hasattr(v, "tzinfo") and getattr(v, "tzinfo", None) is not None:
        return v.replace(tzinfo=None) if v.utcoffset() is None else (v - v.utcoffset()).replace(tzinfo=None)
    if isinstance(v, bytes):
        return v.decode()
    return v


def same(a, b):
    a, b = norm(a), norm(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
        return decimal.Decimal(a) == decimal.Decimal(b)
    return a == b


def compare(duck, sluice_dir, peer_dir, peer):
    """{dataset: 'equal' | what differs} for one peer against sluice's output."""
    res = {}
    for ds in DATASETS:
        s_cols, s_rows = load(duck, next((sluice_dir / ds).glob("*.parquet")))
        cands = list(peer_dir.glob(f"{ds}.*parquet")) or [peer_dir / ds]
        p_cols, p_rows = load(duck, cands[0])
        key = KEYS[ds]
        missing = [c for c in s_cols if c not in p_cols and c != "run_id"]
        if missing:
            res[ds] = f"columns missing: {missing}"
            continue
        si, pi = s_cols.index(key), p_cols.index(key)
        sm = {norm(r[si]): r for r in s_rows}
        pm = {norm(r[pi]): r for r in p_rows}
        diffs = []
        if len(s_rows) != len(p_rows) or sm.keys() != pm.keys():
            diffs.append(f"rows {len(s_rows)} vs {len(p_rows)}, keys only in sluice "
                         f"{list(sm.keys() - pm.keys())[:3]}, only in {peer} {list(pm.keys() - sm.keys())[:3]}")
        per_col = {}
        for k in sm.keys() & pm.keys():
            for c in s_cols:
                if c in ("run_id",):
                    continue
                a, b = sm[k][s_cols.index(c)], pm[k][p_cols.index(c)]
                if not same(a, b):
                    n, ex = per_col.get(c, (0, None))
                    per_col[c] = (n + 1, ex or (k, a, b))
        for c, (n, (k, a, b)) in per_col.items():
            diffs.append(f"{c}: {n} rows differ (e.g. {key}={k}: sluice {a!r}, {peer} {b!r})")
        res[ds] = "equal" if not diffs else "; ".join(diffs)
    return res


# -- the run --------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, action="append")
    ap.add_argument("--peers", default="sluice,spark,duckdb,polars")
    ap.add_argument("--keep", action="store_true", help="keep the outputs under var/bench/compare-*")
    a = ap.parse_args()
    scales = [int(s) if s == int(s) else s for s in (a.scale or [1])]
    peers = a.peers.split(",")
    subprocess.run(["make", "-s", "all"], cwd=ROOT, check=True)
    py, jar = install()
    env = run_bench.server_env()
    import duckdb  # noqa: E402  (the test venv's DuckDB reads every output for the comparison)
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    load_avg = os.getloadavg()
    print(f"sluice vs the peers, as-of {AS_OF}; {os.cpu_count()} CPUs; load average at start "
          f"{load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}")
    for scale in scales:
        db, _ = run_bench.ensure_seeded(env, scale, False)
        e = dict(env, MYSQL_DATABASE=db, SLUICE_JDBC_JAR=str(jar), SPARK_LOCAL_IP="127.0.0.1",
                 PYSPARK_PYTHON=str(py), SLUICE_DUCKDB_EXT_DIR=str(VENV))
        e.pop("SPARK_HOME", None)
        total = sum(int(run_bench.sql(e, db, f"SELECT COUNT(*) FROM {t}")) for t in
                    ("customers", "products", "warehouses", "inventory", "orders", "order_items"))
        work = Path(tempfile.mkdtemp(prefix=f"compare-s{scale}-", dir=ROOT / "var" / "bench"))
        jobs = {
            "sluice": ["build/sluice", "run", "--output", str(work / "sluice"), "--as-of", AS_OF, "--progress", "off"],
            "spark": [str(py), "bench/compare_spark.py", str(work / "spark"), AS_OF],
            "duckdb": [str(py), "bench/run_duckdb.py", str(work / "duckdb"), AS_OF],
            "polars": [str(py), "bench/compare_polars.py", str(work / "polars"), AS_OF],
        }
        run_bench.timed(["build/sluice", "run", "--output", str(work / "warm"), "--as-of", AS_OF, "--progress", "off"],
                        e)  # warms the server's buffer pool for everyone
        res = {}
        for name in peers:
            try:
                res[name] = timed_tree(jobs[name], e, work / f"{name}.log")
            except RuntimeError as err:
                res[name] = str(err)
        print(f"\nscale {scale}: {total:,} source rows (database {db})")
        print(f"{'job':8} {'wall s':>8} {'CPU s':>8} {'peak RSS MiB':>13} {'wall / sluice':>14} "
              f"{'CPU / sluice':>13} {'RSS / sluice':>13}  datasets equal to sluice's")
        s = res.get("sluice")
        sluice_dir = work / "sluice" / "business_insights" / AS_OF[:10]
        for name in peers:
            r = res[name]
            if isinstance(r, str):
                print(f"{name:8} FAILED: {r}")
                continue
            w, c, m, _ = r
            ratio = (f"{w / s[0]:14.2f} {c / s[1]:13.2f} {m / s[2]:13.2f}" if isinstance(s, tuple)
                     else f"{'':14} {'':13} {'':13}")
            verdict = ""
            if name != "sluice" and isinstance(s, tuple):
                cmp = compare(duck, sluice_dir, work / name, name)
                bad = {k: v for k, v in cmp.items() if v != "equal"}
                verdict = "all six equal" if not bad else "DIFFER: " + " | ".join(f"{k}: {v}" for k, v in bad.items())
            print(f"{name:8} {w:8.2f} {c:8.2f} {m:13.1f} {ratio}  {verdict}")
            if name != "sluice" and r[3].strip():
                print(f"         {r[3].strip().splitlines()[-1][:300]}")
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
