"""Chunked reads (my_plan_chunks + my_reader through build/tools/my_dump --plan): the union
of the chunks equals the table as MariaDB itself returns it, with no duplicates and no loss,
for several connection counts and awkward keys (gaps, negative keys, one huge dense range,
NULL keys, a single row, an empty table); chunks are balanced on skewed keys; the plan runs
a bounded number of queries whatever the table's size; and one snapshot is shared by every
connection while a concurrent writer moves amounts between rows."""
import json
import subprocess
import threading
import time

import pytest

from conftest import TOOLS


def plan_dump(mariadb, db, table, column, n, mode="snapshot", pause_ms=0):
    """(chunk WHERE conditions, rows read, tail {"rows", "partitions", "connections", "plan"})."""
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
    # one huge dense range among keys spread over the whole signed 64-bit space
    "hugedense": "SELECT 5000000 + seq AS x FROM seq_1_to_30000 UNION ALL "
                 "SELECT (CAST(seq AS SIGNED) - 45) * 200000000000000000 FROM seq_1_to_90",
    "one": "SELECT -42 AS x",
}


@pytest.fixture(scope="module")
def keyed(mariadb):
    db = mariadb.create_database()
    with mariadb.connect(db) as c, c.cursor() as cur:
        for name, sel in KEYS.items():
            cur.execute(f"CREATE TABLE {name} (k BIGINT PRIMARY KEY, v VARCHAR(30))")
            cur.execute(f"INSERT INTO {name} SELECT x, CONCAT('v', x) FROM ({sel}) t")
        # a non-unique, nullable partition column with one dominant value
        cur.execute("CREATE TABLE dup (id INT PRIMARY KEY, g INT NULL)")
        cur.execute("INSERT INTO dup SELECT seq, CASE WHEN seq % 10 = 0 THEN NULL WHEN seq < 800 THEN 7 ELSE seq END "
                    "FROM seq_1_to_1000")
        # an indexed nullable key: NULL keys go with the first chunk
        cur.execute("CREATE TABLE nulls (id INT PRIMARY KEY, k BIGINT NULL, KEY (k))")
        cur.execute("INSERT INTO nulls SELECT seq, IF(seq % 3 = 0, NULL, CAST(seq AS SIGNED) * 1000 - 700000) FROM seq_1_to_2000")
        cur.execute("CREATE TABLE allnull (id INT PRIMARY KEY, k BIGINT NULL, KEY (k))")
        cur.execute("INSERT INTO allnull SELECT seq, NULL FROM seq_1_to_50")
        cur.execute("CREATE TABLE empty (k INT PRIMARY KEY)")
        for t in [*KEYS, "dup", "nulls", "allnull"]:
            cur.execute(f"ANALYZE TABLE {t}")
    yield db
    mariadb.drop_database(db)


def oracle(mariadb, db, sql):
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def check_chunks_tile(ranges, tail):
    """The chunks are in key order and tile the key space: open below (with the NULLs) and
    above, each starting where the one before ends."""
    chunks = tail["plan"]["chunks"]
    assert len(chunks) == len(ranges) == tail["partitions"] >= 1
    assert "from" not in chunks[0] and "to_before" not in chunks[-1]
    assert all(a["to_before"] == b["from"] for a, b in zip(chunks, chunks[1:]))
    assert "IS NULL" in ranges[0] or len(ranges) == 1


@pytest.mark.parametrize("table", sorted(KEYS))
@pytest.mark.parametrize("n", [1, 2, 7])
def test_union_of_chunks_is_the_table(mariadb, keyed, table, n):
    ranges, rows, tail = plan_dump(mariadb, keyed, table, "k", n)
    want = sorted((str(k), v) for k, v in oracle(mariadb, keyed, f"SELECT k, v FROM {table}"))
    got = sorted(tuple(r) for r in rows)
    assert got == want                      # no loss, no duplicates
    assert tail["rows"] == len(want)
    check_chunks_tile(ranges, tail)
    assert tail["connections"] == min(n, len(ranges))
    # every chunk's rows as MariaDB counts them add up to the table
    counts = [oracle(mariadb, keyed, f"SELECT COUNT(*) FROM {table} WHERE {w}")[0][0] for w in ranges]
    assert sum(counts) == len(want)


