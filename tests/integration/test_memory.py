"""--memory-limit (issue 13): `sluice run` at scale 1 under 48M gives the same six
datasets as without a limit, value for value and row for row (pyarrow; only run_id
differs between two runs), with peak RSS (GNU time) under the limit plus the README's
fixed overhead; order_analytics' totals are checked against SQL; a limit too small is
refused (exit 2). `sluice export` under the smallest limit keeps its RSS too, its row
groups stay within its share, and its files hold exactly the table.

Scale 1 (100,000 customers, 1 M orders, 2.5 M items) is seeded once for the module: 15 s
on a quiet machine, up to a minute when the machine is busy."""
import io
import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SLUICE, create_schema, run_sluice

ANCHOR = "2026-12-01 00:00:00"
AS_OF = "2026-11-30 18:00:00"
DATE = "2026-11-30"
OVERHEAD = 32 << 20          # README: peak RSS stays under --memory-limit plus 32 MiB
DATASETS = ("inventory_analytics", "order_analytics", "hourly_orders", "warehouse_utilization",
            "product_turnover", "customer_segments")


@pytest.fixture(scope="module")
def scale1(mariadb):
    db = mariadb.create_database()
    run_sluice(["-q", "seed", "--scale", "1", "--anchor", ANCHOR], env=mariadb.sluice_env(db), check=0, timeout=900)
    yield db
    mariadb.drop_database(db)


def popen_rss(args, env):
    """(returncode, stdout, stderr, peak RSS bytes).
    The peak comes from GNU time (Debian's `time`, in scripts/install-deps.sh), which
    forks sluice from its own small process: a child forked from pytest would carry
    Python's memory into its maximum RSS, even across exec."""
    p = subprocess.Popen(["/usr/bin/time", "-f", "maxrss_kb=%M", str(SLUICE), *args], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=600)
    lines = err.rstrip("\n").split("\n")
    rss = None
    if lines and lines[-1].startswith("maxrss_kb="):
        rss = int(lines[-1].split("=")[1]) * 1024
        err = "\n".join(lines[:-1])
    rc = p.returncode
    if "Command terminated by signal 9" in err:
        rc = -signal.SIGKILL
    return rc, out, err, rss


def datasets(out):
    folder = Path(out) / "business_insights" / DATE
    m = json.loads((folder / "_SUCCESS").read_text())
    tables = {}
    for d in DATASETS:  # order_analytics has a file per shard
        names = sorted(x["name"] for x in m["files"] if x["name"].startswith(d + "/"))
        assert names, d
        tables[d] = pa.concat_tables([pq.read_table(folder / f) for f in names])
    return m, tables


def free_and_smallest(env, tmp_path):
    """`sluice run` into tmp_path/free under 4G and into tmp_path/small under 32M, whose
    peak RSS must stay under 32M plus the overhead: each one's (manifest, datasets)."""
    base = ["run", "--as-of", AS_OF, "--progress", "off"]
    rc, _, err, _ = popen_rss(base + ["--output", str(tmp_path / "free"), "--memory-limit", "4G"], env)
    assert rc == 0, err
    rc, _, err, rss = popen_rss(base + ["--output", str(tmp_path / "small"), "--memory-limit", "32M"], env)
    assert rc == 0, err
    assert rss < (32 << 20) + OVERHEAD, f"peak RSS {rss / 2**20:.1f} MiB"
    return datasets(tmp_path / "free"), datasets(tmp_path / "small")


