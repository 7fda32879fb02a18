#!/usr/bin/env python3
"""`sluice run` through Spark (deploy/spark/sluice_spark.py on scripts/spark-local.sh's
master and two 1-core workers) beside the single-process run, on the same seeded
database and as-of (issue 12). In one run, each job a separate process, best wall time
of --repeat rounds:

  one process     build/sluice run --output TMP --as-of AS_OF [--shards N]
  spark           spark-submit --master spark://... sluice_spark.py run (the same flags)

and, for the Spark jobs, where the time goes: the script's own timing line (plan plus
the tasks' stage, then the commit) and the sluice tasks' own seconds from the manifest.
The outputs are checked equal (row counts and every dataset's rows, run_id aside).

  python3 bench/spark_bench.py [--scale 5] [--shards 1 2] [--repeat 2]

Server and seeding as bench/run_bench.py (SLUICE_VAR=var/bench, port 3324, database
bench_run_s<scale>); the Spark cluster in var/bench/spark (free ports)."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_bench  # noqa: E402  (server, seeding, timing)

ROOT = run_bench.ROOT
AS_OF = run_bench.AS_OF


def spark_env(env):
    e = dict(env, SLUICE_VAR=str(ROOT / "var" / "bench"), SLUICE_SPARK_PORT=env.get("SLUICE_SPARK_PORT", "7177"),
             SLUICE_SPARK_WEBUI_PORT=env.get("SLUICE_SPARK_WEBUI_PORT", "8190"))
    run_bench.sh(["bash", "scripts/spark-local.sh", "start"], env=e)
    for line in run_bench.sh(["bash", "scripts/spark-local.sh", "env"], env=e).stdout.splitlines():
        k, _, v = line.partition("=")
        e[k] = v
    return e


def datasets(out):
    import pyarrow as pa
    import pyarrow.parquet as pq
    part = next(Path(out).glob("business_insights/*/_SUCCESS")).parent
    m = json.loads((part / "_SUCCESS").read_text())
    t = {}
    for f in m["files"]:
        if f["name"].endswith(".parquet"):
            t.setdefault(f["name"].split("/")[0], []).append(pq.read_table(part / f["name"]).drop(["run_id"]))
    return m, {k: sorted(map(repr, pa.concat_tables(v).to_pylist())) for k, v in t.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=5)
    ap.add_argument("--shards", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    env = run_bench.server_env()
    db, seed_s = run_bench.ensure_seeded(env, a.scale, False)
    env = dict(env, MYSQL_DATABASE=db)
    senv = spark_env(env)
    submit = [os.path.join(senv["SPARK_HOME"], "bin", "spark-submit"), "--master", senv["SPARK_MASTER_URL"],
              "--conf", "spark.ui.showConsoleProgress=false", "--conf", f"spark.sluice.bin={ROOT / 'build' / 'sluice'}",
              str(ROOT / "deploy" / "spark" / "sluice_spark.py")]
    work = Path(tempfile.mkdtemp(prefix="sluice-spark-bench-", dir=ROOT / "var" / "bench"))
    load = os.getloadavg()
    print(f"sluice run through Spark vs one process: scale {a.scale} ({db}), as-of {AS_OF}; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("| shards | one process wall / CPU / RSS | spark-submit wall | in it: Spark context / plan / tasks' stage / "
          "commit | the sluice tasks' own seconds | spark / one process |")
    print("|---|---|---|---|---|---|")
    try:
        for n in a.shards:
            flags = ["run", "--as-of", AS_OF] + (["--shards", str(n)] if n > 1 else [])
            best = {}
            for i in range(a.repeat):
                o1, o2 = work / f"one-{n}-{i}", work / f"spark-{n}-{i}"
                w1, c1, r1, _ = run_bench.timed(["build/sluice", *flags, "--output", str(o1), "--progress", "off"], env)
                w2, _, _, out2 = run_bench.timed([*submit, *flags, "--output", str(o2)], senv)
                m = re.search(r"Spark context ([\d.]+) s, plan ([\d.]+) s, tasks ([\d.]+) s, commit ([\d.]+) s", out2)
                if "one" not in best or w1 < best["one"][0]:
                    best["one"] = (w1, c1, r1, o1)
                if "spark" not in best or w2 < best["spark"][0]:
                    best["spark"] = (w2, m.groups(), o2)
            (w1, c1, r1, o1), (w2, parts, o2) = best["one"], best["spark"]
            m1, d1 = datasets(o1)
            m2, d2 = datasets(o2)
            assert d1 == d2, "the Spark run's datasets differ from the single-process run's"
            own = ", ".join(f"{t['seconds']:.1f}" for t in m2["tasks"])
            print(f"| {n} | {w1:.2f} s / {c1:.2f} s / {r1:.0f} MiB | {w2:.2f} s | {' / '.join(parts)} s | "
                  f"{own} s | {w2 / w1:.2f} |", flush=True)
    finally:
        run_bench.sh(["bash", "scripts/spark-local.sh", "stop"], env=senv)
    print(f"(outputs under {work}; equal datasets checked)")


if __name__ == "__main__":
    main()
