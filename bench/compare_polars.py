"""The job of `sluice run` done with Polars: ConnectorX reads the six source tables with
partitioned reads on each primary key (`partition_on`, 2 partitions), Polars expressions
compute the six datasets from the definitions (README, "Analytics definitions") and each is
written as snappy Parquet.

Usage: python compare_polars.py OUT_DIR AS_OF      (settings from MYSQL_*)
Prints a JSON line: rows per dataset, read and compute+write seconds."""
import json
import math
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import connectorx as cx
import polars as pl

TABLES = {  # table: (primary key, the columns sluice reads)
    "customers": ("customer_id", "customer_id, first_name, last_name, email, country"),
    "products": ("product_id", "product_id, sku, name, category"),
    "warehouses": ("warehouse_id", "warehouse_id, name, city, region, country"),
    "inventory": ("inventory_id", "inventory_id, product_id, warehouse_id, quantity, capacity, last_updated"),
    "orders": ("order_id", "order_id, customer_id, order_date, total_amount, status"),
    "order_items": ("order_item_id", "order_item_id, order_id, product_id, quantity"),
}
MONEY = pl.Decimal(18, 2)


def read_all(uri):
    out = {}
    for t, (key, cols) in TABLES.items():
        # ConnectorX splits on MIN/MAX of the key itself; an empty table cannot be split
        q = f"SELECT {cols} FROM {t}"
        try:
            out[t] = cx.read_sql(uri, q, partition_on=key, partition_num=2, return_type="polars")
        except Exception:
            out[t] = cx.read_sql(uri, q, return_type="polars")
    return out


def money(col):
    """DECIMAL read as a float by some drivers: back to exact cents."""
    return pl.col(col).cast(pl.Float64).mul(100).round(0).cast(pl.Int64)