@pytest.mark.parametrize("limit_text", ["48M", "32M"])
def test_run_under_a_small_limit_gives_the_same_datasets(mariadb, scale1, tmp_path, limit_text):
    """Under 48M and 32M the run stays under the limit plus the overhead; under 32M the
    100,000 customers' state does not fit: the run reads them in passes of customer-id
    ranges, spilled to --temp-dir, and gives the same datasets."""
    env = mariadb.sluice_env(scale1)
    base = ["run", "--as-of", AS_OF, "--progress", "off"]
    rc, _, err, _ = popen_rss(base + ["--output", str(tmp_path / "free")], env)
    assert rc == 0, err
    limit = int(limit_text[:-1]) << 20
    spill = tmp_path / "spill"
    spill.mkdir()
    rc, out, err, rss = popen_rss(base + ["--output", str(tmp_path / "small"), "--memory-limit", limit_text,
                                          "--temp-dir", str(spill)], env)
    assert rc == 0, err
    m_free, free = datasets(tmp_path / "free")
    m_small, small = datasets(tmp_path / "small")
    assert rss < limit + OVERHEAD, f"peak RSS {rss / 2**20:.1f} MiB"
    assert m_free["memory"] == {"limit": 256 << 20, "passes": 1, "product_passes": 1, "sold_runs": 0,
                                 "window_runs": 0, "window_items_spilled": 0, "spilled_results": 0}
    assert m_small["memory"]["limit"] == limit
    # 100,000 customers take about 20 MiB in one pass (src/exec/run.c, passes_for): 48M
    # holds them with what the run needs besides, 32M does not
    assert m_small["memory"]["passes"] >= (2 if limit_text == "32M" else 1)
    # the window's items read beside the orders: past limit / 16 (2 MiB under 32M, about
    # 87,000 items; scale 1 has about 105,000) they wait in --temp-dir
    if limit_text == "32M":
        assert m_small["memory"]["window_items_spilled"] > 87000, m_small["memory"]
    assert m_small["data_quality"] == m_free["data_quality"]
    assert list(spill.iterdir()) == []  # the spill files never had a name
    # the same values in the same order, column by column (run_id names each run)
    for d in DATASETS:
        a, b = free[d], small[d]
        assert a.schema == b.schema, d
        assert a.num_rows == b.num_rows > 0, d
        for name in a.column_names:
            if name != "run_id":
                assert a.column(name).equals(b.column(name)), (d, name)
    # order_analytics' totals, as MariaDB computes them from the orders
    oa = small["order_analytics"]
    with mariadb.connect(scale1) as c, c.cursor() as cur:
        cur.execute("SELECT COUNT(DISTINCT customer_id), COUNT(*), SUM(total_amount) FROM orders "
                    "WHERE order_date <= %s AND status <> 'cancelled' AND customer_id IS NOT NULL", (AS_OF,))
        n_cust, n_orders, spent = cur.fetchone()
    assert oa.num_rows == n_cust
    assert sum(oa.column("total_orders").to_pylist()) == n_orders
    assert sum(oa.column("total_spent").to_pylist()) == spent
    ids = oa.column("customer_id").to_pylist()
    assert ids == sorted(ids)


def test_many_products_stay_under_the_limit(mariadb, fresh_db, tmp_path):
    """400,000 products took about 56 MiB in the inventory task, all at once, whatever the
    limit: under 32M the run now takes them in product passes (product-id ranges, the
    later ones spilled with their inventory rows), stays under the limit plus the
    overhead, and gives the datasets of a run without a limit (value for value by key;
    the mean score of warehouse_utilization to 1e-12, its double sum taken in another
    order). Every product is sold in the window, so the units sold are 400,000 too: past
    32,768 products the orders shard writes them in sorted runs, and the commit merges
    them with the products instead of holding either."""
    create_schema(mariadb, fresh_db)
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("INSERT INTO warehouses (warehouse_id, name) SELECT seq, CONCAT('w', seq) FROM seq_1_to_20")
        cur.execute("INSERT INTO products (product_id, sku, name, category) SELECT seq, CONCAT('SKU-', seq), "
                    "CONCAT('Product name number ', seq, ' of the catalogue'), CONCAT('category-', seq % 50) "
                    "FROM seq_1_to_400000")
        cur.execute("INSERT INTO inventory SELECT seq, 1 + (seq * 7919) % 400000, 1 + seq % 20, seq % 100, 100, "
                    "'2026-11-20 10:00:00' FROM seq_1_to_400000")
        cur.execute("INSERT INTO customers (customer_id, first_name) SELECT seq, 'n' FROM seq_1_to_100")
        cur.execute("INSERT INTO orders SELECT seq, 1 + seq % 100, '2026-11-20 10:00:00', 10, 'paid' "
                    "FROM seq_1_to_1000")
        cur.execute("INSERT INTO order_items SELECT seq, 1 + seq % 1000, 1 + (seq * 7919) % 400000, 1 + (seq * 7907) % 997, 1.5 "
                    "FROM seq_1_to_400000")  # each product once (7919 is prime to 400,000)
        cur.execute("ANALYZE TABLE products, inventory, customers")
    (m_free, free), (m_small, small) = free_and_smallest(mariadb.sluice_env(fresh_db), tmp_path)
    assert m_free["memory"]["product_passes"] == 1 and m_small["memory"]["product_passes"] > 1
    assert m_free["memory"]["sold_runs"] == 0 and m_small["memory"]["sold_runs"] > 1
    # the products' and units sold's streams passed 32M/64: they went to objects of the
    # partition, which the commit deleted with what its manifest does not list
    assert m_free["memory"]["spilled_results"] == 0 and m_small["memory"]["spilled_results"] == 2
    assert sorted(t["spilled_results"] for t in m_small["tasks"]) == [1, 1]
    for out, m in ((tmp_path / "small", m_small), (tmp_path / "free", m_free)):
        part = out / "business_insights" / DATE
        on_disk = sorted(str(p.relative_to(part)) for p in part.rglob("*") if p.is_file())
        assert on_disk == sorted([f["name"] for f in m["files"]] + ["_SUCCESS"]), on_disk
    assert m_small["data_quality"] == m_free["data_quality"]
    keys = {"inventory_analytics": "inventory_id", "order_analytics": "customer_id", "hourly_orders": "hour",
            "warehouse_utilization": "warehouse_id", "product_turnover": "product_id",
            "customer_segments": "frequency_segment"}
    for d, k in keys.items():
        a, b = free[d].sort_by(k), small[d].sort_by(k)
        assert a.num_rows == b.num_rows > 0, d
        for name in a.column_names:
            if name == "avg_inventory_score":
                assert all(math.isclose(x, y, rel_tol=1e-12) for x, y in zip(a.column(name).to_pylist(),
                                                                              b.column(name).to_pylist()))
            elif name != "run_id":
                assert a.column(name).equals(b.column(name)), (d, name)
    assert small["product_turnover"].num_rows == 400000
    ids = small["product_turnover"].column("product_id").to_pylist()
    assert ids == sorted(ids)


