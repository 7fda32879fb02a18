"""Watching the job (issue 14): JSON log lines, the Prometheus metrics file, --dry-run,
and the progress display on a pseudo-terminal and without one.

Expected values come from outside sluice: row counts and estimates from MariaDB (SQL and
information_schema), sizes and run ids from the manifests (checked against the files by
hashlib and pyarrow in the other suites), the metrics file parsed by prometheus_client's
own parser, and S3 requests seen by a proxy in front of moto."""
import json
import os
import pty
import re
import select
import subprocess
import time
import tty
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import SLUICE, run_sluice

ANCHOR = "2026-06-30 00:00:00"
AS_OF = "2026-06-29 12:00:00"
DATE = "2026-06-29"
TABLES = ["customers", "products", "warehouses", "inventory", "orders", "order_items"]
DATASETS = ["inventory_analytics", "order_analytics", "hourly_orders", "warehouse_utilization", "product_turnover",
            "customer_segments"]
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")


@pytest.fixture(scope="module")
def shop(mariadb):
    db = mariadb.create_database()
    run_sluice(["seed", "--scale", "0.02", "--anchor", ANCHOR], env=mariadb.sluice_env(db), check=0)
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("ANALYZE TABLE " + ", ".join(TABLES))
        cur.fetchall()
    yield db
    mariadb.drop_database(db)


def count(mariadb, db, sql):
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def estimates(mariadb, db):
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("SELECT table_name, table_rows FROM information_schema.tables WHERE table_schema = %s", (db,))
        return dict(cur.fetchall())


def json_lines(stderr):
    """Every stderr line as a JSON object with the documented keys (the test fails on
    any line that is not one)."""
    out = []
    for line in stderr.splitlines():
        o = json.loads(line)
        assert isinstance(o, dict), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), line
        assert o["level"] in ("error", "warning", "info", "debug"), line
        assert isinstance(o["event"], str) and o["event"], line
        assert isinstance(o["msg"], str), line
        assert "run_id" in o, line
        out.append(o)
    return out


def metrics(path):
    """{(name, frozenset(labels without command)): value} from prometheus_client's parser;
    every family is a gauge and every sample carries command=<cmd>."""
    text = Path(path).read_text()
    out, command = {}, set()
    for fam in text_string_to_metric_families(text):
        assert fam.type == "gauge", fam.name
        assert fam.documentation, fam.name
        for s in fam.samples:
            labels = dict(s.labels)
            command.add(labels.pop("command"))
            out[(s.name, frozenset(labels.items()))] = s.value
    assert len(command) == 1
    return out, command.pop()


def value(m, name, **labels):
    return m[(name, frozenset(labels.items()))]


def labelled(m, name, label):
    return {dict(k[1])[label]: v for k, v in m.items() if k[0] == name}


def run_args(out, *extra):
    return ["run", "--output", str(out), "--as-of", AS_OF, "--progress", "log", *map(str, extra)]


# ---------------------------------------------------------------------------------------
# logs

def test_json_log_of_a_run(mariadb, shop, tmp_path):
    p = run_sluice(["--log-format", "json", *run_args(tmp_path, "--raw")], env=mariadb.sluice_env(shop), check=0)
    lines = json_lines(p.stderr)
    m = json.loads((tmp_path / "business_insights" / DATE / "_SUCCESS").read_text())
    assert {o["run_id"] for o in lines} == {m["run_id"]}
    events = [o["event"] for o in lines]
    assert events[0] == "run_start" and events[-1] == "run_done", events
    assert lines[0]["command"] == "run" and lines[0]["dry_run"] is False
    done = {o["table"]: o["rows"] for o in lines if o["event"] == "table_done"}
    assert done == {t: count(mariadb, shop, f"SELECT COUNT(*) FROM {t}") for t in TABLES}
    end = lines[-1]
    assert end["date"] == DATE and end["files"] == 12 and end["consistency"] == "snapshot"
    assert end["datasets"] == {d: v["rows"] for d, v in m["datasets"].items()}
    # the raw tables' manifests carry the same run id
    for t in TABLES:
        assert json.loads((tmp_path / "raw" / t / DATE / "_SUCCESS").read_text())["run_id"] == m["run_id"]


