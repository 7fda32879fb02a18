#!/usr/bin/env python3
"""Benchmark of issue 13, in one run on one seeded MariaDB, interleaved:

  plan      the planner's queries and time for orders and order_items (from the manifests)
  export    `sluice export --table T --partitions P` against build/bench/wire_floor (MIN/MAX
            plan, the same connections, SELECT * ... WHERE key BETWEEN lo AND hi, binary
            protocol, rows dropped), for T in orders, order_items and P in 2, 4: each round
            runs the floor, then sluice, for every (scale, table, P); the ratio of a round is
            sluice over the floor run just before it
  run       `sluice run` against build/bench/run_floor (the same six reads, on the same connections)
  rss       peak RSS of `sluice run` and of `sluice export` (every table, default partitions)
            at the default --memory-limit

Wall, CPU (user+sys of the client) and peak RSS from GNU time for each process. The
server runs on the same machine: its CPU is not in the client's figures, but is read from
/proc for mariadbd (utime+stime, in clock ticks) before and after each process. With the
server and the client on few cores, the wall time follows their CPU together, so the
tables also give "CPU ratio": (server + client CPU of sluice) / (the same of the floor),
median of the rounds, far steadier from round to round on a noisy machine than the wall
time; the targets stay those of the wall time.

  python3 bench/planner_bench.py [--scales 1,5] [--rss-scales 1,5,20] [--repeat 3]

Databases bench_s<S> of a MariaDB started by scripts/mariadb-local.sh (SLUICE_VAR, default
var/bench; SLUICE_MARIADB_PORT, default 3417), seeded with `sluice seed --scale S --anchor
'2026-12-01 00:00:00'` when they do not hold scale S yet."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import sh, sql  # noqa: E402  (the same server helpers as the run bench)
import run_bench  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ANCHOR = "2026-12-01 00:00:00"
AS_OF = "2026-11-30 18:00:00"
DATE = "2026-12-01"


def server_env():
    return run_bench.server_env(port="3417")  # the run bench's server settings, on a port of its own


def ensure_seeded(env, scale):
    db = f"bench_s{scale}"
    want = round(1_000_000 * scale)
    sql(env, None, f"CREATE DATABASE IF NOT EXISTS {db}")
    try:
        have = int(sql(env, db, "SELECT COUNT(*) FROM orders") or 0)
    except subprocess.CalledProcessError:
        have = 0
    if have != want:
        print(f"seeding scale {scale} into {db} ...", file=sys.stderr)
        sh(["build/sluice", "-q", "seed", "--scale", str(scale), "--anchor", ANCHOR, "--replace"],
           env=dict(env, MYSQL_DATABASE=db))
    return db


def timed(cmd, env):
    """(wall s, cpu s, peak RSS MiB, stdout) of one process under GNU time."""
    with tempfile.NamedTemporaryFile("r") as t:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", t.name, *cmd], cwd=ROOT, env=env,
                           text=True, capture_output=True)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
        w, u, s, m = t.read().split()[-4:]
    return float(w), float(u) + float(s), int(m) / 1024, p.stdout


def server_pid(env):
    """The pid of the bench's mariadbd (the one listening on SLUICE_MARIADB_PORT)."""
    port = env["SLUICE_MARIADB_PORT"]
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            args = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"mariadbd") and f"--port={port}".encode() in args:
            return int(d.name)
    raise SystemExit(f"no mariadbd listening on port {port}")


def server_cpu(pid):
    """The server's user+sys CPU seconds so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_srv(cmd, env, pid):
    """timed() and the server's CPU seconds over the same process."""
    s0 = server_cpu(pid)
    out = timed(cmd, env)
    return (*out, server_cpu(pid) - s0)