def main():
    out, as_of_s = Path(sys.argv[1]), sys.argv[2]
    out.mkdir(parents=True, exist_ok=True)
    e = os.environ
    uri = (f"mysql://{quote(e['MYSQL_USER'])}:{quote(e.get('MYSQL_PASSWORD', ''))}@"
           f"{e.get('MYSQL_HOST', '127.0.0.1')}:{e.get('MYSQL_PORT', '3306')}/{e['MYSQL_DATABASE']}")
    t0 = time.monotonic()
    t = read_all(uri)
    t1 = time.monotonic()

    as_of = datetime.strptime(as_of_s, "%Y-%m-%d %H:%M:%S")
    as_of_lit = pl.lit(as_of.replace(tzinfo=timezone.utc)).dt.cast_time_unit("us")
    common = [as_of_lit.alias("as_of"), pl.lit("polars").alias("run_id")]

    def ts(col):
        return pl.col(col).cast(pl.Datetime("us"))

    # 1. inventory_analytics
    inv = t["inventory"].with_columns(ts("last_updated"))
    ratio_ok = pl.col("quantity").is_not_null() & pl.col("capacity").is_not_null() & (pl.col("capacity") > 0)
    secs = (pl.lit(as_of).cast(pl.Datetime("us")) - pl.col("last_updated")).dt.total_microseconds()
    inv = (inv.join(t["products"].select("product_id", pl.col("name").alias("product_name"), "category"),
                    on="product_id", how="left")
              .join(t["warehouses"].select("warehouse_id", pl.col("name").alias("warehouse_name"), "city", "region",
                                           "country"), on="warehouse_id", how="left")
              .with_columns(
                  pl.when(ratio_ok).then(pl.col("quantity") / pl.col("capacity")).alias("utilization_ratio"),
                  pl.when(pl.col("last_updated").is_not_null())
                    .then(pl.max_horizontal(pl.lit(0, pl.Int64), (secs // 86_400_000_000).cast(pl.Int64)))
                    .alias("days_since_update"),
                  # round half away from zero: capacity > 0 here, so floor(x + 0.5) on exact halves
                  pl.when(ratio_ok).then((pl.col("capacity").cast(pl.Int64) + 1) // 2).alias("optimal_quantity")))
    r = pl.col("utilization_ratio")
    inv = inv.with_columns(
        pl.when(r.is_not_null() & pl.col("days_since_update").is_not_null())
          .then(((1 - (r - 0.5).abs() * 2) * 100 - pl.col("days_since_update") * 2).clip(0, 100))
          .alias("inventory_score"),
        pl.when(r.is_null()).then(pl.lit("unknown")).when(r < 0.2).then(pl.lit("restock"))
          .when(r > 0.8).then(pl.lit("overstock")).otherwise(pl.lit("ok")).alias("stock_status"),
        pl.when(pl.col("optimal_quantity").is_not_null())
          .then(pl.max_horizontal(pl.lit(0, pl.Int64), pl.col("optimal_quantity") - pl.col("quantity")))
          .alias("reorder_quantity"))
    inventory_analytics = inv.select(
        "inventory_id", "product_id", "warehouse_id", "product_name", "category", "warehouse_name", "city", "region",
        "country", "quantity", "capacity", "last_updated", "utilization_ratio", "days_since_update",
        "optimal_quantity", "inventory_score", "stock_status", "reorder_quantity", *common,
        pl.lit("inventory,products,warehouses").alias("source_tables"))

    # 2. order_analytics (counted orders: order_date <= as_of, status not cancelled)
    co = (t["orders"].with_columns(ts("order_date"), money("total_amount").alias("cents"))
          .filter((pl.col("order_date") <= pl.lit(as_of)) & (pl.col("status") != "cancelled")))
    agg = co.group_by("customer_id").agg(
        pl.len().cast(pl.Int64).alias("total_orders"), pl.col("cents").sum().alias("cents"),
        pl.col("order_date").min().alias("first_order_date"), pl.col("order_date").max().alias("last_order_date"))
    peak = (co.group_by("customer_id", pl.col("order_date").dt.hour().alias("h")).agg(pl.len().alias("c"))
              .sort(["customer_id", "c", "h"], descending=[False, True, False])
              .group_by("customer_id", maintain_order=True).first())
    n = agg.height
    thr = agg["cents"].sort()[max(1, math.ceil(95 * n / 100)) - 1] if n else None
    oa = (agg.join(peak.select("customer_id", pl.col("h").cast(pl.Int32).alias("peak_order_hour")), on="customer_id")
             .join(t["customers"], on="customer_id", how="left")
             .with_columns(
                 (pl.col("cents").cast(MONEY) / 100).cast(MONEY).alias("total_spent"),
                 (pl.col("cents") / 100 / pl.col("total_orders")).alias("avg_order_value"),
                 ((pl.col("last_order_date") - pl.col("first_order_date")).dt.total_seconds()
                  / (86400.0 * pl.max_horizontal(pl.col("total_orders") - 1, pl.lit(1)))).alias("avg_days_between_orders"),
                 pl.when(pl.col("total_orders") == 1).then(pl.lit("one-time"))
                   .when(pl.col("total_orders") <= 4).then(pl.lit("occasional"))
                   .when(pl.col("total_orders") <= 9).then(pl.lit("regular"))
                   .otherwise(pl.lit("frequent")).alias("frequency_segment"),
                 (pl.col("cents") >= thr).alias("is_vip"))
             .sort("customer_id"))
    order_analytics = oa.select(
        "customer_id", "first_name", "last_name", "email", "country", "total_orders", "total_spent",
        "avg_order_value", "first_order_date", "last_order_date", "avg_days_between_orders", "peak_order_hour",
        "frequency_segment", "is_vip", *common, pl.lit("orders,customers").alias("source_tables"))

    # 3. hourly_orders
    by_hour = co.group_by(pl.col("order_date").dt.hour().cast(pl.Int32).alias("hour")).agg(
        pl.len().cast(pl.Int64).alias("order_count"), pl.col("cents").sum().alias("cents"))
    total = co.height
    hourly_orders = (pl.DataFrame({"hour": pl.Series(range(24), dtype=pl.Int32)})
                     .join(by_hour, on="hour", how="left")
                     .with_columns(pl.col("order_count").fill_null(0), pl.col("cents").fill_null(0))
                     .select("hour", "order_count", (pl.col("cents").cast(MONEY) / 100).cast(MONEY).alias("revenue"),
                             (pl.col("order_count") / total if total else pl.lit(0.0)).alias("share_of_orders"),
                             *common, pl.lit("orders").alias("source_tables")))

    # 4. warehouse_utilization
    ok = pl.col("quantity").is_not_null() & (pl.col("capacity") > 0)
    wagg = inv.group_by("warehouse_id").agg(
        pl.col("quantity").filter(ok).cast(pl.Int64).sum().alias("total_quantity"),
        pl.col("capacity").filter(ok).cast(pl.Int64).sum().alias("total_capacity"),
        pl.len().cast(pl.Int64).alias("item_count"),
        (pl.col("stock_status") == "restock").sum().cast(pl.Int64).alias("restock_count"),
        (pl.col("stock_status") == "overstock").sum().cast(pl.Int64).alias("overstock_count"),
        pl.col("inventory_score").mean().alias("avg_inventory_score"))
    warehouse_utilization = (t["warehouses"].join(wagg, on="warehouse_id", how="left")
        .with_columns(*(pl.col(c).fill_null(0) for c in ("total_quantity", "total_capacity", "item_count",
                                                          "restock_count", "overstock_count")))
        .with_columns(pl.when(pl.col("total_capacity") > 0)
                        .then(pl.col("total_quantity") / pl.col("total_capacity")).alias("utilization_ratio"))
        .sort("warehouse_id")
        .select("warehouse_id", "name", "city", "region", "country", "total_quantity", "total_capacity",
                "utilization_ratio", "item_count", "restock_count", "overstock_count", "avg_inventory_score",
                *common, pl.lit("warehouses,inventory,products").alias("source_tables")))

    # 5. product_turnover (window 30 days: as_of - 30 d < order_date <= as_of)
    recent = co.filter(pl.col("order_date") > pl.lit(as_of - timedelta(days=30))).select("order_id")
    sold = (t["order_items"].join(recent, on="order_id", how="semi")
            .group_by("product_id").agg(pl.col("quantity").cast(pl.Int64).sum().alias("units_sold")))
    hand = (t["inventory"].filter(pl.col("quantity").is_not_null())
            .group_by("product_id").agg(pl.col("quantity").cast(pl.Int64).sum().alias("on_hand")))
    u, h = pl.col("units_sold"), pl.col("on_hand")
    product_turnover = (t["products"].join(sold, on="product_id", how="left").join(hand, on="product_id", how="left")
        .with_columns(u.fill_null(0), h.fill_null(0))
        .with_columns(pl.when(h > 0).then(u / h).alias("turnover_rate"),
                      pl.when(u != 0).then(h / (u / 30)).alias("days_of_supply"),
                      (((u > 0) & (h * 30 < 7 * u)) | ((h <= 0) & (u > 0))).alias("needs_restock"))
        .sort("product_id")
        .select("product_id", "sku", "name", "category", "units_sold", "on_hand", "turnover_rate", "days_of_supply",
                "needs_restock", *common, pl.lit("products,orders,order_items,inventory").alias("source_tables")))

    # 6. customer_segments
    customer_segments = (oa.group_by("frequency_segment").agg(
        pl.len().cast(pl.Int64).alias("customer_count"), pl.col("is_vip").sum().cast(pl.Int64).alias("vip_count"),
        pl.col("cents").sum().alias("cents"), pl.col("total_orders").sum().alias("orders"))
        .select("frequency_segment", "customer_count", "vip_count",
                (pl.col("cents").cast(MONEY) / 100).cast(MONEY).alias("total_spent"),
                (pl.col("cents") / 100 / pl.col("orders")).alias("avg_order_value"),
                *common, pl.lit("orders,customers").alias("source_tables")))

    rows = {}
    for name, df in {"inventory_analytics": inventory_analytics, "order_analytics": order_analytics,
                     "hourly_orders": hourly_orders, "warehouse_utilization": warehouse_utilization,
                     "product_turnover": product_turnover, "customer_segments": customer_segments}.items():
        df.write_parquet(out / f"{name}.snappy.parquet", compression="snappy")
        rows[name] = df.height
    t2 = time.monotonic()
    print(json.dumps({"rows": rows, "read_seconds": round(t1 - t0, 3), "compute_write_seconds": round(t2 - t1, 3),
                      "polars": pl.__version__, "connectorx": cx.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