@pytest.mark.parametrize("command", ["run", "export"])
@pytest.mark.parametrize("limit", ["31M", "1K", "0", "lots"])
def test_a_limit_too_small_is_refused(mariadb, fresh_db, tmp_path, command, limit):
    p = run_sluice([command, "--output", str(tmp_path), "--memory-limit", limit], env=mariadb.sluice_env(fresh_db))
    assert p.returncode == 2, p.stderr
    assert "--memory-limit" in p.stderr
    if limit in ("31M", "1K"):
        assert "too small" in p.stderr and "32M" in p.stderr
    assert not list(tmp_path.iterdir())


def test_export_under_the_smallest_limit(mariadb, scale1, tmp_path):
    limit = 32 << 20
    rc, _, err, rss = popen_rss(["export", "--table", "order_items", "--table", "customers", "--partitions", "4",
                                    "--memory-limit", "32M", "--date", DATE, "--progress", "off",
                                    "--output", str(tmp_path)], mariadb.sluice_env(scale1))
    assert rc == 0, err
    assert rss < limit + OVERHEAD, f"peak RSS {rss / 2**20:.1f} MiB"
    with mariadb.connect(scale1) as c, c.cursor() as cur:
        cur.execute("SELECT COUNT(*), SUM(order_item_id), SUM(quantity) FROM order_items")
        want = cur.fetchone()
    folder = tmp_path / "raw" / "order_items" / DATE
    m = json.loads((folder / "_SUCCESS").read_text())
    ids = qty = n = 0
    biggest = 0
    for f in m["files"]:
        pf = pq.ParquetFile(folder / f["name"])
        for g in range(pf.metadata.num_row_groups):
            rg = pf.metadata.row_group(g)
            biggest = max(biggest, sum(rg.column(c).total_compressed_size for c in range(rg.num_columns)))
        t = pf.read(columns=["order_item_id", "quantity"])
        n += t.num_rows
        ids += sum(t.column(0).to_pylist())
        qty += sum(t.column(1).to_pylist())
    assert (n, ids, qty) == tuple(int(x) for x in want)
    # row groups of at most half a connection's share of the limit (8 MiB), plus a page
    assert biggest <= (4 << 20) + (512 << 10), biggest