def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def export_once(env, db, table, parts, out, pid):
    subprocess.run(["rm", "-rf", str(out)], check=True)
    w, c, r, _, srv = timed_srv(["build/sluice", "-q", "export", "--table", table, "--partitions", str(parts),
                                 "--output", str(out), "--date", DATE, "--progress", "off"],
                                dict(env, MYSQL_DATABASE=db), pid)
    m = json.loads((out / "raw" / table / DATE / "_SUCCESS").read_text())
    return w, c, r, m, srv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1,5")
    ap.add_argument("--rss-scales", default="1,5,20")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--parts", default="plan,export,run,rss",
                    help="which tables to make: plan, export, run, rss (default all)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    sh(["make", "-s", "build/sluice", "bench"])
    env = server_env()
    scales = [s for s in args.scales.split(",") if s]
    rss_scales = [s for s in args.rss_scales.split(",") if s]
    dbs = {s: ensure_seeded(env, float(s) if "." in s else int(s)) for s in sorted(set(scales + rss_scales))}
    tmp = Path(tempfile.mkdtemp(prefix="planner-bench-"))
    rows = {s: {t: int(sql(env, dbs[s], f"SELECT COUNT(*) FROM {t}")) for t in ("orders", "order_items")}
            for s in scales}
    print(f"machine: {os.cpu_count()} cores; load average before: {loadavg()}")

    if "plan" in parts:
        plan_table(env, dbs, scales, rss_scales, tmp)
    if "export" in parts:
        export_table(env, dbs, scales, rows, tmp, args.repeat)
    if "run" in parts:
        run_table(env, dbs, scales, tmp, args.repeat)
    if "rss" in parts:
        rss_table(env, dbs, rss_scales, tmp)
    print(f"\nload average after: {loadavg()}")


def plan_table(env, dbs, scales, rss_scales, tmp):
    # planning alone: `sluice plan` (no row read) against what the old planner ran
    print("\n## planning order_items for 4 connections\n")
    print("| scale | rows | sluice plan: chunks / queries / plan ms / process wall s | old plan (COUNT(*) + 3 OFFSET walks) s |")
    print("|---|---|---|---|")
    for s in rss_scales:
        e = dict(env, MYSQL_DATABASE=dbs[s])
        w, _, _, out = timed(["build/sluice", "plan", "export", "--table", "order_items", "--partitions", "4",
                              "--output", str(tmp / "plan"), "--json"], e)
        pl = json.loads(out.splitlines()[0])["export"]["tables"][0]["plan"]
        n = int(sql(env, dbs[s], "SELECT COUNT(*) FROM order_items"))
        old = "not run (minutes)"
        if s in scales:
            t0 = time.monotonic()
            sql(env, dbs[s], "SELECT COUNT(*) FROM order_items WHERE order_item_id IS NOT NULL")
            for i in (1, 2, 3):
                sql(env, dbs[s], f"SELECT order_item_id FROM order_items WHERE order_item_id IS NOT NULL "
                                 f"ORDER BY order_item_id LIMIT 1 OFFSET {n * i // 4}")
            old = f"{time.monotonic() - t0:.2f}"
        print(f"| {s} | {n:,} | {len(pl['chunks'])} / {pl['probes']} / {1000 * pl['seconds']:.1f} / {w:.2f} | {old} |",
              flush=True)