def test_json_log_of_failures(mariadb, shop, tmp_path):
    """A refused password (exit 4) and a missing table (exit 5): still one JSON object a
    line, the run id on each, the failure as an error event with its exit code; no secret."""
    env = mariadb.sluice_env(shop, MYSQL_PASSWORD="not-the-password-x9")
    p = run_sluice(["--log-format", "json", *run_args(tmp_path / "a")], env=env)
    assert p.returncode == 4
    lines = json_lines(p.stderr)
    assert RUN_ID.fullmatch(lines[0]["run_id"]) and len({o["run_id"] for o in lines}) == 1
    last = lines[-1]
    assert last["event"] == "failed" and last["level"] == "error" and last["exit_code"] == 4
    assert "MYSQL_PASSWORD" in last["msg"] or "credentials" in last["msg"]
    assert "not-the-password-x9" not in p.stderr + p.stdout
    assert not (tmp_path / "a").exists()

    p = run_sluice(["export", "--log-format=json", "--output", str(tmp_path / "b"), "--table", "nope"],
                   env=mariadb.sluice_env(shop))
    assert p.returncode == 5
    last = json_lines(p.stderr)[-1]
    assert last["event"] == "failed" and last["exit_code"] == 5 and "nope" in last["msg"]


def test_json_log_of_usage_errors(mariadb, shop, tmp_path):
    p = run_sluice(["--log-format", "json", "export", "--output", str(tmp_path), "--partitions", "0"],
                   env=mariadb.sluice_env(shop))
    assert p.returncode == 2
    (line,) = json_lines(p.stderr)
    assert line["event"] == "usage_error" and line["exit_code"] == 2 and "--partitions" in line["msg"]
    for bad in (["--log-format", "xml"], ["--log-level", "loud"]):
        p = run_sluice([*bad, "check"], env=mariadb.sluice_env(shop))
        assert p.returncode == 2 and bad[0] in p.stderr


def test_json_log_of_an_export(mariadb, shop, tmp_path):
    p = run_sluice(["--log-format", "json", "export", "--output", str(tmp_path), "--table", "orders", "--table",
                    "customers", "--partitions", "3", "--date", DATE, "--progress", "log"],
                   env=mariadb.sluice_env(shop), check=0)
    lines = json_lines(p.stderr)
    ids = {json.loads((tmp_path / "raw" / t / DATE / "_SUCCESS").read_text())["run_id"] for t in ("orders", "customers")}
    assert len(ids) == 1 and {o["run_id"] for o in lines} == ids
    end = lines[-1]
    assert end["event"] == "run_done" and end["tables"] == 2
    assert end["rows"] == count(mariadb, shop, "SELECT (SELECT COUNT(*) FROM orders) + (SELECT COUNT(*) FROM customers)")


def test_log_levels_and_text_lines_carry_the_run_id(mariadb, shop, tmp_path):
    env = mariadb.sluice_env(shop)
    p = run_sluice(["--log-level", "error", *run_args(tmp_path / "q")], env=env, check=0)
    assert p.stderr == ""
    p = run_sluice(["--log-level", "warn", *run_args(tmp_path / "w")], env=env, check=0)
    assert p.stderr == ""
    p = run_sluice(["--log-level=debug", "--log-format", "json", *run_args(tmp_path / "d"), "--metrics-file",
                    str(tmp_path / "m.prom")], env=env, check=0)
    assert [o["path"] for o in json_lines(p.stderr) if o["level"] == "debug" and o["event"] == "metrics_written"] \
        == [str(tmp_path / "m.prom")]
    p = run_sluice(run_args(tmp_path / "t"), env=env, check=0)
    run_id = json.loads((tmp_path / "t" / "business_insights" / DATE / "_SUCCESS").read_text())["run_id"]
    lines = p.stderr.splitlines()
    assert lines and all(line.startswith("sluice: ") and f"[{run_id}]" in line for line in lines), lines
    assert any("rows done" in line for line in lines)