def test_more_connections_than_rows(mariadb, keyed):
    ranges, rows, tail = plan_dump(mariadb, keyed, "tiny", "k", 50)
    assert sorted(int(r[0]) for r in rows) == [3, 6, 9, 12, 15]
    assert tail["connections"] <= tail["partitions"] <= 5


def test_single_row_and_empty_table(mariadb, keyed):
    ranges, rows, tail = plan_dump(mariadb, keyed, "one", "k", 4)
    assert [r[0] for r in rows] == ["-42"] and tail["partitions"] == 1 and ranges == ["1=1"]
    assert tail["plan"]["min"] == tail["plan"]["max"] == -42
    ranges, rows, tail = plan_dump(mariadb, keyed, "empty", "k", 4)
    assert rows == [] and tail["rows"] == 0 and tail["partitions"] == 1 and ranges == ["1=1"]
    assert "min" not in tail["plan"]


def chunk_sizes(mariadb, db, table, ranges):
    return [oracle(mariadb, db, f"SELECT COUNT(*) FROM {table} WHERE {w}")[0][0] for w in ranges]


@pytest.mark.parametrize("table,n", [("skew", 8), ("hugedense", 2), ("hugedense", 4), ("gaps", 4)])
def test_chunks_are_balanced_on_skewed_keys(mariadb, keyed, table, n):
    """Equal key widths would put (nearly) all rows of these tables in one chunk; the plan
    cuts the dense range finely, so no chunk holds more than a quarter of one connection's
    share and the queue can balance the connections."""
    ranges, _, tail = plan_dump(mariadb, keyed, table, "k", n)
    sizes = chunk_sizes(mariadb, keyed, table, ranges)
    total = sum(sizes)
    assert total == oracle(mariadb, keyed, f"SELECT COUNT(*) FROM {table}")[0][0]
    assert max(sizes) <= max(64 * 1.5, total / n / 4), sizes
    assert tail["plan"]["indexed"] and tail["plan"]["probes"] <= 512


def test_nullable_indexed_key(mariadb, keyed):
    ranges, rows, tail = plan_dump(mariadb, keyed, "nulls", "k", 3)
    ids = sorted(int(r[0]) for r in rows)
    assert ids == list(range(1, 2001))      # NULL keys read once, with the first chunk
    nulls_first = oracle(mariadb, keyed, f"SELECT COUNT(*) FROM nulls WHERE k IS NULL AND {ranges[0]}")[0][0]
    assert nulls_first == 666
    _, rows, tail = plan_dump(mariadb, keyed, "allnull", "k", 3)
    assert len(rows) == 50 and tail["partitions"] == 1


def test_non_unique_unindexed_column(mariadb, keyed):
    """g leads no index: one chunk per connection, of equal key width, no estimates."""
    ranges, rows, tail = plan_dump(mariadb, keyed, "dup", "g", 6)
    ids = sorted(int(r[0]) for r in rows)
    assert ids == list(range(1, 1001))      # NULL keys and the dominant value read once
    assert not tail["plan"]["indexed"] and tail["partitions"] == 6
    check_chunks_tile(ranges, tail)


