#!/usr/bin/env python3
"""Peak RSS of `sluice run` with many products (issue 13: memory bounded by --memory-limit
whatever the table sizes). The seeded scales hold one product for ten customers, so the
inventory task's products never dominate there; this bench makes a database of N products
(names of about 45 bytes, 50 categories), one inventory row each over 20 warehouses, and a
token orders side (100 customers, 1,000 orders and items; with --sell-all, 20,000 orders whose
items sell every product once, inside the sales window), then runs `sluice run` at each
limit, under GNU time, and says whether the peak stays under the limit plus the README's
32 MiB. --baseline BIN runs another sluice binary beside it, limit by limit (for example
a build of a commit before the product passes).

  python3 bench/products_rss.py [--products 2000000] [--limits 48M,256M] [--baseline BIN] [--sell-all]

The database bench_products_<N> (bench_products_<N>_sold with --sell-all) of the planner bench's MariaDB (scripts/mariadb-local.sh;
SLUICE_VAR, default var/bench; SLUICE_MARIADB_PORT, default 3417), made once."""
import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import planner_bench  # noqa: E402  (its server, and GNU time around one process)
from run_bench import sh, sql  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-12-01 00:00:00"
DATE = "2026-12-01"
OVERHEAD_MIB = 32


def made_before(env, db, table, n):
    """True when db already holds n rows in table (made by an earlier run); otherwise db
    is made anew, empty, with the source schema (init/*.sql), and False."""
    sql(env, None, f"CREATE DATABASE IF NOT EXISTS {db}")
    try:
        have = int(sql(env, db, f"SELECT COUNT(*) FROM {table}") or 0)
    except Exception:
        have = -1
    if have == n:
        return True
    print(f"making {db} ...", file=sys.stderr)
    sql(env, None, f"DROP DATABASE {db}; CREATE DATABASE {db}")
    for f in sorted((ROOT / "init").glob("*.sql")):
        sql(env, db, f.read_text())
    return False


def ensure_db(env, n, sell_all=False):
    db = f"bench_products_{n}" + ("_sold" if sell_all else "")
    if made_before(env, db, "products", n):
        return db
    sql(env, db, f"""
        INSERT INTO warehouses (warehouse_id, name, city, region, country)
            SELECT seq, CONCAT('w', seq), 'c', 'r', 'xx' FROM seq_1_to_20;
        INSERT INTO products (product_id, sku, name, category)
            SELECT seq, CONCAT('SKU-', seq), CONCAT('Product name number ', seq, ' of the long catalogue'),
                   CONCAT('category-', seq % 50) FROM seq_1_to_{n};
        INSERT INTO inventory SELECT seq, seq, 1 + seq % 20, seq % 100, 100, '2026-11-20 10:00:00'
            FROM seq_1_to_{n};
        INSERT INTO customers (customer_id, first_name) SELECT seq, 'n' FROM seq_1_to_100;""")
    if sell_all:  # every product sold once in the window: the units sold per product at their most
        sql(env, db, f"""
        INSERT INTO orders SELECT seq, 1 + seq % 100, '2026-11-20 10:00:00', 10, 'paid' FROM seq_1_to_20000;
        INSERT INTO order_items SELECT seq, 1 + seq % 20000, seq, 1, 1.5 FROM seq_1_to_{n};""")
    else:
        sql(env, db, """
        INSERT INTO orders SELECT seq, 1 + seq % 100, '2026-11-20 10:00:00', 10, 'paid' FROM seq_1_to_1000;
        INSERT INTO order_items SELECT seq, seq, seq * 7, 1, 1.5 FROM seq_1_to_1000;""")
    sql(env, db, "ANALYZE TABLE products, inventory, customers, orders, order_items")
    return db


def mib(text):
    n, unit = float(text[:-1]), text[-1].upper()
    return n * {"K": 1 / 1024, "M": 1, "G": 1024}[unit]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=2_000_000)
    ap.add_argument("--limits", default="48M,256M")
    ap.add_argument("--baseline", help="another sluice binary, run beside build/sluice")
    ap.add_argument("--sell-all", action="store_true", help="items that sell every product (see above)")
    args = ap.parse_args()
    sh(["make", "-s", "build/sluice"])
    env = planner_bench.server_env()
    db = ensure_db(env, args.products, args.sell_all)
    print(f"{args.products:,} products and inventory rows{', each sold once' if args.sell_all else ''}; load average before: {planner_bench.loadavg()}\n")
    rss_table(env, db, args.limits, args.baseline, "product passes", "product_passes")


def rss_table(env, db, limits, baseline, label, field):
    """`sluice run` of db under GNU time at each limit, build/sluice then the baseline
    binary if any, as a table: wall, peak RSS, whether it stays under the limit plus the
    README's overhead, and the manifest's memory[field] under `label`."""
    bins = [("build/sluice", "build/sluice")] + ([("baseline", baseline)] if baseline else [])
    print(f"| binary | --memory-limit | bound MiB | {label} | wall s | peak RSS MiB | under the bound |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="run-rss-") as tmp:
        for limit in limits.split(","):
            bound = mib(limit) + OVERHEAD_MIB
            for name, path in bins:
                out = Path(tmp) / f"{name.replace('/', '_')}-{limit}"
                w, _, rss, _ = planner_bench.timed([path, "-q", "run", "--output", str(out), "--as-of", AS_OF,
                                                    "--progress", "off", "--memory-limit", limit],
                                                   dict(env, MYSQL_DATABASE=db))
                m = json.loads((out / "business_insights" / DATE / "_SUCCESS").read_text())
                v = m.get("memory", {}).get(field, "-")
                print(f"| {name} | {limit} | {bound:.0f} | {v} | {w:.2f} | {rss:.0f} | "
                      f"{'yes' if rss < bound else 'NO'} |")
    print(f"\nload average after: {planner_bench.loadavg()}")


if __name__ == "__main__":
    main()