def test_a_killed_run_in_passes_leaves_no_spill_file(mariadb, scale1, tmp_path):
    """The spill files are opened unnamed (O_TMPFILE) under --temp-dir: a run killed while
    it holds them (seen in /proc as deleted files of the folder) leaves nothing behind."""
    spill = tmp_path / "spill"
    spill.mkdir()
    p = subprocess.Popen([str(SLUICE), "run", "--as-of", AS_OF, "--progress", "off", "--output", str(tmp_path / "o"),
                          "--passes", "4", "--temp-dir", str(spill)], env=mariadb.sluice_env(scale1),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    held = False
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline and not held:
        try:
            fds = [os.readlink(f) for f in Path(f"/proc/{p.pid}/fd").iterdir()]
        except OSError:
            fds = []
        held = any(f.startswith(str(spill)) for f in fds)
        time.sleep(0.01)
    p.kill()
    p.wait(timeout=60)
    assert held, "the run never held a spill file"
    assert list(spill.iterdir()) == []


@pytest.mark.parametrize("bad, why", [("missing", "No such file"), ("file", "not a folder")])
def test_a_bad_temp_dir_is_refused(mariadb, fresh_db, tmp_path, bad, why):
    path = tmp_path / bad
    if bad == "file":
        path.write_text("x")
    p = run_sluice(["run", "--output", str(tmp_path / "o"), "--temp-dir", str(path)], env=mariadb.sluice_env(fresh_db))
    assert p.returncode == 2, p.stderr
    assert "--temp-dir" in p.stderr and str(path) in p.stderr and why in p.stderr
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def many_names(mariadb):
    """100,000 products whose names do not compress (two MD5s in hex): their stream in the
    inventory task's result is about 7 MB, past 32M/64, so under the smallest limit it
    goes to an object of the output."""
    db = mariadb.create_database()
    create_schema(mariadb, db)
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("INSERT INTO warehouses (warehouse_id, name) SELECT seq, CONCAT('w', seq) FROM seq_1_to_5")
        cur.execute("INSERT INTO products (product_id, sku, name, category) SELECT seq, CONCAT('SKU-', seq), "
                    "CONCAT(MD5(seq), MD5(seq + 1000000)), CONCAT('category-', seq % 7) FROM seq_1_to_100000")
        cur.execute("INSERT INTO inventory SELECT seq, seq, 1 + seq % 5, seq % 100, 100, '2026-11-20 10:00:00' "
                    "FROM seq_1_to_100000")
        cur.execute("INSERT INTO customers (customer_id, first_name) SELECT seq, 'n' FROM seq_1_to_50")
        cur.execute("INSERT INTO orders SELECT seq, 1 + seq % 50, '2026-11-20 10:00:00', 10, 'paid' FROM seq_1_to_500")
        cur.execute("INSERT INTO order_items SELECT seq, 1 + seq % 500, 1 + (seq * 7919) % 100000, 1 + seq % 5, 2.5 "
                    "FROM seq_1_to_20000")
        cur.execute("ANALYZE TABLE products, inventory, customers")
    yield db
    mariadb.drop_database(db)


def turnover(table):
    return table.drop(["run_id"]).sort_by("product_id")


def test_results_spilled_to_s3_are_read_back_and_deleted(mariadb, many_names, moto, bucket, tmp_path):
    """Under 32M the products' stream goes to an S3 object of the run's partition; the
    commit reads it back (ranged GETs) into product_turnover, equal to a local run's
    without a limit, then deletes it: the partition holds exactly what _SUCCESS lists,
    and no multipart upload is left."""
    base = ["run", "--as-of", AS_OF, "--progress", "off"]
    env = {**mariadb.sluice_env(many_names), **moto.env()}
    run_sluice(base + ["--output", f"s3://{bucket}/spill", "--memory-limit", "32M"], env=env, check=0)
    run_sluice(base + ["--output", str(tmp_path / "free")], env=mariadb.sluice_env(many_names), check=0)
    prefix = f"spill/business_insights/{DATE}/"
    m = json.loads(moto.client.get_object(Bucket=bucket, Key=prefix + "_SUCCESS")["Body"].read())
    assert m["memory"]["spilled_results"] >= 1
    keys = sorted(o["Key"][len(prefix):] for o in moto.client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"])
    assert keys == sorted([f["name"] for f in m["files"]] + ["_SUCCESS"]), keys
    (name,) = [f["name"] for f in m["files"] if f["name"].startswith("product_turnover/")]
    body = moto.client.get_object(Bucket=bucket, Key=prefix + name)["Body"].read()
    m_free, free = datasets(tmp_path / "free")
    assert m_free["memory"]["spilled_results"] == 0
    got = pq.read_table(io.BytesIO(body))
    assert got.num_rows == 100000
    assert turnover(got).equals(turnover(free["product_turnover"]))
    assert moto.uploads(bucket) == []


def test_a_spilled_result_damaged_or_intact_in_processes(mariadb, many_names, tmp_path):
    """`sluice task` in processes under 32M: the inventory task's result names its spilled
    stream instead of holding it. A result whose object is not the size it names fails
    the commit (exit 8, naming the task, the stream and the object) and the failed commit
    deletes every result's files, the spilled object with them; the intact results then
    commit, product_turnover equal to a run's in one process, and no spilled object is
    left."""
    from test_tasks import commit, plan, run_tasks
    out = tmp_path / "out"
    env = mariadb.sluice_env(many_names)
    path, p = plan(mariadb, many_names, tmp_path, "run", "--output", str(out), "--as-of", AS_OF,
                   "--memory-limit", "32M")
    lines = run_tasks(mariadb, many_names, path, range(len(p["tasks"])))
    res = [json.loads(l) for l in lines]
    inv = next(k for k, r in enumerate(res) if r["run"]["kind"] == "inventory")
    ref = res[inv]["run"]["products_packed"]
    assert isinstance(ref, dict) and ref["name"].startswith("_spill/products-") and p["run_id"] in ref["name"]
    assert res[inv]["spilled"] == [ref]
    spilled = out / ref["partition"] / ref["name"]
    assert spilled.stat().st_size == ref["bytes"]
    bad = json.loads(lines[inv])
    bad["run"]["products_packed"]["bytes"] += 1
    proc = commit(mariadb, many_names, tmp_path, path, [json.dumps(bad) if i == inv else l for i, l in enumerate(lines)],
                  check=8, name="bad.jsonl")
    assert f"the result of task {inv} has no valid products" in proc.stderr and ref["name"] in proc.stderr, proc.stderr
    assert not list(out.rglob("_SUCCESS")) and not list(out.rglob("*.parquet"))
    assert not spilled.exists()
    # again, intact
    lines = run_tasks(mariadb, many_names, path, range(len(p["tasks"])), attempt="2")
    commit(mariadb, many_names, tmp_path, path, lines)
    run_sluice(["run", "--as-of", AS_OF, "--output", str(tmp_path / "one"), "--progress", "off"], env=env, check=0)
    part = out / "business_insights" / DATE
    m, got = datasets(out)
    on_disk = sorted(str(f.relative_to(part)) for f in part.rglob("*") if f.is_file())
    assert on_disk == sorted([f["name"] for f in m["files"]] + ["_SUCCESS"]), on_disk
    assert m["memory"]["spilled_results"] >= 1
    assert turnover(got["product_turnover"]).equals(turnover(datasets(tmp_path / "one")[1]["product_turnover"]))


@pytest.fixture(scope="module")
def many_customers(mariadb):
    """400,000 customers with an order each, spends growing with the id (10 cents an
    id, plus up to 1,000 dollars), so that the shards' totals differ: with 2 shards under 32M each shard's totals
    pass 32M/64/2 compressed, and the shards exchange them as objects of the output."""
    db = mariadb.create_database()
    create_schema(mariadb, db)
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("INSERT INTO warehouses (warehouse_id, name) VALUES (1, 'w1')")
        cur.execute("INSERT INTO products (product_id, sku, name, category) VALUES (1, 'SKU-1', 'p', 'c')")
        cur.execute("INSERT INTO customers (customer_id, first_name) SELECT seq, 'n' FROM seq_1_to_400000")
        cur.execute("INSERT INTO orders SELECT seq, seq, '2026-11-20 10:00:00', (seq * 10 + (seq * 7919) % 100003) / 100, "
                    "'paid' FROM seq_1_to_400000")
        cur.execute("ANALYZE TABLE customers, orders")
    yield db
    mariadb.drop_database(db)


def test_shards_exchange_spilled_totals(mariadb, many_customers, tmp_path):
    """Two shards under 32M, on threads and in processes (`sluice task`, the gather line
    naming the objects): each shard's totals go to an object of the partition, both
    shards read both, and order_analytics (the VIP flag needs every customer's total) is
    the one a single shard computes alone; the objects are gone after the commit."""
    from test_tasks import commit, plan, run_tasks
    env = mariadb.sluice_env(many_customers)
    base = ["run", "--as-of", AS_OF, "--progress", "off"]
    run_sluice(base + ["--output", str(tmp_path / "one"), "--shards", "1"], env=env, check=0)
    run_sluice(base + ["--output", str(tmp_path / "two"), "--shards", "2", "--memory-limit", "32M"], env=env,
               check=0)
    path, p = plan(mariadb, many_customers, tmp_path, "run", "--output", str(tmp_path / "procs"), "--as-of", AS_OF,
                   "--shards", "2", "--memory-limit", "32M")
    lines = run_tasks(mariadb, many_customers, path, range(len(p["tasks"])))
    spilled = [s["name"] for l in lines for s in json.loads(l).get("spilled", [])]
    assert sorted(n.split("-")[0] for n in spilled) == ["_spill/totals", "_spill/totals"], spilled
    commit(mariadb, many_customers, tmp_path, path, lines)
    m1, one = datasets(tmp_path / "one")
    want = one["order_analytics"].drop(["run_id"]).sort_by("customer_id")
    assert want.num_rows == 400000 and 0 < sum(want.column("is_vip").to_pylist()) < 400000
    for out in ("two", "procs"):
        m, got = datasets(tmp_path / out)
        assert m["memory"]["spilled_results"] == 2, (out, m["memory"])
        assert got["order_analytics"].drop(["run_id"]).sort_by("customer_id").equals(want), out
        assert got["customer_segments"].drop(["run_id"]).equals(one["customer_segments"].drop(["run_id"])), out
        part = tmp_path / out / "business_insights" / DATE
        on_disk = sorted(str(f.relative_to(part)) for f in part.rglob("*") if f.is_file())
        assert on_disk == sorted([f["name"] for f in m["files"]] + ["_SUCCESS"]), on_disk


def test_a_sparse_sales_window_past_its_bound(mariadb, fresh_db, tmp_path):
    """Order ids 100,003 apart (each alone in its 65,536: about 70 bytes an id in memory):
    60,000 window orders pass 32M/16, so the orders shard writes the window's ids in sorted
    runs, and the items of orders in their id range in runs sorted by order id, and joins
    the two at the end. The units sold of product_turnover are MariaDB's own sums over the
    window's orders (items of older orders and of unknown orders in between left out),
    and equal a run that kept the window in memory."""
    create_schema(mariadb, fresh_db)
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("INSERT INTO warehouses (warehouse_id, name) VALUES (1, 'w1')")
        cur.execute("INSERT INTO products (product_id, sku, name, category) "
                    "SELECT seq, CONCAT('SKU-', seq), 'p', 'c' FROM seq_1_to_20")
        cur.execute("INSERT INTO customers (customer_id, first_name) SELECT seq, 'n' FROM seq_1_to_10")
        cur.execute("INSERT INTO orders SELECT seq * 100003, 1 + seq % 10, '2026-11-20 10:00:00', 10, 'paid' "
                    "FROM seq_1_to_60000")  # in the window
        cur.execute("INSERT INTO orders SELECT seq * 100003 + 50000, 1 + seq % 10, '2026-01-20 10:00:00', 10, 'paid' "
                    "FROM seq_1_to_20000")  # before it, their ids among the window's
        cur.execute("INSERT INTO order_items SELECT seq, (1 + seq DIV 2) * 100003, 1 + seq % 20, 1 + seq % 7, 1.5 "
                    "FROM seq_0_to_119999")  # two a window order
        cur.execute("INSERT INTO order_items SELECT 200000 + seq, seq * 100003 + 50000, 1 + seq % 20, 5, 1.5 "
                    "FROM seq_1_to_20000")  # one an older order
        cur.execute("INSERT INTO order_items SELECT 300000 + seq, seq * 100003 + 7, 1 + seq % 20, 11, 1.5 "
                    "FROM seq_1_to_1000")  # orders that do not exist
        cur.execute("ANALYZE TABLE orders, order_items")
        cur.execute("SELECT i.product_id, SUM(i.quantity) FROM order_items i JOIN orders o USING (order_id) "
                    "WHERE o.order_date > %s - INTERVAL 30 DAY AND o.order_date <= %s GROUP BY i.product_id",
                    (AS_OF, AS_OF))
        want = {int(p): int(n) for p, n in cur.fetchall()}
    (m_free, free), (m_small, small) = free_and_smallest(mariadb.sluice_env(fresh_db), tmp_path)
    assert m_free["memory"]["window_runs"] == 0 and m_small["memory"]["window_runs"] >= 2, m_small["memory"]
    pt = small["product_turnover"].to_pylist()
    assert {r["product_id"]: r["units_sold"] for r in pt} == want
    assert small["product_turnover"].drop(["run_id"]).equals(free["product_turnover"].drop(["run_id"]))
    assert small["hourly_orders"].drop(["run_id"]).equals(free["hourly_orders"].drop(["run_id"]))