def export_table(env, dbs, scales, rows, tmp, repeat):
    # warm-up: every table once through the floor
    for s in scales:
        timed(["build/bench/wire_floor", "--partitions", "2", "order_items", "orders"], dict(env, MYSQL_DATABASE=dbs[s]))

    pid = server_pid(env)
    # (scale, table, parts) -> list of (floor wall, floor cpu, sluice wall, cpu, rss, plan, CPU ratio)
    res = {}
    for rnd in range(repeat):
        for s in scales:
            for t in ("order_items", "orders"):
                for p in (2, 4):
                    fw, fc, fr, fout, fsrv = timed_srv(["build/bench/wire_floor", "--partitions", str(p), t],
                                                       dict(env, MYSQL_DATABASE=dbs[s]), pid)
                    frows = json.loads(fout)["rows"]
                    w, c, r, m, srv = export_once(env, dbs[s], t, p, tmp / "out", pid)
                    assert frows == m["total_rows"] == rows[s][t], (frows, m["total_rows"], rows[s][t])
                    cr = (srv + c) / (fsrv + fc)
                    res.setdefault((s, t, p), []).append((fw, fc, w, c, r, m["plan"], cr))
                    print(f"round {rnd + 1} scale {s} {t:11s} P={p}: floor {fw:6.2f} s, sluice {w:6.2f} s, "
                          f"ratio {w / fw:5.2f}, server CPU {fsrv:5.2f} / {srv:5.2f} s, CPU ratio {cr:5.2f}  "
                          f"(load {loadavg()})", flush=True)

    print("\n## sluice export vs the wire floor (median of the rounds; ratio = median of per-round ratios)\n")
    print("| scale | table | rows | partitions | plan: chunks / queries / ms | floor wall s | floor CPU s "
          "| sluice wall s | sluice CPU s | sluice RSS MiB | ratio | target <= 1.10 | CPU ratio (server + client) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (s, t, p), v in res.items():
        ratios = [x[2] / x[0] for x in v]
        plan = v[-1][5]
        ratio = statistics.median(ratios)
        print(f"| {s} | {t} | {rows[s][t]:,} | {p} | {len(plan['chunks'])} / {plan['probes']} / "
              f"{1000 * statistics.median(x[5]['seconds'] for x in v):.1f} | "
              f"{statistics.median(x[0] for x in v):.2f} | {statistics.median(x[1] for x in v):.2f} | "
              f"{statistics.median(x[2] for x in v):.2f} | {statistics.median(x[3] for x in v):.2f} | "
              f"{max(x[4] for x in v):.0f} | {ratio:.2f} ({', '.join(f'{q:.2f}' for q in ratios)}) | "
              f"{'met' if ratio <= 1.10 else 'MISSED'} | {statistics.median(x[6] for x in v):.2f} |")



def run_table(env, dbs, scales, tmp, repeat):
    # sluice run vs its floor
    print("\n## sluice run vs run_floor (floor: the same reads on the same 3 connections, the window's "
          "items beside the orders; floor two: every item after the orders on 2 connections, as sluice "
          "read before)\n")
    print("| scale | floor wall s | floor two wall s | sluice wall s | sluice CPU s | sluice RSS MiB | ratio to floor "
          "(per round) | target <= 1.10 | ratio to floor two | CPU ratio (server + client) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    pid = server_pid(env)
    for s in scales:
        e = dict(env, MYSQL_DATABASE=dbs[s])
        floor = ["build/bench/run_floor", "--as-of", AS_OF]
        timed(floor, e)
        v = []
        for rnd in range(repeat):
            fw, fc, _, _, fsrv = timed_srv(floor, e, pid)
            f2, _, _, _ = timed(floor + ["--layout", "two"], e)
            subprocess.run(["rm", "-rf", str(tmp / "run")], check=True)
            w, c, r, _, srv = timed_srv(["build/sluice", "-q", "run", "--output", str(tmp / "run"), "--as-of", AS_OF,
                                         "--progress", "off"], e, pid)
            v.append((fw, w, c, r, f2, (srv + c) / (fsrv + fc)))
            print(f"round {rnd + 1} scale {s} run: floor {fw:.2f} s, floor two {f2:.2f} s, sluice {w:.2f} s, "
                  f"server CPU {fsrv:.2f} / {srv:.2f} s, CPU ratio {v[-1][5]:.2f} (load {loadavg()})", flush=True)
        ratios = [x[1] / x[0] for x in v]
        print(f"| {s} | {statistics.median(x[0] for x in v):.2f} | {statistics.median(x[4] for x in v):.2f} | "
              f"{statistics.median(x[1] for x in v):.2f} | "
              f"{statistics.median(x[2] for x in v):.2f} | {max(x[3] for x in v):.0f} | "
              f"{statistics.median(ratios):.2f} ({', '.join(f'{q:.2f}' for q in ratios)}) | "
              f"{'met' if statistics.median(ratios) <= 1.10 else 'MISSED'} | "
              f"{statistics.median(x[1] / x[4] for x in v):.2f} | {statistics.median(x[5] for x in v):.2f} |",
              flush=True)



def rss_table(env, dbs, rss_scales, tmp):
    # peak RSS at the default limit
    print("\n## peak RSS at the default --memory-limit (256M; bound: 256 + 32 MiB)\n")
    print("| scale | customers | run wall s | run RSS MiB | export (all tables, 2 partitions) wall s | export RSS MiB |")
    print("|---|---|---|---|---|---|")
    for s in rss_scales:
        e = dict(env, MYSQL_DATABASE=dbs[s])
        subprocess.run(["rm", "-rf", str(tmp / "run")], check=True)
        w, _, r, _ = timed(["build/sluice", "-q", "run", "--output", str(tmp / "run"), "--as-of", AS_OF,
                            "--progress", "off"], e)
        subprocess.run(["rm", "-rf", str(tmp / "ex")], check=True)
        ew, _, er, _ = timed(["build/sluice", "-q", "export", "--partitions", "2", "--output", str(tmp / "ex"),
                              "--date", DATE, "--progress", "off"], e)
        subprocess.run(["rm", "-rf", str(tmp / "ex"), str(tmp / "run")], check=True)
        n_cust = sql(env, dbs[s], "SELECT COUNT(*) FROM customers")
        print(f"| {s} | {int(n_cust):,} | {w:.2f} | {r:.0f} | {ew:.2f} | {er:.0f} |", flush=True)


if __name__ == "__main__":
    main()
