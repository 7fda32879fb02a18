"""`sluice run`: the six business datasets checked against an oracle that MariaDB itself
computes (one SQL query per dataset, written from the definitions of issue #5 and the
README's "Analytics definitions", never from sluice's code), read back with pyarrow and
DuckDB; plus the output layout, the _SUCCESS manifest, reruns, --raw and the errors.

Comparison: same row sets keyed by id; integers, strings, booleans, timestamps and
decimals exactly; doubles within 1e-9 relative (the oracle computes them in DOUBLE)."""
import hashlib
import json
import math
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pymysql
import pytest

from conftest import ROOT, SLUICE, create_schema, run_sluice

DATASETS = ("inventory_analytics", "order_analytics", "hourly_orders", "warehouse_utilization",
            "product_turnover", "customer_segments")
TABLES = ("customers", "products", "warehouses", "inventory", "orders", "order_items")
KEYS = {"inventory_analytics": "inventory_id", "order_analytics": "customer_id", "hourly_orders": "hour",
        "warehouse_utilization": "warehouse_id", "product_turnover": "product_id",
        "customer_segments": "frequency_segment"}
# The tables each dataset is defined from (source_tables must name at least these).
NEEDS = {"inventory_analytics": {"inventory", "products", "warehouses"},
         "order_analytics": {"orders", "customers"}, "hourly_orders": {"orders"},
         "warehouse_utilization": {"warehouses", "inventory"},
         "product_turnover": {"products", "orders", "order_items", "inventory"},
         "customer_segments": {"orders"}}
ANCHOR = "2026-06-30 00:00:00"
RUN_FILE = re.compile(r"^part-\d{5}-(\d{8}T\d{6}Z-[0-9a-f]{8})\.snappy\.parquet$")

# Types (issue #5): ids and counts int64; hour and peak_order_hour int32; money
# decimal128(18,2); ratios/scores double; flags bool; timestamps timestamp[us, tz=UTC].
I64, I32, F64, STR, BOOL = pa.int64(), pa.int32(), pa.float64(), pa.string(), pa.bool_()
MONEY, TS = pa.decimal128(18, 2), pa.timestamp("us", tz="UTC")
COMMON = {"as_of": TS, "run_id": STR, "source_tables": STR}
SCHEMAS = {
    "inventory_analytics": dict(
        inventory_id=I64, product_id=I64, warehouse_id=I64, product_name=STR, category=STR,
        warehouse_name=STR, city=STR, region=STR, country=STR, quantity=I64, capacity=I64,
        last_updated=TS, utilization_ratio=F64, days_since_update=I64, inventory_score=F64,
        stock_status=STR, optimal_quantity=I64, reorder_quantity=I64, **COMMON),
    "order_analytics": dict(
        customer_id=I64, first_name=STR, last_name=STR, email=STR, country=STR, total_orders=I64,
        total_spent=MONEY, avg_order_value=F64, first_order_date=TS, last_order_date=TS,
        avg_days_between_orders=F64, peak_order_hour=I32, frequency_segment=STR, is_vip=BOOL, **COMMON),
    "hourly_orders": dict(hour=I32, order_count=I64, revenue=MONEY, share_of_orders=F64, **COMMON),
    "warehouse_utilization": dict(
        warehouse_id=I64, name=STR, city=STR, region=STR, country=STR, total_quantity=I64,
        total_capacity=I64, utilization_ratio=F64, item_count=I64, restock_count=I64,
        overstock_count=I64, avg_inventory_score=F64, **COMMON),
    "product_turnover": dict(
        product_id=I64, sku=STR, name=STR, category=STR, units_sold=I64, on_hand=I64,
        turnover_rate=F64, days_of_supply=F64, needs_restock=BOOL, **COMMON),
    "customer_segments": dict(frequency_segment=STR, customer_count=I64, vip_count=I64, total_spent=MONEY,
                              avg_order_value=F64, **COMMON),
}


# ------------------------------------------------------------------------------------
# parameters, running, reading


@dataclass
class Params:
    as_of: str
    exclude: tuple = ("cancelled",)
    restock: str = "0.2"
    overstock: str = "0.8"
    optimal: str = "0.5"
    window: int = 30
    vip: str = "95"
    default_flags: bool = field(default=True)  # True: pass only --as-of for default values

    def args(self):
        a = ["--as-of", self.as_of]
        if self.exclude != ("cancelled",):
            a += ["--exclude-status", ",".join(self.exclude)]
        for flag, value, default in (("--restock-below", self.restock, "0.2"),
                                     ("--overstock-above", self.overstock, "0.8"),
                                     ("--optimal-utilization", self.optimal, "0.5"),
                                     ("--sales-window-days", str(self.window), "30"),
                                     ("--vip-percentile", self.vip, "95")):
            if value != default or not self.default_flags:
                a += [flag, value]
        return a


def q(mariadb, db, sql, dict_rows=False):
    with mariadb.connect(db) as c:
        with c.cursor(pymysql.cursors.DictCursor if dict_rows else pymysql.cursors.Cursor) as cur:
            cur.execute(sql)
            return cur.fetchall()


def sluice_run(mariadb, db, out, *args, check=0):
    return run_sluice(["run", "--output", str(out), "--progress", "off", *args], env=mariadb.sluice_env(db),
                      check=check)


def manifest(out, date):
    return json.loads((Path(out) / "business_insights" / date / "_SUCCESS").read_text())


def data_files(m):
    """The manifest's Parquet files: every entry but the run report (report.html)."""
    return [f for f in m["files"] if f["name"] != "report.html"]


def load(out, date, shards=1):
    """The manifest of business_insights/<date>/ and each dataset as a pyarrow table: one
    file each, except order_analytics, one file per shard (concatenated in name order)."""
    m = manifest(out, date)
    part = Path(out) / "business_insights" / date
    files = {}
    for f in data_files(m):
        files.setdefault(f["name"].split("/")[0], []).append(f["name"])
    assert set(files) == set(DATASETS)
    for ds, names in files.items():
        assert len(names) == (shards if ds == "order_analytics" else 1), (ds, names)
    tables = {ds: pa.concat_tables([pq.read_table(part / n) for n in sorted(names)]) for ds, names in files.items()}
    return m, tables


# ------------------------------------------------------------------------------------
# the oracle: one query per dataset, run by MariaDB


