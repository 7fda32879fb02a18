"""ThreadSanitizer end to end (`make tsan`, which builds build/tsan/ and sets
SLUICE_TSAN=1; skipped otherwise): one `run --raw` and one `export` to S3 (moto, parts
of 128 KiB so that several upload at once), a stop in the middle of an export, and a
135-part upload through the store, each with the TSan binaries; any ThreadSanitizer
report fails (TSAN_OPTIONS from the Makefile: halt_on_error, exit code 66)."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import ROOT, clean_env, run_sluice

pytestmark = pytest.mark.skipif(os.environ.get("SLUICE_TSAN") != "1", reason="make tsan runs these")
TSAN = ROOT / "build" / "tsan"
KIB = 1 << 10


@pytest.fixture(scope="module")
def source(mariadb):
    db = mariadb.create_database()
    run_sluice(["seed", "--scale", "0.03", "--anchor", "2026-06-30 00:00:00"], env=mariadb.sluice_env(db), check=0)
    yield db
    mariadb.drop_database(db)


def tsan_run(args, env, timeout=600):
    p = subprocess.run([str(TSAN / "sluice"), *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert "ThreadSanitizer" not in p.stderr, p.stderr
    return p


def s3_env(mariadb, source, moto):
    return clean_env({**mariadb.sluice_env(source), **moto.env(S3_MIN_PART_SIZE=64 * KIB, S3_PART_SIZE=128 * KIB,
                                                               S3_MAX_INFLIGHT=4)})


def test_run_and_export_to_s3(mariadb, source, moto_small):
    bucket = moto_small.new_bucket()
    env = s3_env(mariadb, source, moto_small)
    p = tsan_run(["run", "--raw", "--output", f"s3://{bucket}/n", "--progress", "off", "--as-of",
                  "2026-06-29 12:00:00"], env)
    assert p.returncode == 0, p.stderr
    # without --raw each shard reads its window's items on a helper connection, on a
    # thread of its own, beside its orders
    p = tsan_run(["run", "--shards", "2", "--output", f"s3://{bucket}/h", "--progress", "off", "--as-of",
                  "2026-06-29 12:00:00"], env)
    assert p.returncode == 0, p.stderr
    p = tsan_run(["export", "--output", f"s3://{bucket}/n", "--progress", "log", "--partitions", "3", "--date",
                  "2026-06-30"], env)
    assert p.returncode == 0, p.stderr
    keys = moto_small.keys(bucket)
    manifests = [k for k in keys if k.endswith("_SUCCESS")]
    assert len(manifests) == 1 + 6 + 6 + 1  # insights, run's raw tables, export's tables, the sharded insights
    m = json.loads(moto_small.client.get_object(Bucket=bucket, Key="h/business_insights/2026-06-29/_SUCCESS")["Body"].read())
    assert [t.get("items_beside") for t in m["tasks"]] == [None, True, True] and m["snapshot"]["connections"] == 5
    for k in manifests:
        m = json.loads(moto_small.client.get_object(Bucket=bucket, Key=k)["Body"].read())
        for f in m["files"]:
            assert keys[k[: -len("_SUCCESS")] + f["name"]] == f["bytes"]
    assert moto_small.uploads(bucket) == []


def test_order_analytics_encoded_beside_under_tsan(mariadb, moto_small):
    # one shard: order_analytics' batches go to the writer's own thread (rn_wpipe) while
    # the next ones are built, here several (25,000 customers, 8,192 rows a batch), and
    # the writer uploads to S3 in parts of 128 KiB from that thread
    db = mariadb.create_database()
    try:
        run_sluice(["seed", "--scale", "0.25", "--anchor", "2026-06-30 00:00:00"], env=mariadb.sluice_env(db), check=0)
        bucket = moto_small.new_bucket()
        p = tsan_run(["run", "--output", f"s3://{bucket}/one", "--progress", "off", "--as-of", "2026-06-29 12:00:00"],
                     s3_env(mariadb, db, moto_small))
        assert p.returncode == 0, p.stderr
        m = json.loads(moto_small.client.get_object(Bucket=bucket, Key="one/business_insights/2026-06-29/_SUCCESS")
                       ["Body"].read())
        # the customers with an order up to the as-of outside the excluded statuses, by MariaDB
        with mariadb.connect(db) as c, c.cursor() as cur:
            cur.execute("SELECT COUNT(DISTINCT customer_id) FROM orders WHERE order_date <= '2026-06-29 12:00:00' "
                        "AND total_amount IS NOT NULL AND (status IS NULL OR status <> 'cancelled')")
            want = cur.fetchone()[0]
        assert want > 2 * 8192 and m["datasets"]["order_analytics"]["rows"] == want, (want, m["datasets"])
    finally:
        mariadb.drop_database(db)


def test_stop_under_tsan(mariadb, source, moto_small):
    bucket = moto_small.new_bucket()
    env = s3_env(mariadb, source, moto_small)
    args = [str(TSAN / "sluice"), "export", "--output", f"s3://{bucket}/n", "--progress", "off", "--partitions", "3"]
    p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while not moto_small.uploads(bucket) and p.poll() is None and time.monotonic() - t0 < 60:
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    _, stderr = p.communicate(timeout=120)
    assert "ThreadSanitizer" not in stderr, stderr
    assert p.returncode in (0, 143), stderr
    assert moto_small.uploads(bucket) == []


def test_135_parts(moto_small, tmp_path):
    bucket = moto_small.new_bucket()
    f = tmp_path / "big"
    f.write_bytes(random.Random(11).randbytes(135 * 64 * KIB - 500))
    env = clean_env(moto_small.env(S3_MIN_PART_SIZE=64 * KIB, S3_PART_SIZE=64 * KIB, S3_MAX_INFLIGHT=16))
    p = subprocess.run([str(TSAN / "tools" / "s3_tool"), "put", f"s3://{bucket}", "big", str(f)], env=env,
                       capture_output=True, text=True, timeout=600)
    assert "ThreadSanitizer" not in p.stderr, p.stderr
    assert p.returncode == 0, p.stderr
    assert moto_small.client.head_object(Bucket=bucket, Key="big")["ETag"].strip('"').endswith("-135")
    assert moto_small.client.get_object(Bucket=bucket, Key="big")["Body"].read() == f.read_bytes()


def test_read_ahead_under_tsan(mariadb, source, tmp_path):
    # the reader's read-ahead thread (my_read_opts.read_ahead, used by `sluice run`):
    # to the end, cancelled after two batches, and a run stopped in the middle of its reads
    env = clean_env(mariadb.sluice_env(source))
    tool = str(TSAN / "tools" / "my_dump")
    for extra in ({}, {"MY_DUMP_STOP_AFTER": "2"}):
        p = subprocess.run([tool, "SELECT * FROM order_items ORDER BY order_item_id", "500"],
                           env={**env, "MY_DUMP_READ_AHEAD": "1", **extra}, capture_output=True, text=True,
                           timeout=600)
        assert "ThreadSanitizer" not in p.stderr, p.stderr
        assert p.returncode == 0, p.stderr
        rows = len(p.stdout.splitlines()) - 2  # the schema line and the closing line
        assert rows == 1000 if extra else rows > 1000
    p = subprocess.Popen([str(TSAN / "sluice"), "run", "--output", str(tmp_path), "--progress", "off"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGTERM)
    _, stderr = p.communicate(timeout=120)
    assert "ThreadSanitizer" not in stderr, stderr
