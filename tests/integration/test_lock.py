"""The snapshot lock never stalls the source (README "The snapshot lock"): with a long
UPDATE running, FLUSH TABLES WITH READ LOCK gives up after --lock-wait-timeout, an
unrelated INSERT from a third session completes within that timeout plus a margin, and
sluice fails (exit 1) naming the UPDATE, or retries and succeeds once it has ended;
BACKUP STAGE (the default on MariaDB) does not wait for it at all; the long-query guard
does not queue behind a write already running longer than the timeout; the manifest
records the lock. And the grants: export and run as a user with only SELECT, RELOAD and
PROCESS, what happens without PROCESS, and the server's own words without RELOAD.
"""
import json
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import SLUICE, run_sluice

DATE = "2024-03-04"
ROWS = 20000


@pytest.fixture(scope="module")
def lockdb(mariadb):
    db = mariadb.create_database()
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE big (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO big SELECT seq, 0 FROM seq_1_to_{ROWS}")
        cur.execute("CREATE TABLE other (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6)) ENGINE=InnoDB")
    yield db
    mariadb.drop_database(db)


def processlist(mariadb):
    with mariadb.connect() as c, c.cursor() as cur:
        cur.execute("SELECT ID, INFO, TIME FROM information_schema.PROCESSLIST WHERE INFO IS NOT NULL")
        return cur.fetchall()


def wait_for(pred, timeout=30, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class LongUpdate(threading.Thread):
    """An UPDATE that runs about 1 ms per row (WHERE SLEEP(0.001) = 0), on its own session."""

    def __init__(self, mariadb, db, where="1=1"):
        super().__init__(daemon=True)
        self.mariadb, self.conn = mariadb, mariadb.connect(db)
        with self.conn.cursor() as cur:
            cur.execute("SELECT CONNECTION_ID()")
            self.id = cur.fetchone()[0]
        self.sql = f"UPDATE big SET v = v + 1 WHERE {where} AND SLEEP(0.001) = 0"
        self.error = None
        self.start()
        wait_for(lambda: any(r[0] == self.id and r[1].startswith("UPDATE") for r in processlist(mariadb)),
                 what="the UPDATE to start")
        self.started_at = time.monotonic()

    def run(self):
        try:
            with self.conn.cursor() as cur:
                cur.execute(self.sql)
        except Exception as e:  # killed at the end of a test
            self.error = e

    def running(self):
        return any(r[0] == self.id for r in processlist(self.mariadb))

    def stop(self):
        if self.is_alive():
            with self.mariadb.connect() as c, c.cursor() as cur:
                cur.execute(f"KILL QUERY {self.id}")
        self.join(60)
        self.conn.close()


def timed_insert(mariadb, db):
    """Seconds an INSERT into an unrelated table takes from a third session."""
    with mariadb.connect(db) as c, c.cursor() as cur:
        t0 = time.monotonic()
        cur.execute("INSERT INTO other (at) VALUES (NOW(6))")
        return time.monotonic() - t0


def start_export(mariadb, db, out, *args, **env):
    cmd = [str(SLUICE), "export", "--table", "big", "--partitions", "2", "--consistency", "snapshot",
           "--date", DATE, "--progress", "off", "--output", str(out), *map(str, args)]
    return subprocess.Popen(cmd, env=mariadb.sluice_env(db, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def manifest(out, table="big"):
    return json.loads((Path(out) / "raw" / table / DATE / "_SUCCESS").read_text())


def parquet_rows(out, table="big"):
    rows = []
    for f in sorted((Path(out) / "raw" / table / DATE).glob("*.parquet")):
        rows += pq.read_table(f).to_pylist()
    return rows


def sql_rows(mariadb, db):
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("SELECT id, v FROM big ORDER BY id")
        return [{"id": i, "v": v} for i, v in cur.fetchall()]


def test_ftwrl_behind_a_long_update_gives_up_and_writes_resume(mariadb, lockdb, tmp_path):
    upd = LongUpdate(mariadb, lockdb)
    try:
        t0 = time.monotonic()
        sl = start_export(mariadb, lockdb, tmp_path, "--snapshot-lock", "ftwrl", "--lock-wait-timeout", 3,
                          "--lock-retries", 1)
        wait_for(lambda: any(r[1] == "FLUSH TABLES WITH READ LOCK" for r in processlist(mariadb)),
                 what="sluice's FTWRL to wait")
        # the INSERT queues behind the waiting FTWRL, and goes through when it gives up
        took = timed_insert(mariadb, lockdb)
        assert took < 3 + 2.0, f"an unrelated INSERT was blocked {took:.1f} s (lock wait timeout 3 s)"
        out, err = sl.communicate(timeout=60)
        elapsed = time.monotonic() - t0
        assert sl.returncode == 1, err
        # named: the statement that blocked it, from the processlist
        assert f"connection {upd.id} " in err and "SLEEP(0.001)" in err and "UPDATE big" in err, err
        assert "--lock-wait-timeout" in err and "--consistency=none" in err
        # one attempt of 3 s, 1 s of backoff, then the guard sees the UPDATE running > 3 s
        assert 3 <= elapsed < 3 + 1 + 10, elapsed
        assert not (tmp_path / "raw" / "big" / DATE / "_SUCCESS").exists()
        assert not list(tmp_path.rglob("*.parquet"))
        assert upd.running(), "sluice must never kill someone else's statement"
    finally:
        upd.stop()


def test_backup_stage_does_not_wait_for_a_long_update(mariadb, lockdb, tmp_path):
    upd = LongUpdate(mariadb, lockdb)
    try:
        sl = start_export(mariadb, lockdb, tmp_path, "--lock-wait-timeout", 3)
        took = timed_insert(mariadb, lockdb)
        out, err = sl.communicate(timeout=60)
        assert sl.returncode == 0, err
        assert took < 3, took
        lock = manifest(tmp_path)["snapshot"]["lock"]
        assert lock["kind"] == "backup_stage" and lock["attempts"] == 1
        assert lock["writes_blocked_seconds"] < 3 and lock["lock_wait_timeout"] == 3
        assert lock["held_seconds"] <= lock["writes_blocked_seconds"]
        assert upd.running()
    finally:
        upd.stop()
    # one snapshot, taken while the UPDATE was uncommitted (and then rolled back): every v is 0
    assert sorted(r["v"] for r in parquet_rows(tmp_path)) == [0] * ROWS


def test_retry_with_backoff_succeeds_once_the_write_has_ended(mariadb, lockdb, tmp_path):
    upd = LongUpdate(mariadb, lockdb, where="id <= 2500")  # about 2.5 s
    try:
        sl = start_export(mariadb, lockdb, tmp_path, "--snapshot-lock", "ftwrl", "--lock-wait-timeout", 1,
                          "--lock-retries", 5)
        out, err = sl.communicate(timeout=120)
        assert sl.returncode == 0, err
    finally:
        upd.stop()
    assert upd.error is None, upd.error  # the UPDATE ran to its end: sluice waited, never killed it
    m = manifest(tmp_path)
    lock = m["snapshot"]["lock"]
    assert lock["kind"] == "ftwrl" and lock["attempts"] >= 2, lock
    assert lock["blocked_by"].startswith(f"connection {upd.id} "), lock
    assert "SLEEP" not in json.dumps(m)  # statement text stays out of the manifest
    assert "attempt 2" in err
    # every write is over: the export is the table as MariaDB has it now
    assert sorted(parquet_rows(tmp_path), key=lambda r: r["id"]) == sql_rows(mariadb, lockdb)


def test_guard_does_not_queue_behind_a_write_older_than_the_timeout(mariadb, lockdb, tmp_path):
    upd = LongUpdate(mariadb, lockdb)
    try:
        wait_for(lambda: time.monotonic() - upd.started_at > 2.2, what="the UPDATE to run 2 s")
        t0 = time.monotonic()
        sl = start_export(mariadb, lockdb, tmp_path, "--snapshot-lock", "ftwrl", "--lock-wait-timeout", 1,
                          "--lock-retries", 0)
        seen_ftwrl = False
        while sl.poll() is None:
            seen_ftwrl |= any(r[1] == "FLUSH TABLES WITH READ LOCK" for r in processlist(mariadb))
            time.sleep(0.02)
        out, err = sl.communicate()
        assert sl.returncode == 1 and f"connection {upd.id} " in err, err
        assert not seen_ftwrl, "the guard should not have started waiting for the lock"
        assert "blocked for 0.0 s" in err
        assert time.monotonic() - t0 < 5
    finally:
        upd.stop()


# ---------------------------------------------------------------------------------------
# `sluice task --sync`: the lock that lines up the tasks of several processes (the Spark
# glue's barrier stage) is the same bounded lock, from the plan's lock options


def sync_task(mariadb, db, tmp_path, *plan_args, k=0):
    """Plans an export of `big` in two tasks and starts `sluice task PLAN k --sync`, driven
    as deploy/spark/sluice_spark.py drives it; returns (plan path, process) once connected."""
    out = tmp_path / "out"
    p = run_sluice(["plan", "export", "--table", "big", "--partitions", "2", "--consistency", "snapshot",
                    "--date", DATE, "--output", str(out), *map(str, plan_args), "--json"],
                   env=mariadb.sluice_env(db), check=0)
    path = tmp_path / "plan.json"
    path.write_text(p.stdout)
    proc = subprocess.Popen([str(SLUICE), "task", str(path), str(k), "--sync"], env=mariadb.sluice_env(db),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert json.loads(proc.stdout.readline()) == {"sync": "connected"}
    return path, proc


def insert_within(mariadb, db, limit):
    """timed_insert on a thread: its seconds, or None while it is still blocked after
    `limit` s (a lock nobody releases must fail the test, not hang it)."""
    took = []
    t = threading.Thread(target=lambda: took.append(timed_insert(mariadb, db)), daemon=True)
    t.start()
    t.join(limit)
    return took[0] if took else None


def say(proc, line):
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def test_sync_lock_behind_a_long_update_gives_up_and_writes_resume(mariadb, lockdb, tmp_path):
    """Was a plain FLUSH TABLES WITH READ LOCK: it queued behind the UPDATE for as long as
    that ran, and every write on the server with it."""
    upd = LongUpdate(mariadb, lockdb)
    proc = None
    try:
        _, proc = sync_task(mariadb, lockdb, tmp_path, "--snapshot-lock", "ftwrl", "--lock-wait-timeout", 3,
                            "--lock-retries", 1)
        t0 = time.monotonic()
        say(proc, "lock")
        wait_for(lambda: any(r[1] == "FLUSH TABLES WITH READ LOCK" for r in processlist(mariadb)),
                 what="the task's FTWRL to wait")
        took = insert_within(mariadb, lockdb, 3 + 2.0)
        assert took is not None, "an unrelated INSERT was blocked beyond the lock wait timeout (3 s)"
        out, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - t0
        assert proc.returncode == 1, (out, err)
        assert "locked" not in out
        assert f"connection {upd.id} " in err and "UPDATE big" in err and "SLEEP(0.001)" in err, err
        assert "--lock-wait-timeout" in err and "--consistency=none" in err, err
        assert 3 <= elapsed < 3 + 1 + 10, elapsed
        assert upd.running(), "sluice must never kill someone else's statement"
        assert not any(r[1] == "FLUSH TABLES WITH READ LOCK" for r in processlist(mariadb))
        assert not list(tmp_path.rglob("*.parquet"))
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.communicate()
        upd.stop()


def test_sync_lock_is_backup_stage_by_default_and_recorded(mariadb, lockdb, tmp_path):
    """The default lock of the aligned tasks is BACKUP STAGE (a long UPDATE does not hold it
    up), the lock-holding task reports what it cost, and the commit's manifest records it
    as a single-process export's does."""
    upd = LongUpdate(mariadb, lockdb)
    procs = []
    try:
        path, holder = sync_task(mariadb, lockdb, tmp_path, "--lock-wait-timeout", 3)
        procs.append(holder)
        for k in range(1, len(json.loads(path.read_text())["tasks"])):  # one per chunk of the plan
            procs.append(subprocess.Popen([str(SLUICE), "task", str(path), str(k), "--sync"],
                                          env=mariadb.sluice_env(lockdb), stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            assert json.loads(procs[-1].stdout.readline()) == {"sync": "connected"}
        t0 = time.monotonic()
        say(holder, "lock")
        assert json.loads(holder.stdout.readline())["sync"] == "locked"
        assert time.monotonic() - t0 < 3, "the lock waited for the UPDATE"
        for p in procs:
            say(p, "begin")
            assert json.loads(p.stdout.readline()) == {"sync": "begun"}
        say(holder, "unlock")
        unlocked = json.loads(holder.stdout.readline())
        assert unlocked["sync"] == "unlocked", unlocked
        lock = unlocked["lock"]
        assert lock["kind"] == "backup_stage" and lock["attempts"] == 1 and lock["lock_wait_timeout"] == 3, lock
        assert lock["held_seconds"] <= lock["writes_blocked_seconds"] < 3, lock
        assert insert_within(mariadb, lockdb, 3) is not None, "the lock was not released"
        lines = []
        for p in procs:
            say(p, "go")
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            lines.append(out.strip().splitlines()[-1])
        assert json.loads(lines[0])["lock_used"] == lock
        assert not any("lock_used" in json.loads(l) for l in lines[1:])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
        upd.stop()
    res = tmp_path / "results.jsonl"
    res.write_text("\n".join(reversed(lines)) + "\n")
    run_sluice(["commit", str(path), str(res)], env=mariadb.sluice_env(lockdb), check=0)
    m = manifest(tmp_path / "out")
    assert m["snapshot"]["consistency"] == "snapshot" and m["snapshot"]["lock"] == lock, m["snapshot"]
    # one snapshot, taken while the UPDATE was uncommitted (then killed and rolled back):
    # the table as MariaDB has it now, in every task's chunk
    assert sorted(parquet_rows(tmp_path / "out"), key=lambda r: r["id"]) == sql_rows(mariadb, lockdb)


# ---------------------------------------------------------------------------------------
# the grants

def make_user(mariadb, db, *global_privs):
    user, pw = "g_" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    with mariadb.connect() as c, c.cursor() as cur:
        for host in ("127.0.0.1", "localhost"):
            cur.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY %s", (pw,))
            cur.execute(f"GRANT SELECT ON `{db}`.* TO '{user}'@'{host}'")
            if global_privs:
                cur.execute(f"GRANT {', '.join(global_privs)} ON *.* TO '{user}'@'{host}'")
    return {"MYSQL_USER": user, "MYSQL_PASSWORD": pw}


def drop_user(mariadb, u):
    with mariadb.connect() as c, c.cursor() as cur:
        cur.execute(f"DROP USER '{u['MYSQL_USER']}'@'127.0.0.1', '{u['MYSQL_USER']}'@'localhost'")


@pytest.fixture(scope="module")
def seeded_small(mariadb):
    db = mariadb.create_database()
    run_sluice(["seed", "--scale", "0.01", "--anchor", "2024-06-30"], env=mariadb.sluice_env(db), check=0)
    yield db
    mariadb.drop_database(db)


@pytest.mark.parametrize("lock", ["auto", "ftwrl"])
def test_export_and_run_with_only_the_documented_grants(mariadb, seeded_small, tmp_path, lock):
    u = make_user(mariadb, seeded_small, "RELOAD", "PROCESS")
    try:
        env = mariadb.sluice_env(seeded_small, **u)
        p = run_sluice(["export", "--table", "orders", "--table", "customers", "--partitions", "3", "--date", DATE,
                        "--consistency", "snapshot", "--snapshot-lock", lock, "--output", str(tmp_path / "e")],
                       env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        snap = manifest(tmp_path / "e", "orders")["snapshot"]
        assert snap["consistency"] == "snapshot" and "fallback_reason" not in snap
        assert snap["lock"]["kind"] == ("backup_stage" if lock == "auto" else "ftwrl")
        p = run_sluice(["run", "--consistency", "snapshot", "--snapshot-lock", lock, "--as-of", "2024-06-30 00:00:00",
                        "--output", str(tmp_path / "r"), "--progress", "off"], env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        m = json.loads(next((tmp_path / "r").rglob("_SUCCESS")).read_text())
        assert m["snapshot"]["consistency"] == "snapshot"
        assert m["snapshot"]["lock"]["kind"] == ("backup_stage" if lock == "auto" else "ftwrl")
    finally:
        drop_user(mariadb, u)


def test_without_process_the_blocker_cannot_be_named(mariadb, lockdb, tmp_path):
    u = make_user(mariadb, lockdb, "RELOAD")
    upd = LongUpdate(mariadb, lockdb)  # another user's statement: invisible without PROCESS
    try:
        sl = start_export(mariadb, lockdb, tmp_path / "x", "--snapshot-lock", "ftwrl", "--lock-wait-timeout", 1,
                          "--lock-retries", 0, **u)
        out, err = sl.communicate(timeout=60)
        assert sl.returncode == 1, err
        assert "grant PROCESS" in err and f"connection {upd.id} " not in err, err
        # BACKUP STAGE needs RELOAD only, and does not wait for the UPDATE
        sl = start_export(mariadb, lockdb, tmp_path / "y", "--lock-wait-timeout", 1, **u)
        out, err = sl.communicate(timeout=60)
        assert sl.returncode == 0, err
        assert manifest(tmp_path / "y")["snapshot"]["lock"]["kind"] == "backup_stage"
    finally:
        upd.stop()
        drop_user(mariadb, u)


def test_without_reload_the_error_keeps_the_servers_words(mariadb, lockdb, tmp_path):
    """my_plan.c used err->msg as an argument of the sl_err_set writing into it: the server's
    message was lost in an overlapping vsnprintf. It must reach both the error and the warning."""
    u = make_user(mariadb, lockdb)
    words = "Access denied; you need (at least one of) the RELOAD privilege(s) for this operation"
    try:
        sl = start_export(mariadb, lockdb, tmp_path / "x", **u)  # --consistency snapshot: no fallback
        out, err = sl.communicate(timeout=60)
        assert sl.returncode == 1, err
        assert words in err and "(MySQL error 1227)" in err and "grant RELOAD" in err, err
        assert err.count("cannot take the brief lock") == 1, err
        p = run_sluice(["export", "--table", "big", "--partitions", "2", "--date", DATE, "--output",
                        str(tmp_path / "y")], env=mariadb.sluice_env(lockdb, **u), timeout=120)
        assert p.returncode == 0 and "warning" in p.stderr and words in p.stderr, p.stderr
        assert manifest(tmp_path / "y")["snapshot"]["lock"]["kind"] == "none"
    finally:
        drop_user(mariadb, u)


@pytest.mark.parametrize("args", [["--lock-wait-timeout", "0"], ["--lock-wait-timeout", "2.5"],
                                  ["--lock-retries", "-1"], ["--snapshot-lock", "lock-instance"]])
def test_lock_usage_errors(mariadb, lockdb, tmp_path, args):
    for cmd in (["export", "--table", "big", "--output", str(tmp_path)], ["run", "--output", str(tmp_path)],
                ["task", str(tmp_path / "plan.json"), "0", "--sync"]):
        p = run_sluice([*cmd, *args], env=mariadb.sluice_env(lockdb))
        assert p.returncode == 2 and args[0] in p.stderr, p.stderr


def test_help_mentions_the_lock_flags():
    for cmd in ("export", "run", "task"):
        p = run_sluice([cmd, "--help"], env={})
        for word in ("--lock-wait-timeout", "--lock-retries", "--snapshot-lock", "BACKUP STAGE", "RELOAD"):
            assert word in p.stdout, (cmd, word)


# ---------------------------------------------------------------------------------------
# the S3 actions the README lists, and no others

S3_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket", "s3:ListBucketMultipartUploads",
              "s3:AbortMultipartUpload"]
# moto authorizes ListObjectsV2 as "s3:ListObjectsV2", an action AWS's IAM does not have
# (AWS checks s3:ListBucket); the test grants both, the README names AWS's.
MOTO_NAMES = ["s3:ListObjectsV2"]


def s3_user(moto, bucket, actions):
    """An IAM user of moto (which checks policies once signatures are on) allowed `actions` only."""
    import boto3
    iam = boto3.client("iam", endpoint_url=moto.endpoint, region_name="us-east-1",
                       aws_access_key_id=moto.access_key, aws_secret_access_key=moto.secret_key)
    name = "u" + uuid.uuid4().hex[:10]
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="sluice", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions,
                       "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def test_s3_output_with_only_the_documented_actions(mariadb, seeded_small, moto, bucket):
    creds = s3_user(moto, bucket, S3_ACTIONS + MOTO_NAMES)
    env = mariadb.sluice_env(seeded_small, **moto.env(**creds))
    for attempt in range(2):  # the second run replaces the partition: lists, reads and deletes
        p = run_sluice(["export", "--table", "orders", "--partitions", "2", "--date", DATE, "--output",
                        f"s3://{bucket}/e"], env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        p = run_sluice(["run", "--as-of", "2024-06-30 00:00:00", "--output", f"s3://{bucket}/r", "--progress", "off"],
                       env=env, timeout=300)
        assert p.returncode == 0, p.stderr
    keys = moto.keys(bucket)
    assert f"e/raw/orders/{DATE}/_SUCCESS" in keys and "r/business_insights/2024-06-30/_SUCCESS" in keys
    m = json.loads(moto.client.get_object(Bucket=bucket, Key=f"e/raw/orders/{DATE}/_SUCCESS")["Body"].read())
    # only the second run's files (one per chunk of its plan): the first run's were replaced
    assert sorted(k for k in keys if k.startswith("e/") and k.endswith(".parquet")) == sorted(
        f"e/raw/orders/{DATE}/{f['name']}" for f in m["files"])
    assert moto.uploads(bucket) == []
    # the control: moto does enforce the policy (without PutObject nothing can be written)
    creds = s3_user(moto, bucket, [a for a in S3_ACTIONS + MOTO_NAMES if a != "s3:PutObject"])
    p = run_sluice(["export", "--table", "orders", "--date", DATE, "--output", f"s3://{bucket}/x"],
                   env=mariadb.sluice_env(seeded_small, **moto.env(**creds)), timeout=300)
    assert p.returncode == 7 and "AccessDenied" in p.stderr, p.stderr


def test_watchdog_kills_a_statement_that_outlives_its_bound(mariadb, lockdb):
    """The lock's last resort, should the server not honour lock_wait_timeout: the statement
    is killed from a second connection (my_exec_bounded, through build/tools/my_exec)."""
    from conftest import TOOLS
    env = mariadb.sluice_env(lockdb)
    t0 = time.monotonic()
    p = subprocess.run([str(TOOLS / "my_exec"), "--bounded", "1", "DO SLEEP(20)"], env=env, capture_output=True,
                       text=True, timeout=60)
    took = time.monotonic() - t0
    assert "killed" in p.stdout.split() and took < 8, (p.stdout, p.stderr, took)
    # (an interrupted SLEEP() ends without an error; FTWRL would fail with 1317)
    # the control: a statement within its bound is left alone
    p = subprocess.run([str(TOOLS / "my_exec"), "--bounded", "5", "DO SLEEP(0.2)"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and "not killed" in p.stdout, (p.stdout, p.stderr)


def test_sigterm_while_retrying_the_lock_stops_at_once(mariadb, lockdb, tmp_path):
    upd = LongUpdate(mariadb, lockdb)
    try:
        sl = start_export(mariadb, lockdb, tmp_path, "--snapshot-lock", "ftwrl", "--lock-wait-timeout", 1,
                          "--lock-retries", 10)  # backoffs of 1, 2, 4 ... s: a minute of retries
        time.sleep(2.5)  # past the first attempt, inside the backoff or the second attempt
        t0 = time.monotonic()
        sl.terminate()
        out, err = sl.communicate(timeout=30)
        assert sl.returncode == 143, err
        assert time.monotonic() - t0 < 3, "the stop waited for the backoff or the lock"
        assert not list(tmp_path.rglob("*.parquet")) and not list(tmp_path.rglob("_SUCCESS"))
        assert upd.running()
        assert not any(r[1] == "FLUSH TABLES WITH READ LOCK" for r in processlist(mariadb))
    finally:
        upd.stop()
