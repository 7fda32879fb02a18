#!/usr/bin/env python3
"""Any command lines side by side, one round at a time (the loop of ab_rounds.py).

    python3 bench/ab_cmds.py CASES.json ROUNDS

CASES.json is a list of [name, argv, extra environment]; each round runs them in that
order, deleting the folder after the command's --output (if any) before and after each
run. Prints, per case, the median wall seconds, the median client CPU seconds (user +
sys of the process tree) and the median of each round's wall over the first case's
(put the floor first). MYSQL_* come from the environment (bench/README.md: the planner
bench's server). Example, the chunk-boundary series of bench/README.md:

    [["floor", ["build/bench/wire_floor", "--partitions", "2", "orders"], {}],
     ["new", ["build/sluice", "-q", "export", "--table", "orders", "--partitions", "2",
              "--output", "/tmp/o1"], {}]]"""
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time


def run(cmd, env, out):
    shutil.rmtree(out, ignore_errors=True)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    w = time.monotonic() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(out, ignore_errors=True)
    return w, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    rounds = int(sys.argv[2])
    res = {}
    for _ in range(rounds):
        for name, cmd, extra in cases:
            out = cmd[cmd.index("--output") + 1] if "--output" in cmd else "/nonexistent/none"
            res.setdefault(name, []).append(run(cmd, dict(os.environ, **extra), out))
    first = cases[0][0]
    print("| case | wall s | client CPU s | ratio to %s |\n|---|---|---|---|" % first)
    for name, v in res.items():
        print("| %s | %.3f | %.3f | %.3f |" % (name, statistics.median(w for w, _ in v),
                                               statistics.median(c for _, c in v),
                                               statistics.median(a[0] / b[0] for a, b in zip(v, res[first]))))


if __name__ == "__main__":
    main()
