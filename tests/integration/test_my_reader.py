"""The MySQL reader (binary protocol into column batches), through build/tools/my_dump:
every column type with extremes and NULLs, compared value by value with pymysql's read of
the same rows (the text protocol, an independent client)."""
import datetime
import decimal
import json
import subprocess
import time

import pytest

from conftest import ROOT, TOOLS

DDL = """CREATE TABLE alltypes (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, b BOOL, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d5 DECIMAL(5,2), d18 DECIMAL(18,6), d30 DECIMAL(30,10), d65 DECIMAL(65,0), d65s DECIMAL(65,30),
  du DECIMAL(10,2) UNSIGNED,
  f FLOAT, db DOUBLE, bt BIT(13), bt64 BIT(64), y YEAR,
  dt DATE, dtm DATETIME, dtm6 DATETIME(6), ts3 TIMESTAMP(3) NULL, tm TIME, tm6 TIME(6),
  c CHAR(5), vc VARCHAR(300), tx TEXT, lt LONGTEXT, bn BINARY(4), vb VARBINARY(50), bl BLOB,
  en ENUM('a','bé','c'), st SET('x','y','z'), js JSON, g GEOMETRY
) CHARSET utf8mb4"""

ROWS = [
    "(1, -128, 255, 1, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, "
    " -9223372036854775808, 18446744073709551615, -999.99, 999999999999.999999, "
    " -12345678901234567890.0123456789, 99999999999999999999999999999999999999999999999999999999999999999, "
    " -99999999999999999999999999999999999.999999999999999999999999999999, 12345678.90, "
    " -3.40282e38, -1.7976931348623157e308, b'1010101010101', b'1111111111111111111111111111111111111111111111111111111111111111', 2155, "
    " '1000-01-01', '1000-01-01 00:00:00', '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01.000', '-838:59:59', '838:59:58.999999', "
    " 'abc', 'héllo wörld ✓', REPEAT('x', 10000), REPEAT('ünï', 200000), x'00ff10ab', x'', x'deadbeef00', "
    " 'bé', 'x,z', '{\"a\": [1, 2, {\"b\": null}]}', ST_GeomFromText('POINT(1 2)'))",
    "(2, 127, 0, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, 0.00, -0.000001, "
    " 0, 0, 0.000000000000000000000000000001, 0.00, 1.5, 2.2250738585072014e-308, b'0', b'0', 1901, "
    " '2024-02-29', '1969-12-31 23:59:59', '1900-01-01 00:00:00.000001', '2038-01-19 03:14:07.999', '00:00:00', '-00:00:00.000001', "
    " '', '', '', '', x'00000000', x'00', x'', 'a', '', '[]', ST_GeomFromText('LINESTRING(0 0, 1 1, 2 5)'))",
    "(3" + ", NULL" * 39 + ")",
]


@pytest.fixture(scope="module")
def alltypes(mariadb):
    db = mariadb.create_database()
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute(DDL)
        for r in ROWS:
            cur.execute("INSERT INTO alltypes VALUES " + r)
    yield db
    mariadb.drop_database(db)


@pytest.fixture(autouse=True, params=[0, 1], ids=["direct", "read_ahead"])
def read_ahead(request):
    """Every test twice: the caller's thread fetching, and the reader's own thread
    fetching ahead (my_read_opts.read_ahead, as `sluice run` reads)."""
    global READ_AHEAD
    READ_AHEAD = request.param
    yield request.param


READ_AHEAD = 0


def dump(mariadb, db, sql, *extra, env_extra=None, tools=TOOLS):
    env = {**mariadb.sluice_env(db), "MY_DUMP_READ_AHEAD": str(READ_AHEAD), **(env_extra or {})}
    p = subprocess.run([str(tools / "my_dump"), sql, *map(str, extra)], env=env, capture_output=True, text=True,
                       timeout=120)
    return p


def parse(p):
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    return lines[0], lines[1:-1], lines[-1]


