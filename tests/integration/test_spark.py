"""sluice scheduled by Spark (deploy/spark/sluice_spark.py) on scripts/spark-local.sh's
standalone cluster (a master and two 1-core workers), against the local MariaDB and moto.
The oracle of every output is a single-process sluice run or export of the same source
and as-of, compared value for value with pyarrow (and DuckDB over the files), and
MariaDB's own SELECTs; the snapshot test has its control."""
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, SLUICE, run_sluice
from s3_fixtures import free_port
from test_export import GATE_1, GATE_2, Gate, Writer
from test_run import GENERATED, seeded  # noqa: F401

SCRIPT = ROOT / "deploy" / "spark" / "sluice_spark.py"
DATE = "2026-06-30"
AS_OF = GENERATED["near_anchor"].as_of


class Spark:
    def __init__(self, var, venv):
        self.env = dict(os.environ, SLUICE_VAR=str(var), SLUICE_VENV=str(venv), SLUICE_SPARK_PORT=str(free_port()),
                        SLUICE_SPARK_WEBUI_PORT=str(free_port()))
        # the workers' UIs take the next two ports after the master's
        self.script = ROOT / "scripts" / "spark-local.sh"

    def run_script(self, *args):
        return subprocess.run(["bash", str(self.script), *args], env=self.env, capture_output=True, text=True,
                              timeout=180, check=True)

    def start(self):
        self.run_script("start")
        self.vars = dict(l.split("=", 1) for l in self.run_script("env").stdout.splitlines())
        self.url = self.vars["SPARK_MASTER_URL"]

    def stop(self):
        self.run_script("stop")

    def submit(self, env, *args, conf=(), timeout=400):
        env = dict(env, **{k: v for k, v in self.vars.items() if k != "SPARK_MASTER_URL"})
        cmd = [os.path.join(self.vars["SPARK_HOME"], "bin", "spark-submit"), "--master", self.url,
               "--conf", "spark.ui.showConsoleProgress=false", "--conf", f"spark.sluice.bin={SLUICE}", *conf,
               str(SCRIPT), *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def spark(mariadb):
    s = Spark(ROOT / "var" / f"spark-test-{mariadb.port}", os.environ.get("SLUICE_VENV", ROOT / ".venv"))
    s.start()
    yield s
    s.stop()


def submit(spark, mariadb, db, *args, check=0, env=None, **kw):
    e = mariadb.sluice_env(db)
    e.update(env or {})
    p = spark.submit(e, *args, **kw)
    if check is not None:
        assert p.returncode == check, f"spark-submit exited {p.returncode}\n{p.stdout}\n{p.stderr[-6000:]}"
    return p


# ------------------------------------------------------------------------------------
# reading outputs (local folder or S3 through moto)


def listing(root):
    if isinstance(root, Path):
        return sorted(str(f.relative_to(root)) for f in root.rglob("*") if f.is_file())
    moto, bucket, prefix = root
    return sorted(k[len(prefix) + 1:] for k in moto.keys(bucket, prefix + "/"))


def read(root, key):
    if isinstance(root, Path):
        return (root / key).read_bytes()
    moto, bucket, prefix = root
    return moto.client.get_object(Bucket=bucket, Key=f"{prefix}/{key}")["Body"].read()


def datasets(root, partition):
    """{dataset: table} of a committed partition, from the files its _SUCCESS lists,
    checked against their sizes and checksums; and the manifest."""
    import hashlib
    m = json.loads(read(root, partition + "_SUCCESS"))
    out = {}
    for f in m["files"]:
        if not f["name"].endswith(".parquet"):
            continue
        data = read(root, partition + f["name"])
        assert len(data) == f["bytes"] and f["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
        name = f["name"].split("/")[0] if "/" in f["name"] else "table"
        out.setdefault(name, []).append(pq.read_table(pa.BufferReader(data)))
    return m, {k: pa.concat_tables(v) for k, v in out.items()}


def rows_of(t, key):
    rows = [{c: v for c, v in r.items() if c != "run_id"} for r in t.to_pylist()]
    return sorted(rows, key=lambda r: tuple(repr(r[k]) for k in key))


KEYS = {"inventory_analytics": ["inventory_id"], "order_analytics": ["customer_id"], "hourly_orders": ["hour"],
        "warehouse_utilization": ["warehouse_id"], "product_turnover": ["product_id"],
        "customer_segments": ["frequency_segment"]}


def same_datasets(a, b):
    assert a.keys() == b.keys() == KEYS.keys()
    for ds, key in KEYS.items():
        assert a[ds].schema.remove_metadata() == b[ds].schema.remove_metadata(), ds
        assert rows_of(a[ds], key) == rows_of(b[ds], key), ds


def executors(m):
    return {t["executor"] for t in m["tasks"]}


class ArgvWatch(threading.Thread):
    """Watches every process's command line on this machine for a secret while a job runs."""

    def __init__(self, secret):
        super().__init__(daemon=True)
        self.secret, self.seen, self.stop, self.sluice_seen = secret.encode(), [], threading.Event(), 0

    def run(self):
        while not self.stop.is_set():
            for d in Path("/proc").iterdir():
                if not d.name.isdigit():
                    continue
                try:
                    argv = (d / "cmdline").read_bytes()
                except OSError:
                    continue
                if self.secret in argv:
                    self.seen.append(argv.replace(b"\0", b" ")[:200])
                if b"sluice" in argv and b"\0task\0" in argv:
                    self.sluice_seen += 1
            time.sleep(0.05)


# ------------------------------------------------------------------------------------
# the tests


def test_run_on_both_workers_equals_one_process(spark, mariadb, seeded, tmp_path):
    """The default run (one snapshot across the executors: a barrier stage of two tasks),
    value for value the single-process run of the same as-of; the settings reach the
    tasks without appearing in any process's arguments or in Spark's output and logs."""
    env = mariadb.sluice_env(seeded)
    secret = env["MYSQL_PASSWORD"]
    one = tmp_path / "one"
    run_sluice(["run", "--output", str(one), "--as-of", AS_OF, "--progress", "off"], env=env, check=0)
    watch = ArgvWatch(secret)
    watch.start()
    try:
        p = submit(spark, mariadb, seeded, "run", "--output", str(tmp_path / "spark"), "--as-of", AS_OF)
    finally:
        watch.stop.set()
        watch.join()
    part = f"business_insights/{AS_OF[:10]}/"
    m1, d1 = datasets(one, part)
    m2, d2 = datasets(tmp_path / "spark", part)
    same_datasets(d2, d1)
    assert m2["engine"] == "spark" and re.fullmatch(r"app-\d+-\d+", m2["application_id"])
    assert m2["snapshot"]["consistency"] == "snapshot"
    assert len(m2["tasks"]) == 2 and len(executors(m2)) == 2          # one task on each worker
    # the orders task read its window's items on a second connection, begun inside the
    # same snapshot lock as the others
    assert [t.get("items_beside") for t in m2["tasks"]] == [None, True] and m2["snapshot"]["connections"] == 3
    assert {e.split("/")[0].split(":")[1] for e in executors(m2)} == {"worker-1", "worker-2"}
    assert all(t["attempts"] == 1 for t in m2["tasks"])
    # no secret in argv (the sluice tasks were seen running), Spark's output or the workers' logs
    assert watch.sluice_seen and not watch.seen, watch.seen
    assert secret not in p.stdout + p.stderr
    logs = [f for f in (Path(spark.env["SLUICE_VAR"]) / "spark").rglob("*") if f.is_file()]
    assert logs and not [f for f in logs if secret.encode() in f.read_bytes()]
    # DuckDB reads the Spark run's files as the same figures
    con = duckdb.connect()
    files = [str(tmp_path / "spark" / part / f["name"]) for f in m2["files"] if "order_analytics" in f["name"]]
    got = con.execute("SELECT count(*), sum(total_spent), sum(is_vip::INT) FROM read_parquet(?)", [files]).fetchone()
    t = d1["order_analytics"]
    assert got == (t.num_rows, sum(t.column("total_spent").to_pylist()), sum(t.column("is_vip").to_pylist()))


def test_sharded_run_and_export_to_s3(spark, mariadb, seeded, moto, bucket, tmp_path):
    """A run in 3 customer shards (4 sluice tasks on 2 Spark tasks; the shards gather their
    totals with allGather) and an export without a snapshot (one Spark task per sluice
    task), both to S3, equal to the single-process output."""
    env = dict(moto.env())
    envs = mariadb.sluice_env(seeded, **env)
    run_sluice(["run", "--output", f"s3://{bucket}/one", "--as-of", AS_OF, "--progress", "off"], env=envs, check=0)
    submit(spark, mariadb, seeded, "run", "--output", f"s3://{bucket}/spark", "--as-of", AS_OF, "--shards", "3",
           env=env)
    part = f"business_insights/{AS_OF[:10]}/"
    m1, d1 = datasets((moto, bucket, "one"), part)
    m2, d2 = datasets((moto, bucket, "spark"), part)
    same_datasets(d2, d1)
    assert len([f for f in m2["files"] if f["name"].startswith("order_analytics/")]) == 3
    assert len(m2["tasks"]) == 4 and len(executors(m2)) == 2
    assert sorted(listing((moto, bucket, "spark"))) == sorted([part + "_SUCCESS"] + [part + f["name"] for f in m2["files"]])

    run_sluice(["export", "--output", f"s3://{bucket}/xone", "--table", "orders", "--table", "customers",
                "--date", DATE, "--progress", "off"], env=envs, check=0)
    submit(spark, mariadb, seeded, "export", "--output", f"s3://{bucket}/xspark", "--table", "orders", "--table",
           "customers", "--partitions", "3", "--consistency", "none", "--date", DATE, env=env)
    for table, key in (("orders", ["order_id"]), ("customers", ["customer_id"])):
        p = f"raw/{table}/{DATE}/"
        a, ta = datasets((moto, bucket, "xspark"), p)
        b, tb = datasets((moto, bucket, "xone"), p)
        assert rows_of(ta["table"], key) == rows_of(tb["table"], key) and ta["table"].num_rows > 1000
        assert a["engine"] == "spark" and len(a["partitions"]) == len(a["files"]) >= 3
        assert all(x["executor"] and x["attempts"] == 1 for x in a["partitions"])
    assert moto.uploads(bucket) == []


@pytest.fixture
def big(mariadb, fresh_db):
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE big (id INT PRIMARY KEY, amount BIGINT NOT NULL, d DATE NULL)")
        cur.execute("INSERT INTO big SELECT seq, seq * 3, '2026-01-01' FROM seq_1_to_60000")
        cur.execute("ANALYZE TABLE big")
    return fresh_db


def sluice_tasks(db):
    """pids of the running `sluice ... task` processes reading database db (this test's:
    another test suite on the machine may run tasks of its own)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                argv = (d / "cmdline").read_bytes().split(b"\0")
                env = (d / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"sluice") and b"task" in argv and b"MYSQL_DATABASE=" + db.encode() in env:
                out.append(int(d.name))
    return out


def test_a_killed_task_is_retried_exactly(spark, mariadb, big, tmp_path):
    """The sluice process of one task is killed (SIGKILL) in the middle of its read: Spark
    retries that task, and the output is exact, with one file per task."""
    db, out = big, tmp_path / "out"
    gate = Gate(mariadb, "k")
    result = {}
    try:
        t = threading.Thread(target=lambda: result.update(p=submit(
            spark, mariadb, db, "export", "--output", str(out), "--table", "big", "--partitions", "2",
            "--consistency", "none", "--date", DATE, "--batch-rows", "256", "--where",
            gate.cond("k", "id", 45000), check=None)))
        t.start()
        gate.waiting("k")                                   # a task is mid-read: rows before 45000 written
        victims = sluice_tasks(db)
        deadline = time.monotonic() + 60
        while len(victims) != 1 and time.monotonic() < deadline:   # the other task ends
            time.sleep(0.1)
            victims = sluice_tasks(db)
        assert len(victims) == 1, victims
        os.kill(victims[0], 9)
        gate.release("k")
        t.join(400)
    finally:
        gate.close()
    p = result["p"]
    assert p.returncode == 0, p.stderr[-4000:]
    folder = out / "raw" / "big" / DATE
    m = json.loads((folder / "_SUCCESS").read_text())
    attempts = sorted(x["attempts"] for x in m["partitions"])
    assert attempts[-1] == 2 and attempts[:-1] == [1] * (len(attempts) - 1)   # the killed task, once more
    assert sorted(f.name for f in folder.iterdir()) == sorted(["_SUCCESS"] + [f["name"] for f in m["files"]])
    got = duckdb.connect().execute("SELECT count(*), sum(amount), count(DISTINCT id) FROM read_parquet(?)",
                                   [[str(folder / f["name"]) for f in m["files"]]]).fetchone()
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("SELECT count(*), sum(amount), count(DISTINCT id) FROM big")
        want = cur.fetchone()
    assert got == tuple(int(x) for x in want)


def test_every_attempt_failing_commits_nothing(spark, mariadb, big, tmp_path):
    """One key range holds a zero date and --zero-dates error: that task fails on every
    attempt; the job exits non-zero and no _SUCCESS is written."""
    with mariadb.connect(big) as c, c.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("UPDATE big SET d = '0000-00-00' WHERE id = 50000")
    out = tmp_path / "out"
    p = submit(spark, mariadb, big, "export", "--output", str(out), "--table", "big", "--partitions", "2",
               "--consistency", "none", "--date", DATE, "--zero-dates", "error",
               conf=("--conf", "spark.task.maxFailures=2"), check=None)
    assert p.returncode != 0
    text = p.stdout + p.stderr
    assert "nothing was committed" in text and re.search(r"sluice task \d+ exited 6", text), text[-3000:]
    assert "0000-00-00" in text and "id = 50000" in text
    assert not list(out.rglob("_SUCCESS"))


def spark_gated_export(spark, mariadb, db, out, mode, writer):
    """gate_t (MyISAM, 20000 rows, planned first) and acct (InnoDB) in two ranges each,
    while the writer commits. gate_t's first range waits on gate L1 at its first row and
    acct's first range on gate L2 at id=10, having read ids 1-9. With one snapshot (one
    barrier stage; the sluice tasks of a Spark task run one after another: gate_t's then
    acct's first ranges on one, the second ranges on the other) every range sees the
    moment the snapshots began, whatever the writer does meanwhile. With `none` (one Spark
    task per sluice task) acct's second range starts only once L1 frees a slot, while the
    first range waits at L2 on the view it took before: two moments the writer separates."""
    gate = Gate(mariadb, "L1", "L2")
    where = f"{gate.cond('L1', 'amount', GATE_1)} AND {gate.cond('L2', 'amount', GATE_2)}"
    result = {}

    def progress():
        c0 = writer.commits
        time.sleep(0.5)
        assert writer.commits > c0 + 5, "the writer made no progress"

    try:
        t = threading.Thread(target=lambda: result.update(p=submit(
            spark, mariadb, db, "export", "--output", str(out), "--table", "gate_t", "--table", "acct",
            "--partitions", "2", "--consistency", mode, "--date", DATE, "--where", where, check=None)))
        t.start()
        gate.waiting("L1", "gate_t", timeout=300)
        if mode == "none":
            gate.waiting("L2", "acct", timeout=300)     # both slots held: acct's second range waits
            progress()
            gate.release("L1")                          # ... and runs now, on a later moment
            folder = out / "raw" / "acct" / DATE
            deadline = time.monotonic() + 120
            while not list(folder.glob("part-00001-*.parquet")):
                assert time.monotonic() < deadline, "acct's second range was not written"
                time.sleep(0.05)
        else:
            progress()
            gate.release("L1")
            gate.waiting("L2", "acct", timeout=300)
            progress()
        gate.release("L2")
        t.join(400)
    finally:
        gate.close()
    p = result["p"]
    assert p.returncode == 0, p.stderr[-4000:]
    folder = out / "raw" / "acct" / DATE
    m = json.loads((folder / "_SUCCESS").read_text())
    return m, pa.concat_tables([pq.read_table(folder / f["name"]) for f in m["files"]])


def test_one_snapshot_across_executors_under_a_writer(spark, mariadb, fresh_db, tmp_path):
    n_acc, start = 2000, 1000
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE acct (id INT PRIMARY KEY, amount BIGINT NOT NULL) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO acct SELECT seq, {start} FROM seq_1_to_{n_acc}")
        cur.execute(f"UPDATE acct SET amount = {GATE_2} WHERE id = 10")
        cur.execute("CREATE TABLE gate_t (id INT PRIMARY KEY, amount BIGINT NOT NULL) ENGINE=MyISAM")
        cur.execute(f"INSERT INTO gate_t SELECT seq, IF(seq = 1, {GATE_1}, 0) FROM seq_1_to_20000")
        cur.execute("ANALYZE TABLE acct, gate_t")
        cur.execute("SELECT SUM(amount) FROM acct")
        total = cur.fetchone()[0]
    writer = Writer(mariadb, fresh_db, n_acc, skip=50)
    writer.start()
    try:
        while writer.commits < 20:
            assert writer.is_alive(), writer.error
            time.sleep(0.01)
        m, t = spark_gated_export(spark, mariadb, fresh_db, tmp_path / "snap", "snapshot", writer)
        ids = sorted(t.column("id").to_pylist())
        assert m["snapshot"]["consistency"] == "snapshot" and m["engine"] == "spark" and len(m["files"]) >= 2
        assert sum(t.column("amount").to_pylist()) == total
        assert ids == list(range(1, len(ids) + 1)) and len(ids) > n_acc
        # the control: the same job without a shared snapshot sees two moments
        m, t = spark_gated_export(spark, mariadb, fresh_db, tmp_path / "none", "none", writer)
        assert m["snapshot"]["consistency"] == "none"
        control = sum(t.column("amount").to_pylist())
    finally:
        writer.finish()
    assert control != total, "the control read without a snapshot should see a moving sum"
