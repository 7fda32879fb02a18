"""The task model as commands: `sluice plan`, `sluice task`, `sluice commit`, each task in
a process of its own, against MariaDB (the oracle: its own SELECTs and test_run's SQL
for the datasets). Duplicate attempts, missing results and the plan's contents."""
import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SLUICE, run_sluice
from test_run import (DATASETS, GENERATED, Params, check_dataset, load, oracle, pyrows, q, seeded)  # noqa: F401

DATE = "2026-06-30"


def plan(mariadb, db, tmp_path, *args, env=None):
    p = run_sluice(["plan", *args, "--json"], env=env or mariadb.sluice_env(db), check=0)
    path = tmp_path / "plan.json"
    path.write_text(p.stdout)
    return path, json.loads(p.stdout)


def run_tasks(mariadb, db, plan_path, ks, attempt=None, env=None):
    """Runs the tasks ks at once, each `sluice task` in its own process, answering the
    order shards' gather line with every shard's message; returns their result lines."""
    env = env or mariadb.sluice_env(db)
    procs = {}
    for k in ks:
        cmd = [str(SLUICE), "task", str(plan_path), str(k)] + (["--attempt", attempt] if attempt else [])
        procs[k] = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
    results, gathers = {}, {}
    for k, p in procs.items():
        line = p.stdout.readline()
        o = json.loads(line) if line.strip() else None
        if o is not None and "gather" in o:
            gathers[o["participant"]] = (k, o)
        else:
            results[k] = (line, p)
    if gathers:
        n = next(iter(gathers.values()))[1]["participants"]
        assert sorted(gathers) == list(range(n)), "every shard gathers"
        msg = json.dumps([gathers[i][1]["gather"] for i in range(n)])
        for i in range(n):
            k, _ = gathers[i]
            procs[k].stdin.write(msg + "\n")
            procs[k].stdin.flush()
            results[k] = ("", procs[k])
    out = {}
    for k, (first, p) in results.items():
        rest, err = p.communicate(timeout=300)
        assert p.returncode == 0, f"task {k} exited {p.returncode}: {err}"
        lines = [l for l in (first + rest).splitlines() if l.strip()]
        out[k] = lines[-1]
    return [out[k] for k in ks]


def commit(mariadb, db, tmp_path, plan_path, lines, check=0, name="results.jsonl", env=None):
    res = tmp_path / name
    res.write_text("\n".join(lines) + "\n")
    return run_sluice(["commit", str(plan_path), str(res)], env=env or mariadb.sluice_env(db), check=check)


def files_under(root):
    return sorted(str(f.relative_to(root)) for f in Path(root).rglob("*") if f.is_file())


def raw_rows(out, table):
    part = Path(out) / "raw" / table / DATE
    m = json.loads((part / "_SUCCESS").read_text())
    return m, pa.concat_tables([pq.read_table(part / f["name"]) for f in m["files"]])


def test_export_in_processes_equals_the_tables(mariadb, seeded, tmp_path):
    out = tmp_path / "out"
    path, p = plan(mariadb, seeded, tmp_path, "export", "--table", "orders", "--table", "customers",
                   "--partitions", "3", "--date", DATE, "--output", str(out))
    # one task per chunk of each table's plan (about 4 per connection)
    chunks = {t["name"]: len(t["plan"]["chunks"]) for t in p["export"]["tables"]}
    assert p["command"] == "export" and p["date"] == DATE and len(p["tasks"]) == sum(chunks.values()) > 6
    lines = run_tasks(mariadb, seeded, path, range(len(p["tasks"])))
    commit(mariadb, seeded, tmp_path, path, lines)
    for table in ("orders", "customers"):
        m, t = raw_rows(out, table)
        assert m["run_id"] == p["run_id"]
        want = list(q(mariadb, seeded, f"SELECT * FROM {table}"))
        assert sorted(pyrows(t), key=repr) == sorted(want, key=repr), table
        assert len(m["files"]) == len(m["partitions"]) == chunks[table]
        # names carry the run id and the attempt id that wrote them
        attempts = {json.loads(l).get("attempt") for l in lines}
        assert all(any(a in f["name"] for a in attempts) for f in m["files"])
    # nothing but the committed files and their manifests
    listed = [f"raw/{t}/{DATE}/{f['name']}" for t in ("orders", "customers") for f in raw_rows(out, t)[0]["files"]]
    assert files_under(out) == sorted(listed + [f"raw/{t}/{DATE}/_SUCCESS" for t in ("orders", "customers")])