def expected(v, col):
    """pymysql's value in my_dump's text form."""
    t = col["type"]
    if v is None:
        return None
    if col["origin"].startswith("time("):
        return str(int(v / datetime.timedelta(microseconds=1)))
    if t in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
        if isinstance(v, bytes):
            return str(int.from_bytes(v, "big"))
        return str(int(v))
    if t == "decimal":
        with decimal.localcontext(decimal.Context(prec=100)):
            return format(decimal.Decimal(v).quantize(decimal.Decimal(1).scaleb(-col["scale"])), "f")
    if t in ("float",):
        return float(v)
    if t == "double":
        return float(v)
    if t == "date":
        return v.isoformat()
    if t == "timestamp":
        s = v.strftime("%Y-%m-%d %H:%M:%S")
        return s + (f".{v.microsecond:06d}" if v.microsecond else "")
    if t == "binary":
        b = bytes(v)
        if col["origin"] == "geometry":
            b = b[4:]
        return b.hex()
    if isinstance(v, set):
        return ",".join(sorted(v))
    return v if isinstance(v, str) else bytes(v).decode()


def test_every_type_matches_pymysql(mariadb, alltypes):
    schema, rows, tail = parse(dump(mariadb, alltypes, "SELECT * FROM alltypes ORDER BY id", 2))
    with mariadb.connect(alltypes) as c, c.cursor() as cur:
        cur.execute("SELECT * FROM alltypes ORDER BY id")
        want = cur.fetchall()
    assert tail["rows"] == 3 and len(rows) == 3
    types = {c["name"]: (c["type"], c["precision"], c["scale"]) for c in schema}
    assert types["biu"][0] == "uint64" and types["bi"][0] == "int64" and types["iu"][0] == "uint32"
    assert types["d65"] == ("decimal", 65, 0) and types["d65s"] == ("decimal", 65, 30)
    assert types["d18"] == ("decimal", 18, 6) and types["du"] == ("decimal", 10, 2)
    assert types["dtm6"][0] == "timestamp" and types["dt"][0] == "date" and types["bt64"][0] == "uint64"
    assert types["en"][0] == "enum" and types["vb"][0] == "binary" and types["lt"][0] == "string"
    for got, exp in zip(rows, want):
        for col, g, e in zip(schema, got, exp):
            x = expected(e, col)
            if col["type"] == "float" and x is not None:
                assert float(g) == pytest.approx(x, rel=1e-6), col["name"]
            elif col["type"] == "double" and x is not None:
                assert float(g) == x, col["name"]
            elif col["name"] == "js" and x is not None:
                assert json.loads(g) == json.loads(x)
            else:
                assert g == x, (col["name"], g, x)


ASAN_TOOLS = ROOT / "build" / "asan" / "tools"
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=99",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=98"}


def test_every_type_under_asan(mariadb, alltypes):
    """The reader's decoding of every type (on_value's short paths for integers and
    DECIMALs, and the rest) in batches of 1, 2 and 65,536 rows, and an error exit, under
    ASan + UBSan with leak detection: the same output as the plain build's."""
    if not (ASAN_TOOLS / "my_dump").exists():
        subprocess.run(["make", "asan"], cwd=ROOT, check=True, capture_output=True)
    sql_ = "SELECT * FROM alltypes ORDER BY id"
    for batch in (1, 2, 65536):
        plain = dump(mariadb, alltypes, sql_, batch)
        san = dump(mariadb, alltypes, sql_, batch, env_extra=SAN_ENV, tools=ASAN_TOOLS)
        assert san.returncode == 0 and "Sanitizer" not in san.stderr and "runtime error" not in san.stderr, \
            san.stderr[-4000:]
        assert plain.returncode == 0 and san.stdout == plain.stdout and len(san.stdout.splitlines()) == 5
    p = dump(mariadb, alltypes, "SELECT * FROM nope", env_extra=SAN_ENV, tools=ASAN_TOOLS)
    assert p.returncode == 5 and "Sanitizer" not in p.stderr, p.stderr[-4000:]


