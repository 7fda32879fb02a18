"""S3 output against a real endpoint (moto's server with signature checking, started by
the fixtures), read back with boto3, pyarrow and DuckDB: single PUTs and multipart
uploads, listing with pagination, the commit protocol on S3 for `sluice run` and
`sluice export` (values identical to the local-folder output), retries through a
fault-injecting proxy, failures beyond the retry budget (no _SUCCESS, no multipart
upload left), wrong credentials, a missing bucket, an unreachable endpoint, and kill -9
in the middle of runs."""
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time

import duckdb
import pyarrow.parquet as pq
import pytest

from conftest import SLUICE, TOOLS, clean_env, run_sluice

TOOL = TOOLS / "s3_tool"
ANCHOR = "2026-06-30 00:00:00"
MIB = 1 << 20


def s3_tool(env, *args):
    assert TOOL.exists(), f"{TOOL} is not built; run make"
    return subprocess.run([str(TOOL), *map(str, args)], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def source(mariadb):
    db = mariadb.create_database()
    run_sluice(["seed", "--scale", "0.02", "--anchor", ANCHOR], env=mariadb.sluice_env(db), check=0)
    yield db
    mariadb.drop_database(db)


def test_single_put_and_multipart(moto, bucket, tmp_path):
    env = clean_env(moto.env(S3_PART_SIZE=5 * MIB, S3_MAX_INFLIGHT=2))
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(os.urandom(1000))
    big.write_bytes(os.urandom(12 * MIB + 12345))
    for f in (small, big):
        p = s3_tool(env, "put", f"s3://{bucket}/pre/fix", f"dir/{f.name}", f)
        assert p.returncode == 0, p.stderr
        got = moto.client.get_object(Bucket=bucket, Key=f"pre/fix/dir/{f.name}")["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(f.read_bytes()).digest()
    # a multipart object's ETag ends in -<parts>; a single PUT's is the MD5
    big_etag = moto.client.head_object(Bucket=bucket, Key="pre/fix/dir/big")["ETag"].strip('"')
    assert big_etag.endswith("-3")
    small_etag = moto.client.head_object(Bucket=bucket, Key="pre/fix/dir/small")["ETag"].strip('"')
    assert small_etag == hashlib.md5(small.read_bytes()).hexdigest()
    assert moto.uploads(bucket) == []
    # read back through the store, and a missing key is "not found" (exit 3 of the tool)
    out = tmp_path / "back"
    assert s3_tool(env, "get", f"s3://{bucket}/pre/fix", "dir/big", out).returncode == 0
    assert out.read_bytes() == big.read_bytes()
    p = s3_tool(env, "get", f"s3://{bucket}/pre/fix", "dir/none", out)
    assert p.returncode == 3 and "not found" in p.stderr


def test_abort_leaves_no_upload(moto, bucket, tmp_path):
    env = clean_env(moto.env(S3_PART_SIZE=5 * MIB))
    f = tmp_path / "f"
    f.write_bytes(os.urandom(11 * MIB))
    p = s3_tool(env, "put", f"s3://{bucket}", "k", f, "--abort")
    assert p.returncode == 0 and "aborted" in p.stdout, p.stderr
    assert moto.uploads(bucket) == [] and moto.keys(bucket) == {}


def test_list_paginates_and_remove(moto, bucket, tmp_path):
    env = clean_env(moto.env(S3_LIST_MAX_KEYS=2))
    f = tmp_path / "f"
    f.write_bytes(b"x" * 10)
    names = [f"a/{i:02d} é+x" for i in range(7)] + ["b/other"]
    for n in names:
        assert s3_tool(env, "put", f"s3://{bucket}/root", n, f).returncode == 0
    p = s3_tool(env, "list", f"s3://{bucket}/root", "a/")
    assert p.returncode == 0, p.stderr
    assert [l.rsplit(" ", 1)[0] for l in p.stdout.splitlines()] == names[:7]
    assert s3_tool(env, "rm", f"s3://{bucket}/root", names[0]).returncode == 0
    assert s3_tool(env, "rm", f"s3://{bucket}/root", "a/missing").returncode == 0
    assert sorted(moto.keys(bucket, "root/a/")) == ["root/" + n for n in names[1:7]]


def test_server_side_encryption(moto, bucket, tmp_path):
    env = clean_env(moto.env(S3_SSE="AES256"))
    f = tmp_path / "f"
    f.write_bytes(b"secret data")
    assert s3_tool(env, "put", f"s3://{bucket}", "enc", f).returncode == 0
    assert moto.client.head_object(Bucket=bucket, Key="enc").get("ServerSideEncryption") == "AES256"
    p = s3_tool(clean_env(moto.env(S3_SSE="DES")), "put", f"s3://{bucket}", "enc", f)
    assert p.returncode == 3 and "S3_SSE" in p.stderr


def manifest_files(get, prefix):
    m = json.loads(get(prefix + "/_SUCCESS"))
    for f in m["files"]:
        data = get(prefix + "/" + f["name"])
        assert len(data) == f["bytes"] and "sha256:" + hashlib.sha256(data).hexdigest() == f["checksum"]
    return m


def test_run_to_s3_matches_local(mariadb, moto, bucket, source, tmp_path):
    as_of = "2026-06-29 12:00:00"
    env = {**mariadb.sluice_env(source), **moto.env(S3_PART_SIZE=5 * MIB)}
    run_sluice(["run", "--as-of", as_of, "--raw", "--output", f"s3://{bucket}/nightly", "--progress", "off"], env=env,
               check=0)
    run_sluice(["run", "--as-of", as_of, "--raw", "--output", str(tmp_path), "--progress", "off"],
               env=mariadb.sluice_env(source), check=0)

    def get(key):
        return moto.client.get_object(Bucket=bucket, Key="nightly/" + key)["Body"].read()

    m = manifest_files(get, "business_insights/2026-06-29")
    local = json.loads((tmp_path / "business_insights/2026-06-29/_SUCCESS").read_text())
    assert sorted(f["name"].split("/")[0] for f in m["files"]) == sorted(f["name"].split("/")[0] for f in local["files"])
    for f, lf in zip(sorted(m["files"], key=lambda x: x["name"]), sorted(local["files"], key=lambda x: x["name"])):
        if f["name"] == "report.html":  # the run report: checked by test_report.py
            assert lf["name"] == "report.html" and get("business_insights/2026-06-29/report.html").startswith(b"<!DOCTYPE html>")
            continue
        remote = pq.read_table(io.BytesIO(get("business_insights/2026-06-29/" + f["name"])))
        here = pq.read_table(tmp_path / "business_insights/2026-06-29" / lf["name"])
        assert remote.drop(["run_id"]).equals(here.drop(["run_id"])), f["name"]
        assert f["rows"] == lf["rows"]
    # the raw tables too, and DuckDB reads a downloaded file
    for table in ("orders", "inventory"):
        rm = manifest_files(get, f"raw/{table}/2026-06-29")
        data = get(f"raw/{table}/2026-06-29/" + rm["files"][0]["name"])
        path = tmp_path / f"{table}.parquet"
        path.write_bytes(data)
        with mariadb.connect(source) as c, c.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            n = cur.fetchone()[0]
        assert duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0] == n
    assert moto.uploads(bucket) == []


def test_export_to_s3_and_rerun_replaces(mariadb, moto, bucket, source, tmp_path):
    env = {**mariadb.sluice_env(source), **moto.env()}
    args = ["export", "--table", "orders", "--table", "customers", "--partitions", "3", "--date", "2026-06-29",
            "--output", f"s3://{bucket}/lake", "--progress", "off"]
    run_sluice(args, env=env, check=0)
    first = moto.keys(bucket, "lake/raw/orders/2026-06-29/")
    run_sluice(args, env=env, check=0)
    second = moto.keys(bucket, "lake/raw/orders/2026-06-29/")
    assert set(first) & set(second) == {"lake/raw/orders/2026-06-29/_SUCCESS"}

    def get(key):
        return moto.client.get_object(Bucket=bucket, Key="lake/" + key)["Body"].read()

    m = manifest_files(get, "raw/orders/2026-06-29")
    assert {"lake/raw/orders/2026-06-29/" + f["name"] for f in m["files"]} | {"lake/raw/orders/2026-06-29/_SUCCESS"} \
        == set(second)
    total = 0
    for f in m["files"]:
        t = pq.read_table(io.BytesIO(get("raw/orders/2026-06-29/" + f["name"])))
        total += t.num_rows
    with mariadb.connect(source) as c, c.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM orders")
        assert cur.fetchone()[0] == total


def test_faults_within_the_retry_budget(mariadb, moto, bucket, source, fault_proxy):
    """500, SlowDown, a dropped connection, a half-sent answer and a delay: retried."""
    env = {**mariadb.sluice_env(source), **moto.env(fault_proxy.endpoint, S3_MAX_ATTEMPTS=4, S3_TIMEOUT=5)}
    fault_proxy.faults = {1: "500", 3: "503", 5: "drop", 7: "reset", 9: ("delay", 1.0), 11: "500", 12: "500",
                          14: "503"}
    p = run_sluice(["run", "--as-of", "2026-06-29 12:00:00", "--output", f"s3://{bucket}/x", "--progress", "off"],
                   env=env)
    assert p.returncode == 0, p.stderr
    acted = [a for (_, _, _, a) in fault_proxy.log if a]
    assert len(acted) == 8, fault_proxy.log
    assert "x/business_insights/2026-06-29/_SUCCESS" in moto.keys(bucket)
    assert moto.uploads(bucket) == []


def test_faults_beyond_the_budget_fail_cleanly(mariadb, moto, bucket, source, fault_proxy):
    """Every upload of a data file fails: the run fails with a clear message, exit 7,
    and no _SUCCESS is written."""
    env = {**mariadb.sluice_env(source), **moto.env(fault_proxy.endpoint, S3_MAX_ATTEMPTS=3)}
    fault_proxy.rule = lambda n, method, path: "503" if method == "PUT" and ".parquet" in path else None
    p = run_sluice(["run", "--as-of", "2026-06-29 12:00:00", "--output", f"s3://{bucket}/y", "--progress", "off"],
                   env=env)
    assert p.returncode == 7, p.stderr
    assert "SlowDown" in p.stderr and "after 3 attempts" in p.stderr and ".parquet" in p.stderr
    keys = moto.keys(bucket)
    assert not any(k.endswith("_SUCCESS") for k in keys), keys
    assert moto.uploads(bucket) == []


def test_part_failures_abort_the_upload(moto, bucket, fault_proxy, tmp_path):
    env = clean_env(moto.env(fault_proxy.endpoint, S3_MAX_ATTEMPTS=2, S3_PART_SIZE=5 * MIB))
    fault_proxy.rule = lambda n, method, path: "500" if "partNumber=2" in path else None
    f = tmp_path / "f"
    f.write_bytes(os.urandom(16 * MIB))
    p = s3_tool(env, "put", f"s3://{bucket}", "big", f)
    assert p.returncode == 7, p.stderr
    assert "InternalError" in p.stderr and "after 2 attempts" in p.stderr and "s3://" + bucket in p.stderr
    assert moto.uploads(bucket) == [] and moto.keys(bucket) == {}


def test_complete_with_an_embedded_error_is_retried(moto, bucket, fault_proxy, tmp_path):
    """CompleteMultipartUpload can answer 200 with an <Error> body: not a success."""
    env = clean_env(moto.env(fault_proxy.endpoint, S3_MAX_ATTEMPTS=3, S3_PART_SIZE=5 * MIB))
    seen = []

    def rule(n, method, path):
        if method == "POST" and "uploadId=" in path and not seen:
            seen.append(n)
            return "200-error"
        return None

    fault_proxy.rule = rule
    f = tmp_path / "f"
    f.write_bytes(os.urandom(11 * MIB))
    p = s3_tool(env, "put", f"s3://{bucket}", "obj", f)
    assert p.returncode == 0, p.stderr
    assert len(seen) == 1
    completes = [x for x in fault_proxy.log if x[1] == "POST" and "uploadId=" in x[2]]
    assert len(completes) == 2  # the embedded error was retried
    assert moto.client.get_object(Bucket=bucket, Key="obj")["Body"].read() == f.read_bytes()


def test_wrong_secret_missing_bucket_unreachable(mariadb, moto, bucket, source):
    base = mariadb.sluice_env(source)
    secret = "Wr0ngSecretValue+ShouldNeverBePrinted"
    p = run_sluice(["run", "--output", f"s3://{bucket}/z", "--progress", "off"],
                   env={**base, **moto.env(AWS_SECRET_ACCESS_KEY=secret)})
    assert p.returncode == 7 and "SignatureDoesNotMatch" in p.stderr, p.stderr
    assert secret not in p.stderr and secret not in p.stdout
    assert moto.secret_key not in p.stderr
    p = run_sluice(["run", "--output", "s3://no-such-bucket-here/z", "--progress", "off"], env={**base, **moto.env()})
    assert p.returncode == 7 and "NoSuchBucket" in p.stderr and "does not exist" in p.stderr
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    t0 = time.monotonic()
    p = run_sluice(["run", "--output", f"s3://{bucket}/z", "--progress", "off"],
                   env={**base, **moto.env(f"http://127.0.0.1:{closed}", S3_MAX_ATTEMPTS=2)})
    assert p.returncode == 7 and "cannot reach the endpoint" in p.stderr, p.stderr
    assert time.monotonic() - t0 < 60
    assert not any(k.startswith("z/") for k in moto.keys(bucket))
    p = run_sluice(["run", "--output", f"s3://{bucket}/z", "--progress", "off"],
                   env={**base, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "S3_ENDPOINT": moto.endpoint})
    assert p.returncode == 3 and "AWS_ACCESS_KEY_ID" in p.stderr


def test_credentials_from_the_shared_file(mariadb, moto, bucket, source, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n"
                     f"[nightly]\naws_access_key_id = {moto.access_key}\naws_secret_access_key = {moto.secret_key}\n")
    env = {**mariadb.sluice_env(source), "S3_ENDPOINT": moto.endpoint, "AWS_REGION": "us-east-1",
           "AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_PROFILE": "nightly"}
    p = run_sluice(["run", "--output", f"s3://{bucket}/cred", "--progress", "off"], env=env)
    assert p.returncode == 0, p.stderr


def test_kill_during_runs_to_s3(mariadb, moto, bucket, source):
    env = {**mariadb.sluice_env(source), **moto.env()}
    args = ["run", "--as-of", "2026-06-29 12:00:00", "--raw", "--output", f"s3://{bucket}/k", "--progress", "off"]
    t0 = time.monotonic()
    run_sluice(args, env=env, check=0)
    duration = time.monotonic() - t0

    report_replaced = []

    def committed():
        out = {}
        for key in moto.keys(bucket, "k/"):
            if key.endswith("/_SUCCESS"):
                prefix = key[: -len("_SUCCESS")]
                m = json.loads(moto.client.get_object(Bucket=bucket, Key=key)["Body"].read())
                for f in m["files"]:
                    data = moto.client.get_object(Bucket=bucket, Key=prefix + f["name"])["Body"].read()
                    if f["name"] == "report.html" and "sha256:" + hashlib.sha256(data).hexdigest() != f["checksum"]:
                        # the README's one exception: a run killed between its report and its
                        # _SUCCESS leaves its own complete report beside the previous manifest
                        assert data.startswith(b"<!DOCTYPE html>") and data.endswith(b"</html>\n"), "half-written"
                        assert m["run_id"].encode() not in data, "same run, other bytes"
                        report_replaced.append(prefix)
                        continue
                    assert "sha256:" + hashlib.sha256(data).hexdigest() == f["checksum"], f["name"]
                out[prefix] = m["run_id"]
        return out

    before = committed()
    assert len(before) == 7
    rng = random.Random(7)
    killed = 0
    for _ in range(6):
        p = subprocess.Popen([str(SLUICE), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, duration))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait(timeout=60)
        now = committed()
        assert set(now) == set(before)
        before = now
    assert killed >= 3
    # an upload a killed run left unfinished, under one partition: the next commit aborts it
    moto.client.create_multipart_upload(Bucket=bucket, Key="k/business_insights/2026-06-29/orphan.parquet")
    assert moto.uploads(bucket)
    run_sluice(args, env=env, check=0)
    assert moto.uploads(bucket) == []
    report_replaced.clear()
    final = committed()
    assert report_replaced == []  # the next complete run puts the report right
    assert len(set(final.values())) == 1
    listed = set()
    for prefix in final:
        m = json.loads(moto.client.get_object(Bucket=bucket, Key=prefix + "_SUCCESS")["Body"].read())
        listed |= {prefix + f["name"] for f in m["files"]} | {prefix + "_SUCCESS"}
    assert set(moto.keys(bucket, "k/")) == listed


def test_moto_rejects_a_wrong_secret(moto, bucket):
    """The endpoint really checks signatures (else the credential tests prove nothing)."""
    import botocore.exceptions
    with pytest.raises(botocore.exceptions.ClientError) as e:
        moto.boto(secret="not-the-secret").list_objects_v2(Bucket=bucket)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_every_request_carries_checksums_of_its_body(moto, bucket, fault_proxy, tmp_path):
    """moto does not verify Content-MD5, so check here that what sluice sends matches the
    bytes that arrived: Content-MD5 on every request with a body, x-amz-content-sha256
    (signed) on every request."""
    env = clean_env(moto.env(fault_proxy.endpoint, S3_PART_SIZE=5 * MIB))
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(os.urandom(3000))
    big.write_bytes(os.urandom(11 * MIB))
    for f in (small, big):
        assert s3_tool(env, "put", f"s3://{bucket}", f.name, f).returncode == 0
    assert s3_tool(env, "get", f"s3://{bucket}", "small", tmp_path / "back").returncode == 0
    kinds = set()
    for r in fault_proxy.requests:
        h = r["headers"]
        assert h["x-amz-content-sha256"] == r["sha256"], r["path"]
        assert "x-amz-content-sha256" in h["authorization"].split("SignedHeaders=")[1].split(",")[0]
        if r["len"]:
            assert h["content-md5"] == r["md5"], r["path"]
            assert "content-md5" in h["authorization"]
        kinds.add((r["method"], "partNumber=" in r["path"], "uploadId=" in r["path"], "uploads" in r["path"]))
    assert ("PUT", False, False, False) in kinds  # the single PUT
    assert ("PUT", True, True, False) in kinds  # parts
    assert ("POST", False, True, False) in kinds  # CompleteMultipartUpload


def test_lost_answer_to_complete_is_not_a_failure(moto, bucket, fault_proxy, tmp_path):
    """CompleteMultipartUpload succeeds but its answer is cut: the retry finds the upload
    gone (NoSuchUpload). The object is there, whole: the upload succeeded."""
    env = clean_env(moto.env(fault_proxy.endpoint, S3_MAX_ATTEMPTS=3, S3_PART_SIZE=5 * MIB))
    seen = []

    def rule(n, method, path):
        if method == "POST" and "uploadId=" in path and not seen:
            seen.append(n)
            return "reset"
        return None

    fault_proxy.rule = rule
    f = tmp_path / "f"
    f.write_bytes(os.urandom(11 * MIB))
    p = s3_tool(env, "put", f"s3://{bucket}", "obj", f)
    assert seen, fault_proxy.log
    assert p.returncode == 0, p.stderr
    assert moto.client.get_object(Bucket=bucket, Key="obj")["Body"].read() == f.read_bytes()
    assert moto.uploads(bucket) == []


def test_lost_answer_to_create_leaves_no_upload(moto, bucket, fault_proxy, tmp_path):
    """CreateMultipartUpload succeeds but its answer is cut, so the retry starts a second
    upload: the first one must not stay behind (finished file, and aborted file)."""
    env = clean_env(moto.env(fault_proxy.endpoint, S3_MAX_ATTEMPTS=3, S3_PART_SIZE=5 * MIB))
    for abort in (False, True):
        seen = []

        def rule(n, method, path):
            if method == "POST" and "uploads=" in path and "uploadId=" not in path and not seen:
                seen.append(n)
                return "reset"
            return None

        fault_proxy.reset()
        fault_proxy.rule = rule
        f = tmp_path / "f"
        f.write_bytes(os.urandom(6 * MIB))
        p = s3_tool(env, "put", f"s3://{bucket}", f"obj{int(abort)}", f, *(["--abort"] if abort else []))
        assert seen, fault_proxy.log
        assert p.returncode == 0, p.stderr
        assert moto.uploads(bucket) == [], (abort, moto.uploads(bucket))
    assert list(moto.keys(bucket)) == ["obj0"]


def test_object_larger_than_the_read_limit(moto, bucket, tmp_path):
    """Reading a manifest bigger than the caller's cap is a clear limit error, not an
    unreachable endpoint."""
    env = clean_env(moto.env(S3_MAX_ATTEMPTS=2))
    moto.client.put_object(Bucket=bucket, Key="huge", Body=b"x" * (2 * MIB))
    p = s3_tool(dict(env, S3_TOOL_READ_MAX=str(MIB)), "get", f"s3://{bucket}", "huge", tmp_path / "out")
    assert p.returncode == 1 and "larger than" in p.stderr and "cannot reach" not in p.stderr, p.stderr


def test_s3_endpoint_flag_overrides_the_setting(mariadb, moto, bucket, source):
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    env = {**mariadb.sluice_env(source), **moto.env(f"http://127.0.0.1:{closed}", S3_MAX_ATTEMPTS=1)}
    p = run_sluice(["--s3-endpoint", moto.endpoint, "run", "--as-of", "2026-06-29 12:00:00", "--output",
                    f"s3://{bucket}/flag", "--progress", "off"], env=env)
    assert p.returncode == 0, p.stderr
    assert "flag/business_insights/2026-06-29/_SUCCESS" in moto.keys(bucket)
    p = run_sluice(["run", "--output", f"s3://{bucket}/flag2", "--s3-endpoint=ftp://x", "--progress", "off"], env=env)
    assert p.returncode == 3 and "S3_ENDPOINT" in p.stderr, p.stderr


@pytest.mark.parametrize("first", ["reset", "drop"])
def test_complete_retry_answered_no_such_upload(moto, bucket, fault_proxy, tmp_path, first):
    """A server that completes only once answers the retry of a CompleteMultipartUpload
    with NoSuchUpload. If the first attempt reached it ("reset": done, answer cut), the
    object is there with our size and parts: success. If it did not ("drop"), there is no
    object: a clear failure, exit 7, and nothing visible."""
    env = clean_env(moto.env(fault_proxy.endpoint, S3_MAX_ATTEMPTS=3, S3_PART_SIZE=5 * MIB))
    completes = []

    def rule(n, method, path):
        if method == "POST" and "uploadId=" in path:
            completes.append(n)
            return first if len(completes) == 1 else "nosuchupload"
        return None

    fault_proxy.rule = rule
    f = tmp_path / "f"
    f.write_bytes(os.urandom(11 * MIB))
    p = s3_tool(env, "put", f"s3://{bucket}", "obj", f)
    assert len(completes) >= 2, fault_proxy.log
    if first == "reset":
        assert p.returncode == 0, p.stderr
        assert moto.client.get_object(Bucket=bucket, Key="obj")["Body"].read() == f.read_bytes()
    else:
        assert p.returncode == 7, p.stderr
        assert "NoSuchUpload" in p.stderr and f"s3://{bucket}/obj" in p.stderr
        assert moto.keys(bucket) == {}
    assert moto.uploads(bucket) == []


def test_memory_is_bounded_by_parts_in_flight(moto, bucket, tmp_path):
    """64 MiB through 5 MiB parts, 2 in flight: the tool's peak RSS stays near
    3 x 5 MiB plus the libraries, far below the file's size."""
    env = clean_env(moto.env(S3_PART_SIZE=5 * MIB, S3_MAX_INFLIGHT=2))
    f = tmp_path / "f"
    f.write_bytes(os.urandom(64 * MIB))
    # a fresh parent, so RUSAGE_CHILDREN holds the tool alone
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    p = subprocess.run([sys.executable, "-c", probe, str(TOOL), "put", f"s3://{bucket}", "big", str(f)], env=env,
                       capture_output=True, text=True, timeout=300)
    rc, maxrss_kib = map(int, p.stdout.split()[-2:])
    assert rc == 0, p.stderr
    assert maxrss_kib < 40 * 1024, f"peak RSS {maxrss_kib} KiB"
    assert moto.client.head_object(Bucket=bucket, Key="big")["ContentLength"] == 64 * MIB


def test_timeouts_and_resets_are_retried(moto, bucket, fault_proxy, tmp_path):
    """A part whose answer takes longer than S3_TIMEOUT, a dropped connection and a 500
    on other requests: all retried, the object is whole."""
    env = clean_env(moto.env(fault_proxy.endpoint, S3_TIMEOUT=1, S3_MAX_ATTEMPTS=3, S3_PART_SIZE=5 * MIB,
                             S3_MAX_INFLIGHT=1))
    hit = {}

    def rule(n, method, path):
        for what, match, action in (("slow", "partNumber=1&", ("delay", 2.5)), ("drop", "partNumber=2&", "drop"),
                                    ("err", "partNumber=3&", "500")):
            if match in path and what not in hit:
                hit[what] = n
                return action
        return None

    fault_proxy.rule = rule
    f = tmp_path / "f"
    f.write_bytes(os.urandom(12 * MIB))
    p = s3_tool(env, "put", f"s3://{bucket}", "obj", f)
    assert p.returncode == 0, p.stderr
    assert set(hit) == {"slow", "drop", "err"}, fault_proxy.log
    assert moto.client.get_object(Bucket=bucket, Key="obj")["Body"].read() == f.read_bytes()
    assert moto.uploads(bucket) == []


def test_sse_kms_single_and_multipart(moto, bucket, tmp_path):
    env = clean_env(moto.env(S3_SSE="aws:kms", S3_SSE_KMS_KEY_ID="alias/sluice-test", S3_PART_SIZE=5 * MIB))
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"kms data")
    big.write_bytes(os.urandom(6 * MIB))
    for f in (small, big):
        assert s3_tool(env, "put", f"s3://{bucket}", f.name, f).returncode == 0
        h = moto.client.head_object(Bucket=bucket, Key=f.name)
        assert h.get("ServerSideEncryption") == "aws:kms", (f.name, h)
        assert "alias/sluice-test" in h.get("SSEKMSKeyId", ""), (f.name, h)
    p = s3_tool(clean_env(moto.env(S3_SSE_KMS_KEY_ID="k")), "put", f"s3://{bucket}", "x", small)
    assert p.returncode == 3 and "S3_SSE=aws:kms" in p.stderr