# ---------------------------------------------------------------------------------------
# metrics

def test_metrics_of_a_run(mariadb, shop, tmp_path):
    out, path = tmp_path / "out", tmp_path / "prom" / "sluice.prom"
    path.parent.mkdir()
    path.write_text("stale\n")   # replaced
    t0 = time.time()
    run_sluice([*run_args(out, "--raw"), "--metrics-file", str(path)], env=mariadb.sluice_env(shop), check=0)
    t1 = time.time()
    m, command = metrics(path)
    assert command == "run"
    assert sorted(p.name for p in path.parent.iterdir()) == ["sluice.prom"]   # no temporary file left
    man = json.loads((out / "business_insights" / DATE / "_SUCCESS").read_text())
    assert value(m, "sluice_success") == 1 and value(m, "sluice_exit_code") == 0
    info = [dict(k[1]) for k in m if k[0] == "sluice_run_info"]
    assert len(info) == 1 and info[0]["run_id"] == man["run_id"] and info[0]["date"] == DATE
    assert info[0]["consistency"] == "snapshot"
    assert t0 - 1 <= value(m, "sluice_start_time_seconds") <= value(m, "sluice_end_time_seconds") <= t1 + 1
    duration = value(m, "sluice_duration_seconds")
    assert 0 < duration <= t1 - t0 + 0.5
    stages = labelled(m, "sluice_stage_duration_seconds", "stage")
    assert set(stages) == {"plan", "snapshot", "read", "compute_and_write", "commit"}
    # the stages follow one another, but a run's tasks read and compute side by side
    assert all(0 <= v <= duration for v in stages.values())
    assert stages["plan"] + stages["snapshot"] + stages["commit"] <= duration
    assert labelled(m, "sluice_dataset_rows", "dataset") == {d: v["rows"] for d, v in man["datasets"].items()}
    assert labelled(m, "sluice_dataset_bytes", "dataset") == {d: v["bytes"] for d, v in man["datasets"].items()}
    by_file = {f["name"].split("/")[0]: f["bytes"] for f in man["files"] if f["name"].endswith(".parquet")}
    assert labelled(m, "sluice_dataset_bytes", "dataset") == by_file
    assert labelled(m, "sluice_table_rows", "table") == {
        t: count(mariadb, shop, f"SELECT COUNT(*) FROM {t}") for t in TABLES}
    raw = {t: json.loads((out / "raw" / t / DATE / "_SUCCESS").read_text()) for t in TABLES}
    assert labelled(m, "sluice_table_bytes", "table") == {t: raw[t]["total_bytes"] for t in TABLES}
    assert labelled(m, "sluice_table_read_seconds", "table") == {}   # a run's tasks read several tables each
    assert labelled(m, "sluice_zero_dates", "table") == {t: 0 for t in TABLES}
    assert labelled(m, "sluice_retries", "kind") == {"s3_request": 0, "partition": 0}
    assert value(m, "sluice_files_written") == 12
    # the snapshot lock's figures are the manifest's (tls-lock's snapshot.lock)
    lock = man["snapshot"]["lock"]
    assert lock["kind"] in ("backup_stage", "ftwrl")
    assert labelled(m, "sluice_lock_wait_seconds", "lock") == {lock["kind"]: pytest.approx(lock["wait_seconds"])}
    assert labelled(m, "sluice_lock_held_seconds", "lock") == {lock["kind"]: pytest.approx(lock["held_seconds"])}
    assert labelled(m, "sluice_lock_writes_blocked_seconds", "lock") == {
        lock["kind"]: pytest.approx(lock["writes_blocked_seconds"])}