def lit(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


def counted(p, alias="o"):
    """SQL condition of a counted order."""
    cond = f"{alias}.order_date <= CAST({lit(p.as_of)} AS DATETIME)"
    if p.exclude:
        cond += f" AND {alias}.status NOT IN ({', '.join(lit(s) for s in p.exclude)})"
    return cond


def inventory_sql(p):
    """inventory_analytics, also the base of warehouse_utilization. Ratios and scores in
    DOUBLE; days by floor of DOUBLE seconds / 86400 (exact for whole seconds); the optimal
    quantity by ROUND on DECIMAL (exact, halves away from zero)."""
    as_of = f"CAST({lit(p.as_of)} AS DATETIME)"
    base = f"""
      SELECT i.inventory_id, i.product_id, i.warehouse_id, pr.name AS product_name, pr.category,
             w.name AS warehouse_name, w.city, w.region, w.country, i.quantity, i.capacity, i.last_updated,
             CASE WHEN i.quantity IS NULL OR i.capacity IS NULL OR i.capacity <= 0 THEN NULL
                  ELSE CAST(i.quantity AS DOUBLE) / CAST(i.capacity AS DOUBLE) END AS utilization_ratio,
             CASE WHEN i.last_updated IS NULL THEN NULL
                  ELSE GREATEST(0, CAST(FLOOR(CAST(TIMESTAMPDIFF(SECOND, i.last_updated, {as_of}) AS DOUBLE)
                                              / 86400e0) AS SIGNED)) END AS days_since_update,
             CASE WHEN i.quantity IS NULL OR i.capacity IS NULL OR i.capacity <= 0 THEN NULL
                  ELSE CAST(ROUND(i.capacity * {p.optimal}) AS SIGNED) END AS optimal_quantity
      FROM inventory i
      LEFT JOIN products pr ON pr.product_id = i.product_id
      LEFT JOIN warehouses w ON w.warehouse_id = i.warehouse_id"""
    return f"""
      SELECT b.*,
             CASE WHEN utilization_ratio IS NULL OR days_since_update IS NULL THEN NULL
                  ELSE LEAST(100e0, GREATEST(0e0,
                       (1e0 - ABS(utilization_ratio - {p.optimal}e0) * 2) * 100 - days_since_update * 2))
             END AS inventory_score,
             CASE WHEN utilization_ratio IS NULL THEN 'unknown'
                  WHEN utilization_ratio < {p.restock}e0 THEN 'restock'
                  WHEN utilization_ratio > {p.overstock}e0 THEN 'overstock'
                  ELSE 'ok' END AS stock_status,
             CASE WHEN optimal_quantity IS NULL THEN NULL
                  ELSE GREATEST(0, optimal_quantity - quantity) END AS reorder_quantity
      FROM ({base}) b"""


def warehouse_sql(p):
    return f"""
      WITH inv AS ({inventory_sql(p)}),
      agg AS (
        SELECT w.warehouse_id, w.name, w.city, w.region, w.country,
               COALESCE(SUM(CASE WHEN inv.quantity IS NOT NULL AND inv.capacity > 0 THEN inv.quantity END), 0)
                 AS total_quantity,
               COALESCE(SUM(CASE WHEN inv.quantity IS NOT NULL AND inv.capacity > 0 THEN inv.capacity END), 0)
                 AS total_capacity,
               COUNT(inv.inventory_id) AS item_count,
               COALESCE(SUM(inv.stock_status = 'restock'), 0) AS restock_count,
               COALESCE(SUM(inv.stock_status = 'overstock'), 0) AS overstock_count,
               AVG(inv.inventory_score) AS avg_inventory_score
        FROM warehouses w LEFT JOIN inv ON inv.warehouse_id = w.warehouse_id
        GROUP BY w.warehouse_id, w.name, w.city, w.region, w.country)
      SELECT agg.*, CASE WHEN total_capacity = 0 THEN NULL
                         ELSE CAST(total_quantity AS DOUBLE) / CAST(total_capacity AS DOUBLE) END
                    AS utilization_ratio
      FROM agg"""


def order_cte(p):
    """order_analytics as CTEs (oa is the dataset); the VIP threshold is the value at
    nearest rank CEIL(P/100 * n) of the ascending totals (DECIMAL arithmetic: exact)."""
    return f"""
      WITH co AS (SELECT o.* FROM orders o WHERE {counted(p)}),
      agg AS (SELECT customer_id, COUNT(*) AS total_orders, SUM(total_amount) AS total_spent,
                     MIN(order_date) AS first_order_date, MAX(order_date) AS last_order_date
              FROM co GROUP BY customer_id),
      hrs AS (SELECT customer_id, HOUR(order_date) AS h, COUNT(*) AS c FROM co GROUP BY customer_id, HOUR(order_date)),
      peak AS (SELECT customer_id, h FROM (
                 SELECT customer_id, h, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY c DESC, h ASC) AS rn
                 FROM hrs) x WHERE rn = 1),
      ranked AS (SELECT total_spent, ROW_NUMBER() OVER (ORDER BY total_spent) AS rk, COUNT(*) OVER () AS n FROM agg),
      thr AS (SELECT total_spent AS p FROM ranked WHERE rk = GREATEST(1, CEIL({p.vip} * n / 100))),
      oa AS (
        SELECT a.customer_id, c.first_name, c.last_name, c.email, c.country, a.total_orders, a.total_spent,
               CAST(a.total_spent AS DOUBLE) / a.total_orders AS avg_order_value,
               a.first_order_date, a.last_order_date,
               CAST(TIMESTAMPDIFF(SECOND, a.first_order_date, a.last_order_date) AS DOUBLE)
                 / (86400e0 * GREATEST(a.total_orders - 1, 1)) AS avg_days_between_orders,
               pk.h AS peak_order_hour,
               CASE WHEN a.total_orders = 1 THEN 'one-time' WHEN a.total_orders <= 4 THEN 'occasional'
                    WHEN a.total_orders <= 9 THEN 'regular' ELSE 'frequent' END AS frequency_segment,
               a.total_spent >= (SELECT p FROM thr) AS is_vip
        FROM agg a JOIN peak pk ON pk.customer_id = a.customer_id
        LEFT JOIN customers c ON c.customer_id = a.customer_id)"""


def oracle_sql(p):
    as_of = f"CAST({lit(p.as_of)} AS DATETIME)"
    return {
        "inventory_analytics": inventory_sql(p),
        "warehouse_utilization": warehouse_sql(p),
        "order_analytics": order_cte(p) + " SELECT * FROM oa",
        "customer_segments": order_cte(p) + """
            SELECT frequency_segment, COUNT(*) AS customer_count, SUM(is_vip) AS vip_count,
                   SUM(total_spent) AS total_spent,
                   CAST(SUM(total_spent) AS DOUBLE) / SUM(total_orders) AS avg_order_value
            FROM oa GROUP BY frequency_segment""",
        "hourly_orders": f"""
            SELECT CAST(h.seq AS SIGNED) AS hour, COUNT(o.order_id) AS order_count,
                   COALESCE(SUM(o.total_amount), 0) AS revenue,
                   COALESCE(CAST(COUNT(o.order_id) AS DOUBLE) / NULLIF(SUM(COUNT(o.order_id)) OVER (), 0), 0e0)
                     AS share_of_orders
            FROM seq_0_to_23 h LEFT JOIN orders o ON HOUR(o.order_date) = h.seq AND {counted(p)}
            GROUP BY h.seq""",
        # days_of_supply < 7 <=> on_hand * window < 7 * units_sold when units_sold > 0 (integers: exact)
        "product_turnover": f"""
            WITH sold AS (
              SELECT oi.product_id, SUM(oi.quantity) AS units FROM order_items oi
              JOIN orders o ON o.order_id = oi.order_id
              WHERE {counted(p)} AND o.order_date > {as_of} - INTERVAL {p.window} DAY
              GROUP BY oi.product_id),
            hand AS (SELECT product_id, SUM(quantity) AS qty FROM inventory WHERE quantity IS NOT NULL
                     GROUP BY product_id),
            t AS (SELECT pr.product_id, pr.sku, pr.name, pr.category,
                         CAST(COALESCE(s.units, 0) AS SIGNED) AS units_sold,
                         CAST(COALESCE(h.qty, 0) AS SIGNED) AS on_hand
                  FROM products pr LEFT JOIN sold s ON s.product_id = pr.product_id
                  LEFT JOIN hand h ON h.product_id = pr.product_id)
            SELECT t.*,
                   CASE WHEN on_hand <= 0 THEN NULL ELSE CAST(units_sold AS DOUBLE) / CAST(on_hand AS DOUBLE) END
                     AS turnover_rate,
                   CASE WHEN units_sold = 0 THEN NULL
                        ELSE CAST(on_hand AS DOUBLE) / (CAST(units_sold AS DOUBLE) / {p.window}e0) END
                     AS days_of_supply,
                   (units_sold > 0 AND on_hand * {p.window} < 7 * units_sold)
                   OR (units_sold < 0 AND on_hand * {p.window} > 7 * units_sold)
                   OR (on_hand <= 0 AND units_sold > 0) AS needs_restock
            FROM t""",
    }


def oracle(mariadb, db, p):
    return {ds: q(mariadb, db, sql, dict_rows=True) for ds, sql in oracle_sql(p).items()}


# ------------------------------------------------------------------------------------
# comparison


def norm(value, typ):
    """An oracle value in the form pyarrow gives for the column's type."""
    if value is None:
        return None
    if pa.types.is_boolean(typ):
        return bool(value)
    if pa.types.is_integer(typ):
        assert value == int(value), value
        return int(value)
    if pa.types.is_decimal(typ):
        return Decimal(value)
    if pa.types.is_floating(typ):
        return float(value)
    if pa.types.is_timestamp(typ):
        return value.replace(tzinfo=timezone.utc)
    return value


def same(a, e, typ):
    if a is None or e is None:
        return a is None and e is None
    if pa.types.is_floating(typ):
        return math.isclose(a, e, rel_tol=1e-9, abs_tol=1e-12)
    if pa.types.is_decimal(typ):
        return a == e and a.as_tuple().exponent == -2
    return a == e and type(a) is type(e)


def check_dataset(ds, table, expected, p, run_id):
    """Schema, the common columns, and the row set against the oracle's rows."""
    want = SCHEMAS[ds]
    got = {f.name: f.type for f in table.schema}
    assert got == want, f"{ds}: schema {got} != {want}"
    if expected:
        assert set(expected[0]) | set(COMMON) == set(want), f"{ds}: the oracle's columns differ"
    rows = table.to_pylist()
    as_of = datetime.strptime(p.as_of, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    assert all(r["as_of"] == as_of for r in rows), ds
    assert all(r["run_id"] == run_id for r in rows), ds
    sources = {r["source_tables"] for r in rows}
    assert len(sources) <= 1, ds
    for s in sources:
        names = set(s.split(","))
        assert NEEDS[ds] <= names <= set(TABLES), f"{ds}: source_tables {s!r}"
    key = KEYS[ds]
    actual = {r[key]: r for r in rows}
    assert len(actual) == len(rows), f"{ds}: duplicate {key}"
    exp = {}
    for e in expected:
        e = {c: norm(v, want[c]) for c, v in e.items()}
        exp[e[key]] = e
    missing, extra = set(exp) - set(actual), set(actual) - set(exp)
    assert not missing and not extra, f"{ds}: rows missing {sorted(missing)[:10]}, extra {sorted(extra)[:10]}"
    bad = []
    for k, e in exp.items():
        a = actual[k]
        for c, v in e.items():
            if not same(a[c], v, want[c]):
                bad.append(f"{key}={k} {c}: sluice {a[c]!r}, oracle {v!r}")
    assert not bad, f"{ds}: {len(bad)} values differ:\n  " + "\n  ".join(bad[:20])


def check_run(mariadb, db, out, p, min_rows=None, shards=1, passes=1):
    """Runs sluice with p, compares every dataset with the oracle; returns (manifest, tables).
    passes > 1: each shard reads its customers in that many passes, spilled (--passes)."""
    proc = sluice_run(mariadb, db, out, *p.args(), *(["--shards", str(shards)] if shards > 1 else []),
                      *(["--passes", str(passes)] if passes > 1 else []))
    date = p.as_of[:10]
    m, tables = load(out, date, shards)
    assert m["memory"]["passes"] >= shards * passes
    # --passes also splits the products of the inventory task (product-id ranges; fewer
    # when there are fewer products)
    inv_task = [t for t in m["tasks"] if t["label"].startswith("products, warehouses, inventory")]
    assert [t.get("passes") for t in inv_task] == [m["memory"]["product_passes"]]
    assert 1 <= m["memory"]["product_passes"] <= passes
    assert m["as_of"] == date and m["run_id"] in proc.stdout
    exp = oracle(mariadb, db, p)
    for ds in DATASETS:
        check_dataset(ds, tables[ds], exp[ds], p, m["run_id"])
    if min_rows:
        for ds, n in min_rows.items():
            assert tables[ds].num_rows >= n, f"{ds}: only {tables[ds].num_rows} rows; the case proves little"
    return m, tables


# ------------------------------------------------------------------------------------
# generated data


@pytest.fixture(scope="module")
def seeded(mariadb):
    db = mariadb.create_database()
    run_sluice(["seed", "--scale", "0.02", "--anchor", ANCHOR], env=mariadb.sluice_env(db), check=0)
    yield db
    mariadb.drop_database(db)


GENERATED = {
    "near_anchor": Params("2026-06-29 18:00:00"),
    "backfill": Params("2025-03-15 08:30:00"),
    "exclude_and_thresholds": Params("2026-06-30 00:00:00", exclude=("cancelled", "returned"), restock="0.25",
                                     overstock="0.9", optimal="0.6", window=14, vip="90"),
    "all_flags_explicit": Params("2026-07-10 06:00:00", exclude=("pending",), default_flags=False),
}


@pytest.mark.parametrize("case, shards, passes", [(c, 1, 1) for c in GENERATED] + [
    ("near_anchor", 4, 1), ("backfill", 3, 1), ("near_anchor", 1, 5), ("exclude_and_thresholds", 2, 3)])
def test_generated_data_matches_oracle(mariadb, seeded, tmp_path, case, shards, passes):
    """--shards N: the orders side in N customer ranges, merged at commit, gives the same
    datasets (order_analytics in N files, in customer order). --passes P: each shard in P
    customer ranges read one after the other, spilled, emitted in order: the same again."""
    p = GENERATED[case]
    m, tables = check_run(mariadb, seeded, tmp_path, p, shards=shards, passes=passes, min_rows={
        "inventory_analytics": 900, "order_analytics": 500, "warehouse_utilization": 20,
        "product_turnover": 200, "customer_segments": 4})
    # the data exercises every branch: each status, VIPs and non-VIPs, restock needs
    inv = tables["inventory_analytics"].column("stock_status").to_pylist()
    assert set(inv) == {"ok", "restock", "overstock", "unknown"}
    vip = tables["order_analytics"].column("is_vip").to_pylist()
    assert 0 < sum(vip) < len(vip)
    sold = tables["product_turnover"].column("units_sold").to_pylist()
    assert sum(1 for s in sold if s > 0) > 20
    # 200 products: --passes P takes them in P product passes too, each replaying the
    # inventory rows of its product ids
    assert m["memory"]["product_passes"] == passes
    # a connection per task (the inventory task and each shard) and one more per shard,
    # on which its window's items are read beside its orders, all in the one snapshot
    assert m["snapshot"] == {**m["snapshot"], "consistency": "snapshot", "connections": 1 + 2 * shards}


def test_backfill_differs_from_today(mariadb, seeded, tmp_path):
    """An old as-of leaves the later orders out: fewer orders than a current run."""
    _, old = load_after(mariadb, seeded, tmp_path / "old", Params("2025-03-15 08:30:00"))
    _, new = load_after(mariadb, seeded, tmp_path / "new", Params("2026-06-30 00:00:00"))
    n_old = sum(old["hourly_orders"].column("order_count").to_pylist())
    n_new = sum(new["hourly_orders"].column("order_count").to_pylist())
    assert 0 < n_old < n_new / 2
    # inventory is the current snapshot either way, only days_since_update moves
    assert old["inventory_analytics"].num_rows == new["inventory_analytics"].num_rows


def load_after(mariadb, db, out, p):
    sluice_run(mariadb, db, out, *p.args())
    return load(out, p.as_of[:10])


# ------------------------------------------------------------------------------------
# hand-made edge cases

E_AS_OF = "2026-06-30 12:00:00"


def insert(mariadb, db, table, rows):
    if not rows:
        return
    with mariadb.connect(db) as c, c.cursor() as cur:
        ph = ", ".join(["%s"] * len(rows[0]))
        cur.executemany(f"INSERT INTO {table} VALUES ({ph})", rows)


def at(delta=timedelta(0), base=E_AS_OF):
    return (datetime.strptime(base, "%Y-%m-%d %H:%M:%S") + delta).strftime("%Y-%m-%d %H:%M:%S")


DAY, SEC = timedelta(days=1), timedelta(seconds=1)
CREATED = "2024-01-01 00:00:00"

EDGE_WAREHOUSES = [
    (1, "North Hub", "Kraków", "EU-East", "PL"),
    (2, "Empty Depot", "São Paulo", "LATAM", "BR"),    # no inventory
    (3, None, None, None, None),
    (4, "Odd Caps", "Oslo", "EU-North", "NO"),
]
EDGE_PRODUCTS = [
    (1, "SKU-1", "Widget", "tools", "9.99", CREATED),
    (2, "SKU-2", "Sold Only", "toys", "5.00", CREATED),     # sales, no inventory: needs_restock
    (3, "SKU-3", "Unsold", "toys", "5.00", CREATED),        # inventory, no sales
    (4, "SKU-4", "Null Qty", "garden", "5.00", CREATED),    # only a NULL quantity: on_hand 0
    (5, "SKU-5", "Plenty", "garden", "5.00", CREATED),      # sales, plenty on hand
    (6, "SKU-6", "Scarce", "tools", "5.00", CREATED),       # sales, days_of_supply < 7
    (7, None, None, None, None, None),
    (8, "SKU-8", "Seven Days", "books", "5.00", CREATED),   # on_hand 9, 9 sold in the last 7 days
    (9, "SKU-9", "Zero Stock", "books", "5.00", CREATED),   # on_hand 0 with sales
    (10, "SKU-10", "Boundary", "books", "5.00", CREATED),   # sales on the window's edges
    (11, "SKU-11", "Seven", "books", "5.00", CREATED),      # 7 on hand, 30 sold in 30 days: 7 days
]
EDGE_INVENTORY = [  # inventory_id, product_id, warehouse_id, quantity, capacity, last_updated
    (1, 1, 1, 50, 100, at(-3 * DAY)),       # ratio 0.5, 3 days: score 94
    (2, 1, 3, 10, 0, at(-DAY)),             # capacity 0
    (3, 3, 1, 10, None, at(-2 * DAY)),      # capacity NULL
    (4, 4, 1, None, 100, at(-2 * DAY)),     # quantity NULL
    (5, 5, 1, 150, 100, at(-10 * DAY)),     # above capacity: overstock, score clamped to 0
    (6, 6, 1, 1, 5, at(-DAY)),              # ratio exactly 0.2: ok; exactly one day; round(2.5) = 3
    (7, 6, 3, 0, 7, None),                  # restock; last_updated NULL; round(3.5) = 4
    (8, 3, 3, 8, 10, at(5 * DAY)),          # ratio exactly 0.8: ok; future last_updated: 0 days
    (9, 99, 1, 5, 10, at(-SEC)),            # unknown product; 1 s ago: 0 days
    (10, 1, 99, 5, 10, at(-100 * DAY)),     # unknown warehouse; score clamped to 0 by age
    (11, 5, 3, 30, 100, at(-DAY + SEC)),    # 86399 s: 0 days
    (12, 7, 1, 3, -5, at()),                # capacity negative
    (13, 8, 1, 9, 20, at(-DAY)),
    (14, 9, 1, 0, 50, at(-DAY)),            # quantity 0: restock
    (15, 5, 4, 0, 1, at(-DAY)),             # odd capacities: round(0.5) = 1
    (16, 6, 4, 1, 3, at(-DAY)),             # round(1.5) = 2
    (17, 1, 4, 2, 5, at(-DAY)),             # round(2.5) = 3
    (18, 3, 4, 4, 7, at(-DAY)),             # round(3.5) = 4
    (19, 10, 4, 4, 9, at(-DAY)),            # round(4.5) = 5
    (20, 9, 4, 0, 45, at(-DAY)),            # capacity 45 * 0.7 = 31.5 -> 32
    (21, 7, 4, 120, 85, at(-60 * DAY)),     # capacity 85 * 0.7 = 59.5 -> 60
    (22, 11, 1, 7, 10, at(-DAY)),
]
EDGE_CUSTOMERS = [
    (1, "Ann", "One", "ann@example.com", "US", CREATED),         # one order
    (2, "Bob", "Tie", "bob@example.com", "DE", CREATED),         # tie of peak hours 10 and 14
    (3, "Cat", "Cancelled", "cat@example.com", "FR", CREATED),   # every order cancelled
    (4, "Dan", "Future", "dan@example.com", "GB", CREATED),      # every order after as_of
    (5, None, None, None, None, None),                            # NULL names, two orders
    (6, "Zoë", "Łukasiewicz", "zoe@example.com", "PL", CREATED),  # frequent (12)
    (7, "Eve", "Regular", "eve@example.com", "US", CREATED),      # regular (6)
    (8, "Fay", "Boundary", "fay@example.com", "CA", CREATED),     # orders on the boundaries
]
# customer 42 has orders but no customers row
EDGE_ORDERS = [  # order_id, customer_id, order_date, total_amount, status
    (1, 1, "2026-06-01 09:15:00", "10.00", "delivered"),
    (2, 2, "2026-05-01 14:00:00", "20.50", "delivered"),
    (3, 2, "2026-05-02 10:30:00", "5.25", "paid"),
    (4, 2, "2026-05-03 14:59:59", "7.75", "shipped"),
    (5, 2, "2026-05-04 10:00:00", "1.00", "pending"),
    (6, 2, "2026-05-05 14:10:00", "100.00", "cancelled"),       # counted only with no exclusions
    (7, 3, "2026-06-10 08:00:00", "50.00", "cancelled"),
    (8, 3, "2026-06-11 08:00:00", "60.00", "cancelled"),
    (9, 4, at(SEC), "70.00", "delivered"),                       # one second after as_of
    (10, 4, "2026-07-15 00:00:00", "80.00", "paid"),
    (11, 5, "2026-06-20 23:59:59", "15.00", "delivered"),
    (12, 5, "2026-06-21 00:00:00", "15.00", "returned"),
    (13, 8, at(), "33.33", "delivered"),                         # exactly as_of: counted
    (14, 8, at(-30 * DAY), "44.44", "returned"),                 # as_of - 30 days: outside the window
    (15, 8, at(-30 * DAY + SEC), "5.00", "delivered"),           # just inside the window
    (16, 42, "2026-03-03 03:03:03", "100.00", "delivered"),
    (17, 42, "2026-04-04 04:04:04", "100.00", "delivered"),
    (18, 42, "2026-06-25 05:05:05", "14.08", "shipped"),
] + [  # customer 6: 12 orders, 5 days apart; total 214.08 like customer 42's: a tie for VIP
    (100 + k, 6, at(-timedelta(days=5 * k, hours=12) + timedelta(hours=(7 * k) % 24)),
     str(Decimal("12.34") + k), "delivered") for k in range(12)
] + [  # customer 7: 6 orders at 03:xx, long ago
    (200 + k, 7, f"2026-04-{10 + k:02d} 03:{k:02d}:00", "9.99", "delivered") for k in range(6)
]
EDGE_ITEMS = [  # order_item_id, order_id, product_id, quantity, unit_price
    (1, 1, 2, 3, "2.00"), (2, 1, 5, 2, "2.00"),
    (3, 8, 2, 100, "0.60"),         # cancelled
    (4, 9, 2, 50, "1.40"),          # after as_of
    (5, 11, 6, 20, "0.75"),         # product 6: on_hand 2, 20 sold in 30 days: 3 days of supply
    (6, 12, 5, 1, "5.00"), (7, 12, 9, 4, "2.50"),
    (8, 13, 10, 1, "33.33"),        # at as_of
    (9, 14, 10, 1000, "0.04"),      # as_of - 30 days: not in the window
    (10, 15, 10, 7, "0.71"),        # as_of - 30 days + 1 s
    (11, 18, 5, 4, "3.52"),
    (12, 100, 8, 9, "1.37"),        # customer 6's newest order (as_of - 12 h): 9 of product 8
    (13, 2, 1, 5, "4.10"), (14, 200, 1, 1, "9.99"),
    (15, 9999, 1, 500, "1.00"),     # an item of a missing order
    (16, 13, 11, 30, "0.00"),       # product 11: exactly 7 days of supply, not < 7
] + [(100 + k, 101 + k, 1, 1, "12.34") for k in range(11)]


def load_edge(mariadb, db):
    """The six tables, with the edge rows above, into db."""
    create_schema(mariadb, db)
    for table, rows in (("warehouses", EDGE_WAREHOUSES), ("products", EDGE_PRODUCTS), ("inventory", EDGE_INVENTORY),
                        ("customers", EDGE_CUSTOMERS), ("orders", EDGE_ORDERS), ("order_items", EDGE_ITEMS)):
        insert(mariadb, db, table, rows)


@pytest.fixture(scope="module")
def edge_db(mariadb):
    db = mariadb.create_database()
    load_edge(mariadb, db)
    yield db
    mariadb.drop_database(db)


EDGE = {
    "defaults": Params(E_AS_OF),
    "exclude_none": Params(E_AS_OF, exclude=()),
    "exclude_two": Params(E_AS_OF, exclude=("cancelled", "returned")),
    "window_14_optimal_0.6_vip_50": Params(E_AS_OF, restock="0.3", overstock="0.75", optimal="0.6", window=14,
                                           vip="50"),
    "window_7": Params(E_AS_OF, window=7),
    "optimal_0.7": Params(E_AS_OF, optimal="0.7", restock="0.3", overstock="0.75"),
    "vip_100": Params(E_AS_OF, vip="100"),
    "vip_tiny": Params(E_AS_OF, vip="0.5"),
    "old_as_of": Params("2026-05-03 14:59:59"),
}


@pytest.mark.parametrize("case", list(EDGE) + ["vip_tiny/shards=3", "window_14_optimal_0.6_vip_50/shards=5",
                                  "vip_tiny/passes=4", "window_14_optimal_0.6_vip_50/passes=3"])
def test_edge_cases_match_oracle(mariadb, edge_db, tmp_path, case):
    case, _, n = case.partition("/")
    if n:
        kind, _, n = n.partition("=")
        check_run(mariadb, edge_db, tmp_path, EDGE[case], **{kind: int(n)})
        return
    p = EDGE[case]
    if case == "exclude_none":
        # '' means no status is excluded
        proc = sluice_run(mariadb, edge_db, tmp_path, "--as-of", p.as_of, "--exclude-status", "")
        m, tables = load(tmp_path, p.as_of[:10])
        exp = oracle(mariadb, edge_db, p)
        for ds in DATASETS:
            check_dataset(ds, tables[ds], exp[ds], p, m["run_id"])
        assert m["run_id"] in proc.stdout
    else:
        check_run(mariadb, edge_db, tmp_path, p)


def test_edge_cases_spelled_out(mariadb, edge_db, tmp_path):
    """The edge rows' expected values written down by hand too, so that an oracle mistake
    cannot hide a sluice mistake (and the other way round)."""
    _, t = load_after(mariadb, edge_db, tmp_path, Params(E_AS_OF))
    inv = {r["inventory_id"]: r for r in t["inventory_analytics"].to_pylist()}
    assert len(inv) == len(EDGE_INVENTORY)
    r = inv[1]
    assert (r["utilization_ratio"], r["days_since_update"], r["stock_status"], r["optimal_quantity"],
            r["reorder_quantity"], r["product_name"], r["city"]) == (0.5, 3, "ok", 50, 0, "Widget", "Kraków")
    assert math.isclose(r["inventory_score"], 94.0)
    for i in (2, 3, 4, 12):  # capacity 0, NULL, negative; quantity NULL
        assert inv[i]["utilization_ratio"] is None and inv[i]["stock_status"] == "unknown", i
        assert inv[i]["inventory_score"] is None and inv[i]["optimal_quantity"] is None
        assert inv[i]["reorder_quantity"] is None
    assert inv[3]["capacity"] is None and inv[4]["quantity"] is None
    assert inv[2]["days_since_update"] == 1 and inv[12]["days_since_update"] == 0
    assert inv[5]["stock_status"] == "overstock" and inv[5]["inventory_score"] == 0.0
    assert inv[5]["reorder_quantity"] == 0 and inv[5]["utilization_ratio"] == 1.5
    assert (inv[6]["stock_status"], inv[6]["days_since_update"], inv[6]["optimal_quantity"],
            inv[6]["reorder_quantity"]) == ("ok", 1, 3, 2)
    assert (inv[7]["stock_status"], inv[7]["days_since_update"], inv[7]["inventory_score"],
            inv[7]["optimal_quantity"], inv[7]["reorder_quantity"]) == ("restock", None, None, 4, 4)
    assert inv[8]["stock_status"] == "ok" and inv[8]["days_since_update"] == 0
    assert inv[8]["warehouse_name"] is None and inv[8]["last_updated"] > inv[1]["last_updated"]
    assert inv[9]["product_name"] is None and inv[9]["category"] is None and inv[9]["days_since_update"] == 0
    assert inv[9]["warehouse_name"] == "North Hub"
    assert inv[10]["warehouse_name"] is None and inv[10]["region"] is None and inv[10]["inventory_score"] == 0.0
    assert inv[11]["days_since_update"] == 0 and inv[14]["stock_status"] == "restock"
    assert [inv[i]["optimal_quantity"] for i in range(15, 21)] == [1, 2, 3, 4, 5, 23]

    oa = {r["customer_id"]: r for r in t["order_analytics"].to_pylist()}
    assert set(oa) == {1, 2, 5, 6, 7, 8, 42}  # 3: all cancelled, 4: all after as_of
    assert oa[1]["frequency_segment"] == "one-time" and oa[1]["avg_days_between_orders"] == 0.0
    assert oa[1]["peak_order_hour"] == 9
    assert oa[2]["total_orders"] == 4 and oa[2]["peak_order_hour"] == 10 and oa[2]["total_spent"] == Decimal("34.50")
    assert oa[5]["first_name"] is None and oa[5]["email"] is None and oa[5]["peak_order_hour"] == 0
    assert oa[6]["frequency_segment"] == "frequent" and oa[6]["first_name"] == "Zoë"
    assert oa[7]["frequency_segment"] == "regular" and oa[7]["peak_order_hour"] == 3
    assert oa[8]["total_orders"] == 3 and oa[8]["last_order_date"].strftime("%F %T") == E_AS_OF
    assert oa[42]["first_name"] is None and oa[42]["country"] is None
    assert oa[6]["total_spent"] == oa[42]["total_spent"] == Decimal("214.08")
    assert {c for c, r in oa.items() if r["is_vip"]} == {6, 42}  # rank ceil(0.95 * 7) = 7, a tie

    hourly = {r["hour"]: r for r in t["hourly_orders"].to_pylist()}
    assert sorted(hourly) == list(range(24))
    assert sum(r["order_count"] for r in hourly.values()) == 31
    assert hourly[10]["order_count"] == 2 and hourly[10]["revenue"] == Decimal("6.25")

    wh = {r["warehouse_id"]: r for r in t["warehouse_utilization"].to_pylist()}
    assert set(wh) == {1, 2, 3, 4}
    assert (wh[2]["item_count"], wh[2]["total_quantity"], wh[2]["total_capacity"], wh[2]["utilization_ratio"],
            wh[2]["avg_inventory_score"], wh[2]["name"]) == (0, 0, 0, None, None, "Empty Depot")
    # warehouse 1: inventory 1, 3, 4, 5, 6, 9, 12, 13, 14, 22 (inventory 10's warehouse is unknown)
    assert wh[1]["item_count"] == 10 and wh[1]["total_quantity"] == 50 + 150 + 1 + 5 + 9 + 0 + 7
    assert wh[1]["total_capacity"] == 100 + 100 + 5 + 10 + 20 + 50 + 10
    assert (wh[1]["restock_count"], wh[1]["overstock_count"]) == (1, 1)

    pt = {r["product_id"]: r for r in t["product_turnover"].to_pylist()}
    assert set(pt) == set(range(1, 12))
    assert (pt[2]["units_sold"], pt[2]["on_hand"], pt[2]["turnover_rate"], pt[2]["days_of_supply"],
            pt[2]["needs_restock"]) == (3, 0, None, 0.0, True)
    assert (pt[3]["units_sold"], pt[3]["days_of_supply"], pt[3]["needs_restock"]) == (0, None, False)
    assert (pt[4]["on_hand"], pt[4]["turnover_rate"], pt[4]["needs_restock"]) == (0, None, False)
    assert pt[6]["on_hand"] == 2 and pt[6]["units_sold"] == 20 and math.isclose(pt[6]["days_of_supply"], 3.0)
    assert pt[6]["needs_restock"] is True
    assert pt[9]["on_hand"] == 0 and pt[9]["units_sold"] == 4 and pt[9]["needs_restock"] is True
    assert pt[10]["units_sold"] == 8  # 1 at as_of + 7 at as_of - 30 d + 1 s, not the 1000 at as_of - 30 d
    assert pt[5]["units_sold"] == 7 and pt[5]["needs_restock"] is False
    assert pt[7]["sku"] is None and pt[7]["on_hand"] == 123
    assert (pt[11]["on_hand"], pt[11]["units_sold"], pt[11]["days_of_supply"], pt[11]["needs_restock"]) == (
        7, 30, 7.0, False)

    seg = {r["frequency_segment"]: r for r in t["customer_segments"].to_pylist()}
    assert set(seg) == {"one-time", "occasional", "regular", "frequent"}
    assert seg["occasional"]["customer_count"] == 4 and seg["occasional"]["vip_count"] == 1


def test_optimal_quantity_rounds_exact_halves(mariadb, edge_db, tmp_path):
    """round(capacity * O) rounds the exact product: with O = 0.7, capacity 45 gives 31.5
    -> 32 and 85 gives 59.5 -> 60 (45 * 0.7 is 31.499999999999996 in binary doubles)."""
    _, t = load_after(mariadb, edge_db, tmp_path, Params(E_AS_OF, optimal="0.7"))
    inv = {r["inventory_id"]: r for r in t["inventory_analytics"].to_pylist()}
    assert inv[20]["optimal_quantity"] == 32 and inv[20]["reorder_quantity"] == 32
    assert inv[21]["optimal_quantity"] == 60 and inv[21]["reorder_quantity"] == 0
    assert inv[15]["optimal_quantity"] == 1 and inv[19]["optimal_quantity"] == 6  # 0.7, 6.3




def test_needs_restock_exactly_seven_days(mariadb, edge_db, tmp_path):
    """9 on hand, 9 sold in a 7-day window: exactly 7 days of supply, which is not < 7
    (9 / (9 / 7) is 6.999999999999999 in binary doubles)."""
    _, t = load_after(mariadb, edge_db, tmp_path, Params(E_AS_OF, window=7))
    pt = {r["product_id"]: r for r in t["product_turnover"].to_pylist()}
    assert (pt[8]["units_sold"], pt[8]["on_hand"]) == (9, 9)
    assert math.isclose(pt[8]["days_of_supply"], 7.0)
    assert pt[8]["needs_restock"] is False




@pytest.mark.parametrize("passes", [1, 4])
def test_vip_rank_is_exact(mariadb, fresh_db, tmp_path, passes):
    """Nearest rank ceil(P/100 * n) with P = 1.1 and n = 3000 is exactly 33 (1.1 * 3000 / 100
    is 33.000000000000004 in binary doubles): 2968 customers reach the 33rd smallest total.
    In passes, the rank is selected from the spilled totals (a radix select)."""
    create_schema(mariadb, fresh_db)
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("INSERT INTO orders SELECT seq, seq, '2026-06-01 10:00:00', seq / 100, 'paid' "
                    "FROM seq_1_to_3000")
        # the passes are customer-id ranges of the customers table (first and last open)
        cur.execute("INSERT INTO customers (customer_id, first_name) SELECT seq, CONCAT('c', seq) "
                    "FROM seq_1_to_3000")
        cur.execute("ANALYZE TABLE customers")
    p = Params(E_AS_OF, vip="1.1")
    _, t = check_run(mariadb, fresh_db, tmp_path, p, passes=passes)
    assert sum(t["order_analytics"].column("is_vip").to_pylist()) == 2968




@pytest.mark.parametrize("passes", [1, 2])
def test_peak_hour_past_65535_orders_an_hour(mariadb, fresh_db, tmp_path, passes):
    """A customer's orders per hour are counted in 8 bits, with the wraps kept aside: an
    hour of 70,000 orders beats one of 60,000, one of exactly 65,536 beats 65,535, and one
    of 256 beats 255 and 300 beats 299 (the oracle: MariaDB's SQL). With 2 passes, the
    later customers are in the second one."""
    create_schema(mariadb, fresh_db)
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        for base, cust, hour, n in ((0, 1, 3, 70000), (100000, 1, 5, 60000),
                                    (200000, 2, 10, 65536), (300000, 2, 11, 65535),
                                    (400000, 3, 7, 256), (400300, 3, 8, 255),
                                    (400600, 4, 20, 299), (401000, 4, 21, 300)):
            cur.execute(f"INSERT INTO orders SELECT {base} + seq, {cust}, "
                        f"'2026-01-01 {hour:02d}:00:00' + INTERVAL seq % 3600 SECOND + INTERVAL seq DIV 3600 DAY, "
                        f"1.25, 'paid' FROM seq_1_to_{n}")
        cur.execute("INSERT INTO customers (customer_id, first_name) SELECT seq, 'n' FROM seq_1_to_4")
        cur.execute("ANALYZE TABLE customers")
    _, t = check_run(mariadb, fresh_db, tmp_path, Params(E_AS_OF), passes=passes)
    oa = t["order_analytics"].to_pydict()
    assert dict(zip(oa["customer_id"], oa["peak_order_hour"])) == {1: 3, 2: 10, 3: 7, 4: 21}


@pytest.mark.parametrize("passes", [1, 2])
def test_dense_customers_with_orders_of_unknown_ones(mariadb, fresh_db, tmp_path, passes):
    """Dense customer ids (10..109 but 50) put each customer's aggregate at its id, with no map; orders of ids in the gap, below the range and above it go through the
    map. Every dataset equals MariaDB's SQL, order_analytics comes in id order, and
    orders_unknown_customer is SQL's count of orders without a customer."""
    create_schema(mariadb, fresh_db)
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("INSERT INTO customers (customer_id, first_name) SELECT seq, CONCAT('n', seq) "
                    "FROM seq_10_to_109 WHERE seq <> 50")
        # 5 orders of each id in 1..120 (ids 1-9, 50 and 110-120 unknown), shuffled
        cur.execute("INSERT INTO orders SELECT ROW_NUMBER() OVER (ORDER BY RAND(11)), i.seq, "
                    "'2026-06-20 10:00:00' - INTERVAL (i.seq * 7 + n.seq * 13) HOUR, i.seq + n.seq / 4, "
                    "IF((i.seq + n.seq) % 9 = 0, 'cancelled', 'paid') FROM seq_1_to_5 n JOIN seq_1_to_120 i")
        cur.execute("INSERT INTO order_items SELECT order_id, order_id, 1, 2, 1.5 FROM orders")
        cur.execute("ANALYZE TABLE customers")
        cur.execute("SELECT COUNT(*) FROM orders o LEFT JOIN customers c USING (customer_id) "
                    "WHERE c.customer_id IS NULL")
        unknown = cur.fetchone()[0]
    m, t = check_run(mariadb, fresh_db, tmp_path, Params(E_AS_OF), passes=passes)
    got = t["order_analytics"].column("customer_id").to_pylist()
    assert got == sorted(got) and {1, 50, 120} <= set(got), got
    assert unknown == 105 and m["data_quality"]["orders_unknown_customer"] == unknown


def test_rows_in_id_order_with_dense_and_sparse_ids(mariadb, fresh_db, tmp_path):
    """Dense ids sit in the id maps' direct array, ids far apart in their hash part: the
    README's promise that order_analytics, warehouse_utilization and product_turnover come
    in id order must hold for both at once (the values: MariaDB's SQL)."""
    create_schema(mariadb, fresh_db)
    ids = "(SELECT seq FROM seq_1_to_30 UNION ALL SELECT seq * 50000000 + 7 FROM seq_1_to_40)"
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute(f"INSERT INTO customers (customer_id, first_name) SELECT seq, 'n' FROM {ids} i")
        cur.execute(f"INSERT INTO products (product_id, sku, name, category) SELECT seq, CONCAT('s', seq), "
                    f"CONCAT('p', seq), 'c' FROM {ids} i")
        cur.execute(f"INSERT INTO warehouses (warehouse_id, name) SELECT seq, 'w' FROM {ids} i")
        cur.execute("INSERT INTO inventory SELECT ROW_NUMBER() OVER (), p.product_id, w.warehouse_id, 5, 10, "
                    "'2026-06-20 10:00:00' FROM products p JOIN warehouses w ON (p.product_id + w.warehouse_id) % 7 = 0")
        # orders in an order unlike the ids': the customer map meets them shuffled
        cur.execute(f"INSERT INTO orders SELECT ROW_NUMBER() OVER (ORDER BY RAND(7)), i.seq, "
                    f"'2026-06-20 10:00:00' - INTERVAL n.seq HOUR, n.seq / 10, 'paid' FROM seq_1_to_3 n JOIN {ids} i")
        cur.execute("INSERT INTO order_items SELECT order_id, order_id, 1 + order_id % 30, 2, 1.5 FROM orders")
        cur.execute("ANALYZE TABLE customers, products, warehouses")
    _, t = check_run(mariadb, fresh_db, tmp_path, Params(E_AS_OF))
    for ds, col in (("order_analytics", "customer_id"), ("warehouse_utilization", "warehouse_id"),
                    ("product_turnover", "product_id")):
        got = t[ds].column(col).to_pylist()
        assert len(got) == 70 and got == sorted(got), (ds, got)


def test_product_passes_with_signed_and_sparse_ids(mariadb, fresh_db, tmp_path):
    """Product passes (--passes 3: product-id ranges, the products and inventory rows of the
    later ones spilled and replayed) give the datasets of MariaDB's SQL with signed product
    ids: negative ones go to the last pass, where the unsigned order of product_turnover
    puts them, so its rows come in the order of a run in one pass. Inventory rows of
    unknown products, negative and past the last product, and of a NULL product and a NULL
    warehouse (NULL in inventory_analytics, not 0)."""
    create_schema(mariadb, fresh_db)
    ids = ("(SELECT seq FROM seq_1_to_60 UNION ALL SELECT -seq * 1000 FROM seq_1_to_5 "
           "UNION ALL SELECT seq * 1000000007 FROM seq_1_to_10)")
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        for t in ("products", "inventory", "order_items"):
            cur.execute(f"ALTER TABLE {t} MODIFY product_id BIGINT NULL" if t == "inventory"
                        else f"ALTER TABLE {t} MODIFY product_id BIGINT NOT NULL")
        cur.execute("ALTER TABLE inventory MODIFY warehouse_id INT UNSIGNED NULL")
        cur.execute(f"INSERT INTO products (product_id, sku, name, category) SELECT seq, CONCAT('s', seq), "
                    f"CONCAT('p', seq), IF(seq % 2, 'odd', NULL) FROM {ids} i")
        cur.execute("INSERT INTO warehouses (warehouse_id, name) SELECT seq, CONCAT('w', seq) FROM seq_1_to_4")
        cur.execute(f"INSERT INTO inventory SELECT ROW_NUMBER() OVER (ORDER BY RAND(3)), i.seq, w.seq, "
                    f"(i.seq + w.seq) % 40, 30, '2026-06-20 10:00:00' FROM {ids} i JOIN seq_1_to_4 w "
                    f"WHERE (i.seq + w.seq) % 3 <> 0")
        cur.execute("INSERT INTO inventory VALUES (100001, -77, 1, 5, 10, '2026-06-20 10:00:00'), "
                    "(100002, 99999999999, 2, 5, 10, '2026-06-20 10:00:00'), "
                    "(100003, NULL, 3, 5, 10, '2026-06-20 10:00:00'), "
                    "(100004, 7, NULL, 5, 10, '2026-06-20 10:00:00')")
        cur.execute("INSERT INTO customers (customer_id, first_name) SELECT seq, 'n' FROM seq_1_to_20")
        cur.execute("INSERT INTO orders SELECT seq, 1 + seq % 20, '2026-06-20 10:00:00' - INTERVAL seq HOUR, "
                    "seq / 10, 'paid' FROM seq_1_to_200")
        cur.execute(f"INSERT INTO order_items SELECT ROW_NUMBER() OVER (), o.seq, i.seq, 1 + o.seq % 3, 1.5 "
                    f"FROM seq_1_to_200 o JOIN {ids} i ON (o.seq + i.seq) % 11 = 0")
        cur.execute("ANALYZE TABLE products")
    m1, one = check_run(mariadb, fresh_db, tmp_path / "one", Params(E_AS_OF))
    m3, three = check_run(mariadb, fresh_db, tmp_path / "three", Params(E_AS_OF), passes=3)
    assert (m1["memory"]["product_passes"], m3["memory"]["product_passes"]) == (1, 3)
    got = three["product_turnover"].column("product_id").to_pylist()
    assert len(got) == 75 and got == one["product_turnover"].column("product_id").to_pylist()
    assert got[-5:] == sorted(got[-5:]) and all(x < 0 for x in got[-5:])  # unsigned order
    # warehouse sums: the same, but for the mean score, whose double sum is taken in
    # another order (the later passes' rows last)
    a, b = one["warehouse_utilization"], three["warehouse_utilization"]
    for name in a.column_names:
        if name == "avg_inventory_score":
            assert all(math.isclose(x, y, rel_tol=1e-12) for x, y in zip(a.column(name).to_pylist(),
                                                                          b.column(name).to_pylist()))
        elif name != "run_id":
            assert a.column(name).equals(b.column(name)), name
    assert m3["data_quality"] == m1["data_quality"]
    assert m3["data_quality"]["inventory_unknown_product"] == 3


@pytest.mark.parametrize("shards", [1, 2])
def test_units_sold_past_the_bound_go_in_sorted_runs(mariadb, fresh_db, tmp_path, shards):
    """Under --memory-limit 32M an orders shard keeps the units sold of 32,768 products
    (limit / 16 at 64 bytes); past that they go to a spill file in runs sorted by product
    id, merged at the end, and the commit sums every shard's stream beside the products
    stream, both in id order, keeping neither. 45,000 products sold (negative ids, and
    ids past 2^32, where the unsigned order of product_turnover puts them), each in
    several orders of different customers (so of different shards and runs), some sold
    products unknown to products: product_turnover equals MariaDB's SQL."""
    create_schema(mariadb, fresh_db)
    ids = ("(SELECT seq FROM seq_1_to_44000 UNION ALL SELECT -seq * 7 FROM seq_1_to_500 "
           "UNION ALL SELECT seq * 10000000019 FROM seq_1_to_500)")
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        for t in ("products", "inventory", "order_items"):
            cur.execute(f"ALTER TABLE {t} MODIFY product_id BIGINT NOT NULL")
        cur.execute(f"INSERT INTO products (product_id, sku, name, category) SELECT seq, CONCAT('s', seq), "
                    f"CONCAT('p', seq), 'c' FROM {ids} i WHERE seq % 1000 <> 17")  # some sold, unknown
        cur.execute("INSERT INTO warehouses (warehouse_id, name) SELECT seq, CONCAT('w', seq) FROM seq_1_to_2")
        cur.execute(f"INSERT INTO inventory SELECT ROW_NUMBER() OVER (), seq, 1 + ABS(seq) % 2, ABS(seq) % 50, 60, "
                    f"'2026-06-20 10:00:00' FROM {ids} i WHERE seq % 5 = 0")
        cur.execute("INSERT INTO customers (customer_id, first_name) SELECT seq, 'n' FROM seq_1_to_40")
        cur.execute("INSERT INTO orders SELECT seq, 1 + seq % 40, '2026-06-25 10:00:00' - INTERVAL seq MINUTE, "
                    "seq, IF(seq % 9 = 0, 'cancelled', 'paid') FROM seq_1_to_400")
        # each product in 2-3 orders; items in random order, so the runs interleave
        cur.execute(f"INSERT INTO order_items SELECT ROW_NUMBER() OVER (ORDER BY RAND(7)), "
                    f"1 + (ABS(i.seq) * 7 + r.seq * 131) % 400, i.seq, 1 + ABS(i.seq) % 4, 2.5 "
                    f"FROM {ids} i JOIN seq_0_to_2 r ON r.seq < 2 + ABS(i.seq) % 2")
        cur.execute("ANALYZE TABLE products, order_items")
        cur.execute("SELECT COUNT(*) FROM products")
        nproducts = cur.fetchone()[0]
    p = Params(E_AS_OF)
    out = tmp_path / "run"
    sluice_run(mariadb, fresh_db, out, *p.args(), "--memory-limit", "32M",
               *(["--shards", str(shards)] if shards > 1 else []))
    m, tables = load(out, p.as_of[:10], shards)
    assert m["memory"]["sold_runs"] >= 2 * shards, m["memory"]  # the bound was passed, in every shard
    assert all(t["sold_runs"] >= 2 for t in m["tasks"] if "sold_runs" in t)
    exp = oracle(mariadb, fresh_db, p)
    for ds in DATASETS:
        check_dataset(ds, tables[ds], exp[ds], p, m["run_id"])
    got = tables["product_turnover"]
    assert got.num_rows == nproducts and sum(1 for u in got.column("units_sold").to_pylist() if u) > 40000
    ids_out = got.column("product_id").to_pylist()
    assert ids_out == sorted(ids_out, key=lambda x: x % 2**64)  # the unsigned order


@pytest.mark.parametrize("spacing", [1, 10**12 + 7])
def test_window_orders_dense_and_sparse_ids(mariadb, fresh_db, tmp_path, spacing):
    """The window's orders are kept as sorted ids: a bitmap when the ids are dense, a binary
    search when they are spread over the 64-bit range; units_sold must be the same either
    way (the oracle: MariaDB's SQL). Orders inside and outside the window, one twice over
    the items, one cancelled."""
    create_schema(mariadb, fresh_db)
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("INSERT INTO products (product_id, sku, name, category) SELECT seq, CONCAT('s', seq), "
                    "CONCAT('p', seq), 'c' FROM seq_1_to_40")
        cur.execute("INSERT INTO customers (customer_id, first_name) SELECT seq, 'n' FROM seq_1_to_50")
        # 600 orders, every 3rd outside the 30-day window, every 7th cancelled
        cur.execute(f"INSERT INTO orders SELECT seq * {spacing}, 1 + seq % 50, "
                    f"IF(seq % 3 = 0, '2026-03-01 10:00:00', '2026-06-20 10:00:00') - INTERVAL seq MINUTE, "
                    f"seq / 10, IF(seq % 7 = 0, 'cancelled', 'paid') FROM seq_1_to_600")
        cur.execute(f"INSERT INTO order_items SELECT seq, (1 + seq % 600) * {spacing}, 1 + seq % 40, 1 + seq % 5, 1.5 "
                    f"FROM seq_1_to_2400")
    _, t = check_run(mariadb, fresh_db, tmp_path, Params(E_AS_OF))
    assert sum(t["product_turnover"].column("units_sold").to_pylist()) > 0


def test_as_of_epoch_and_default(mariadb, edge_db, tmp_path):
    """--as-of 1970-01-01 00:00:00 (0 s) is an as-of like any other, not "now"; without
    --as-of the date folder is today's (UTC)."""
    sluice_run(mariadb, edge_db, tmp_path / "epoch", "--as-of", "1970-01-01 00:00:00")
    m, t = load(tmp_path / "epoch", "1970-01-01")
    assert t["order_analytics"].num_rows == 0 and t["inventory_analytics"].num_rows == len(EDGE_INVENTORY)
    assert t["hourly_orders"].column("as_of").to_pylist()[0] == datetime(1970, 1, 1, tzinfo=timezone.utc)
    before = datetime.now(timezone.utc)
    sluice_run(mariadb, edge_db, tmp_path / "now")
    after = datetime.now(timezone.utc)
    (date,) = [d.name for d in (tmp_path / "now" / "business_insights").iterdir()]
    assert date in (before.strftime("%Y-%m-%d"), after.strftime("%Y-%m-%d"))
    as_of = load(tmp_path / "now", date)[1]["hourly_orders"].column("as_of").to_pylist()[0]
    assert before - timedelta(seconds=1) <= as_of <= after


def test_empty_tables(mariadb, fresh_db, tmp_path):
    """All six tables empty: hourly_orders still has 24 rows of zeros; the other datasets
    have files with their schema and no rows."""
    create_schema(mariadb, fresh_db)
    m, t = check_run(mariadb, fresh_db, tmp_path, Params(E_AS_OF))
    assert {f["name"].split("/")[0]: f["rows"] for f in data_files(m)} == {
        ds: 24 if ds == "hourly_orders" else 0 for ds in DATASETS}
    h = t["hourly_orders"].to_pylist()
    assert sorted(r["hour"] for r in h) == list(range(24))
    assert all(r["order_count"] == 0 and r["revenue"] == Decimal("0.00") and r["share_of_orders"] == 0.0 for r in h)
    for ds in DATASETS:
        if ds != "hourly_orders":
            assert t[ds].num_rows == 0, ds


def test_only_inventory_side(mariadb, fresh_db, tmp_path):
    """Warehouses and products, but no inventory and no orders."""
    create_schema(mariadb, fresh_db)
    insert(mariadb, fresh_db, "warehouses", EDGE_WAREHOUSES)
    insert(mariadb, fresh_db, "products", EDGE_PRODUCTS)
    m, t = check_run(mariadb, fresh_db, tmp_path, Params(E_AS_OF))
    assert t["warehouse_utilization"].num_rows == 4 and t["product_turnover"].num_rows == len(EDGE_PRODUCTS)
    assert t["order_analytics"].num_rows == 0 and t["customer_segments"].num_rows == 0


# ------------------------------------------------------------------------------------
# layout, manifest, rerun, --raw


def parquet_files(root):
    return sorted(str(f.relative_to(root)) for f in Path(root).rglob("*") if f.is_file())


def test_layout_and_manifest(mariadb, seeded, tmp_path):
    p = Params("2026-06-29 23:59:59")
    proc = sluice_run(mariadb, seeded, tmp_path, *p.args())
    date = "2026-06-29"  # the as-of's date
    part = tmp_path / "business_insights" / date
    m = manifest(tmp_path, date)
    run_id = m["run_id"]
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", run_id) and run_id in proc.stdout
    want = sorted([f"business_insights/{date}/_SUCCESS", f"business_insights/{date}/report.html"] +
                  [f"business_insights/{date}/{ds}/part-00000-{run_id}.snappy.parquet" for ds in DATASETS])
    assert parquet_files(tmp_path) == want  # nothing else: no temporaries, no raw/
    assert m["as_of"] == date and m["partition"] == f"business_insights/{date}/"
    assert [f["name"] for f in m["files"]] == sorted(["report.html"] + [f"{ds}/part-00000-{run_id}.snappy.parquet"
                                                                        for ds in DATASETS])
    report = next(f for f in m["files"] if f["name"] == "report.html")
    data = (part / "report.html").read_bytes()
    assert report["rows"] == 0 and report["bytes"] == len(data)
    assert report["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
    total_rows, total_bytes = 0, len(data)
    for f in data_files(m):
        path = part / f["name"]
        data = path.read_bytes()
        assert f["key"] == f"business_insights/{date}/{f['name']}"
        assert f["bytes"] == len(data)
        assert f["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
        meta = pq.ParquetFile(path).metadata
        assert f["rows"] == meta.num_rows
        kv = {k.decode(): v.decode() for k, v in (meta.metadata or {}).items()}
        assert kv.get("sluice.run_id") == run_id
        total_rows += f["rows"]
        total_bytes += f["bytes"]
    assert (m["total_rows"], m["total_bytes"]) == (total_rows, total_bytes)
    # the parameters are recorded
    assert m["parameters"]["as_of"] == p.as_of and m["parameters"]["exclude_status"] == ["cancelled"]


def test_rerun_replaces_the_date(mariadb, seeded, tmp_path):
    p = Params("2026-06-29 18:00:00")
    sluice_run(mariadb, seeded, tmp_path, *p.args())
    first = manifest(tmp_path, "2026-06-29")
    # another as-of of the same day, and another date beside it
    sluice_run(mariadb, seeded, tmp_path, "--as-of", "2026-06-28 10:00:00")
    sluice_run(mariadb, seeded, tmp_path, "--as-of", "2026-06-29 06:00:00")
    second = manifest(tmp_path, "2026-06-29")
    assert second["run_id"] != first["run_id"]
    files = parquet_files(tmp_path / "business_insights" / "2026-06-29")
    assert files == sorted(["_SUCCESS"] + [f["name"] for f in second["files"]])
    assert all(second["run_id"] in f for f in files if f not in ("_SUCCESS", "report.html"))
    assert not any(first["run_id"] in f for f in files)
    assert second["parameters"]["as_of"] == "2026-06-29 06:00:00"
    # the other date is untouched
    assert manifest(tmp_path, "2026-06-28")["parameters"]["as_of"] == "2026-06-28 10:00:00"
    assert len(parquet_files(tmp_path / "business_insights" / "2026-06-28")) == 8  # 6 datasets, report, _SUCCESS


def pyrows(table):
    """A raw table's rows as tuples comparable with pymysql's: timestamps naive UTC (ENUM
    labels are written as STRING, so they come back as text)."""
    out = []
    for r in table.to_pylist():
        out.append(tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in r.values()))
    return out


def enum_ok(t, table):
    """orders.status is the one ENUM of the source tables; its origin is recorded."""
    meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()}
    return table != "orders" or meta.get("sluice.origin.status", "").lower().startswith("enum")


@pytest.mark.parametrize("which", ["edge", "generated", "edge/shards=3", "generated/shards=2", "edge/passes=3",
                                   "generated/shards=2/passes=2"])
def test_raw_tables(mariadb, edge_db, seeded, tmp_path, which):
    """With --shards, customers, orders and order_items come in one file per shard, and
    still whole: an item of a missing order, an order of a missing customer. With --passes
    too (the passes are taken from one read)."""
    which, *opts = which.split("/")
    opts = dict(o.split("=") for o in opts)
    shards = opts.get("shards")
    db = edge_db if which == "edge" else seeded
    p = Params(E_AS_OF)
    sluice_run(mariadb, db, tmp_path, "--raw", *p.args(), *(["--shards", shards] if shards else []),
               *(["--passes", opts["passes"]] if "passes" in opts else []))
    date = p.as_of[:10]
    assert sorted(d.name for d in (tmp_path / "raw").iterdir()) == sorted(TABLES)
    for table in TABLES:
        part = tmp_path / "raw" / table / date
        m = json.loads((part / "_SUCCESS").read_text())
        assert m["partition"] == f"raw/{table}/{date}/"
        got = []
        for f in m["files"]:
            assert RUN_FILE.match(f["name"]) and f["name"].endswith(".snappy.parquet")
            data = (part / f["name"]).read_bytes()
            assert f["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest() and f["bytes"] == len(data)
            t = pq.read_table(part / f["name"])
            assert f["rows"] == t.num_rows
            assert enum_ok(t, table)
            cols = [c for c, in q(mariadb, db, f"SELECT column_name FROM information_schema.columns WHERE "
                                             f"table_schema = DATABASE() AND table_name = '{table}' "
                                             f"ORDER BY ordinal_position")]
            assert t.column_names == cols
            got += pyrows(t)
        want = list(q(mariadb, db, f"SELECT * FROM {table}"))
        assert sorted(got, key=repr) == sorted(want, key=repr), table
        if table in ("customers", "orders", "order_items"):
            assert len(m["files"]) == int(shards or 1), table
    # the insights are there too, from the same reads
    m = manifest(tmp_path, date)
    assert len(data_files(m)) == 5 + int(shards or 1) and len(m["files"]) == len(data_files(m)) + 1  # report.html
    # --raw reads every item, after the orders, on the shard's own connection
    assert m["snapshot"]["connections"] == 1 + int(shards or 1)


# ------------------------------------------------------------------------------------
# DuckDB reads every dataset file


SUMS = {"inventory_analytics": "quantity", "order_analytics": "total_spent", "hourly_orders": "revenue",
        "warehouse_utilization": "item_count", "product_turnover": "units_sold",
        "customer_segments": "customer_count"}
DOUBLES = {"inventory_analytics": "inventory_score", "order_analytics": "avg_order_value",
           "hourly_orders": "share_of_orders", "warehouse_utilization": "avg_inventory_score",
           "product_turnover": "days_of_supply", "customer_segments": "avg_order_value"}


def test_duckdb_reads_every_dataset(mariadb, seeded, tmp_path):
    p = Params("2026-06-29 18:00:00")
    sluice_run(mariadb, seeded, tmp_path, *p.args())
    m, tables = load(tmp_path, p.as_of[:10])
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for f in data_files(m):
        ds = f["name"].split("/")[0]
        path = str(tmp_path / "business_insights" / p.as_of[:10] / f["name"])
        n, s, d, nulls, ts = con.execute(
            f"SELECT COUNT(*), SUM({SUMS[ds]}), SUM({DOUBLES[ds]}), COUNT(*) - COUNT({DOUBLES[ds]}), "
            f"MIN(as_of) FROM read_parquet(?)", [path]).fetchone()
        t = tables[ds]
        assert n == t.num_rows == f["rows"], ds
        col = [v for v in t.column(SUMS[ds]).to_pylist() if v is not None]
        assert s == sum(col), ds
        dcol = t.column(DOUBLES[ds]).to_pylist()
        assert nulls == sum(v is None for v in dcol), ds
        assert math.isclose(d, sum(v for v in dcol if v is not None), rel_tol=1e-9), ds
        assert ts == datetime(2026, 6, 29, 18, 0, 0, tzinfo=timezone.utc), ds
        # DuckDB's own view of the types
        types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
                                 [path]).fetchall())
        assert types["as_of"] == "TIMESTAMP WITH TIME ZONE", ds
        for c, typ in SCHEMAS[ds].items():
            if typ == MONEY:
                assert types[c] == "DECIMAL(18,2)", (ds, c)
            elif typ == I64:
                assert types[c] == "BIGINT", (ds, c)
    # a join across two datasets, as an analyst would write it
    base = tmp_path / "business_insights" / p.as_of[:10]
    n = con.execute(f"""SELECT COUNT(*) FROM read_parquet('{base}/inventory_analytics/*.parquet') i
                        JOIN read_parquet('{base}/warehouse_utilization/*.parquet') w USING (warehouse_id)""").fetchone()[0]
    assert n == sum(tables["warehouse_utilization"].column("item_count").to_pylist())


# ------------------------------------------------------------------------------------
# errors and help


@pytest.mark.parametrize("break_sql, named", [
    ("DROP TABLE order_items", "order_items"),
    ("ALTER TABLE inventory DROP COLUMN capacity", "capacity"),
    ("ALTER TABLE customers CHANGE email mail VARCHAR(255)", "email"),
])
def test_missing_table_or_column(mariadb, fresh_db, tmp_path, break_sql, named):
    create_schema(mariadb, fresh_db)
    insert(mariadb, fresh_db, "warehouses", EDGE_WAREHOUSES)
    q(mariadb, fresh_db, break_sql)
    out = tmp_path / "out"
    p = sluice_run(mariadb, fresh_db, out, "--as-of", E_AS_OF, "--raw", check=None)
    assert p.returncode == 5, p.stderr
    assert named in p.stderr
    # nothing written: no business_insights folder, no raw folder, no _SUCCESS
    assert not (out / "business_insights").exists() and not (out / "raw").exists()
    assert not out.exists() or not list(out.rglob("_SUCCESS"))


@pytest.mark.parametrize("break_sql, named", [
    # the items, read on the helper connection while the orders stream: its failure ends the run
    ("ALTER TABLE order_items MODIFY quantity VARCHAR(20)", "reading order_items: source column order_items.quantity is varchar"),
    # the orders fail on the task's own connection while the items are read beside them
    ("ALTER TABLE orders MODIFY total_amount VARCHAR(20)", "reading orders: source column orders.total_amount is varchar"),
])
def test_a_failed_read_beside_the_other(mariadb, fresh_db, tmp_path, break_sql, named):
    load_edge(mariadb, fresh_db)
    q(mariadb, fresh_db, break_sql)
    out = tmp_path / "out"
    p = sluice_run(mariadb, fresh_db, out, "--as-of", E_AS_OF, check=None)
    assert p.returncode == 5, p.stderr
    assert named in p.stderr, p.stderr
    assert not out.exists() or not [f for f in out.rglob("*") if f.is_file()]


def gated_run(mariadb, db, out, consistency, shards, write):
    """`sluice run` with `orders` a view whose rows come after a gate: a derived table of
    one MyISAM row whose WHERE takes and gives back a named lock that this test holds,
    so that both reads of orders (the task's own, and the window's items on the helper
    connection, which starts from orders) wait before they touch InnoDB. While both
    wait, `write` commits; then the gate opens."""
    lock = "sl_gate_" + uuid.uuid4().hex[:10]
    q(mariadb, db, "RENAME TABLE orders TO orders_base")
    q(mariadb, db, "CREATE TABLE gate_t (id INT PRIMARY KEY) ENGINE=MyISAM")
    q(mariadb, db, "INSERT INTO gate_t VALUES (1)")
    q(mariadb, db, f"CREATE VIEW orders AS SELECT o.* FROM (SELECT id FROM gate_t WHERE "
                   f"COALESCE(GET_LOCK('{lock}', 60), 0) + COALESCE(RELEASE_LOCK('{lock}'), 0) >= 0 LIMIT 1) g "
                   f"STRAIGHT_JOIN orders_base o")
    holder = mariadb.connect(db)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 10)", (lock,))
            assert cur.fetchone()[0] == 1
        proc = subprocess.Popen([str(SLUICE), "run", "--output", str(out), "--progress", "off", "--as-of", E_AS_OF,
                                 "--consistency", consistency, "--shards", str(shards)], env=mariadb.sluice_env(db),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while True:  # both reads of orders wait at the gate
                rows = q(mariadb, db, f"SELECT INFO FROM information_schema.PROCESSLIST WHERE DB = '{db}' "
                                      f"AND STATE = 'User lock' AND INFO LIKE 'SELECT%%'")
                if len(rows) == 2 * shards:
                    break
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, f"the reads did not reach the gate: {rows}"
                time.sleep(0.01)
            assert sum("order_items" in r[0] for r in rows) == shards, rows
            write()
            with holder.cursor() as cur:
                cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
    finally:
        holder.close()
        q(mariadb, db, "DROP VIEW orders")
        q(mariadb, db, "DROP TABLE gate_t")
        q(mariadb, db, "RENAME TABLE orders_base TO orders")


@pytest.mark.parametrize("consistency, shards", [("snapshot", 1), ("snapshot", 2), ("none", 1)])
def test_items_beside_the_orders_share_their_snapshot(mariadb, fresh_db, tmp_path, consistency, shards):
    """The helper connection that reads the window's items beside the orders (one per
    orders shard) began in the run's snapshot, under the lock, with the tasks' own
    connections: an UPDATE of every item
    of the window's orders (quantity + 1000), committed while both reads of orders wait
    before their first InnoDB row, is not seen, and every dataset is the oracle's of the
    data before it. The control, --consistency none, gives the oracle's of the data after
    it (units_sold changed): the gate does hold the reads back past the write."""
    load_edge(mariadb, fresh_db)
    pr = Params(E_AS_OF)
    exp = oracle(mariadb, fresh_db, pr)  # before the write
    changed = []

    def write():
        with mariadb.connect(fresh_db) as c, c.cursor() as cur:
            changed.append(cur.execute(f"UPDATE order_items oi JOIN orders_base o ON o.order_id = oi.order_id "
                                       f"SET oi.quantity = oi.quantity + 1000 WHERE o.order_date <= '{E_AS_OF}' "
                                       f"AND o.order_date > '{E_AS_OF}' - INTERVAL 30 DAY"))
            c.commit()

    out = tmp_path / "out"
    gated_run(mariadb, fresh_db, out, consistency, shards, write)
    assert changed[0] > 0
    m, tables = load(out, pr.as_of[:10], shards)
    assert [t.get("items_beside") for t in m["tasks"]] == [None] + [True] * shards
    assert m["snapshot"]["connections"] == 2 * shards + 1
    assert m["snapshot"]["consistency"] == consistency
    after = oracle(mariadb, fresh_db, pr)
    assert after["product_turnover"] != exp["product_turnover"]  # the write shows in units_sold
    for ds in DATASETS:
        check_dataset(ds, tables[ds], (exp if consistency == "snapshot" else after)[ds], pr, m["run_id"])


def test_output_required(mariadb, fresh_db, tmp_path):
    env = mariadb.sluice_env(fresh_db)
    env.pop("SLUICE_OUTPUT", None)
    p = run_sluice(["run", "--as-of", E_AS_OF], env=env, cwd=tmp_path)
    assert p.returncode == 2 and "--output" in p.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, named", [
    (["--as-of", "2026-13-01 00:00:00"], "--as-of"),
    (["--as-of", "yesterday"], "--as-of"),
    (["--restock-below", "x"], "--restock-below"),
    (["--restock-below", "0.9", "--overstock-above", "0.1"], "--restock-below"),
    (["--sales-window-days", "0"], "--sales-window-days"),
    (["--sales-window-days", "2.5"], "--sales-window-days"),
    (["--vip-percentile", "101"], "--vip-percentile"),
    (["--vip-percentile", "0"], "--vip-percentile"),
    (["--optimal-utilization", "-1"], "--optimal-utilization"),
    (["--bogus"], "unknown option"),
])
def test_bad_arguments(mariadb, fresh_db, tmp_path, args, named):
    p = run_sluice(["run", "--output", str(tmp_path / "out"), *args], env=mariadb.sluice_env(fresh_db))
    assert p.returncode == 2, p.stderr
    assert named in p.stderr
    assert not (tmp_path / "out").exists()


def test_help():
    import os
    p = run_sluice(["run", "--help"], env=dict(os.environ), check=0)
    assert "Usage: sluice run" in p.stdout
    for flag in ("--output", "--as-of", "--exclude-status", "--restock-below", "--overstock-above",
                 "--optimal-utilization", "--sales-window-days", "--vip-percentile", "--raw", "--compression",
                 "--consistency", "--progress", "--help"):
        assert flag in p.stdout, flag
