"""The job sluice replaces, as it was designed: PySpark reads the six source tables over JDBC
(MariaDB's driver, a `jdbc:mysql:` URL with `permitMysqlScheme` so that Spark uses its MySQL
dialect) with partitioned reads on each primary key, computes the six datasets in Spark SQL
from the definitions (README, "Analytics definitions") and writes them as snappy Parquet.

Usage: python compare_spark.py OUT_DIR AS_OF      (settings from MYSQL_*; SLUICE_JDBC_JAR,
       SLUICE_SPARK_MASTER default local[2], SLUICE_SPARK_PARTITIONS default 2)
Prints a JSON line: rows per dataset, read and compute+write seconds."""
import json
import os
import sys
import time

from pyspark.sql import SparkSession

TABLES = {  # table: (primary key, the columns sluice reads)
    "customers": ("customer_id", "customer_id, first_name, last_name, email, country"),
    "products": ("product_id", "product_id, sku, name, category"),
    "warehouses": ("warehouse_id", "warehouse_id, name, city, region, country"),
    "inventory": ("inventory_id", "inventory_id, product_id, warehouse_id, quantity, capacity, last_updated"),
    "orders": ("order_id", "order_id, customer_id, order_date, total_amount, status"),
    "order_items": ("order_item_id", "order_id, product_id, quantity"),
}


def datasets_sql(a):
    """The six datasets in Spark SQL; `a` is the as-of as a TIMESTAMP literal (UTC session)."""
    common = f"{a} AS as_of, 'spark' AS run_id"
    return {
        "inventory_analytics": f"SELECT *, {common}, 'inventory,products,warehouses' AS source_tables FROM inv",
        "order_analytics": f"SELECT *, {common}, 'orders,customers' AS source_tables FROM oa",
        "hourly_orders": f"""
            SELECT CAST(h.id AS INT) AS hour, count(co.order_id) AS order_count,
                   CAST(coalesce(sum(co.total_amount), 0) AS DECIMAL(18,2)) AS revenue,
                   coalesce(count(co.order_id) / nullif(sum(count(co.order_id)) OVER (), 0), 0D) AS share_of_orders,
                   {common}, 'orders' AS source_tables
            FROM range(24) h LEFT JOIN co ON hour(co.order_date) = h.id GROUP BY h.id""",
        "warehouse_utilization": f"""
            SELECT w.warehouse_id, w.name, w.city, w.region, w.country,
                   coalesce(sum(CAST(inv.quantity AS BIGINT)) FILTER (WHERE inv.quantity IS NOT NULL AND inv.capacity > 0), 0)
                     AS total_quantity,
                   coalesce(sum(CAST(inv.capacity AS BIGINT)) FILTER (WHERE inv.quantity IS NOT NULL AND inv.capacity > 0), 0)
                     AS total_capacity,
                   CAST(coalesce(sum(CAST(inv.quantity AS BIGINT)) FILTER (WHERE inv.quantity IS NOT NULL AND inv.capacity > 0), 0)
                        AS DOUBLE)
                     / nullif(coalesce(sum(CAST(inv.capacity AS BIGINT))
                                       FILTER (WHERE inv.quantity IS NOT NULL AND inv.capacity > 0), 0), 0)
                     AS utilization_ratio,
                   count(inv.inventory_id) AS item_count,
                   count(*) FILTER (WHERE inv.stock_status = 'restock') AS restock_count,
                   count(*) FILTER (WHERE inv.stock_status = 'overstock') AS overstock_count,
                   avg(inv.inventory_score) AS avg_inventory_score,
                   {common}, 'warehouses,inventory,products' AS source_tables
            FROM warehouses w LEFT JOIN inv ON inv.warehouse_id = w.warehouse_id
            GROUP BY w.warehouse_id, w.name, w.city, w.region, w.country""",
        "product_turnover": f"""
            WITH sold AS (SELECT oi.product_id, sum(CAST(oi.quantity AS BIGINT)) AS units FROM order_items oi
                          JOIN co ON co.order_id = oi.order_id
                          WHERE co.order_date > {a} - INTERVAL 30 DAYS GROUP BY oi.product_id),
                 hand AS (SELECT product_id, sum(CAST(quantity AS BIGINT)) AS qty FROM inventory
                          WHERE quantity IS NOT NULL GROUP BY product_id),
                 t AS (SELECT p.product_id, p.sku, p.name, p.category, coalesce(s.units, 0) AS units_sold,
                              coalesce(h.qty, 0) AS on_hand
                       FROM products p LEFT JOIN sold s ON s.product_id = p.product_id
                                       LEFT JOIN hand h ON h.product_id = p.product_id)
            SELECT *, CASE WHEN on_hand <= 0 THEN NULL ELSE CAST(units_sold AS DOUBLE) / on_hand END AS turnover_rate,
                   CASE WHEN units_sold = 0 THEN NULL ELSE on_hand / (CAST(units_sold AS DOUBLE) / 30) END
                     AS days_of_supply,
                   (units_sold > 0 AND on_hand * 30 < 7 * units_sold) OR (on_hand <= 0 AND units_sold > 0)
                     AS needs_restock,
                   {common}, 'products,orders,order_items,inventory' AS source_tables
            FROM t""",
        "customer_segments": f"""
            SELECT frequency_segment, count(*) AS customer_count, count(*) FILTER (WHERE is_vip) AS vip_count,
                   CAST(sum(total_spent) AS DECIMAL(18,2)) AS total_spent,
                   CAST(sum(total_spent) AS DOUBLE) / sum(total_orders) AS avg_order_value,
                   {common}, 'orders,customers' AS source_tables
            FROM oa GROUP BY frequency_segment""",
    }