def test_libcurl_is_loaded_only_for_s3(mariadb, moto, bucket, source, tmp_path):
    """libcurl is not linked: a local export never loads it, an S3 one does (the dynamic
    loader's own trace says which libraries it loaded and why)."""
    base = mariadb.sluice_env(source)
    args = ["export", "--table", "warehouses", "--date", "2026-06-29", "--progress", "off"]
    p = run_sluice(args + ["--output", str(tmp_path / "local")], env={**base, "LD_DEBUG": "files"}, check=0)
    loaded = [line for line in p.stderr.splitlines() if "file=" in line]
    assert loaded and any("libmariadb" in line for line in loaded), p.stderr[-2000:]
    assert not any("libcurl" in line for line in loaded)
    p = run_sluice(args + ["--output", f"s3://{bucket}/dl"], env={**base, **moto.env(), "LD_DEBUG": "files"}, check=0)
    assert any("file=libcurl.so.4" in line and "dynamically loaded" in line for line in p.stderr.splitlines())
    assert "dl/raw/warehouses/2026-06-29/_SUCCESS" in moto.keys(bucket, "dl/")


@pytest.mark.parametrize("lib,why", [("libsluice-no-such-curl.so.9", "could not be loaded"),
                                     ("libz.so.1", "has no function curl_global_init (it is not libcurl)")])
