"""Partitioned reads (my_plan + my_reader through build/tools/my_dump --plan): the union
of the parts equals the table as MariaDB itself returns it, with no duplicates and no loss,
for several partition counts and awkward keys; and one snapshot shared by every connection
while a concurrent writer moves amounts between rows."""
import json
import subprocess
import threading
import time

import pytest

from conftest import TOOLS


def plan_dump(mariadb, db, table, column, n, mode="snapshot", pause_ms=0):
    p = subprocess.run([str(TOOLS / "my_dump"), "--plan", table, column, str(n), mode, str(pause_ms)],
                       env=mariadb.sluice_env(db), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    return lines[0], lines[2:-1], lines[-1]


KEYS = {
    "dense": "SELECT seq AS x FROM seq_1_to_1000",
    "tiny": "SELECT seq * 3 AS x FROM seq_1_to_5",
    "gaps": "SELECT seq * seq AS x FROM seq_1_to_300 UNION ALL SELECT 1000000000 + seq FROM seq_1_to_50",
    "negative": "SELECT CAST(seq AS SIGNED) - 500 AS x FROM seq_1_to_999",
    # heavy skew: most keys in a tiny range, a few far away
    "skew": "SELECT seq AS x FROM seq_1_to_900 UNION ALL SELECT seq * 100000000 FROM seq_1_to_100",
}


@pytest.fixture(scope="module")
def keyed(mariadb):
    db = mariadb.create_database()
    with mariadb.connect(db) as c, c.cursor() as cur:
        for name, sel in KEYS.items():
            cur.execute(f"CREATE TABLE {name} (k BIGINT PRIMARY KEY, v VARCHAR(20))")
            cur.execute(f"INSERT INTO {name} SELECT x, CONCAT('v', x) FROM ({sel}) t")
        # a non-unique, nullable partition column with one dominant value
        cur.execute("CREATE TABLE dup (id INT PRIMARY KEY, g INT NULL)")
        cur.execute("INSERT INTO dup SELECT seq, CASE WHEN seq % 10 = 0 THEN NULL WHEN seq < 800 THEN 7 ELSE seq END "
                    "FROM seq_1_to_1000")
    yield db
    mariadb.drop_database(db)


@pytest.mark.parametrize("table", sorted(KEYS))
@pytest.mark.parametrize("n", [1, 2, 7])
def test_union_of_parts_is_the_table(mariadb, keyed, table, n):
    ranges, rows, tail = plan_dump(mariadb, keyed, table, "k", n)
    with mariadb.connect(keyed) as c, c.cursor() as cur:
        cur.execute(f"SELECT k, v FROM {table}")
        want = sorted((str(k), v) for k, v in cur.fetchall())
    got = sorted(tuple(r) for r in rows)
    assert got == want                      # no loss, no duplicates
    assert tail["rows"] == len(want)
    assert tail["partitions"] == len(ranges) <= max(1, min(n, len(want)))
    if n == 7 and len(want) >= 7:
        assert tail["partitions"] == 7       # distinct keys: no bound merges


def test_more_partitions_than_rows(mariadb, keyed):
    ranges, rows, tail = plan_dump(mariadb, keyed, "tiny", "k", 50)
    assert sorted(int(r[0]) for r in rows) == [3, 6, 9, 12, 15]
    assert tail["partitions"] == 5


def test_empty_table(mariadb, keyed):
    with mariadb.connect(keyed) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS empty (k INT PRIMARY KEY)")
    ranges, rows, tail = plan_dump(mariadb, keyed, "empty", "k", 4)
    assert rows == [] and tail["rows"] == 0 and tail["partitions"] == 1


def test_part_sizes_are_balanced_on_skewed_keys(mariadb, keyed):
    ranges, _, _ = plan_dump(mariadb, keyed, "skew", "k", 8)
    with mariadb.connect(keyed) as c, c.cursor() as cur:
        sizes = []
        for w in ranges:
            cur.execute(f"SELECT COUNT(*) FROM skew WHERE {w}")
            sizes.append(cur.fetchone()[0])
    assert sum(sizes) == 1000 and max(sizes) <= 2 * 1000 / 8


def test_non_unique_nullable_column(mariadb, keyed):
    ranges, rows, tail = plan_dump(mariadb, keyed, "dup", "g", 6)
    ids = sorted(int(r[0]) for r in rows)
    assert ids == list(range(1, 1001))      # NULL keys and the dominant value read once
    assert tail["partitions"] < 6            # equal bounds merged


def test_missing_partition_column_is_named(mariadb, keyed):
    p = subprocess.run([str(TOOLS / "my_dump"), "--plan", "dense", "nope", "3", "snapshot"],
                       env=mariadb.sluice_env(keyed), capture_output=True, text=True, timeout=60)
    assert p.returncode == 5 and "nope" in p.stderr


def test_snapshot_is_shared_by_all_connections(mariadb, fresh_db):
    """A writer moves money between accounts in transactions; a partitioned read in one
    snapshot always sees the invariant sum. The same read without the snapshot (the
    control) sees a broken sum, which shows the test can fail."""
    n_acc, start = 2000, 1000
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE acct (id INT PRIMARY KEY, amount BIGINT NOT NULL) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO acct SELECT seq, {start} FROM seq_1_to_{n_acc}")
    stop = threading.Event()

    def writer():
        import random
        rnd = random.Random(1)
        with mariadb.connect(fresh_db) as c, c.cursor() as cur:
            cur.execute("SET autocommit = 0")
            while not stop.is_set():
                a, b = rnd.randint(1, n_acc // 4), rnd.randint(3 * n_acc // 4, n_acc)  # across partitions
                cur.execute("UPDATE acct SET amount = amount - 7 WHERE id = %s", (a,))
                cur.execute("UPDATE acct SET amount = amount + 7 WHERE id = %s", (b,))
                c.commit()

    t = threading.Thread(target=writer)
    t.start()
    try:
        time.sleep(0.3)
        _, rows, tail = plan_dump(mariadb, fresh_db, "acct", "id", 4, "snapshot", pause_ms=300)
        assert tail["rows"] == n_acc
        assert sum(int(r[1]) for r in rows) == n_acc * start
        _, rows, _ = plan_dump(mariadb, fresh_db, "acct", "id", 4, "none", pause_ms=300)
        control = sum(int(r[1]) for r in rows)
    finally:
        stop.set()
        t.join()
    assert control != n_acc * start, "the control read without a snapshot should see a moving sum"
