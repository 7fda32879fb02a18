"""The run report (report.html), checked in a real browser.

`sluice run` writes report.html next to _SUCCESS; headless Chromium (Debian's
`chromium`, driven over the DevTools protocol by chromium_cdp.py) loads it and the
tests read the rendered DOM: each chart is there with the expected number of bars or
points, and every figure equals the datasets as pyarrow reads them; the data-quality
counts equal SQL run by MariaDB on the source tables. Screenshots at 1200 and 400 CSS
pixels are saved under the test's tmp_path; at 400 px nothing may stick out of the
page. `sluice report` must regenerate the very same page, locally and from S3.
"""
import hashlib
import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chromium_cdp import Chromium
from conftest import run_sluice

ANCHOR = "2026-06-30 00:00:00"
AS_OF = "2026-06-29 18:00:00"
DATE = AS_OF[:10]
NASTY = "<script>alert(1)</script> & \"Q\" 'é'"

def sql(mariadb, db, *stmts, mode=None):
    with mariadb.connect(db) as c, c.cursor() as cur:
        if mode is not None:
            cur.execute(f"SET SESSION sql_mode = '{mode}'")
        out = None
        for s in stmts:
            cur.execute(*(s if isinstance(s, tuple) else (s,)))
            out = cur.fetchall()
        return out


@pytest.fixture(scope="module")
def source(mariadb):
    """Generated data plus what the data-quality notes count: zero dates, inventory of
    unknown products and warehouses, an order of an unknown customer, products run
    low (so some need restock), and names that must be escaped."""
    db = mariadb.create_database()
    run_sluice(["seed", "--scale", "0.02", "--anchor", ANCHOR], env=mariadb.sluice_env(db), check=0)
    sql(mariadb, db,
        "INSERT INTO orders VALUES (900000001, 424242, '0000-00-00 00:00:00', 12.50, 'paid')",
        "INSERT INTO orders VALUES (900000002, 424242, '2026-06-01 10:00:00', 7.25, 'paid')",
        "INSERT INTO inventory VALUES (900000001, 987654, 1, 5, 10, '0000-00-00 00:00:00')",
        "INSERT INTO inventory VALUES (900000002, 1, 987654, 50, 10, '2026-06-20 00:00:00')",
        "UPDATE inventory SET quantity = product_id % 3 WHERE product_id % 4 = 0",
        ("UPDATE warehouses SET name = %s WHERE warehouse_id = 2", (NASTY,)),
        mode="")
    yield db
    mariadb.drop_database(db)


def run(mariadb, db, out):
    run_sluice(["run", "--output", str(out), "--as-of", AS_OF, "--progress", "off"], env=mariadb.sluice_env(db),
               check=0)
    part = Path(out) / "business_insights" / DATE
    return part, json.loads((part / "_SUCCESS").read_text())


def tables(part, m):
    return {f["name"].split("/")[0]: pq.read_table(part / f["name"]) for f in m["files"] if f["name"] != "report.html"}


def quality_oracle(mariadb, db):
    """Each data-quality count as MariaDB computes it from the source tables."""
    def one(q):
        return int(sql(mariadb, db, q)[0][0])
    zero = "(MONTH({c}) = 0 OR DAY({c}) = 0)"
    return {
        "zero_dates_replaced": one(f"SELECT (SELECT COUNT(*) FROM orders WHERE {zero.format(c='order_date')}) + "
                                   f"(SELECT COUNT(*) FROM inventory WHERE {zero.format(c='last_updated')})"),
        "capacity_null": one("SELECT COUNT(*) FROM inventory WHERE capacity IS NULL"),
        "capacity_zero": one("SELECT COUNT(*) FROM inventory WHERE capacity <= 0"),
        "quantity_above_capacity": one("SELECT COUNT(*) FROM inventory WHERE capacity > 0 AND quantity > capacity"),
        "last_updated_in_future": one(f"SELECT COUNT(*) FROM inventory WHERE last_updated > '{AS_OF}'"),
        "inventory_unknown_product": one("SELECT COUNT(*) FROM inventory i LEFT JOIN products p "
                                         "ON p.product_id = i.product_id WHERE p.product_id IS NULL"),
        "inventory_unknown_warehouse": one("SELECT COUNT(*) FROM inventory i LEFT JOIN warehouses w "
                                           "ON w.warehouse_id = i.warehouse_id WHERE w.warehouse_id IS NULL"),
        "orders_unknown_customer": one("SELECT COUNT(*) FROM orders o LEFT JOIN customers c "
                                       "ON c.customer_id = o.customer_id WHERE c.customer_id IS NULL"),
    }


