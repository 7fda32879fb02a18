"""Clean stops (README "Clean stops"): SIGTERM and SIGINT sent at seeded random moments
of `sluice run` and `sluice export`, writing to a local folder and to S3 (moto): the
process exits 143 / 130, no multipart upload is left (ListMultipartUploads), no
temporary file, the previous complete output is exactly as it was (same files, same
bytes), and the next run succeeds. Also: a second signal exits at once, a fetch blocked
in the server is cut (and the server's query killed), SIGPIPE is ignored, the commit of
several tables is all or nothing (a failure injected on the second table's manifest),
and an upload of more than 130 parts under ASan."""
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, SLUICE, clean_env, run_sluice

ANCHOR = "2026-06-30 00:00:00"
DATE = "2026-06-30"
AS_OF = "2026-06-29 12:00:00"
KIB = 1 << 10


@pytest.fixture(scope="module")
def source(mariadb):
    db = mariadb.create_database()
    # 0.15: 150,000 orders, ~375,000 order items: a run takes about a second here,
    # long enough for a signal to land in the middle.
    run_sluice(["seed", "--scale", "0.15", "--anchor", ANCHOR], env=mariadb.sluice_env(db), check=0)
    yield db
    mariadb.drop_database(db)


def s3_env(moto, endpoint=None, **extra):
    return moto.env(endpoint, S3_MIN_PART_SIZE=64 * KIB, S3_PART_SIZE=128 * KIB, **extra)


def args_for(cmd, out):
    if cmd == "export":
        return ["export", "--output", out, "--progress", "off", "--partitions", "2", "--date", DATE]
    return ["run", "--raw", "--output", out, "--progress", "off", "--as-of", AS_OF]


