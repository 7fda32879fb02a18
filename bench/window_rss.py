#!/usr/bin/env python3
"""Peak RSS of `sluice run` with a sales window of sparse order ids (issue 13: memory
bounded by --memory-limit whatever the data). The window's order ids are kept per range of
65,536 ids (src/transform/tf_idset.c): a bit an id when they are dense, but about 70 bytes
when each is alone in its range, as with ids spread wide (snowflake-like keys). This bench
makes a database of N orders inside the sales window with ids 100,003 apart, two items
each, and a token rest (20 products, 100 customers), then runs `sluice run` at each limit
under GNU time, beside another binary with --baseline, and says whether the peak stays
under the limit plus the README's 32 MiB.

  python3 bench/window_rss.py [--orders 2000000] [--limits 48M,256M] [--baseline BIN]

The database bench_window_<N> of the planner bench's MariaDB (scripts/mariadb-local.sh;
SLUICE_VAR, default var/bench; SLUICE_MARIADB_PORT, default 3417), made once."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import planner_bench  # noqa: E402  (its server, and GNU time around one process)
from products_rss import made_before, rss_table  # noqa: E402
from run_bench import sh, sql  # noqa: E402


def ensure_db(env, n):
    db = f"bench_window_{n}"
    if made_before(env, db, "orders", n):
        return db
    sql(env, db, f"""
        INSERT INTO warehouses (warehouse_id, name, city, region, country) VALUES (1, 'w', 'c', 'r', 'xx');
        INSERT INTO products (product_id, sku, name, category) SELECT seq, CONCAT('SKU-', seq), 'p', 'c'
            FROM seq_1_to_20;
        INSERT INTO customers (customer_id, first_name) SELECT seq, 'n' FROM seq_1_to_100;
        INSERT INTO orders SELECT seq * 100003, 1 + seq % 100, '2026-11-20 10:00:00', 10, 'paid'
            FROM seq_1_to_{n};
        INSERT INTO order_items SELECT seq, (1 + seq DIV 2) * 100003, 1 + seq % 20, 1 + seq % 7, 1.5
            FROM seq_0_to_{2 * n - 1};
        ANALYZE TABLE orders, order_items, customers;""")
    return db


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=2_000_000)
    ap.add_argument("--limits", default="48M,256M")
    ap.add_argument("--baseline", help="another sluice binary, run beside build/sluice")
    args = ap.parse_args()
    sh(["make", "-s", "build/sluice"])
    env = planner_bench.server_env()
    db = ensure_db(env, args.orders)
    print(f"{args.orders:,} window orders with ids 100,003 apart, two items each; "
          f"load average before: {planner_bench.loadavg()}\n")
    rss_table(env, db, args.limits, args.baseline, "window runs", "window_runs")

if __name__ == "__main__":
    main()
