"""The job of `sluice run` done by DuckDB, for bench/run_bench.sh: its mysql extension
reads the same columns of the six source tables once (ATTACH ... (TYPE mysql), one
CREATE TABLE ... AS SELECT each), SQL computes the six datasets from the definitions
(README, "Analytics definitions"), and COPY ... TO writes each as snappy Parquet.

Usage: python run_duckdb.py OUT_DIR AS_OF      (settings from MYSQL_*)
Prints a JSON line: rows per dataset, read and compute+write seconds, extension origin.
Exit 3 when the mysql extension cannot be loaded (offline and not installed)."""
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

import duckdb

COLUMNS = {  # the columns sluice reads (src/transform/analytics.c, tf_source_columns)
    "customers": "customer_id, first_name, last_name, email, country",
    "products": "product_id, sku, name, category",
    "warehouses": "warehouse_id, name, city, region, country",
    "inventory": "inventory_id, product_id, warehouse_id, quantity, capacity, last_updated",
    "orders": "order_id, customer_id, order_date, total_amount, status",
    "order_items": "order_id, product_id, quantity",
}


def load_mysql(con):
    """INSTALL from DuckDB's extension site when it can be reached; else the extension
    file that the duckdb-ext-mysql package (PyPI) ships for this DuckDB version."""
    try:
        con.execute("INSTALL mysql")
        con.execute("LOAD mysql")
        return "INSTALL mysql"
    except duckdb.Error:
        pass
    # the duckdb-extension-mysql wheel ships extensions/vX/mysql.duckdb_extension; DuckDB takes
    # the entry point from the file name, so it is loaded as a copy named mysql_scanner.*
    spec = importlib.util.find_spec("duckdb_extension_mysql")
    if spec and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            for f in Path(base).rglob(f"v{duckdb.__version__}/mysql.duckdb_extension"):
                dst = Path(os.environ.get("SLUICE_DUCKDB_EXT_DIR", f.parent)) / "mysql_scanner.duckdb_extension"
                if not dst.exists():
                    shutil.copyfile(f, dst)
                con.execute(f"LOAD '{dst}'")
                return f"duckdb-extension-mysql package ({f.name} loaded as {dst.name})"
    spec = importlib.util.find_spec("duckdb_ext")
    if spec and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            for f in Path(base).rglob(f"v{duckdb.__version__}/*/mysql_scanner.duckdb_extension"):
                con.execute(f"LOAD '{f}'")
                return f"duckdb-ext-mysql package ({f.name})"
    return None