def main():
    out, as_of = sys.argv[1], sys.argv[2]
    e = os.environ
    t0 = time.monotonic()
    spark = (SparkSession.builder.master(e.get("SLUICE_SPARK_MASTER", "local[2]")).appName("sluice-compare")
             .config("spark.jars", e["SLUICE_JDBC_JAR"])
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "4")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    url = (f"jdbc:mysql://{e.get('MYSQL_HOST', '127.0.0.1')}:{e.get('MYSQL_PORT', '3306')}/"
           f"{e['MYSQL_DATABASE']}?permitMysqlScheme")
    props = {"user": e["MYSQL_USER"], "password": e.get("MYSQL_PASSWORD", ""),
             "driver": "org.mariadb.jdbc.Driver", "fetchsize": "10000", "sessionInitStatement": "SET time_zone='+00:00'"}
    nparts = int(e.get("SLUICE_SPARK_PARTITIONS", "2"))
    t_start = time.monotonic()
    for t, (key, cols) in TABLES.items():
        lo, hi = spark.read.jdbc(url, f"(SELECT MIN({key}) AS lo, MAX({key}) AS hi FROM {t}) b",
                                 properties=props).first()
        src = f"(SELECT {key} AS k__, {cols} FROM {t}) s"
        if lo is None:
            df = spark.read.jdbc(url, src, properties=props)
        else:
            df = spark.read.jdbc(url, src, column="k__", lowerBound=int(lo), upperBound=int(hi) + 1,
                                 numPartitions=nparts, properties=props)
        # read once, as sluice does: the datasets below use each table more than once
        df.drop("k__").cache().createOrReplaceTempView(t)
        spark.table(t).count()
    t1 = time.monotonic()

    a = f"TIMESTAMP '{as_of}'"
    spark.sql(f"""
      SELECT *, CASE WHEN utilization_ratio IS NULL OR days_since_update IS NULL THEN NULL
                     ELSE least(100D, greatest(0D, (1 - abs(utilization_ratio - 0.5) * 2) * 100
                                                 - days_since_update * 2)) END AS inventory_score,
                CASE WHEN utilization_ratio IS NULL THEN 'unknown' WHEN utilization_ratio < 0.2 THEN 'restock'
                     WHEN utilization_ratio > 0.8 THEN 'overstock' ELSE 'ok' END AS stock_status,
                CASE WHEN optimal_quantity IS NULL THEN NULL
                     ELSE greatest(0, optimal_quantity - quantity) END AS reorder_quantity
      FROM (SELECT i.inventory_id, i.product_id, i.warehouse_id, p.name AS product_name, p.category,
                   w.name AS warehouse_name, w.city, w.region, w.country, i.quantity, i.capacity, i.last_updated,
                   CASE WHEN i.quantity IS NULL OR i.capacity IS NULL OR i.capacity <= 0 THEN NULL
                        ELSE CAST(i.quantity AS DOUBLE) / i.capacity END AS utilization_ratio,
                   CASE WHEN i.last_updated IS NULL THEN NULL
                        ELSE greatest(0, CAST(floor((unix_timestamp({a}) - unix_timestamp(i.last_updated)) / 86400)
                                              AS BIGINT)) END AS days_since_update,
                   CASE WHEN i.quantity IS NULL OR i.capacity IS NULL OR i.capacity <= 0 THEN NULL
                        ELSE CAST(round(i.capacity * 0.5) AS BIGINT) END AS optimal_quantity
            FROM inventory i LEFT JOIN products p ON p.product_id = i.product_id
                             LEFT JOIN warehouses w ON w.warehouse_id = i.warehouse_id) x
    """).createOrReplaceTempView("inv")
    spark.sql(f"SELECT * FROM orders WHERE order_date <= {a} AND status <> 'cancelled'").createOrReplaceTempView("co")
    spark.sql("""
      WITH agg AS (SELECT customer_id, count(*) AS total_orders, CAST(sum(total_amount) AS DECIMAL(18,2)) AS total_spent,
                          min(order_date) AS first_order_date, max(order_date) AS last_order_date
                   FROM co GROUP BY customer_id),
           hrs AS (SELECT customer_id, hour(order_date) AS h, count(*) AS c FROM co GROUP BY customer_id, hour(order_date)),
           peak AS (SELECT customer_id, h FROM (
                      SELECT customer_id, h, row_number() OVER (PARTITION BY customer_id ORDER BY c DESC, h) AS rn
                      FROM hrs) WHERE rn = 1),
           thr AS (SELECT total_spent AS p FROM (
                     SELECT total_spent, row_number() OVER (ORDER BY total_spent) AS rk, count(*) OVER () AS n FROM agg)
                   WHERE rk = greatest(1, ceil(95 * n / 100)))
      SELECT a.customer_id, c.first_name, c.last_name, c.email, c.country, a.total_orders, a.total_spent,
             CAST(a.total_spent AS DOUBLE) / a.total_orders AS avg_order_value, a.first_order_date, a.last_order_date,
             CAST(unix_timestamp(a.last_order_date) - unix_timestamp(a.first_order_date) AS DOUBLE)
               / (86400D * greatest(a.total_orders - 1, 1)) AS avg_days_between_orders,
             CAST(pk.h AS INT) AS peak_order_hour,
             CASE WHEN a.total_orders = 1 THEN 'one-time' WHEN a.total_orders <= 4 THEN 'occasional'
                  WHEN a.total_orders <= 9 THEN 'regular' ELSE 'frequent' END AS frequency_segment,
             a.total_spent >= (SELECT p FROM thr) AS is_vip
      FROM agg a JOIN peak pk ON pk.customer_id = a.customer_id LEFT JOIN customers c ON c.customer_id = a.customer_id
    """).cache().createOrReplaceTempView("oa")
    rows = {}
    for name, q in datasets_sql(a).items():
        df = spark.sql(q)
        df.write.mode("overwrite").option("compression", "snappy").parquet(os.path.join(out, name))
        rows[name] = spark.read.parquet(os.path.join(out, name)).count()
    t2 = time.monotonic()
    info = {"rows": rows, "start_seconds": round(t_start - t0, 3), "read_seconds": round(t1 - t_start, 3),
            "compute_write_seconds": round(t2 - t1, 3), "spark": spark.version, "partitions": nparts}
    spark.stop()
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