def test_values_of_every_length_prefix_and_a_row_over_several_packets(mariadb, fresh_db):
    """The reader walks each value's length itself (no bound buffers): lengths in 1, 3, 4
    and 9 bytes on the wire (below 251, below 2^16, below 2^24, and a value past 16 MiB,
    whose row the server sends in several packets), each followed by a value that must
    still be read from the right place."""
    lens = [0, 250, 251, 65535, 65536, 16777215, 16777216 + 4321]
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB, after_b BIGINT, s LONGTEXT, after_s INT)")
        for i, n in enumerate(lens):
            cur.execute("INSERT INTO big VALUES (%s, RANDOM_BYTES(LEAST(%s, 1024)), %s, REPEAT('é', %s DIV 2), %s)",
                        (i, n, -i * 1000003, n, i))
            if n > 1024:  # RANDOM_BYTES stops at 1024: grow by doubling, cut to the length
                cur.execute("UPDATE big SET b = LEFT(REPEAT(b, CEIL(%s / 1024)), %s) WHERE id = %s", (n, n, i))
        cur.execute("SELECT id, b, after_b, s, after_s FROM big ORDER BY id")
        want = cur.fetchall()
    assert [len(r[1]) for r in want] == lens
    schema, rows, tail = parse(dump(mariadb, fresh_db, "SELECT id, b, after_b, s, after_s FROM big ORDER BY id", 2))
    assert tail["rows"] == len(lens)
    for got, exp in zip(rows, want):
        assert got[0] == str(exp[0]) and got[2] == str(exp[2]) and got[4] == str(exp[4])
        assert got[1] == bytes(exp[1]).hex(), f"row {exp[0]}: {len(got[1]) // 2} bytes, want {len(exp[1])}"
        assert got[3] == exp[3], f"row {exp[0]}: the text differs"


def test_zero_dates_become_null_and_are_counted(mariadb, fresh_db):
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("CREATE TABLE z (id INT PRIMARY KEY, d DATE NOT NULL, t DATETIME)")
        cur.execute("INSERT INTO z VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), (2, '2024-00-10', '2024-05-00 10:00:00'),"
                    " (3, '2024-01-10', '2024-05-01 10:00:00')")
    schema, rows, tail = parse(dump(mariadb, fresh_db, "SELECT * FROM z ORDER BY id"))
    assert [r[1:] for r in rows] == [[None, None], [None, None], ["2024-01-10", "2024-05-01 10:00:00"]]
    assert tail["zero_dates"] == [0, 2, 2]
    p = dump(mariadb, fresh_db, "SELECT * FROM z ORDER BY id", 100, 1)
    assert p.returncode == 6 and "column d" in p.stderr and "0000-00-00" in p.stderr


def test_many_batches_and_missing_table(mariadb, fresh_db):
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE n (id BIGINT UNSIGNED PRIMARY KEY, s VARCHAR(20))")
        cur.execute("INSERT INTO n SELECT seq, CONCAT('v', seq) FROM seq_1_to_10007")
    schema, rows, tail = parse(dump(mariadb, fresh_db, "SELECT id, s FROM n ORDER BY id", 1000))
    assert len(rows) == 10007 and rows[0] == ["1", "v1"] and rows[-1] == ["10007", "v10007"]
    p = dump(mariadb, fresh_db, "SELECT * FROM nope")
    assert p.returncode == 5 and "nope" in p.stderr


def test_a_reader_freed_before_the_end(mariadb, fresh_db):
    # the caller stops after 3 batches of 100: the read-ahead thread, busy with the
    # next batch or waiting for a free one, is cancelled and joined; nothing hangs
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE n (id BIGINT UNSIGNED PRIMARY KEY, s VARCHAR(20))")
        cur.execute("INSERT INTO n SELECT seq, CONCAT('v', seq) FROM seq_1_to_20000")
    p = dump(mariadb, fresh_db, "SELECT id, s FROM n ORDER BY id", 100, env_extra={"MY_DUMP_STOP_AFTER": "3"})
    schema, rows, tail = parse(p)
    assert [r[0] for r in rows] == [str(i) for i in range(1, 301)]