def test_metrics_of_an_export_with_zero_dates(mariadb, fresh_db, tmp_path):
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("CREATE TABLE ev (id INT PRIMARY KEY, d DATE, t DATETIME, s VARCHAR(20))")
        cur.execute("INSERT INTO ev SELECT seq, IF(seq % 7 = 0, '0000-00-00', '2024-01-01' + INTERVAL seq DAY),"
                    " IF(seq % 11 = 0, '2024-00-05 10:00:00', '2024-01-01'), CONCAT('s', seq) FROM seq_1_to_2000")
        cur.execute("CREATE TABLE plain (k VARCHAR(10), v INT)")
        cur.execute("INSERT INTO plain SELECT CONCAT('k', seq), seq FROM seq_1_to_300")
        cur.execute("SELECT SUM(YEAR(d) = 0 OR MONTH(d) = 0 OR DAYOFMONTH(d) = 0)"
                    " + SUM(YEAR(t) = 0 OR MONTH(t) = 0 OR DAYOFMONTH(t) = 0) FROM ev")
        zero = int(cur.fetchone()[0])
    assert zero == 2000 // 7 + 2000 // 11
    path = tmp_path / "export.prom"
    run_sluice(["export", "--output", str(tmp_path / "out"), "--partitions", "3", "--date", DATE, "--metrics-file",
                str(path), "--progress", "off"], env=mariadb.sluice_env(fresh_db), check=0)
    m, command = metrics(path)
    assert command == "export" and value(m, "sluice_success") == 1
    man = {t: json.loads((tmp_path / "out" / "raw" / t / DATE / "_SUCCESS").read_text()) for t in ("ev", "plain")}
    assert labelled(m, "sluice_table_rows", "table") == {"ev": 2000, "plain": 300}
    assert labelled(m, "sluice_table_bytes", "table") == {t: man[t]["total_bytes"] for t in man}
    assert labelled(m, "sluice_zero_dates", "table") == {"ev": zero, "plain": 0}
    assert sum(man["ev"]["zero_dates"].values()) == zero
    assert value(m, "sluice_files_written") == len(man["ev"]["files"]) + len(man["plain"]["files"])
    assert set(labelled(m, "sluice_stage_duration_seconds", "stage")) == {"plan", "snapshot", "read_and_write",
                                                                          "commit"}
    assert [dict(k[1]) for k in m if k[0] == "sluice_run_info"][0]["run_id"] == man["ev"]["run_id"]


def test_metrics_on_failure(mariadb, shop, tmp_path):
    """A failed run still writes the file: success 0 and its exit code."""
    path = tmp_path / "m.prom"
    p = run_sluice(["export", "--output", str(tmp_path / "o"), "--table", "nope", "--metrics-file", str(path)],
                   env=mariadb.sluice_env(shop))
    assert p.returncode == 5
    m, _ = metrics(path)
    assert value(m, "sluice_success") == 0 and value(m, "sluice_exit_code") == 5
    assert not any(k[0] == "sluice_table_rows" for k in m)
    p = run_sluice([*run_args(tmp_path / "o"), "--metrics-file", str(path)],
                   env=mariadb.sluice_env(shop, MYSQL_PASSWORD="wrong"))
    assert p.returncode == 4
    m, command = metrics(path)
    assert command == "run" and value(m, "sluice_success") == 0 and value(m, "sluice_exit_code") == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.prom"]


def test_metrics_file_that_cannot_be_written_fails_before_any_work(mariadb, shop, tmp_path):
    p = run_sluice([*run_args(tmp_path / "o"), "--metrics-file", str(tmp_path / "missing" / "m.prom")],
                   env=mariadb.sluice_env(shop))
    assert p.returncode == 7 and "missing/m.prom" in p.stderr
    assert not (tmp_path / "o").exists()


