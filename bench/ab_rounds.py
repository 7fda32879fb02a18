#!/usr/bin/env python3
"""Two builds of sluice side by side with the floors, one round at a time.

    python3 bench/ab_rounds.py OLD_SLUICE NEW_SLUICE ROUNDS DATABASE

Each round runs the floor, then the old binary, then the new one, for `export --table
orders --partitions 2`, `export --table order_items --partitions 2` (floor:
build/bench/wire_floor) and `run` (floor: build/bench/run_floor), so that both binaries
meet the same load. Prints, per job, the medians of wall seconds and client CPU seconds
(user + sys of the process tree) and the median of each round's wall / floor wall.
MYSQL_* come from the environment (bench/README.md: the planner bench's server)."""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

AS_OF = "2026-11-30 18:00:00"
OUT = "/tmp/ab_rounds_out"


def timed(cmd, env):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    w = time.monotonic() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return w, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    old, new, rounds, db = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    env = dict(os.environ, MYSQL_DATABASE=db)
    export = lambda t: (["build/bench/wire_floor", "--partitions", "2", t],
                        lambda b: [b, "-q", "export", "--table", t, "--partitions", "2", "--output", OUT])
    cases = {"export orders p2": export("orders"), "export order_items p2": export("order_items"),
             "run": (["build/bench/run_floor", "--as-of", AS_OF],
                     lambda b: [b, "-q", "run", "--output", OUT, "--as-of", AS_OF, "--progress", "off"])}
    print("| db | job | floor | old | new | ratio old | ratio new |\n|---|---|---|---|---|---|---|")
    for name, (floor, mk) in cases.items():
        res = {"floor": [], "old": [], "new": []}
        for _ in range(rounds):
            for who, cmd in (("floor", floor), ("old", mk(old)), ("new", mk(new))):
                shutil.rmtree(OUT, ignore_errors=True)
                res[who].append(timed(cmd, env))
        med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in res.items()}
        ratio = {k: statistics.median(x[0] / f[0] for x, f in zip(res[k], res["floor"])) for k in ("old", "new")}
        print(f"| {db} | {name} | {med['floor'][0]:.2f} / {med['floor'][1]:.2f} | {med['old'][0]:.2f} / "
              f"{med['old'][1]:.2f} | {med['new'][0]:.2f} / {med['new'][1]:.2f} | {ratio['old']:.2f} | "
              f"{ratio['new']:.2f} |", flush=True)
    shutil.rmtree(OUT, ignore_errors=True)


if __name__ == "__main__":
    main()