def test_a_connection_killed_mid_read_is_an_error_not_an_end(mariadb, fresh_db):
    # The first 200 rows come at once, then SLEEP() slows every row: the read is killed
    # once rows have arrived. The rows before arrive, then exit 1 (README: a lost
    # connection), never a clean end.
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE n (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO n SELECT seq FROM seq_1_to_2000")
    env = {**mariadb.sluice_env(fresh_db), "MY_DUMP_READ_AHEAD": str(READ_AHEAD)}
    sql = "SELECT id, REPEAT('x', 2000) AS pad, IF(id > 200, SLEEP(0.01), 0) AS s FROM n ORDER BY id"
    p = subprocess.Popen([str(TOOLS / "my_dump"), sql, "10"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    got = [p.stdout.readline() for _ in range(51)]  # the schema and 50 rows
    assert all(got), "the read ended early"
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("SELECT id FROM information_schema.processlist WHERE info LIKE 'SELECT id, REPEAT%'")
        ids = [r[0] for r in cur.fetchall()]
        assert ids, "the read is not running"
        for i in ids:
            cur.execute(f"KILL CONNECTION {int(i)}")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1, (p.returncode, err)
    assert "dump: reading rows after row" in err, err
    rows = got[1:] + out.splitlines()
    assert 50 <= len(rows) < 2000


def test_decimals_of_every_length_sign_and_place_in_the_row(mariadb, fresh_db):
    """DECIMALs of at most 18 digits (on_value's int64 path) and past it: values of every
    length from 1 to 18 digits, both signs, every scale from 0 to 15, a column first in
    the row and the rest after wider values, NULLs between. Compared value by value with
    pymysql (the text protocol); also under ASan."""
    import random
    rnd = random.Random(13)
    cols = [("dfirst", 4, 2), ("d2", 12, 2), ("d0", 18, 0), ("d6", 18, 6), ("d1", 16, 1), ("d14", 16, 14),
            ("d15", 17, 15), ("d3", 9, 3)]

    def value(p, s):
        k = rnd.randint(1, p)  # digits
        v = decimal.Decimal(rnd.randint(10 ** (k - 1) if k > 1 else 0, 10 ** k - 1)).scaleb(-s)
        return -v if rnd.random() < 0.3 else v

    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE dec_t (dfirst DECIMAL(4,2), id INT NOT NULL PRIMARY KEY, "
                    + ", ".join(f"{n} DECIMAL({p},{s})" for n, p, s in cols[1:]) + ")")
        rows = []
        for i in range(3000):
            r = [value(p, s) if rnd.random() > 0.05 else None for _, p, s in cols]
            rows.append((r[0], i, *r[1:]))
        edge = [decimal.Decimal(x) for x in ("0", "0.01", "-0.01", "99.99", "-99.99")]
        for i, e in enumerate(edge):
            rows.append((e, 10000 + i, e, 10 ** 17 + i, e, decimal.Decimal(10 ** 15 - 1) / 10, e, e, e))
        cur.executemany("INSERT INTO dec_t VALUES (" + ", ".join(["%s"] * (len(cols) + 1)) + ")", rows)
        cur.execute("SELECT * FROM dec_t ORDER BY id")
        want = cur.fetchall()
    sql_ = "SELECT * FROM dec_t ORDER BY id"
    schema, got, tail = parse(dump(mariadb, fresh_db, sql_, 1000))
    assert tail["rows"] == len(want) == 3005
    lengths = set()
    for g, w in zip(got, want):
        for col, gv, wv in zip(schema, g, w):
            x = expected(wv, col)
            assert gv == x, (col["name"], gv, x)
            if x is not None and col["name"] == "d0":
                lengths.add(len(x.lstrip("-")))
    assert lengths >= set(range(1, 19))  # every length, past the 16 the wide read takes
    if not (ASAN_TOOLS / "my_dump").exists():
        subprocess.run(["make", "asan"], cwd=ROOT, check=True, capture_output=True)
    plain = dump(mariadb, fresh_db, sql_, 1000)
    san = dump(mariadb, fresh_db, sql_, 1000, env_extra=SAN_ENV, tools=ASAN_TOOLS)
    assert san.returncode == 0 and "Sanitizer" not in san.stderr and "runtime error" not in san.stderr, \
        san.stderr[-4000:]
    assert san.stdout == plain.stdout


def enum_table(mariadb, db, rows=4000):
    """A table of ENUMs as my_reader codes them: `e` has 350 members, many alike in their
    length and first, middle and last bytes (enum_hash's inputs), multibyte ones, and
    '' (MariaDB's index 0 for an invalid value) and NULLs among the values; `l` has
    members longer than 250 bytes (a 3-byte length on the wire); `o` has one member.
    Returns pymysql's rows."""
    import random
    rnd = random.Random(7)
    members = [f"a{i:03d}a" for i in range(200)] + [f"é{i}ü" for i in range(90)] + ["x", "y", "z", "xx", "yy", "zz",
                                                                                   "xyx", "xzx", "yxy", "q" * 40]
    # 8 to 16 bytes (compared by loads from each end), alike in enum_hash's bytes and
    # differing only near the front or only near the back
    members += [f"m{i:03d}mmmm" for i in range(10)] + [f"mmmm{i:03d}m" for i in range(10, 20)]
    members += [f"k{i:03d}kkkkkkkk" for i in range(10)] + [f"n{i:03d}nnnnnnnnnnnn" for i in range(10)]
    members += [f"nnnnnnnnnnnn{i:03d}n" for i in range(10, 20)]
    longs = ["é" * 130 + str(i) for i in range(5)]  # 261 or more bytes in utf8mb4
    q = lambda ms: ", ".join("'" + m + "'" for m in ms)
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute(f"CREATE TABLE en (id INT PRIMARY KEY, e ENUM({q(members)}), l ENUM({q(longs)}) NOT NULL, "
                    f"o ENUM('only') NOT NULL) CHARSET utf8mb4")
        vals = []
        for i in range(rows):
            r = rnd.random()
            e = None if r < 0.05 else "not a member" if r < 0.08 else rnd.choice(members)
            vals.append((i, e, rnd.choice(longs), "only"))
        cur.executemany("INSERT INTO en VALUES (%s, %s, %s, %s)", vals)
        cur.execute("SELECT * FROM en ORDER BY id")
        return cur.fetchall()


def test_enums_are_coded_per_batch(mariadb, fresh_db):
    """ENUM values reach the batch as codes of the batch's own texts (each text once,
    looked up by hash, the slots grown past 32 texts, found again in the next batch):
    every value, '' and NULL equal to pymysql's, in batches of 1, 7 and 65,536 rows;
    also under ASan."""
    want = enum_table(mariadb, fresh_db)
    assert sum(1 for r in want if r[1] == "") > 50 and sum(1 for r in want if r[1] is None) > 100
    sql_ = "SELECT * FROM en ORDER BY id"
    for batch in (1, 7, 65536):
        schema, got, tail = parse(dump(mariadb, fresh_db, sql_, batch))
        assert [c["type"] for c in schema] == ["int32", "enum", "enum", "enum"]
        assert tail["rows"] == len(want)
        assert got == [[str(r[0]), r[1], r[2], r[3]] for r in want]
    if not (ASAN_TOOLS / "my_dump").exists():
        subprocess.run(["make", "asan"], cwd=ROOT, check=True, capture_output=True)
    for batch in (7, 65536):
        plain = dump(mariadb, fresh_db, sql_, batch)
        san = dump(mariadb, fresh_db, sql_, batch, env_extra=SAN_ENV, tools=ASAN_TOOLS)
        assert san.returncode == 0 and "Sanitizer" not in san.stderr and "runtime error" not in san.stderr, \
            san.stderr[-4000:]
        assert san.stdout == plain.stdout