def test_metrics_count_s3_retries(mariadb, moto, bucket, shop, fault_proxy, tmp_path):
    """Two uploads answered 500 then retried: sluice_retries{kind="s3_request"} is 2."""
    failed = []

    def rule(n, method, path):
        if method == "PUT" and ".parquet" in path and len(failed) < 2:
            failed.append(n)
            return "500"
        return None

    fault_proxy.rule = rule
    env = {**mariadb.sluice_env(shop), **moto.env(fault_proxy.endpoint)}
    path = tmp_path / "s3.prom"
    run_sluice(["export", "--table", "orders", "--partitions", "2", "--date", DATE, "--output", f"s3://{bucket}/m",
                "--metrics-file", str(path), "--progress", "off"], env=env, check=0)
    m, _ = metrics(path)
    assert len(failed) == 2
    assert labelled(m, "sluice_retries", "kind") == {"s3_request": 2, "partition": 0}
    assert value(m, "sluice_table_rows", table="orders") == count(mariadb, shop, "SELECT COUNT(*) FROM orders")


# ---------------------------------------------------------------------------------------
# dry run

def lock_statement(mariadb):
    """The lock `--snapshot-lock auto` takes on this server, from its version (MariaDB
    10.4+ has BACKUP STAGE)."""
    with mariadb.connect() as c, c.cursor() as cur:
        cur.execute("SELECT VERSION()")
        v = cur.fetchone()[0]
    major, minor = (int(x) for x in v.split(".")[:2])
    return "BACKUP STAGE BLOCK_COMMIT" if "MariaDB" in v and (major, minor) >= (10, 4) else "FLUSH TABLES WITH READ LOCK"


def tree(root):
    root = Path(root)
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in root.rglob("*")}


def test_dry_run_of_run_writes_nothing(mariadb, shop, tmp_path):
    env = mariadb.sluice_env(shop)
    run_sluice(run_args(tmp_path), env=env, check=0)   # an existing committed partition
    before = tree(tmp_path)
    p = run_sluice([*run_args(tmp_path, "--raw", "--dry-run"), "--metrics-file", str(tmp_path / "m.prom")], env=env,
                   check=0)
    assert tree(tmp_path) == before   # nothing written, nothing removed, not even the metrics file
    out = p.stdout
    run_id = re.search(r"run id\s+(\S+)", out).group(1)
    assert RUN_ID.fullmatch(run_id)
    est = estimates(mariadb, shop)
    for t in TABLES:
        assert re.search(rf"^  {t}: about {est[t]} rows", out, re.M), (t, est[t], out)
        assert re.search(rf"^    SELECT .* FROM `{t}`$", out, re.M), t
    assert lock_statement(mariadb) in out and "the user holds RELOAD" in out
    for d in DATASETS:
        assert f"{tmp_path}/business_insights/{DATE}/{d}/part-00000-{run_id}.snappy.parquet" in out
    assert f"{tmp_path}/business_insights/{DATE}/_SUCCESS" in out
    for t in TABLES:
        assert f"{tmp_path}/raw/{t}/{DATE}/part-00000-{run_id}.snappy.parquet" in out
    assert str(tmp_path / "m.prom") in out
    assert "only the items of the sales window's orders" not in out  # --raw reads every item
    # without --raw: the window's items, on one more connection beside the orders
    out = run_sluice([*run_args(tmp_path, "--dry-run")], env=env, check=0).stdout
    assert re.search(rf"^  order_items: about {est['order_items']} rows \(information_schema estimate\); only the "
                     r"items of the sales window's orders are read$", out, re.M), out
    assert re.search(r"^    SELECT oi\.`order_id`, .* FROM `orders` o STRAIGHT_JOIN `order_items` oi .*"
                     r"o\.`order_date` <= '[^']+'$", out, re.M), out
    assert "snapshot on 3 connections" in out and tree(tmp_path) == before