@pytest.mark.parametrize("shards, consistency", [(1, "snapshot"), (3, "snapshot"), (3, "none")])
def test_run_in_processes_matches_oracle(mariadb, seeded, tmp_path, shards, consistency):
    """Each task a process of its own; the shards exchange their totals through the
    gather lines; the commit merges: the datasets of the oracle, value for value. A task
    in a snapshot of its own reads its window's items after its orders on its connection;
    with --consistency none on a second connection beside them."""
    pr = GENERATED["near_anchor"]
    out = tmp_path / "out"
    path, p = plan(mariadb, seeded, tmp_path, "run", "--output", str(out), "--shards", str(shards),
                   "--consistency", consistency, *pr.args())
    assert [t["kind"] for t in p["tasks"]] == ["inventory"] + ["orders"] * shards
    lines = run_tasks(mariadb, seeded, path, range(len(p["tasks"])))
    commit(mariadb, seeded, tmp_path, path, lines)
    m, tables = load(out, pr.as_of[:10], shards)
    assert m["run_id"] == p["run_id"]
    exp = oracle(mariadb, seeded, pr)
    for ds in DATASETS:
        check_dataset(ds, tables[ds], exp[ds], pr, p["run_id"])
    assert len(m["tasks"]) == shards + 1
    beside = consistency == "none"
    assert [t.get("items_beside") for t in m["tasks"]] == [None] + [beside] * shards
    assert m["snapshot"]["consistency"] == consistency
    assert m["snapshot"]["connections"] == shards + 1 + (shards if beside else 0)


def test_a_damaged_run_result_commits_nothing(mariadb, seeded, tmp_path):
    """The products and units sold travel in the task results as compressed streams
    (src/exec/pack.c): a stream cut short or altered fails the commit (exit 8) naming the
    task and what it held, and nothing is committed (test_run_in_processes_matches_oracle
    commits intact ones)."""
    pr = GENERATED["near_anchor"]
    out = tmp_path / "out"
    path, p = plan(mariadb, seeded, tmp_path, "run", "--output", str(out), "--shards", "2", *pr.args())
    lines = run_tasks(mariadb, seeded, path, range(len(p["tasks"])))
    res = [json.loads(l) for l in lines]
    inv = next(k for k, r in enumerate(res) if r["run"]["kind"] == "inventory")
    orders = next(k for k, r in enumerate(res) if r["run"]["kind"] == "orders")
    assert all(isinstance(s, str) for s in res[inv]["run"]["products_packed"])

    def damaged(k, key, change):
        bad = json.loads(lines[k])
        bad["run"][key] = change(bad["run"][key])
        return [json.dumps(bad) if i == k else l for i, l in enumerate(lines)]

    # the stream cut short: its last base64 quantum left off
    cut = damaged(inv, "products_packed", lambda a: a[:-1] + [a[-1][:-4]] if len(a[-1]) > 4 else a[:-1])
    proc = commit(mariadb, seeded, tmp_path, path, cut, check=8, name="cut.jsonl")
    assert f"the result of task {inv} has no valid products" in proc.stderr, proc.stderr
    # three characters changed in the middle: still base64, the frame's checksum differs
    def flip(a):
        t = a[0]
        i = len(t) // 2
        return [t[:i] + "".join("B" if c == "A" else "A" for c in t[i:i + 3]) + t[i + 3:]] + a[1:]
    proc = commit(mariadb, seeded, tmp_path, path, damaged(orders, "sold_packed", flip), check=8, name="flip.jsonl")
    assert f"the result of task {orders} has no valid units sold" in proc.stderr, proc.stderr
    assert not list(out.rglob("_SUCCESS"))
    assert not list(out.rglob("*.parquet"))  # a failed commit deletes the results' files