def main():
    out, as_of = Path(sys.argv[1]), sys.argv[2]
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    origin = load_mysql(con)
    if not origin:
        print(json.dumps({"error": "the DuckDB mysql extension cannot be installed or found"}))
        return 3
    e = os.environ
    host = e.get("MYSQL_HOST", "127.0.0.1")
    dsn = (f"host={host} port={e.get('MYSQL_PORT', '3306')} user={e['MYSQL_USER']} "
           f"password={e.get('MYSQL_PASSWORD', '')} database={e['MYSQL_DATABASE']}")
    t0 = time.monotonic()
    con.execute(f"ATTACH '{dsn}' AS src (TYPE mysql, READ_ONLY)")
    for t, cols in COLUMNS.items():
        con.execute(f"CREATE TABLE {t} AS SELECT {cols} FROM src.{t}")
    t1 = time.monotonic()

    a = f"TIMESTAMP '{as_of}'"
    common = f"{a}::TIMESTAMPTZ AS as_of, 'duckdb' AS run_id"
    con.execute(f"""CREATE TABLE inv AS
      SELECT *, CASE WHEN utilization_ratio IS NULL OR days_since_update IS NULL THEN NULL
                     ELSE least(100, greatest(0, (1 - abs(utilization_ratio - 0.5) * 2) * 100
                                                 - days_since_update * 2)) END AS inventory_score,
                CASE WHEN utilization_ratio IS NULL THEN 'unknown' WHEN utilization_ratio < 0.2 THEN 'restock'
                     WHEN utilization_ratio > 0.8 THEN 'overstock' ELSE 'ok' END AS stock_status,
                CASE WHEN optimal_quantity IS NULL THEN NULL
                     ELSE greatest(0, optimal_quantity - quantity) END AS reorder_quantity
      FROM (SELECT i.inventory_id, i.product_id, i.warehouse_id, p.name AS product_name, p.category,
                   w.name AS warehouse_name, w.city, w.region, w.country, i.quantity, i.capacity, i.last_updated,
                   CASE WHEN i.quantity IS NULL OR i.capacity IS NULL OR i.capacity <= 0 THEN NULL
                        ELSE i.quantity::DOUBLE / i.capacity END AS utilization_ratio,
                   CASE WHEN i.last_updated IS NULL THEN NULL
                        ELSE greatest(0, floor((epoch({a}) - epoch(i.last_updated)) / 86400)::BIGINT) END
                     AS days_since_update,
                   CASE WHEN i.quantity IS NULL OR i.capacity IS NULL OR i.capacity <= 0 THEN NULL
                        ELSE round(i.capacity * 0.5)::BIGINT END AS optimal_quantity
            FROM inventory i LEFT JOIN products p USING (product_id) LEFT JOIN warehouses w USING (warehouse_id))""")
    con.execute(f"CREATE TABLE co AS SELECT * FROM orders WHERE order_date <= {a} AND status <> 'cancelled'")
    con.execute(f"""CREATE TABLE oa AS
      WITH agg AS (SELECT customer_id, count(*) AS total_orders, sum(total_amount)::DECIMAL(18,2) AS total_spent,
                          min(order_date) AS first_order_date, max(order_date) AS last_order_date
                   FROM co GROUP BY customer_id),
           hrs AS (SELECT customer_id, hour(order_date) AS h, count(*) AS c FROM co GROUP BY ALL),
           peak AS (SELECT customer_id, h FROM hrs
                    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY c DESC, h) = 1),
           thr AS (SELECT total_spent AS p FROM (
                     SELECT total_spent, row_number() OVER (ORDER BY total_spent) AS rk, count(*) OVER () AS n FROM agg)
                   WHERE rk = greatest(1, ceil(95 * n / 100)))
      SELECT a.customer_id, c.first_name, c.last_name, c.email, c.country, a.total_orders, a.total_spent,
             a.total_spent::DOUBLE / a.total_orders AS avg_order_value, a.first_order_date, a.last_order_date,
             (epoch(a.last_order_date) - epoch(a.first_order_date)) / (86400.0 * greatest(a.total_orders - 1, 1))
               AS avg_days_between_orders,
             pk.h::INTEGER AS peak_order_hour,
             CASE WHEN a.total_orders = 1 THEN 'one-time' WHEN a.total_orders <= 4 THEN 'occasional'
                  WHEN a.total_orders <= 9 THEN 'regular' ELSE 'frequent' END AS frequency_segment,
             a.total_spent >= (SELECT p FROM thr) AS is_vip
      FROM agg a JOIN peak pk USING (customer_id) LEFT JOIN customers c USING (customer_id)""")
    datasets = {
        "inventory_analytics": f"SELECT *, {common}, 'inventory,products,warehouses' AS source_tables FROM inv",
        "order_analytics": f"SELECT *, {common}, 'orders,customers' AS source_tables FROM oa",
        "hourly_orders": f"""
            SELECT h.range::INTEGER AS hour, count(co.order_id) AS order_count,
                   coalesce(sum(co.total_amount), 0)::DECIMAL(18,2) AS revenue,
                   coalesce(count(co.order_id) / nullif(sum(count(co.order_id)) OVER (), 0), 0) AS share_of_orders,
                   {common}, 'orders' AS source_tables
            FROM range(24) h LEFT JOIN co ON hour(co.order_date) = h.range GROUP BY h.range""",
        "warehouse_utilization": f"""
            SELECT w.warehouse_id, w.name, w.city, w.region, w.country,
                   coalesce(sum(inv.quantity) FILTER (inv.quantity IS NOT NULL AND inv.capacity > 0), 0) AS total_quantity,
                   coalesce(sum(inv.capacity) FILTER (inv.quantity IS NOT NULL AND inv.capacity > 0), 0) AS total_capacity,
                   total_quantity::DOUBLE / nullif(total_capacity, 0) AS utilization_ratio,
                   count(inv.inventory_id) AS item_count,
                   count(*) FILTER (inv.stock_status = 'restock') AS restock_count,
                   count(*) FILTER (inv.stock_status = 'overstock') AS overstock_count,
                   avg(inv.inventory_score) AS avg_inventory_score,
                   {common}, 'warehouses,inventory,products' AS source_tables
            FROM warehouses w LEFT JOIN inv USING (warehouse_id) GROUP BY ALL""",
        "product_turnover": f"""
            WITH sold AS (SELECT oi.product_id, sum(oi.quantity) AS units FROM order_items oi
                          JOIN co USING (order_id) WHERE co.order_date > {a} - INTERVAL 30 DAY GROUP BY ALL),
                 hand AS (SELECT product_id, sum(quantity) AS qty FROM inventory WHERE quantity IS NOT NULL GROUP BY ALL),
                 t AS (SELECT p.product_id, p.sku, p.name, p.category, coalesce(s.units, 0)::BIGINT AS units_sold,
                              coalesce(h.qty, 0)::BIGINT AS on_hand
                       FROM products p LEFT JOIN sold s USING (product_id) LEFT JOIN hand h USING (product_id))
            SELECT *, CASE WHEN on_hand <= 0 THEN NULL ELSE units_sold::DOUBLE / on_hand END AS turnover_rate,
                   CASE WHEN units_sold = 0 THEN NULL ELSE on_hand / (units_sold::DOUBLE / 30) END AS days_of_supply,
                   (units_sold > 0 AND on_hand * 30 < 7 * units_sold) OR (on_hand <= 0 AND units_sold > 0)
                     AS needs_restock,
                   {common}, 'products,orders,order_items,inventory' AS source_tables
            FROM t""",
        "customer_segments": f"""
            SELECT frequency_segment, count(*) AS customer_count, count(*) FILTER (is_vip) AS vip_count,
                   sum(total_spent)::DECIMAL(18,2) AS total_spent,
                   sum(total_spent)::DOUBLE / sum(total_orders) AS avg_order_value,
                   {common}, 'orders,customers' AS source_tables
            FROM oa GROUP BY ALL""",
    }
    rows = {}
    for name, sql in datasets.items():
        path = out / f"{name}.snappy.parquet"
        con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet, COMPRESSION snappy)")
        rows[name] = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]
    t2 = time.monotonic()
    print(json.dumps({"rows": rows, "read_seconds": round(t1 - t0, 3), "compute_write_seconds": round(t2 - t1, 3),
                      "duckdb": duckdb.__version__, "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
                      "extension": origin}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