def test_dry_run_of_export_prints_the_real_ranges(mariadb, shop, tmp_path):
    out = tmp_path / "out"
    p = run_sluice(["export", "--output", str(out), "--table", "orders", "--table", "warehouses", "--partitions", "3",
                    "--date", DATE, "--dry-run", "--compression", "zstd"], env=mariadb.sluice_env(shop), check=0)
    assert not out.exists()
    text = p.stdout
    run_id = re.search(r"run id\s+(\S+)", text).group(1)
    est = estimates(mariadb, shop)
    ranges = re.search(rf"^  orders: about {est['orders']} rows .*, (\d+) key ranges on order_id$", text, re.M)
    assert ranges, text
    queries = re.findall(r"^    (SELECT .* FROM `orders`.*)$", text, re.M)
    assert len(queries) == int(ranges.group(1)) >= 3   # at least one range per connection
    # the printed ranges are SQL the server runs: together they read every row once
    assert sum(count(mariadb, shop, f"SELECT COUNT(*) FROM ({q}) x") for q in queries) == \
        count(mariadb, shop, "SELECT COUNT(*) FROM orders")
    for i in range(len(queries)):
        assert f"{out}/raw/orders/{DATE}/part-{i:05d}-{run_id}.zstd.parquet" in text
    assert f"{out}/raw/warehouses/{DATE}/part-00000-{run_id}.zstd.parquet" in text
    assert lock_statement(mariadb) in text and "snapshot on 3 connections" in text
    p = run_sluice(["export", "--output", str(out), "--table", "orders", "--dry-run", "--snapshot-lock", "ftwrl",
                    "--lock-wait-timeout", "7"], env=mariadb.sluice_env(shop), check=0)
    assert "FLUSH TABLES WITH READ LOCK" in p.stdout and "at most 7 s" in p.stdout and not out.exists()
    p = run_sluice(["export", "--output", str(out), "--table", "orders", "--dry-run", "--consistency", "none"],
                   env=mariadb.sluice_env(shop), check=0)
    assert "no lock" in p.stdout and "FLUSH" not in p.stdout and not out.exists()


def test_dry_run_to_s3_sends_no_request_that_writes(mariadb, moto, bucket, shop, fault_proxy):
    env = {**mariadb.sluice_env(shop), **moto.env(fault_proxy.endpoint)}
    run_sluice(["run", "--as-of", AS_OF, "--raw", "--output", f"s3://{bucket}/n", "--dry-run"], env=env, check=0)
    run_sluice(["export", "--output", f"s3://{bucket}/n", "--dry-run"], env=env, check=0)
    assert [r for r in fault_proxy.requests if r["method"] not in ("GET", "HEAD")] == []
    assert moto.keys(bucket) == {}


def test_dry_run_still_fails_on_a_missing_table(mariadb, shop, tmp_path):
    p = run_sluice(["export", "--output", str(tmp_path / "o"), "--table", "nope", "--dry-run"],
                   env=mariadb.sluice_env(shop))
    assert p.returncode == 5 and "nope" in p.stderr and not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------
# progress

def slow_export_args(out, *extra):
    """An export that takes about two seconds: the server sleeps 1 ms a row (the
    condition is always true), read in small batches so the count grows steadily."""
    return ["export", "--output", str(out), "--table", "orders", "--partitions", "1", "--batch-rows", "100",
            "--date", DATE, "--where", "SLEEP(0.001) = 0 AND order_id <= 2000", *extra]