def test_duplicate_attempts_are_not_duplicate_rows(mariadb, seeded, tmp_path):
    """Two attempts of one task (a retry, a speculative copy): the commit takes the first
    result given, deletes the other's file, and no row is counted twice."""
    out = tmp_path / "out"
    path, p = plan(mariadb, seeded, tmp_path, "export", "--table", "orders", "--partitions", "2", "--date", DATE,
                   "--output", str(out))
    first = run_tasks(mariadb, seeded, path, range(len(p["tasks"])), attempt="first")
    second = run_tasks(mariadb, seeded, path, [1], attempt="second")
    loser = json.loads(second[0])["files"][0]["name"]
    assert (out / "raw" / "orders" / DATE / loser).exists()
    commit(mariadb, seeded, tmp_path, path, [*first[:2], second[0], *first[2:]])
    m, t = raw_rows(out, "orders")
    assert sorted(f["name"] for f in m["files"]) == sorted(json.loads(l)["files"][0]["name"] for l in first)
    assert not (out / "raw" / "orders" / DATE / loser).exists()
    (n,), = q(mariadb, seeded, "SELECT COUNT(*) FROM orders")
    assert t.num_rows == n == m["total_rows"]
    assert len(set(t.column("order_id").to_pylist())) == n


def start_task(env, plan_path, k, attempt):
    return subprocess.Popen([str(SLUICE), "task", str(plan_path), str(k), "--attempt", attempt], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def committed_and_listed(moto, bucket, prefix):
    """Every key under the prefix, and what the _SUCCESS manifests there list (with themselves)."""
    keys = sorted(moto.keys(bucket, prefix + "/"))
    listed = []
    for k in keys:
        if k.endswith("/_SUCCESS"):
            m = json.loads(moto.client.get_object(Bucket=bucket, Key=k)["Body"].read())
            listed += [k] + [k[:-len("_SUCCESS")] + f["name"] for f in m["files"]]
    return keys, sorted(listed)


def test_a_late_attempt_leaves_no_file_in_the_committed_run(mariadb, seeded, tmp_path, moto, bucket):
    """Attempts of tasks of a committed run, writing to S3: one that began before the commit
    and finished after it (a speculative copy; a retry whose first attempt's answer did
    arrive) - held here at its gather line, after it opened its partition; its object is
    stored when it finishes - and one started after the commit. Each deletes what it wrote
    and exits 1 saying it lost; the committed partition holds exactly what its _SUCCESS
    lists. Before: the first exited 0 and its object stayed, unlisted, until the
    partition's next commit."""
    pr = GENERATED["near_anchor"]
    env = mariadb.sluice_env(seeded, **moto.env())
    path, p = plan(mariadb, seeded, tmp_path, "run", "--output", f"s3://{bucket}/lake", "--shards", "2", *pr.args(),
                   env=env)
    shards = [k for k, t in enumerate(p["tasks"]) if t["kind"] == "orders"]
    late = {k: start_task(env, path, k, "late") for k in shards}
    try:
        gathers = {}
        for k, proc in late.items():
            o = json.loads(proc.stdout.readline())  # it has read its share; its output file is open
            gathers[o["participant"]] = o["gather"]
        lines = run_tasks(mariadb, seeded, path, range(len(p["tasks"])), attempt="first", env=env)
        commit(mariadb, seeded, tmp_path, path, lines, check=0, env=env)
        before = committed_and_listed(moto, bucket, "lake")
        assert before[0] == before[1] and any(k.endswith("/_SUCCESS") for k in before[0])
        msg = json.dumps([gathers[i] for i in range(len(shards))])
        for proc in late.values():
            proc.stdin.write(msg + "\n")
            proc.stdin.flush()
        for k, proc in late.items():
            rest, err = proc.communicate(timeout=300)
            assert proc.returncode == 1, f"late attempt of task {k} exited {proc.returncode}: {rest} {err}"
            assert f"run {p['run_id']} is already committed" in err and "1 file was deleted" in err, err
            assert rest == "", "a lost attempt hands in no result"
    finally:
        for proc in late.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert committed_and_listed(moto, bucket, "lake") == before
    assert not [k for k in moto.keys(bucket, "lake/") if "-late." in k]
    # an attempt that starts after the commit is refused before it writes anything
    r = start_task(env, path, 0, "after")
    rest, err = r.communicate(timeout=300)
    assert r.returncode == 1 and f"run {p['run_id']} is already committed" in err and "wrote nothing" in err, err
    assert committed_and_listed(moto, bucket, "lake") == before
    assert moto.uploads(bucket) == []


def test_a_task_without_result_commits_nothing(mariadb, seeded, tmp_path):
    out = tmp_path / "out"
    path, p = plan(mariadb, seeded, tmp_path, "export", "--table", "orders", "--partitions", "3", "--date", DATE,
                   "--output", str(out))
    lines = run_tasks(mariadb, seeded, path, [0, 2])
    proc = commit(mariadb, seeded, tmp_path, path, lines, check=1)
    assert "task 1 has no result" in proc.stderr
    assert not list(out.rglob("_SUCCESS"))
    assert not list(out.rglob("*.parquet"))  # the given results' files are gone too


def test_plan_holds_no_secret_and_bad_inputs(mariadb, seeded, tmp_path):
    env = mariadb.sluice_env(seeded)
    path, p = plan(mariadb, seeded, tmp_path, "run", "--output", str(tmp_path / "o"), "--as-of", "2026-06-29 10:00:00")
    text = path.read_text()
    assert env["MYSQL_PASSWORD"] and env["MYSQL_PASSWORD"] not in text and env["MYSQL_USER"] not in text
    assert p["plan_version"] == 1 and p["date"] == "2026-06-29" and p["consistency"] == "snapshot"
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    r = run_sluice(["task", str(bad), "0"], env=env)
    assert r.returncode == 8 and "not a sluice plan" in r.stderr
    r = run_sluice(["task", str(path), "7"], env=env)
    assert r.returncode == 2 and "the plan has 2 tasks" in r.stderr
    res = tmp_path / "r.jsonl"
    res.write_text("not json\n")
    r = run_sluice(["commit", str(path), str(res)], env=env)
    assert r.returncode == 8 and "line 1" in r.stderr
    r = run_sluice(["plan", "inspect"], env=env)
    assert r.returncode == 2
    # a shard that cannot meet the others fails, naming why, and leaves no file
    path3, p3 = plan(mariadb, seeded, tmp_path, "run", "--output", str(tmp_path / "o3"), "--shards", "2",
                     "--as-of", "2026-06-29 10:00:00")
    r = subprocess.run([str(SLUICE), "task", str(path3), "1"], env=env, input="", capture_output=True, text=True)
    assert r.returncode != 0 and "standard input ended" in r.stderr
    assert not list((tmp_path / "o3").rglob("*.parquet"))


def test_sync_task_reads_its_items_in_the_snapshot_begun_under_the_lock(mariadb, fresh_db, tmp_path):
    """`sluice task --sync` driven as the Spark glue drives it: lock, begin, unlock, and
    only then "go". A write committed between the unlock and "go" changes the quantity of
    every item of the window's orders by 1,000: both connections of the orders task (its
    own, and the one that reads the window's items beside the orders) began at "begin",
    so the datasets are the oracle's of the data before the write, value for value."""
    from test_run import E_AS_OF, load_edge
    load_edge(mariadb, fresh_db)
    pr = Params(E_AS_OF)
    exp = oracle(mariadb, fresh_db, pr)  # before the write
    out = tmp_path / "out"
    path, p = plan(mariadb, fresh_db, tmp_path, "run", "--output", str(out), "--consistency", "snapshot", *pr.args())
    assert [t["kind"] for t in p["tasks"]] == ["inventory", "orders"]
    env = mariadb.sluice_env(fresh_db)
    proc = subprocess.Popen([str(SLUICE), "task", str(path), "1", "--sync"], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def step(line, answer):
            if line:
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
            got = json.loads(proc.stdout.readline())
            assert got["sync"] == answer, got
        step(None, "connected")
        step("lock", "locked")
        step("begin", "begun")
        step("unlock", "unlocked")
        with mariadb.connect(fresh_db) as c, c.cursor() as cur:
            changed = cur.execute(f"UPDATE order_items oi JOIN orders o ON o.order_id = oi.order_id "
                                  f"SET oi.quantity = oi.quantity + 1000 WHERE o.order_date <= '{E_AS_OF}' "
                                  f"AND o.order_date > '{E_AS_OF}' - INTERVAL 30 DAY")
            c.commit()
        assert changed > 0
        result, err = proc.communicate("go\n", timeout=120)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = run_tasks(mariadb, fresh_db, path, [0]) + [result.strip()]
    commit(mariadb, fresh_db, tmp_path, path, lines)
    m, tables = load(out, pr.as_of[:10])
    assert [t.get("items_beside") for t in m["tasks"]] == [None, True]
    for ds in DATASETS:
        check_dataset(ds, tables[ds], exp[ds], pr, p["run_id"])
