"""`sluice seed`: row counts, determinism (CHECKSUM TABLE computed by MariaDB), and
the data's shape, each checked with SQL run by the server itself."""
import re

import pytest

from conftest import run_sluice

TABLES = ("customers", "products", "orders", "order_items", "warehouses", "inventory")
ANCHOR = "2026-06-30 00:00:00"


def seed(mariadb, db, *args, check=0):
    return run_sluice(["seed", *args], env=mariadb.sluice_env(db), check=check)


def q(mariadb, db, sql):
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def checksums(mariadb, db):
    rows = q(mariadb, db, "CHECKSUM TABLE " + ", ".join(TABLES) + " EXTENDED")
    return {name.split(".")[-1]: value for name, value in rows}


@pytest.fixture(scope="module")
def seeded(mariadb):
    db = mariadb.create_database()
    p = seed(mariadb, db, "--scale", "0.01", "--anchor", ANCHOR)
    yield db, p
    mariadb.drop_database(db)


def test_row_counts(mariadb, seeded):
    db, p = seeded
    n = {t: q(mariadb, db, f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}
    assert n["customers"] == 1000 and n["products"] == 100 and n["warehouses"] == 20
    assert n["orders"] == 10000
    assert 2.3 <= n["order_items"] / n["orders"] <= 2.7
    assert 4.5 <= n["inventory"] / n["products"] <= 5.5
    # progress and a summary go to stderr
    assert "orders" in p.stderr and "rows" in p.stderr


def test_tiny_scale(mariadb, fresh_db):
    seed(mariadb, fresh_db, "--scale", "0.001", "--anchor", ANCHOR)
    n = {t: q(mariadb, fresh_db, f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}
    assert n["customers"] == 100 and n["products"] == 50 and n["warehouses"] == 20 and n["orders"] == 1000


def test_same_inputs_give_identical_tables(mariadb, seeded):
    db, _ = seeded
    other = mariadb.create_database()
    third = mariadb.create_database()
    try:
        seed(mariadb, other, "--scale", "0.01", "--anchor", ANCHOR)
        a, b = checksums(mariadb, db), checksums(mariadb, other)
        assert a == b and all(v is not None for v in a.values())
        # another seed changes the data (the checksum can fail)
        seed(mariadb, third, "--scale", "0.01", "--anchor", ANCHOR, "--seed", "7")
        c = checksums(mariadb, third)
        assert c["orders"] != a["orders"] and c["customers"] != a["customers"]
    finally:
        mariadb.drop_database(other)
        mariadb.drop_database(third)


def test_orders_shape(mariadb, seeded):
    db, _ = seeded
    # total_amount is the sum of quantity * unit_price, every order has 1-5 items
    bad = q(mariadb, db, """
        SELECT COUNT(*) FROM orders o JOIN (
          SELECT order_id, SUM(quantity * unit_price) s, COUNT(*) n FROM order_items GROUP BY order_id
        ) i USING (order_id) WHERE i.s <> o.total_amount OR i.n NOT BETWEEN 1 AND 5""")[0][0]
    assert bad == 0
    assert q(mariadb, db, "SELECT COUNT(*) FROM orders WHERE order_id NOT IN (SELECT order_id FROM order_items)")[0][0] == 0
    # two years before the anchor, never after it
    lo, hi = q(mariadb, db, "SELECT MIN(order_date), MAX(order_date) FROM orders")[0]
    assert str(hi) <= ANCHOR and str(lo) >= "2024-07-01"
    statuses = {r[0] for r in q(mariadb, db, "SELECT DISTINCT status FROM orders")}
    assert statuses == {"pending", "paid", "shipped", "delivered", "cancelled", "returned"}
    # quiet nights, busy evenings
    night = q(mariadb, db, "SELECT COUNT(*) FROM orders WHERE HOUR(order_date) BETWEEN 2 AND 5")[0][0]
    evening = q(mariadb, db, "SELECT COUNT(*) FROM orders WHERE HOUR(order_date) BETWEEN 18 AND 21")[0][0]
    assert evening > 5 * night
    # unit prices are the product's price; every product and customer reference exists
    assert q(mariadb, db, """SELECT COUNT(*) FROM order_items i JOIN products p USING (product_id)
                             WHERE i.unit_price <> p.price""")[0][0] == 0
    assert q(mariadb, db, "SELECT COUNT(*) FROM orders WHERE customer_id NOT IN (SELECT customer_id FROM customers)")[0][0] == 0


def test_customers_skewed(mariadb, seeded):
    db, _ = seeded
    per = dict(q(mariadb, db, """SELECT c.customer_id, COUNT(o.order_id) FROM customers c
                                 LEFT JOIN orders o USING (customer_id) GROUP BY c.customer_id"""))
    counts = list(per.values())
    assert sum(1 for v in counts if v == 0) >= 50            # some with none
    assert sum(1 for v in counts if v == 1) >= 100           # many one-time buyers
    assert max(counts) >= 10 * (sum(counts) / len(counts))   # a few heavy buyers
    # multibyte UTF-8 names at a low rate
    mb = q(mariadb, db, "SELECT COUNT(*) FROM customers WHERE CHAR_LENGTH(first_name) < LENGTH(first_name) "
                        "OR CHAR_LENGTH(last_name) < LENGTH(last_name)")[0][0]
    assert 10 <= mb <= 600


def test_inventory_edge_cases(mariadb, seeded):
    db, _ = seeded
    anchor = f"TIMESTAMP '{ANCHOR}'"
    checks = {
        "capacity 0": "capacity = 0",
        "capacity NULL": "capacity IS NULL",
        "quantity NULL": "quantity IS NULL",
        "empty": "quantity = 0",
        "above capacity": "quantity > capacity AND capacity > 0",
        "last_updated NULL": "last_updated IS NULL",
        "last_updated in the future": f"last_updated > {anchor}",
    }
    total = q(mariadb, db, "SELECT COUNT(*) FROM inventory")[0][0]
    for what, cond in checks.items():
        n = q(mariadb, db, f"SELECT COUNT(*) FROM inventory WHERE {cond}")[0][0]
        assert 0 < n < total * 0.3, what
    dup = q(mariadb, db, "SELECT COUNT(*) - COUNT(DISTINCT product_id, warehouse_id) FROM inventory")[0][0]
    assert dup == 0


def test_refuses_non_empty_tables_unless_replace(mariadb, seeded):
    db, _ = seeded
    p = seed(mariadb, db, "--scale", "0.001", "--anchor", ANCHOR, check=None)
    assert p.returncode == 3 and "already holds rows" in p.stderr and "--replace" in p.stderr
    other = mariadb.create_database()
    try:
        seed(mariadb, other, "--scale", "0.001", "--anchor", ANCHOR)
        seed(mariadb, other, "--scale", "0.002", "--anchor", ANCHOR, "--replace")
        assert q(mariadb, other, "SELECT COUNT(*) FROM orders")[0][0] == 2000
    finally:
        mariadb.drop_database(other)


@pytest.mark.parametrize("args", [[], ["--scale", "0"], ["--scale", "-1"], ["--scale", "abc"],
                                  ["--scale", "1", "--anchor", "2026-13-01"], ["--scale", "1", "--seed", "x"]])
def test_bad_arguments_are_usage_errors(mariadb, fresh_db, args):
    p = seed(mariadb, fresh_db, *args, check=None)
    assert p.returncode == 2, p.stderr
    assert re.search(r"--(scale|anchor|seed)", p.stderr)


def test_help():
    import os
    p = run_sluice(["seed", "--help"], env=os.environ, check=0)
    assert "Usage: sluice seed" in p.stdout and "--scale" in p.stdout