def run_on_pty(args, env, timeout=120):
    """Runs sluice with stderr on a pseudo-terminal (raw mode: bytes as written); returns
    (exit code, what the terminal received, stdout)."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    p = subprocess.Popen([str(SLUICE), *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=slave)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:   # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif p.poll() is not None:
            break
    os.close(master)
    out = p.stdout.read()
    p.wait(10)
    return p.returncode, b"".join(chunks).decode(), out.decode()


def test_progress_on_a_terminal_redraws_one_line_and_ends_cleanly(mariadb, shop, tmp_path):
    rc, term, out = run_on_pty(slow_export_args(tmp_path / "o"), mariadb.sluice_env(shop))
    assert rc == 0, term
    assert "exported 1 table" in out
    frames = re.findall(r"\r\x1b\[K\[([= ]{30})\] +(\d+)% (\S+) rows", term)
    assert len(frames) >= 3, repr(term)   # redrawn several times, in place
    pcts = [int(f[1]) for f in frames]
    assert pcts == sorted(pcts) and pcts[-1] > pcts[0]
    assert frames[-1][0] == "=" * 30 and pcts[-1] == 100   # the last frame: finished, whatever the estimate
    assert "\r\x1b[K  orders" in term and re.search(r"orders +2000 rows done\n", term)
    # it ends cleanly: the last frame is closed by a newline, the terminal is left at
    # the start of a line, and every later line is a whole log line
    tail = term[term.rindex("\r\x1b[K["):]
    first_nl = tail.index("\n")
    assert "\r" not in tail[1:first_nl]
    assert term.endswith("\n")
    for line in tail[first_nl + 1:].split("\n")[:-1]:
        assert line.lstrip("\r").replace("\x1b[K", "").startswith("sluice: "), repr(line)


def test_progress_without_a_terminal_is_plain_lines(mariadb, shop, tmp_path):
    p = run_sluice(slow_export_args(tmp_path / "o"), env=mariadb.sluice_env(shop), check=0)
    assert "\r" not in p.stderr and "\x1b" not in p.stderr
    lines = p.stderr.splitlines()
    assert all(line.startswith("sluice: ") for line in lines), lines
    assert any("orders: 2000 rows done (table=orders, rows=2000)" in line for line in lines), lines


def test_json_logs_on_a_terminal_have_no_progress_bar(mariadb, shop, tmp_path):
    rc, term, _ = run_on_pty(["--log-format", "json", *slow_export_args(tmp_path / "o")], mariadb.sluice_env(shop))
    assert rc == 0 and "\x1b" not in term and "\r" not in term
    lines = json_lines(term)
    assert {"run_start", "table_done", "run_done"} <= {o["event"] for o in lines}


def test_dry_run_follows_the_layout_and_the_incremental_watermark(mariadb, shop, tmp_path):
    """The plan is the real one: hive folders with --layout hive, and for --incremental
    the watermark of the committed runs (after a first run, the printed query reads
    nothing, checked by running it)."""
    env = mariadb.sluice_env(shop)
    out = tmp_path / "out"
    args = ["export", "--output", str(out), "--table", "orders", "--incremental", "order_date", "--layout", "hive",
            "--date", DATE, "--partitions", "2"]
    p = run_sluice([*args, "--dry-run"], env=env, check=0)
    assert not out.exists()
    run_id = re.search(r"run id\s+(\S+)", p.stdout).group(1)
    assert f"{out}/raw/orders/date={DATE}/part-00000-{run_id}.snappy.parquet" in p.stdout
    assert re.search(r"^    incremental on order_date: ", p.stdout, re.M), p.stdout
    queries = re.findall(r"^    (SELECT .* FROM `orders`.*)$", p.stdout, re.M)
    assert len(queries) >= 2 and all("order_date" in q for q in queries)
    assert sum(count(mariadb, shop, f"SELECT COUNT(*) FROM ({q}) x") for q in queries) == \
        count(mariadb, shop, "SELECT COUNT(*) FROM orders")
    run_sluice([*args, "--progress", "off"], env=env, check=0)
    before = tree(out)
    p = run_sluice([*args, "--dry-run"], env=env, check=0)
    assert tree(out) == before
    queries = re.findall(r"^    (SELECT .* FROM `orders`.*)$", p.stdout, re.M)
    assert queries and sum(count(mariadb, shop, f"SELECT COUNT(*) FROM ({q}) x") for q in queries) == 0
    p = run_sluice([*run_args(out, "--dry-run", "--layout", "hive")], env=env, check=0)
    assert f"{out}/business_insights/date={DATE}/_SUCCESS" in p.stdout