def test_plan_queries_do_not_grow_with_the_table(mariadb, fresh_db):
    """The same key shape at 1,000 and 100,000 rows: the plan runs the same number of
    queries (MIN/MAX and estimates, never a COUNT or an OFFSET walk), and cuts the bigger
    table into chunks of its own size."""
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        for name, n in (("small", 1000), ("large", 100000)):
            cur.execute(f"CREATE TABLE {name} (k INT PRIMARY KEY, v INT)")
            cur.execute(f"INSERT INTO {name} SELECT seq * 7, seq FROM seq_1_to_{n}")
            cur.execute(f"ANALYZE TABLE {name}")
    plans = {}
    for name in ("small", "large"):
        ranges, rows, tail = plan_dump(mariadb, fresh_db, name, "k", 4)
        assert tail["rows"] == (1000 if name == "small" else 100000)
        plans[name] = tail["plan"]
    assert plans["small"]["probes"] == plans["large"]["probes"] <= 4 * 8 + 2
    assert len(plans["large"]["chunks"]) == 32
    # the general log shows what the plan asked: no COUNT, no ORDER BY ... OFFSET
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("SET GLOBAL log_output = 'TABLE'")
        cur.execute("SET GLOBAL general_log = 1")
        try:
            plan_dump(mariadb, fresh_db, "large", "k", 4)
        finally:
            cur.execute("SET GLOBAL general_log = 0")
        cur.execute("SELECT argument FROM mysql.general_log WHERE command_type = 'Query' AND argument LIKE %s",
                    (f"%`large`%",))
        asked = [r[0].decode() if isinstance(r[0], bytes) else r[0] for r in cur.fetchall()]
        cur.execute("TRUNCATE mysql.general_log")
    assert asked and not [q for q in asked if "COUNT(" in q.upper() or "OFFSET" in q.upper()], asked


def test_plan_estimates_are_the_servers_own_in_one_query(mariadb, fresh_db):
    """The 32 ranges of a 4-connection plan are estimated in one EXPLAIN (their SELECTs
    joined by UNION ALL): the plan runs 3 queries (the index check, MIN/MAX, the
    estimates), and each chunk's estimate equals what MariaDB's own EXPLAIN of that one
    range says."""
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE spread (k BIGINT PRIMARY KEY, v INT)")
        cur.execute("INSERT INTO spread SELECT CAST(seq AS SIGNED) * 13 - 6000, seq FROM seq_1_to_50000")
        cur.execute("ANALYZE TABLE spread")
    _, rows, tail = plan_dump(mariadb, fresh_db, "spread", "k", 4)
    plan = tail["plan"]
    assert tail["rows"] == 50000 and len(rows) == 50000
    chunks = plan["chunks"]
    assert len(chunks) == 32 and plan["probes"] == 3, plan
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        for i, ch in enumerate(chunks):
            lo = ch["from"] if "from" in ch else plan["min"]
            hi = ch["to_before"] - 1 if "to_before" in ch else plan["max"]
            cur.execute(f"EXPLAIN SELECT 1 FROM spread WHERE k BETWEEN {lo} AND {hi}")
            names = [d[0] for d in cur.description]
            own = cur.fetchone()[names.index("rows")]
            assert ch["est_rows"] == int(own), (i, ch, own)


def test_plan_estimates_with_long_quoted_names(mariadb, fresh_db):
    """64 ranges in one EXPLAIN, each naming a 64-character table and column that need
    quoting (a backtick in each): the plan's estimates are MariaDB's, and the chunks
    read the table exactly once."""
    table = "t`" + "x" * 62
    column = "k`" + "y" * 62
    qt, qc = "`" + table.replace("`", "``") + "`", "`" + column.replace("`", "``") + "`"
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute(f"CREATE TABLE {qt} ({qc} BIGINT PRIMARY KEY, v INT)")
        cur.execute(f"INSERT INTO {qt} SELECT seq * 3, seq FROM seq_1_to_20000")
        cur.execute(f"ANALYZE TABLE {qt}")
    _, rows, tail = plan_dump(mariadb, fresh_db, table, column, 8)
    plan = tail["plan"]
    assert tail["rows"] == 20000 and sorted(int(r[0]) for r in rows) == [3 * i for i in range(1, 20001)]
    assert len(plan["chunks"]) == 64 and plan["probes"] == 3, plan
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        for ch in plan["chunks"][::9]:
            lo = ch["from"] if "from" in ch else plan["min"]
            hi = ch["to_before"] - 1 if "to_before" in ch else plan["max"]
            cur.execute(f"EXPLAIN SELECT 1 FROM {qt} WHERE {qc} BETWEEN {lo} AND {hi}")
            names = [d[0] for d in cur.description]
            assert ch["est_rows"] == int(cur.fetchone()[names.index("rows")]), ch


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