def test_libcurl_that_cannot_be_loaded_is_a_configuration_error(mariadb, moto, bucket, source, tmp_path, lib, why):
    base = mariadb.sluice_env(source)
    args = ["export", "--table", "warehouses", "--date", "2026-06-29", "--progress", "off"]
    p = run_sluice(args + ["--output", f"s3://{bucket}/nolib"], env={**base, **moto.env(), "SLUICE_LIBCURL": lib})
    assert p.returncode == 3, p.stderr
    assert "S3 output needs libcurl" in p.stderr and lib in p.stderr and why in p.stderr
    assert "SLUICE_LIBCURL" in p.stderr and "libcurl4" in p.stderr
    assert not moto.keys(bucket, "nolib/")
    # the setting is read only when S3 is used: a local export is unaffected
    p = run_sluice(args + ["--output", str(tmp_path / "local")], env={**base, "SLUICE_LIBCURL": lib}, check=0)
    assert (tmp_path / "local/raw/warehouses/2026-06-29/_SUCCESS").exists()


def test_a_rerun_reads_the_partition_manifest_once_not_per_chunk(mariadb, moto, bucket, source, fault_proxy):
    """A rerun into a partition that holds a _SUCCESS: the first commit a task begins there
    reads it (to refuse a run id already committed; a task run alone still checks,
    test_tasks), and the process's later tasks do not read it again, so the GETs of it do
    not grow with the chunks: at most one per connection (two may check at the same
    moment) and the run's own commit. The rerun's output is whole: its manifest lists
    exactly the partition's files."""
    env = {**mariadb.sluice_env(source), **moto.env(fault_proxy.endpoint)}
    args = ["export", "--table", "orders", "--partitions", "2", "--output", f"s3://{bucket}/rr", "--date",
            "2026-06-29", "--progress", "off"]
    assert run_sluice(args, env=env).returncode == 0
    key = "rr/raw/orders/2026-06-29/_SUCCESS"
    first = json.loads(moto.client.get_object(Bucket=bucket, Key=key)["Body"].read())
    chunks = len(first["plan"]["chunks"])
    assert chunks >= 8, first["plan"]
    fault_proxy.reset()
    p = run_sluice(args, env=env)
    assert p.returncode == 0, p.stderr
    gets = [x for x in fault_proxy.log if x[1] == "GET" and x[2].split("?")[0] == f"/{bucket}/{key}"]
    assert 2 <= len(gets) <= 3, (chunks, fault_proxy.log)
    second = json.loads(moto.client.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert second["run_id"] != first["run_id"] and second["total_rows"] == first["total_rows"]
    assert sorted(k for k in moto.keys(bucket, "rr/") if not k.endswith("/_SUCCESS")) == sorted(
        "rr/raw/orders/2026-06-29/" + f["name"] for f in second["files"])