class LocalOut:
    def __init__(self, root):
        self.root = Path(root)
        self.url = str(root)

    def state(self):
        """Every file with the SHA-256 of its bytes."""
        return {str(p.relative_to(self.root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in self.root.rglob("*") if p.is_file()}

    def get(self, key):
        return (self.root / key).read_bytes()

    def leftovers(self):
        return [k for k in self.state() if ".tmp-" in k]


class S3Out:
    def __init__(self, moto, bucket):
        self.moto, self.bucket = moto, bucket
        self.url = f"s3://{bucket}/out"

    def state(self):
        out = {}
        for k in self.moto.keys(self.bucket):
            out[k] = hashlib.sha256(self.get(k)).hexdigest()
        return out

    def get(self, key):
        return self.moto.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def leftovers(self):
        return self.moto.uploads(self.bucket)


def check_manifests(out, state):
    """Every _SUCCESS names files that exist with its sizes and checksums."""
    manifests = [k for k in state if k.endswith("/_SUCCESS")]
    assert manifests
    for k in manifests:
        m = json.loads(out.get(k))
        base = k[: -len("_SUCCESS")]
        for f in m["files"]:
            h = state[base + f["name"]]
            assert "sha256:" + h == f["checksum"], (k, f["name"])
    return manifests


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize("cmd", ["export", "run"])
@pytest.mark.parametrize("where", ["local", "s3"])
def test_signal_at_random_points(mariadb, source, moto_small, tmp_path, where, cmd, sig):
    if where == "local":
        out = LocalOut(tmp_path / "out")
        env = mariadb.sluice_env(source)
    else:
        out = S3Out(moto_small, moto_small.new_bucket())
        env = clean_env({**mariadb.sluice_env(source), **s3_env(moto_small)})
    args = args_for(cmd, out.url)
    t0 = time.monotonic()
    run_sluice(args, env=env, check=0)  # the previous, complete output
    took = time.monotonic() - t0
    before = out.state()
    check_manifests(out, before)
    rng = random.Random(f"{where}-{cmd}-{int(sig)}")  # seeded: a failure can be replayed
    stopped = 0
    for attempt in range(3):
        delay = rng.uniform(0.1, max(0.15, 0.5 * took))
        p = subprocess.Popen([str(SLUICE), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        p.send_signal(sig)
        t_sig = time.monotonic()
        stdout, stderr = p.communicate(timeout=60)
        where_msg = f"attempt {attempt}, signal after {delay:.3f} s: exit {p.returncode}\n{stderr}"
        after = out.state()
        assert not out.leftovers(), where_msg
        if p.returncode == 0:  # the run ended before the signal, or it came after the commit
            check_manifests(out, after)
            before = after
            continue
        assert p.returncode == 128 + sig, where_msg
        assert f"stopped by {signal.Signals(sig).name}" in stderr, where_msg
        assert time.monotonic() - t_sig < 30, where_msg  # generous: the machine is shared
        assert after == before, where_msg  # same files, same bytes: nothing of the stopped run
        stopped += 1
    assert stopped >= 2  # the delays above land inside the run
    run_sluice(args, env=env, check=0)
    final = out.state()
    assert not out.leftovers()
    check_manifests(out, final)
    assert final != before


def test_second_signal_exits_at_once(mariadb, source, moto_small, tmp_path):
    """The first SIGTERM starts the cleanup (here slowed down: every DELETE, such as an
    AbortMultipartUpload, waits 5 s at a proxy); the second exits at once, 143. What it
    left (unfinished uploads) goes with the next successful run."""
    from s3_fixtures import FaultProxy
    proxy = FaultProxy(moto_small.port)
    try:
        bucket = moto_small.new_bucket()
        # DELETEs (the aborts of the cleanup) wait 5 s; parts wait 0.3 s, so that an upload is
        # surely in progress when the test looks (a fast export could finish its uploads first)
        proxy.rule = lambda n, method, path: (("delay", 5) if method == "DELETE" else
                                              ("delay", 0.3) if method == "PUT" and "partNumber=" in path else None)
        env = clean_env({**mariadb.sluice_env(source), **s3_env(moto_small, proxy.endpoint)})
        args = args_for("export", f"s3://{bucket}/out")
        p = subprocess.Popen([str(SLUICE), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        while not moto_small.uploads(bucket) and time.monotonic() - t0 < 30 and p.poll() is None:
            time.sleep(0.02)
        assert moto_small.uploads(bucket), "no multipart upload started"
        p.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the cleanup is now waiting on a delayed DELETE
        assert p.poll() is None
        p.send_signal(signal.SIGTERM)
        t1 = time.monotonic()
        _, stderr = p.communicate(timeout=30)
        assert p.returncode == 143, stderr
        assert time.monotonic() - t1 < 1.5, stderr
        assert "nothing was committed" not in stderr  # no cleanup report: it did not wait
        assert not [k for k in moto_small.keys(bucket) if k.endswith("_SUCCESS")]
    finally:
        proxy.stop()
    env = clean_env({**mariadb.sluice_env(source), **s3_env(moto_small)})
    run_sluice(args, env=env, check=0)
    assert moto_small.uploads(bucket) == []


def sig_mask(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(field)


def test_stop_cuts_a_blocked_fetch(mariadb, source, tmp_path):
    """A statement the server is still computing (SLEEP) blocks the fetch: the stop cuts
    the socket (exit 143 at once) and KILLs the session, so the server stops too."""
    env = mariadb.sluice_env(source)
    sql = "SELECT SLEEP(40) AS s"
    p = subprocess.Popen([str(SLUICE), "export", "--query", sql, "--output", str(tmp_path / "o"), "--progress", "off"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def running():
        with mariadb.connect() as c, c.cursor() as cur:
            cur.execute("SELECT id FROM information_schema.processlist WHERE info = %s", (sql,))
            return cur.fetchall()

    t0 = time.monotonic()
    while not running() and time.monotonic() - t0 < 20:
        time.sleep(0.05)
    assert running() and p.poll() is None
    assert sig_mask(p.pid, "SigIgn") & (1 << (signal.SIGPIPE - 1))  # SIGPIPE ignored
    caught = sig_mask(p.pid, "SigCgt")
    assert caught & (1 << (signal.SIGTERM - 1)) and caught & (1 << (signal.SIGINT - 1))
    p.send_signal(signal.SIGTERM)
    t1 = time.monotonic()
    _, stderr = p.communicate(timeout=30)
    assert p.returncode == 143, stderr
    assert time.monotonic() - t1 < 3, stderr
    assert "stopped by SIGTERM" in stderr
    t2 = time.monotonic()
    while running() and time.monotonic() - t2 < 5:
        time.sleep(0.1)
    assert not running(), "the server still runs the stopped query"
    assert not [q for q in (tmp_path / "o").rglob("*") if q.is_file()]


def export_failing_second_manifest(mariadb, source, moto, bucket, args):
    """Runs args through a proxy that answers 500 to every PUT of the products table's
    _SUCCESS; returns the process and the proxy (stopped, its request log kept)."""
    from s3_fixtures import FaultProxy
    proxy = FaultProxy(moto.port)
    try:
        target = f"/{bucket}/out/raw/products/{DATE}/_SUCCESS"
        proxy.rule = lambda n, method, path: "500" if method == "PUT" and path == target else None
        env = clean_env({**mariadb.sluice_env(source), **s3_env(moto, proxy.endpoint, S3_MAX_ATTEMPTS=2)})
        return run_sluice(args, env=env), proxy
    finally:
        proxy.stop()


def test_multi_table_commit_is_all_or_nothing(mariadb, source, moto_small):
    """The second table's _SUCCESS cannot be written (a proxy answers 500 to every
    attempt): the first table's manifest, already written, is put back byte for byte,
    this run's files are removed from both, exit 7."""
    bucket = moto_small.new_bucket()
    env = clean_env({**mariadb.sluice_env(source), **s3_env(moto_small)})
    args = ["export", "--table", "warehouses", "--table", "products", "--output", f"s3://{bucket}/out", "--progress",
            "off", "--date", DATE]
    out = S3Out(moto_small, bucket)
    run_sluice(args, env=env, check=0)
    before = out.state()
    p, proxy = export_failing_second_manifest(mariadb, source, moto_small, bucket, args)
    assert p.returncode == 7, p.stderr
    assert "raw/products" in p.stderr and "put back" in p.stderr, p.stderr
    # the first table's manifest was written (its PUT went through), then put back
    puts = [r["path"] for r in proxy.requests if r["method"] == "PUT" and r["path"].endswith("_SUCCESS")]
    assert puts[:1] == [f"/{bucket}/out/raw/warehouses/{DATE}/_SUCCESS"]
    assert out.state() == before
    assert out.leftovers() == []
    # With no earlier output, a failure leaves no _SUCCESS at all.
    bucket2 = moto_small.new_bucket()
    p, _ = export_failing_second_manifest(mariadb, source, moto_small, bucket2,
                                          [a.replace(bucket, bucket2) for a in args])
    assert p.returncode == 7, p.stderr
    assert moto_small.keys(bucket2) == {}


def test_more_than_130_parts_under_asan(moto_small, tmp_path):
    """The ETag array grows at 64 and 128 parts while parts are in flight: 135 parts of
    the minimum size, read back byte for byte, under AddressSanitizer (make asan)."""
    tool = ROOT / "build" / "asan" / "tools" / "s3_tool"
    if not tool.exists():
        subprocess.run(["make", "asan"], cwd=ROOT, check=True, capture_output=True)
    bucket = moto_small.new_bucket()
    f = tmp_path / "big"
    f.write_bytes(random.Random(7).randbytes(135 * 64 * KIB - 1000))
    env = clean_env(moto_small.env(S3_MIN_PART_SIZE=64 * KIB, S3_PART_SIZE=64 * KIB, S3_MAX_INFLIGHT=16))
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
    p = subprocess.run([str(tool), "put", f"s3://{bucket}", "big", str(f)], env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    assert "AddressSanitizer" not in p.stderr
    head = moto_small.client.head_object(Bucket=bucket, Key="big")
    assert head["ETag"].strip('"').endswith("-135")
    got = moto_small.client.get_object(Bucket=bucket, Key="big")["Body"].read()
    assert got == f.read_bytes()
    assert moto_small.uploads(bucket) == []


def test_plain_http_endpoint_warns_unless_loopback(moto_small, tmp_path):
    tool = ROOT / "build" / "tools" / "s3_tool"
    f = tmp_path / "f"
    f.write_bytes(b"x" * 10)
    bucket = moto_small.new_bucket()
    p = subprocess.run([str(tool), "put", f"s3://{bucket}", "k", str(f)], env=clean_env(moto_small.env()),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "plain http" not in p.stderr, p.stderr
    # 0.0.0.0 reaches this machine too, but is not a loopback name: sluice cannot tell
    # such an address from a remote one, so it warns.
    ep = f"http://0.0.0.0:{moto_small.port}"
    p = subprocess.run([str(tool), "put", f"s3://{bucket}", "k2", str(f)], env=clean_env(moto_small.env(ep)),
                       capture_output=True, text=True, timeout=60)
    assert "plain http" in p.stderr and ep in p.stderr, p.stderr


def test_new_folders_are_fsynced(mariadb, source, tmp_path):
    """Every folder a local export creates is made durable by an fsync of the folder
    holding it, and every file renamed into place by an fsync of its folder: read from
    the system calls (strace, a log per thread so each reads in order)."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (scripts/install-deps.sh installs it)")
    out = tmp_path / "a" / "b"
    logs = tmp_path / "trace"
    p = subprocess.run(["strace", "-ff", "-qq", "-e", "trace=mkdir,openat,close,fsync,rename", "-o", str(logs),
                        str(SLUICE), "export", "--table", "warehouses", "--output", str(out), "--progress", "off",
                        "--date", DATE], env=mariadb.sluice_env(source), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    made, renamed, synced = [], [], set()
    for log in tmp_path.glob("trace.*"):
        fds = {}
        for line in log.read_text().splitlines():
            m = re.match(r'mkdir\("([^"]+)", \d+\)\s+= 0', line)
            if m:
                made.append(m.group(1))
            m = re.match(r'rename\("[^"]+", "([^"]+)"\)\s+= 0', line)
            if m:
                renamed.append(m.group(1))
            m = re.match(r'openat\(AT_FDCWD, "([^"]+)", [^)]*O_DIRECTORY[^)]*\)\s+= (\d+)', line)
            if m:
                fds[m.group(2)] = m.group(1)
            m = re.match(r"fsync\((\d+)\)\s+= 0", line)
            if m and m.group(1) in fds:
                synced.add(fds[m.group(1)])
            m = re.match(r"close\((\d+)\)", line)
            if m:
                fds.pop(m.group(1), None)  # the number may next name a file, not this folder
    inside = [d for d in made if d.startswith(str(tmp_path / "a"))]
    assert str(out / "raw" / "warehouses" / DATE) in inside
    for d in inside:
        assert os.path.dirname(d) in synced, f"the folder holding {d} was never fsynced"
    assert renamed
    for f in renamed:
        assert os.path.dirname(f) in synced, f"the folder of {f} was never fsynced after the rename"


def test_stop_of_a_task_process(mariadb, source, tmp_path):
    """`sluice task` (the task model's one-task process, e.g. under Spark) stops the same
    way: exit 143, the files of its attempt deleted, nothing printed as a result."""
    env = mariadb.sluice_env(source)
    out = tmp_path / "o"
    plan = tmp_path / "plan.json"
    p = run_sluice(["plan", "export", "--table", "order_items", "--output", str(out), "--partitions", "1",
                    "--batch-rows", "256", "--date", DATE, "--json"], env=env, check=0)
    plan.write_text(p.stdout)
    stopped = 0
    # the chunk planner makes several small tasks: on a quiet machine one can end within
    # 0.1 s, so each task is tried at short delays until two are caught mid-read
    ntasks = len(json.loads(p.stdout)["tasks"])
    for delay, k in [(d, k) for d in (0.03, 0.05, 0.08, 0.1, 0.2) for k in range(ntasks)]:
        if stopped >= 2:
            break
        before = sorted(f for f in out.rglob("*") if f.is_file())
        t = subprocess.Popen([str(SLUICE), "task", str(plan), str(k)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        t.send_signal(signal.SIGTERM)
        stdout, stderr = t.communicate(timeout=60)
        if t.returncode == 0:  # finished first: its result names its files
            continue
        assert t.returncode == 143, stderr
        assert "stopped by SIGTERM" in stderr and not stdout.strip()
        stopped += 1
        assert sorted(f for f in out.rglob("*") if f.is_file()) == before, "a stopped task left files"
    assert stopped