MARKS = """(() => {
  const out = {};
  for (const svg of document.querySelectorAll('svg.chart')) {
    out[svg.id] = [...svg.querySelectorAll('.bar, .point')].map(e => ({
      label: e.dataset.label, value: e.dataset.value, part: e.dataset.part ?? null, mark: e.dataset.mark === 'true',
      id: e.dataset.id ?? null, restock: e.dataset.restock ?? null, overstock: e.dataset.overstock ?? null,
      title: e.querySelector('title')?.textContent ?? '',
      w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height}));
  }
  return out;
})()"""

CELLS = """(() => {
  const q = {};
  for (const tr of document.querySelectorAll('#data-quality tr[data-key]'))
    q[tr.dataset.key] = tr.querySelector('[data-value]').dataset.value;
  const rows = sel => Object.fromEntries([...document.querySelectorAll(sel)].map(
    tr => [tr.dataset.table ?? tr.dataset.dataset, [...tr.querySelectorAll('[data-value]')].map(e => e.dataset.value)]));
  const v = id => document.getElementById(id)?.dataset.value;
  return {quality: q, sources: rows('#sources tr[data-table]'), datasets: rows('#datasets tr[data-dataset]'),
          vip: v('vip-share'), orders: v('kpi-orders'), revenue: v('kpi-revenue'), restock: v('restock-count'),
          score_null: v('score-null'), run_id: document.getElementById('run-id')?.textContent,
          scripts: document.scripts.length, csp: document.querySelector('meta[http-equiv]')?.content,
          text: document.body.innerText};
})()"""

OVERFLOW = """(() => {
  const w = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.right > w + 0.5 || r.left < -0.5);
  }).map(e => e.tagName + (e.id ? '#' + e.id : '') + ' ' + Math.round(e.getBoundingClientRect().right));
  const fonts = [...document.querySelectorAll('svg.chart')].map(svg => {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    const t = svg.querySelector('text.tick');
    return parseFloat(getComputedStyle(t).fontSize) * scale;
  });
  return {scrollWidth: document.documentElement.scrollWidth, width: w, inner: window.innerWidth, out, fonts};
})()"""


@pytest.fixture(scope="module")
def browser():
    c = Chromium()
    yield c
    c.close()


def test_report_in_browser(mariadb, source, tmp_path, browser):
    part, m = run(mariadb, source, tmp_path / "out")
    report = part / "report.html"
    t = tables(part, m)
    url = report.as_uri()

    browser.open(url, 1200)
    assert browser.requests() == [url]  # nothing fetched
    marks = browser.eval(MARKS)
    cells = browser.eval(CELLS)
    size = browser.screenshot(tmp_path / "report-1200.png")
    assert size["width"] == 1200 and (tmp_path / "report-1200.png").stat().st_size > 10000
    assert cells["scripts"] == 0 and "default-src 'none'" in cells["csp"]
    assert cells["run_id"] == m["run_id"]

    # orders and revenue by hour: 24 bars and 24 points, the peak marked
    hourly = sorted(t["hourly_orders"].to_pylist(), key=lambda r: r["hour"])
    bars, points = marks["orders-by-hour"], marks["revenue-by-hour"]
    assert len(bars) == 24 and len(points) == 24
    assert [int(b["value"]) for b in bars] == [r["order_count"] for r in hourly]
    assert [Decimal(p["value"]) for p in points] == [r["revenue"] for r in hourly]
    counts = [r["order_count"] for r in hourly]
    revenue = [r["revenue"] for r in hourly]
    assert [b["mark"] for b in bars] == [h == counts.index(max(counts)) for h in range(24)]
    assert [p["mark"] for p in points] == [h == revenue.index(max(revenue)) for h in range(24)]
    assert all(b["h"] > 0 for b in bars if int(b["value"]) > 0)
    assert int(cells["orders"]) == sum(counts) and Decimal(cells["revenue"]) == sum(revenue)

    # inventory score histogram: 10 bins of 10 points, the last holding 100
    scores = t["inventory_analytics"].column("inventory_score").to_pylist()
    want = [0] * 10
    for s in scores:
        if s is not None:
            want[min(int(s // 10), 9)] += 1
    hist = marks["inventory-scores"]
    assert len(hist) == 10 and [int(b["value"]) for b in hist] == want
    assert int(cells["score_null"]) == sum(s is None for s in scores)

    # warehouse utilization: fullest first, with restock/overstock counts
    wh = t["warehouse_utilization"].to_pylist()
    bars = marks["warehouse-utilization"]
    assert len(bars) == min(40, len(wh))
    by_id = {str(r["warehouse_id"]): r for r in wh}
    for b in bars:
        r = by_id[b["id"]]
        assert (float(b["value"]) if b["value"] else None) == r["utilization_ratio"]
        assert (int(b["restock"]), int(b["overstock"])) == (r["restock_count"], r["overstock_count"])
    shown = [float(b["value"]) for b in bars if b["value"]]
    assert shown == sorted(shown, reverse=True)
    assert any(b["label"] == NASTY for b in bars)  # escaped in the page, the literal text in the DOM

    # customer segments and the VIP share
    seg = t["customer_segments"].to_pylist()
    bars = marks["customer-segments"]
    assert [(b["label"], int(b["value"]), int(b["part"])) for b in bars] == [
        (r["frequency_segment"], r["customer_count"], r["vip_count"]) for r in seg]
    vip = sum(r["vip_count"] for r in seg) / sum(r["customer_count"] for r in seg)
    assert float(cells["vip"]) == pytest.approx(vip, rel=1e-12)

    # the products most urgently needing restock
    pt = [r for r in t["product_turnover"].to_pylist() if r["needs_restock"]]
    # more than the list shows, so that its cut is checked too (the run tallies the list
    # as it writes product_turnover; `sluice report` reads it back: the same page below)
    assert len(pt) > 15, "the fixture should make more than 15 products need restock"
    pt.sort(key=lambda r: (r["days_of_supply"], -r["units_sold"], r["product_id"]))
    bars = marks["restock-urgency"]
    assert [int(b["id"]) for b in bars] == [r["product_id"] for r in pt[:15]]
    assert [float(b["value"]) for b in bars] == [r["days_of_supply"] for r in pt[:15]]
    assert int(cells["restock"]) == len(pt)

    # the run: source rows read (MariaDB counts them: of order_items, the items of the
    # sales window's orders, the only ones read), rows and bytes per dataset
    as_of, days = m["parameters"]["as_of"], m["parameters"]["sales_window_days"]
    count = {"order_items": "SELECT COUNT(*) FROM orders o JOIN order_items oi ON oi.order_id = o.order_id "
                            f"WHERE o.order_date > '{as_of}' - INTERVAL {days} DAY AND o.order_date <= '{as_of}'"}
    for table, (rows, secs) in cells["sources"].items():
        want = int(sql(mariadb, source, count.get(table, f"SELECT COUNT(*) FROM `{table}`"))[0][0])
        assert int(rows) == want, table
        assert float(secs) == m["sources"][table]["seconds"] >= 0, table
    assert len(cells["sources"]) == 6
    assert 0 < int(cells["sources"]["order_items"][0]) < 50000  # the window's, not every item
    assert m["sources"]["order_items"]["seconds"] > 0
    for ds, (rows, nbytes) in cells["datasets"].items():
        f = next(f for f in m["files"] if f["name"].startswith(ds + "/"))
        assert (int(rows), int(nbytes)) == (t[ds].num_rows, (part / f["name"]).stat().st_size), ds

    # data quality: counted during the run, recorded in the manifest, equal to SQL
    oracle = quality_oracle(mariadb, source)
    assert {k: int(v) for k, v in cells["quality"].items()} == oracle
    assert {k: m["data_quality"][k] for k in oracle} == oracle
    assert all(oracle[k] > 0 for k in ("zero_dates_replaced", "inventory_unknown_product",
                                       "inventory_unknown_warehouse", "orders_unknown_customer"))

    # a narrow screen: nothing wider than the page, chart text still legible
    browser.open(url, 400)
    o = browser.eval(OVERFLOW)
    browser.screenshot(tmp_path / "report-400.png")
    assert o["inner"] == 400 and o["scrollWidth"] <= o["width"], o
    assert o["out"] == [], o["out"]
    assert min(o["fonts"]) >= 7.5, o["fonts"]


def test_report_command_regenerates_the_page(mariadb, source, tmp_path):
    part, m = run(mariadb, source, tmp_path / "out")
    page = (part / "report.html").read_bytes()
    manifest_text = (part / "_SUCCESS").read_text()
    entry = next(f for f in m["files"] if f["name"] == "report.html")
    assert entry["checksum"] == "sha256:" + hashlib.sha256(page).hexdigest()

    # gone or damaged: `sluice report` writes the same page again, the manifest is unchanged
    (part / "report.html").write_text("damaged")
    p = run_sluice(["report", str(part)], env={}, check=0)
    assert "report.html written" in p.stdout
    assert (part / "report.html").read_bytes() == page
    assert (part / "_SUCCESS").read_text() == manifest_text
    (part / "report.html").unlink()
    run_sluice(["report", str(part) + "/"], env={}, check=0)
    assert (part / "report.html").read_bytes() == page
    out = run_sluice(["report", str(part), "--output", "-"], env={}, check=0)
    assert out.stdout.encode() == page
    run_sluice(["report", str(part), "--output", str(tmp_path / "copy.html")], env={}, check=0)
    assert (tmp_path / "copy.html").read_bytes() == page

    # a manifest written without the report entry (an older run) gets it added
    m2 = json.loads(manifest_text)
    m2["files"] = [f for f in m2["files"] if f["name"] != "report.html"]
    m2["total_bytes"] -= entry["bytes"]
    (part / "_SUCCESS").write_text(json.dumps(m2))
    p = run_sluice(["report", str(part)], env={}, check=0)
    assert "manifest entry updated" in p.stdout
    m3 = json.loads((part / "_SUCCESS").read_text())
    assert [f["name"] for f in m3["files"]] == [f["name"] for f in m["files"]]
    assert next(f for f in m3["files"] if f["name"] == "report.html") == entry
    assert m3["total_bytes"] == m["total_bytes"] and m3["run_id"] == m["run_id"]


def test_report_command_errors(mariadb, source, tmp_path):
    part, m = run(mariadb, source, tmp_path / "out")
    p = run_sluice(["report", str(tmp_path / "out")], env={})
    assert p.returncode == 8 and "_SUCCESS" in p.stderr
    p = run_sluice(["report", str(tmp_path / "nowhere" / DATE)], env={})
    assert p.returncode == 8
    p = run_sluice(["report"], env={})
    assert p.returncode == 2 and "PARTITION" in p.stderr
    # an export partition is not a run's
    run_sluice(["export", "--table", "warehouses", "--date", DATE, "--output", str(tmp_path / "exp"), "--progress",
                "off"], env=mariadb.sluice_env(source), check=0)
    p = run_sluice(["report", str(tmp_path / "exp" / "raw" / "warehouses" / DATE)], env={})
    assert p.returncode == 8 and "export" in p.stderr
    # a dataset file that is gone or not Parquet: exit 8 naming it; the old page stays
    f = next(f for f in m["files"] if f["name"].startswith("hourly_orders/"))
    (part / f["name"]).write_bytes(b"not parquet")
    p = run_sluice(["report", str(part)], env={})
    assert p.returncode == 8 and "hourly_orders/" in p.stderr, p.stderr
    assert (part / "report.html").read_bytes().startswith(b"<!DOCTYPE html>")
    h = run_sluice(["report", "--help"], env={}, check=0)
    assert "sluice report PARTITION" in h.stdout and "--output" in h.stdout


def test_report_on_s3(mariadb, source, moto, bucket, tmp_path):
    env = {**mariadb.sluice_env(source), **moto.env()}
    run_sluice(["run", "--output", f"s3://{bucket}/nightly", "--as-of", AS_OF, "--progress", "off"], env=env, check=0)
    key = f"nightly/business_insights/{DATE}/"
    page = moto.client.get_object(Bucket=bucket, Key=key + "report.html")["Body"].read()
    m = json.loads(moto.client.get_object(Bucket=bucket, Key=key + "_SUCCESS")["Body"].read())
    entry = next(f for f in m["files"] if f["name"] == "report.html")
    assert entry["checksum"] == "sha256:" + hashlib.sha256(page).hexdigest() and entry["key"] == \
        f"business_insights/{DATE}/report.html"
    assert m["run_id"].encode() in page
    p = run_sluice(["report", f"s3://{bucket}/{key}", "--output", "-"], env=env, check=0)
    assert p.stdout.encode() == page


def test_failed_runs_and_the_committed_report(mariadb, source, moto, bucket, fault_proxy):
    """A run that fails before its commit never touches the committed report.html; one
    whose _SUCCESS cannot be written leaves its own complete page in place (the one
    documented exception, as a kill at that moment would), which the previous
    manifest's checksum tells apart and `sluice report` puts right."""
    ok = {**mariadb.sluice_env(source), **moto.env()}
    args = ["run", "--output", f"s3://{bucket}/n", "--as-of", AS_OF, "--progress", "off"]
    run_sluice(args, env=ok, check=0)
    key = f"n/business_insights/{DATE}/"

    def get(name):
        return moto.client.get_object(Bucket=bucket, Key=key + name)["Body"].read()

    page, manifest = get("report.html"), get("_SUCCESS")
    m = json.loads(manifest)
    faulty = {**mariadb.sluice_env(source), **moto.env(fault_proxy.endpoint, S3_MAX_ATTEMPTS=2)}

    fault_proxy.rule = lambda n, method, path: "500" if method == "PUT" and "/hourly_orders/" in path else None
    p = run_sluice(args, env=faulty)
    assert p.returncode == 7, p.stderr
    assert get("report.html") == page and get("_SUCCESS") == manifest

    fault_proxy.rule = lambda n, method, path: "500" if method == "PUT" and path.split("?")[0].endswith(
        "/_SUCCESS") else None
    p = run_sluice(args, env=faulty)
    assert p.returncode == 7, p.stderr
    assert get("_SUCCESS") == manifest
    theirs = get("report.html")
    entry = next(f for f in m["files"] if f["name"] == "report.html")
    assert theirs != page and "sha256:" + hashlib.sha256(theirs).hexdigest() != entry["checksum"]
    assert theirs.startswith(b"<!DOCTYPE html>") and theirs.endswith(b"</html>\n")
    assert m["run_id"].encode() not in theirs
    for f in m["files"]:
        if f["name"] != "report.html":
            assert "sha256:" + hashlib.sha256(get(f["name"])).hexdigest() == f["checksum"], f["name"]

    fault_proxy.rule = None
    run_sluice(["report", f"s3://{bucket}/{key}"], env=ok, check=0)
    assert get("report.html") == page and get("_SUCCESS") == manifest


def test_report_of_empty_tables(mariadb, fresh_db, tmp_path, browser):
    """No rows at all: every chart is there with its bars, all zero, and no peak is marked."""
    from conftest import create_schema
    create_schema(mariadb, fresh_db)
    part, m = run(mariadb, fresh_db, tmp_path / "out")
    browser.open((part / "report.html").as_uri(), 800)
    marks = browser.eval(MARKS)
    assert {k: len(v) for k, v in marks.items()} == {
        "orders-by-hour": 24, "revenue-by-hour": 24, "inventory-scores": 10, "warehouse-utilization": 0,
        "customer-segments": 0}
    assert not any(b["mark"] for v in marks.values() for b in v)
    assert all(float(b["value"]) == 0 for k in ("orders-by-hour", "revenue-by-hour", "inventory-scores")
               for b in marks[k])
    assert browser.eval("document.getElementById('restock-none').textContent") == "No product needs restock."
    assert browser.eval(CELLS)["quality"] == {k: "0" for k in quality_oracle(mariadb, fresh_db)}


def test_report_of_a_sharded_run(mariadb, source, tmp_path):
    """--shards 2 (order_analytics in two files): the same figures as one task, and
    `sluice report` regenerates the very page."""
    import re
    pages = []
    for shards in ("1", "2"):
        out = tmp_path / f"s{shards}"
        run_sluice(["run", "--output", str(out), "--as-of", AS_OF, "--progress", "off", "--shards", shards],
                   env=mariadb.sluice_env(source), check=0)
        part = out / "business_insights" / DATE
        page = (part / "report.html").read_text()
        assert run_sluice(["report", str(part), "--output", "-"], env={}, check=0).stdout == page
        pages.append(page)
    values = [re.findall(r'<(?:rect class="bar|circle class="point)[^>]*data-label="([^"]*)" data-value="([^"]*)"', p)
              for p in pages]
    assert len(values[0]) > 60 and values[0] == values[1]
